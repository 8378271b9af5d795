"""decode_step="compile": the fixed-shape step through torch.compile gives the codes of the eager "exact" step.

torch.compile runs here with the "aot_eager" backend: Dynamo traces the same step into one graph
(fullgraph, static shapes, the cache buffers marked as static addresses), AOTAutograd lowers it,
and it runs without inductor's code generation, which takes minutes per bucket on the shared
2-core CPU. So the test checks everything of the mode but the kernels inductor would write
(tracing, guards on the buffers, recompiles per bucket and after hooks change, the clone of the
output); the inductor + CUDA-graph path is exercised on CUDA (below) and by bench/gpu_report.py.
"""

from __future__ import annotations

import pytest
import torch

from indextts.checkpoint import load_unified_voice, resolve_checkpoint
from indextts.gpt import static_decode
from indextts.gpt.generation import GenerationSettings, generate_codes_batch
from indextts.gpt.unified_voice import UnifiedVoice
from tests.test_static_decode import make_prefix

pytestmark = pytest.mark.generation("2", reason="2.0's UnifiedVoice compiled decode")


@pytest.fixture(scope="module")
def gpt(demo_dir) -> UnifiedVoice:
    paths = resolve_checkpoint(demo_dir)
    return load_unified_voice(paths.gpt, paths.config)


@pytest.fixture(scope="module")
def prefixes(gpt) -> list[torch.Tensor]:
    return [make_prefix(gpt, 0, [40, 41, 42, 43]), make_prefix(gpt, 1, list(range(50, 63)))]


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(static_decode, "COMPILE_BACKEND", "aot_eager")


def codes(gpt, prefixes, settings, mode, device="cpu"):
    generators = [torch.Generator(device).manual_seed(seed) for seed in range(len(settings))]
    results = generate_codes_batch(gpt, prefixes, settings, generators, decode_step=mode)
    return [(r.codes.tolist(), r.stopped) for r in results]


SETTINGS = [
    GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=24),
    GenerationSettings(max_mel_tokens=16),  # the official defaults: 3 sampled beams
]


def test_compile_mode_gives_the_exact_codes(gpt, prefixes, aot_eager):
    assert static_decode.step_mode(torch.device("cpu"), "compile") == "compile"
    exact = codes(gpt, prefixes, SETTINGS, "exact")
    compiled = codes(gpt, prefixes, SETTINGS, "compile")
    assert [len(c) for c, _ in compiled] == [24, 16]
    assert compiled == exact
    # One request alone: a smaller rows bucket, so another compiled graph over the same buffers.
    assert codes(gpt, prefixes[:1], SETTINGS[:1], "compile") == exact[:1]


def test_compile_mode_follows_a_hook_added_after_compiling(gpt, prefixes, aot_eager):
    """A forward hook registered later (as the benches' stop-code mask is) acts in the compiled step too."""
    codes(gpt, prefixes[:1], SETTINGS[:1], "compile")  # compiled without the hook
    stop = gpt.cfg.stop_mel_token

    def stop_at_once(_module, _args, output):
        output[..., stop] = 1e4
        return output

    hook = gpt.mel_head.register_forward_hook(stop_at_once)
    try:
        compiled = codes(
            gpt, prefixes[:1], [GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=8)], "compile"
        )
    finally:
        hook.remove()
    assert compiled == [([], True)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="inductor with CUDA graphs needs a CUDA device")
def test_compile_reduce_overhead_on_cuda_gives_the_eager_codes(gpt, prefixes):
    model = gpt.to("cuda")
    try:
        on_gpu = [p.to("cuda") for p in prefixes]
        runs = [codes(model, on_gpu, SETTINGS, mode, "cuda") for mode in ("compile", "fixed")]
    finally:
        gpt.to("cpu")
    assert runs[0] == runs[1]
