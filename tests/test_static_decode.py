"""The static-cache decode (the path CUDA graphs replay) gives exactly the codes of the dynamic-cache loop.

Both step modes the CPU can run are checked: "exact" (rows and attention window as long as needed)
and "fixed" (the bucketed rows and masked window a captured graph has, run eagerly). The reference is
the loop as it was before the static cache (tests/reference_generation.py).
"""

from __future__ import annotations

from functools import partial

import pytest
import torch

from indextts.checkpoint import load_unified_voice, resolve_checkpoint
from indextts.gpt.generation import GenerationSettings, generate_codes_batch
from indextts.gpt.static_decode import WINDOW, row_bucket, step_mode, window_bucket
from indextts.gpt.unified_voice import UnifiedVoice
from tests.reference_generation import reference_codes_batch

pytestmark = pytest.mark.generation("2", reason="2.0's UnifiedVoice static-cache decode")


@pytest.fixture(scope="module")
def gpt(demo_dir) -> UnifiedVoice:
    paths = resolve_checkpoint(demo_dir)
    return load_unified_voice(paths.gpt, paths.config)


def make_prefix(gpt: UnifiedVoice, seed: int, text_ids: list[int]) -> torch.Tensor:
    torch.manual_seed(seed)
    spk = torch.randn(1, 90 + 10 * seed, gpt.emovec_layer.in_features)  # (1, T_w, S)
    with torch.inference_mode():
        conditioning = gpt.conditioning(gpt.speaker_latent(spk), gpt.merge_emovec(spk, spk, 1.0))
        return gpt.prefix(conditioning, torch.tensor(text_ids))


@pytest.fixture(scope="module")
def prefixes(gpt) -> list[torch.Tensor]:
    return [make_prefix(gpt, 0, [40, 41, 42, 43]), make_prefix(gpt, 1, list(range(50, 63))), make_prefix(gpt, 2, [7])]


@pytest.fixture(params=["exact", "fixed"])
def mode(request) -> str:
    assert step_mode(torch.device("cpu"), request.param) == request.param
    return request.param


def both(gpt, prefixes, settings, seeds, mode):
    """(static codes, reference codes), and whether every generator ended in the same state."""
    runs = []
    for generate in (partial(generate_codes_batch, decode_step=mode), reference_codes_batch):
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        results = generate(gpt, prefixes, settings, generators)
        runs.append(([(r.codes.tolist(), r.stopped) for r in results], [g.get_state() for g in generators]))
    (static, static_states), (reference, reference_states) = runs
    same_states = all(torch.equal(a, b) for a, b in zip(static_states, reference_states, strict=True))
    return static, reference, same_states


@pytest.mark.parametrize(
    "settings",
    [
        GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=30),
        GenerationSettings(num_beams=1, max_mel_tokens=30),
        GenerationSettings(do_sample=False, num_beams=3, max_mel_tokens=20),
        GenerationSettings(max_mel_tokens=20),  # the official defaults: 3 sampled beams
    ],
    ids=["greedy", "sampled", "beams", "sampled-beams"],
)
def test_one_request_gets_the_reference_codes(gpt, prefixes, mode, settings):
    static, reference, same_states = both(gpt, prefixes[:1], [settings], [7], mode)
    assert len(static[0][0]) == settings.max_mel_tokens
    assert static == reference
    assert same_states  # no extra draw: what the generator gives next (the s2mel noise) is unchanged


def test_mixed_batch_with_different_lengths_gets_the_reference_codes(gpt, prefixes, mode):
    settings = [
        GenerationSettings(max_mel_tokens=15),
        GenerationSettings(num_beams=1, max_mel_tokens=9),
        GenerationSettings(do_sample=False, num_beams=2, max_mel_tokens=11),
    ]
    static, reference, same_states = both(gpt, prefixes, settings, [3, 4, 5], mode)
    assert [len(c) for c, _ in static] == [15, 9, 11]
    assert static == reference and same_states


def test_requests_that_stop_leave_the_batch_as_in_the_reference(gpt, prefixes, mode):
    """The stop code is forced after chosen codes, so requests finish at different steps, beams included."""
    stop = gpt.cfg.stop_mel_token
    probe = reference_codes_batch(
        gpt, prefixes[:1], [GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=12)], [None]
    )[0]
    trigger = probe.codes.tolist()[3]
    fed: dict[str, torch.Tensor | None] = {"codes": None}

    def remember(_module, args):
        fed["codes"] = args[0]

    def force_stop(_module, _args, output):
        codes = fed["codes"]
        if codes is not None and codes.shape[1] == 1:
            output[(codes[:, 0] == trigger).nonzero()[:, 0], :, stop] = 1e4
        return output

    settings = [
        GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=12),
        GenerationSettings(num_beams=1, max_mel_tokens=16),
        GenerationSettings(do_sample=False, num_beams=3, max_mel_tokens=14),
    ]
    hooks = [gpt.mel_embedding.register_forward_pre_hook(remember), gpt.mel_head.register_forward_hook(force_stop)]
    try:
        static, reference, same_states = both(gpt, prefixes, settings, [0, 1, 2], mode)
    finally:
        for hook in hooks:
            hook.remove()
    assert static[0] == (probe.codes.tolist()[:4], True)  # stopped right after its trigger code
    assert static == reference and same_states


def test_a_stop_at_the_first_step_gives_no_codes(gpt, prefixes, mode):
    stop = gpt.cfg.stop_mel_token

    def stop_now(_module, _args, output):
        output[..., stop] = 1e4
        return output

    hook = gpt.mel_head.register_forward_hook(stop_now)
    try:
        settings = [
            GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=8),
            GenerationSettings(num_beams=3, do_sample=False),
        ]
        static, reference, _ = both(gpt, prefixes[:2], settings, [0, 1], mode)
    finally:
        hook.remove()
    assert static[0] == ([], True)
    assert static == reference


def test_a_long_generation_crosses_attention_windows(gpt, prefixes):
    """Fixed shapes attend to a window of WINDOW columns at a time, masked past the current one."""
    mode = "fixed"
    count = WINDOW + 20 - prefixes[0].shape[1]  # runs past the first window
    settings = [GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=count)]
    static, reference, _ = both(gpt, prefixes[:1], settings, [0], mode)
    assert len(static[0][0]) == count
    assert static == reference


def test_buckets():
    assert [row_bucket(n) for n in (1, 3, 5, 7, 33, 96, 97, 130)] == [1, 3, 6, 8, 48, 96, 128, 192]
    assert [window_bucket(n, 10_000) for n in (1, 256, 257, 2000)] == [256, 256, 512, 2048]
    assert window_bucket(2000, 1900) == 1900  # never past the cache


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_cuda_graph_replay_gives_the_eager_codes(gpt, prefixes):
    """On CUDA: the captured step equals the eager one (float32, so both compute the same products)."""
    model = gpt.to("cuda")
    try:
        on_gpu = [p.to("cuda") for p in prefixes]
        settings = [
            GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=40),
            GenerationSettings(max_mel_tokens=30),
            GenerationSettings(num_beams=1, max_mel_tokens=25),
        ]
        runs = []
        for mode in ("graph", "fixed"):
            generators = [torch.Generator("cuda").manual_seed(seed) for seed in (0, 1, 2)]
            results = generate_codes_batch(model, on_gpu, settings, generators, decode_step=mode)
            runs.append([r.codes.tolist() for r in results])
    finally:
        gpt.to("cpu")
    assert runs[0] == runs[1]
    assert [len(c) for c in runs[0]] == [40, 30, 25]
