"""UnifiedVoice on the tiny checkpoint: decoding semantics, KV cache, latent pass, stop handling."""

from __future__ import annotations

import copy

import pytest
import torch

from indextts.checkpoint import load_unified_voice, resolve_checkpoint
from indextts.gpt.generation import (
    GenerationSettings,
    generate_codes,
    process_scores,
    top_k_filter,
    top_k_top_p_filter,
    top_p_filter,
)
from indextts.gpt.unified_voice import UnifiedVoice

pytestmark = pytest.mark.generation(
    "2",
    reason="2.0's UnifiedVoice decode step by step (2.5 decodes through the same loop, covered by its engine tests)",
)

GREEDY = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=12)


@pytest.fixture(scope="module")
def gpt(demo_dir) -> UnifiedVoice:
    paths = resolve_checkpoint(demo_dir)
    return load_unified_voice(paths.gpt, paths.config)


@pytest.fixture(scope="module")
def prefix(gpt) -> torch.Tensor:
    torch.manual_seed(0)
    spk = torch.randn(1, 120, gpt.emovec_layer.in_features)  # (1, T_w, S) stands in for w2v-BERT features
    with torch.inference_mode():
        latent = gpt.speaker_latent(spk)
        emovec = gpt.merge_emovec(spk, spk, 1.0)
        conditioning = gpt.conditioning(latent, emovec)
        return gpt.prefix(conditioning, torch.tensor([40, 41, 42, 43]))


def full_forward_logits(gpt: UnifiedVoice, prefix: torch.Tensor, codes: list[int]) -> torch.Tensor:
    """Logits after each fed code, recomputed from scratch without a cache, official positions."""
    start = gpt.cfg.start_mel_token
    ids = torch.tensor([[start, *codes]])
    positions = torch.tensor([0, *range(2, len(codes) + 2)])  # the k-th generated code sits at k + 1
    sequence = torch.cat([prefix, gpt.embed_mel(ids, positions)], dim=1)
    with torch.inference_mode():
        return gpt.logits(gpt.gpt(sequence))[0, prefix.shape[1] :]  # (1 + len(codes), V)


def test_prefix_is_34_conditioning_rows_plus_framed_text(gpt, prefix):
    assert prefix.shape == (1, 34 + 4 + 2, gpt.cfg.model_dim)
    ids = gpt.text_ids(torch.tensor([0, 40, 1, 41]), drop_specials=True)
    assert ids.tolist() == [0, 40, 41, 1]  # start/stop ids inside the text are dropped for generation


def test_greedy_codes_follow_the_uncached_model_with_the_official_positions(gpt, prefix):
    result = generate_codes(gpt, prefix, GREEDY)
    codes = result.codes.tolist()
    assert len(codes) == GREEDY.max_mel_tokens and not result.stopped
    logits = full_forward_logits(gpt, prefix, codes[:-1])
    history = torch.cat([torch.ones(prefix.shape[1], dtype=torch.long), torch.tensor([gpt.cfg.start_mel_token])])
    for step, code in enumerate(codes):
        scores = process_scores(
            logits[step : step + 1], torch.cat([history, torch.tensor(codes[:step], dtype=torch.long)])[None], GREEDY
        )
        assert int(scores.argmax()) == code, f"step {step}"


def test_max_mel_tokens_is_respected_by_every_decoder(gpt, prefix):
    for settings in (
        GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=5),
        GenerationSettings(do_sample=False, num_beams=3, max_mel_tokens=5),
        GenerationSettings(do_sample=True, num_beams=3, max_mel_tokens=5),
        GenerationSettings(do_sample=True, num_beams=1, max_mel_tokens=5),
    ):
        result = generate_codes(gpt, prefix, settings, torch.Generator().manual_seed(0))
        assert result.codes.shape == (5,) and not result.stopped, settings
        assert int(result.codes.max()) < gpt.cfg.start_mel_token


def _stop_after_one_code(gpt: UnifiedVoice) -> tuple[UnifiedVoice, int]:
    """A copy whose head strongly prefers one code, then (once the repetition penalty bites) the stop code."""
    model = copy.deepcopy(gpt)
    favourite = 7
    with torch.no_grad():
        model.mel_head.weight.zero_()
        model.mel_head.bias.zero_()
        model.mel_head.bias[favourite] = 50.0
        model.mel_head.bias[gpt.cfg.stop_mel_token] = 20.0
    return model, favourite


def test_greedy_generation_ends_at_the_stop_code_and_drops_it(gpt, prefix):
    model, favourite = _stop_after_one_code(gpt)
    result = generate_codes(model, prefix, GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=50))
    assert result.stopped
    assert result.codes.tolist() == [favourite]  # then the penalty (÷10 on a positive logit) lets stop win


@pytest.mark.parametrize("do_sample", [False, True])
def test_beam_search_returns_the_best_finished_hypothesis(gpt, prefix, do_sample):
    model = copy.deepcopy(gpt)
    with torch.no_grad():
        model.mel_head.bias[gpt.cfg.stop_mel_token] = 30.0  # stopping now is by far the most likely
    settings = GenerationSettings(do_sample=do_sample, num_beams=3, max_mel_tokens=50)
    result = generate_codes(model, prefix, settings, torch.Generator().manual_seed(0))
    assert result.stopped
    assert result.codes.tolist() == []


def test_repetition_penalty_covers_the_fake_prefix_ids(gpt):
    V = gpt.cfg.number_mel_codes
    scores = torch.full((1, V), -2.0)
    scores[0, 5] = 3.0
    history = torch.tensor([[1, 1, 1, gpt.cfg.start_mel_token, 5]])
    out = process_scores(scores, history, GenerationSettings(do_sample=False, num_beams=1))
    assert out[0, 1] == -20.0 and out[0, gpt.cfg.start_mel_token] == -20.0  # negative × 10
    assert out[0, 5] == pytest.approx(0.3)  # positive ÷ 10
    assert out[0, 2] == -2.0


def test_top_p_keeps_the_smallest_set_above_the_mass():
    scores = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(top_p_filter(scores, 0.8, keep=1))
    assert kept.tolist() == [[True, True, False, False]]


@pytest.mark.parametrize("vocabulary", [8194, 40])
def test_the_sort_free_top_k_top_p_equals_the_two_filters_bit_for_bit(vocabulary):
    """Including rows with ties: at the k-th score, across the top-p cut, and harmless ones inside."""
    generator = torch.Generator().manual_seed(0)
    for trial in range(300):
        scores = torch.randn(3, vocabulary, generator=generator) * (1 + trial % 4)
        if trial % 3 == 0:
            scores = (scores * 4).round() / 4  # many equal scores
        k, p, keep = (30, 5, 12)[trial % 3], (0.8, 0.5, 0.95)[trial % 3], 1 + trial % 2
        expected = top_p_filter(top_k_filter(scores, k, keep), p, keep)
        assert torch.equal(top_k_top_p_filter(scores, k, p, keep), expected), trial
    equal = torch.zeros(1, vocabulary)
    equal[0, :3] = 1.0  # three equal best scores, the cut between them: the sort's order decides
    assert torch.equal(top_k_top_p_filter(equal, 2, 0.5, 1), top_p_filter(top_k_filter(equal, 2, 1), 0.5, 1))


def test_seed_makes_sampling_reproducible(gpt, prefix):
    settings = GenerationSettings(max_mel_tokens=8)
    runs = [generate_codes(gpt, prefix, settings, torch.Generator().manual_seed(s)).codes for s in (3, 3, 4)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_latent_is_the_teacher_forced_hidden_state_before_each_code(gpt, prefix):
    codes = torch.tensor([5, 9, 11])
    conditioning = prefix[:, :34]
    text = torch.tensor([40, 41, 42, 43])
    with torch.inference_mode():
        latent = gpt.latent(conditioning, text, codes)
        text_emb = gpt.embed_text(gpt.text_ids(text, drop_specials=False))
        mel_ids = torch.tensor([[gpt.cfg.start_mel_token, 5, 9, 11, gpt.cfg.stop_mel_token]])
        sequence = torch.cat([conditioning, text_emb, gpt.embed_mel(mel_ids, torch.arange(5))], dim=1)
        expected = gpt.final_norm(gpt.gpt(sequence))[:, -5:-2]
    assert latent.shape == (1, 3, gpt.cfg.model_dim)
    torch.testing.assert_close(latent, expected)


def test_projections_are_stored_out_major_with_the_same_shape_values_and_state_dict(gpt):
    from indextts.gpt.gpt2 import Conv1D

    loaded = [m for m in gpt.modules() if isinstance(m, Conv1D)]
    assert loaded and all(m.weight.t().is_contiguous() for m in loaded)  # the loader's fast layout

    torch.manual_seed(0)
    layer = Conv1D(64, 96)
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(3, 64)
    before, state = layer(x), copy.deepcopy(layer.state_dict())
    layer.store_out_major()
    assert layer.weight.shape == (64, 96) and layer.weight.t().is_contiguous()
    torch.testing.assert_close(layer(x), before, rtol=1e-5, atol=1e-5)
    assert all(torch.equal(layer.state_dict()[key], value) for key, value in state.items())
    assert layer.to(torch.float64).weight.t().is_contiguous()  # moving or casting keeps the layout
