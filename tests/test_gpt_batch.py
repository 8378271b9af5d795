"""Batched generation: several requests decoded together get the codes each would get alone."""

from __future__ import annotations

import pytest
import torch

from indextts.checkpoint import load_unified_voice, resolve_checkpoint
from indextts.gpt.generation import GenerationSettings, generate_codes, generate_codes_batch
from indextts.gpt.unified_voice import UnifiedVoice

pytestmark = pytest.mark.generation("2", reason="2.0's UnifiedVoice batched decode")


@pytest.fixture(scope="module")
def gpt(demo_dir) -> UnifiedVoice:
    paths = resolve_checkpoint(demo_dir)
    return load_unified_voice(paths.gpt, paths.config)


def make_prefix(gpt: UnifiedVoice, seed: int, text_ids: list[int]) -> torch.Tensor:
    torch.manual_seed(seed)
    spk = torch.randn(1, 100 + 10 * seed, gpt.emovec_layer.in_features)  # (1, T_w, S)
    with torch.inference_mode():
        conditioning = gpt.conditioning(gpt.speaker_latent(spk), gpt.merge_emovec(spk, spk, 1.0))
        return gpt.prefix(conditioning, torch.tensor(text_ids))  # (1, 34 + L + 2, C)


@pytest.fixture(scope="module")
def prefixes(gpt) -> list[torch.Tensor]:
    # Different text lengths, so the batch is left-padded.
    return [make_prefix(gpt, 0, [40, 41, 42, 43]), make_prefix(gpt, 1, list(range(50, 61))), make_prefix(gpt, 2, [7])]


def alone(gpt, prefixes, settings, seeds):
    return [
        generate_codes(gpt, p, s, torch.Generator().manual_seed(seed)).codes.tolist()
        for p, s, seed in zip(prefixes, settings, seeds, strict=True)
    ]


def together(gpt, prefixes, settings, seeds):
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    return [r.codes.tolist() for r in generate_codes_batch(gpt, prefixes, settings, generators)]


def test_greedy_batch_of_different_lengths_matches_each_request_alone(gpt, prefixes):
    settings = [GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=n) for n in (12, 20, 5)]
    expected = alone(gpt, prefixes, settings, [0, 0, 0])
    assert [len(c) for c in expected] == [12, 20, 5]
    assert together(gpt, prefixes, settings, [0, 0, 0]) == expected


def test_sampled_beam_search_and_single_sequences_mixed_in_one_batch(gpt, prefixes):
    settings = [
        GenerationSettings(max_mel_tokens=15),  # the defaults: 3 sampled beams
        GenerationSettings(num_beams=1, max_mel_tokens=9),
        GenerationSettings(do_sample=False, num_beams=2, max_mel_tokens=11),
    ]
    seeds = [3, 4, 5]
    assert together(gpt, prefixes, settings, seeds) == alone(gpt, prefixes, settings, seeds)


def test_a_request_that_stops_early_leaves_the_others_untouched(gpt, prefixes):
    stop = gpt.cfg.stop_mel_token
    greedy = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=10)
    first = generate_codes(gpt, prefixes[0], greedy).codes.tolist()
    # Make the stop code the arg-max right after the first request's 4th code, for every row.
    trigger = first[3]

    hook_state = {"fed": None}

    def remember_fed(module, args):
        hook_state["fed"] = args[0]

    def force_stop(module, args, output):
        fed = hook_state["fed"]
        if fed is not None and fed.shape[1] == 1:
            rows = (fed[:, 0] == trigger).nonzero()[:, 0]
            output[rows, :, stop] = 1e4
        return output

    pre = gpt.mel_embedding.register_forward_pre_hook(remember_fed)
    post = gpt.mel_head.register_forward_hook(force_stop)
    try:
        settings = [greedy, GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=16)]
        expected = alone(gpt, prefixes[:2], settings, [0, 0])
        got = together(gpt, prefixes[:2], settings, [0, 0])
    finally:
        pre.remove()
        post.remove()
    assert expected[0] == first[:4]  # the first request stopped after its trigger code
    assert got == expected


def test_the_padded_batch_never_produces_nan(gpt, prefixes):
    results = generate_codes_batch(
        gpt, prefixes, [GenerationSettings(max_mel_tokens=6)] * 3, [torch.Generator().manual_seed(1)] * 3
    )
    assert all(r.codes.shape == (6,) and (r.codes >= 0).all() for r in results)
