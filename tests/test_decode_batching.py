"""Decoding several requests' segments together (flow matching + BigVGAN in one batch) gives each
request what it gets alone: mixed lengths, prompts and emotion modes, on the real tiny pipeline.

Tolerances: the mel within 1e-5 (batched products add in another order: ~1e-6 seen); the waveform of
the random-weight tiny BigVGAN within 2e-3 of full scale (65 PCM steps; up to 34 seen), because that
network amplifies rounding: a plain batch of identical mels already moves it ~6e-4, and switching
oneDNN off for a single mel ~3e-4. A padding leak is far larger (checked below with the fills removed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from indextts.factory.configs import bigvgan_config, tiny_config
from indextts.s2mel import S2Mel
from indextts.s2mel.batched import MelRequest, generate_mel_batch
from indextts.s2mel.dit import ConditionOnce
from indextts.s2mel.wavenet import reflect_index, reflect_pad
from indextts.vocoder import BigVGAN, BigVGANConfig
from indextts.vocoder import batched as vocoder_batched
from indextts.vocoder.batched import vocode_batch
from indextts.weights import init_random_
from serving.decode_batching import CPU_RULE, CUDA_RULE, DecodeBatching, decode_batching_for
from serving.engine import LoadedEngine
from serving.jobs import JobState
from serving.node import Node, NodeSettings
from serving.request import parse_request
from tests.conftest import EXAMPLES

MEL_ATOL = 1e-5
WAVE_ATOL = 2e-3  # of full scale (±1)


def _randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * (0.05 if p.dim() > 1 else 0.1))
    return module.eval()


@pytest.fixture(scope="module")
def s2mel() -> S2Mel:
    return _randomised(S2Mel(tiny_config()))


def _mel_requests(s2mel: S2Mel, shapes: list[tuple[int, int]], seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    width = s2mel.estimator.cond_projection.in_features
    return [
        {
            "prompt_condition": torch.randn(1, p, width, generator=g),
            "cond": torch.randn(1, n, width, generator=g),
            "ref_mel": torch.randn(1, 80, p, generator=g),
            "style": torch.randn(1, 192, generator=g),
        }
        for p, n in shapes
    ]


# (prompt frames, generated frames): prompts and targets of different lengths, the longest last or not
SHAPES = [(30, 9), (120, 86), (55, 200), (12, 40)]


@pytest.mark.parametrize("cfg_rate", [0.7, 0.0])
def test_flow_matching_batch_gives_each_request_its_mel_alone(s2mel: S2Mel, cfg_rate: float):
    inputs = _mel_requests(s2mel, SHAPES)
    steps = 6
    alone = [
        s2mel.generate_mel(**r, steps=steps, cfg_rate=cfg_rate, generator=torch.Generator().manual_seed(i))
        for i, r in enumerate(inputs)
    ]
    requests = [MelRequest(**r, generator=torch.Generator().manual_seed(i)) for i, r in enumerate(inputs)]
    batched = generate_mel_batch(s2mel.estimator, requests, steps=steps, cfg_rate=cfg_rate)
    for mine, reference in zip(batched, alone, strict=True):
        assert mine.shape == reference.shape
        torch.testing.assert_close(mine, reference, rtol=0, atol=MEL_ATOL)


def test_flow_matching_batch_draws_each_requests_noise_from_its_own_generator(s2mel: S2Mel):
    inputs = _mel_requests(s2mel, SHAPES[:2])
    first = generate_mel_batch(
        s2mel.estimator, [MelRequest(**r, generator=torch.Generator().manual_seed(7)) for r in inputs], steps=3
    )
    # the second request's seed changes: only its mel moves
    second = generate_mel_batch(
        s2mel.estimator,
        [MelRequest(**inputs[0], generator=torch.Generator().manual_seed(7)), MelRequest(**inputs[1])],
        steps=3,
    )
    torch.testing.assert_close(second[0], first[0], rtol=0, atol=MEL_ATOL)
    assert (second[1] - first[1]).abs().max() > 0.1


def test_without_per_request_edges_the_padding_would_leak(s2mel: S2Mel, monkeypatch):
    """The WaveNet's reflection at each request's own end is what keeps the shorter requests exact."""
    inputs = _mel_requests(s2mel, SHAPES)
    alone = s2mel.generate_mel(**inputs[0], steps=3, generator=torch.Generator().manual_seed(0))
    real_velocity = s2mel.estimator.velocity

    def padded_end_reflection(*args, **kwargs):
        return real_velocity(*args, **{**kwargs, "edges_at_lengths": False})

    monkeypatch.setattr(s2mel.estimator, "velocity", padded_end_reflection)
    requests = [MelRequest(**r, generator=torch.Generator().manual_seed(i)) for i, r in enumerate(inputs)]
    leaked = generate_mel_batch(s2mel.estimator, requests, steps=3)[0]
    assert (leaked - alone).abs().max() > 100 * MEL_ATOL


def test_condition_projected_once_per_solve_gives_the_estimators_velocity(s2mel: S2Mel):
    """The prompt, style and content are projected at the first step and reused: the velocity is the
    estimator's, step after step, and a new solve's conditioning is projected anew (never a stale one)."""
    dit = s2mel.estimator
    g = torch.Generator().manual_seed(5)
    T, lengths = 48, torch.tensor([48])
    velocity = ConditionOnce(dit, output_from=10)
    for _ in range(2):  # a second solve with other prompts through the same object
        prompt, style = torch.randn(2, 80, T, generator=g), torch.randn(2, 192, generator=g)
        cond = torch.randn(2, T, dit.cond_projection.in_features, generator=g)
        with torch.inference_mode():
            for t in (0.1, 0.6):
                x, time = torch.randn(2, 80, T, generator=g), torch.full((2,), t)
                expected = dit(x, prompt, lengths, time, style, cond, output_from=10)
                torch.testing.assert_close(velocity(x, prompt, lengths, time, style, cond), expected)
            # the split is the merged linear map of the concatenated inputs (its definition)
            merged = dit.cond_x_merge_linear(
                torch.cat([x.transpose(1, 2), prompt.transpose(1, 2), dit.cond_projection(cond),
                           style[:, None].expand(2, T, -1)], dim=-1)
            )  # fmt: skip
            split = F.linear(x.transpose(1, 2), dit.cond_x_merge_linear.weight[:, :80])
            torch.testing.assert_close(split + dit.project_condition(prompt, style, cond), merged)


def test_flow_matching_batch_of_one_length_gives_each_request_its_mel_alone(s2mel: S2Mel):
    """Requests of the same solver length (a length bucket) run unmasked, as one alone does."""
    inputs = _mel_requests(s2mel, [(60, 40), (70, 30), (60, 40)])
    alone = [s2mel.generate_mel(**r, steps=4, generator=torch.Generator().manual_seed(i)) for i, r in enumerate(inputs)]
    requests = [MelRequest(**r, generator=torch.Generator().manual_seed(i)) for i, r in enumerate(inputs)]
    for mine, reference in zip(generate_mel_batch(s2mel.estimator, requests, steps=4), alone, strict=True):
        assert mine.shape == reference.shape
        torch.testing.assert_close(mine, reference, rtol=0, atol=MEL_ATOL)


def test_reflect_index_reflects_each_sample_at_its_own_end():
    x = torch.arange(1.0, 11.0).view(1, 1, 10)  # 10 frames
    lengths = torch.tensor([10, 6])
    index = reflect_index(lengths, 10, 3, 2)  # (2, 15)
    for b, n in enumerate(lengths.tolist()):
        alone = reflect_pad(x[..., :n], 3, 2)[0, 0]  # what the sample alone is padded with
        assert x[0, 0, index[b, : n + 5]].tolist() == alone.tolist()
    with pytest.raises(ValueError, match="more than 3 frames"):
        reflect_index(torch.tensor([10, 3]), 10, 3, 2)


# --- BigVGAN -------------------------------------------------------------------------------------


def _vocoder(**overrides: object) -> BigVGAN:
    model = BigVGAN(BigVGANConfig.from_dict(bigvgan_config("tiny") | overrides))
    init_random_(model, torch.Generator().manual_seed(0), std=0.1)
    return model.eval()


def _mels(frames: list[int]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(1, 80, n, generator=g) - 4.0 for n in frames]


@pytest.mark.parametrize(
    "overrides",
    [{}, {"resblock": "2"}, {"activation": "snake", "use_tanh_at_final": True}],
    ids=["amp1-snakebeta-clamp", "amp2", "snake-tanh"],
)
def test_vocoder_batch_gives_each_mel_its_waveform_alone(overrides: dict):
    vocoder = _vocoder(**overrides)
    mels = _mels([3, 40, 17, 90])  # from shorter than the filters' padding to the longest
    with torch.inference_mode():
        alone = [vocoder(mel) for mel in mels]
    batched = vocode_batch(vocoder, mels)
    for mine, reference in zip(batched, alone, strict=True):
        assert mine.shape == reference.shape
        torch.testing.assert_close(mine, reference, rtol=0, atol=WAVE_ATOL)


def test_vocoder_batch_of_one_length_gives_each_mel_its_waveform_alone(monkeypatch):
    """Mels of one length (a length bucket) are a plain batch: no tail fills are needed or made."""
    vocoder = _vocoder()
    mels = _mels([64, 64, 64])
    with torch.inference_mode():
        alone = [vocoder(mel) for mel in mels]

    def no_fill(x, lengths):
        raise AssertionError("a batch without padding needs no tail fill")

    monkeypatch.setattr(vocoder_batched, "_zero_tail", no_fill)
    monkeypatch.setattr(vocoder_batched, "_repeat_tail", no_fill)
    for mine, reference in zip(vocode_batch(vocoder, mels), alone, strict=True):
        assert mine.shape == reference.shape
        torch.testing.assert_close(mine, reference, rtol=0, atol=WAVE_ATOL)


def test_vocoder_batch_without_the_tail_fills_would_leak(monkeypatch):
    vocoder = _vocoder()
    mels = _mels([40, 90])
    with torch.inference_mode():
        alone = vocoder(mels[0])
    monkeypatch.setattr(vocoder_batched, "_repeat_tail", lambda x, lengths: x)
    monkeypatch.setattr(vocoder_batched, "_zero_tail", lambda x, lengths: x)
    leaked = vocode_batch(vocoder, mels)[0]
    assert (leaked - alone).abs().max() > 10 * WAVE_ATOL


# --- the rule ------------------------------------------------------------------------------------


def test_rule_groups_segments_of_similar_length_up_to_a_size():
    rule = DecodeBatching(max_size=3, max_length_ratio=1.5)
    groups = rule.groups([500, 900, 520, 1000, 510, 700, 505])
    assert groups == [[0, 6, 4], [2, 5], [1, 3]]  # 505/500 ≤ 1.5, then a full group; 700/520 ≤ 1.5 < 900/520
    assert DecodeBatching(max_size=1).groups([5, 5, 5]) == [[0], [1], [2]]
    with pytest.raises(ValueError, match="max_length_ratio"):
        DecodeBatching(max_length_ratio=0.5)


def test_auto_picks_the_rule_measured_for_the_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert decode_batching_for("auto", cpu) == CPU_RULE
    assert CPU_RULE.groups([600, 600, 610, 600, 600, 900]) == [[0, 1, 3, 4], [2], [5]]  # ≤ 4, one length
    assert decode_batching_for("auto", cuda) == CUDA_RULE
    assert decode_batching_for("on", cpu) == CUDA_RULE
    assert decode_batching_for("off", cuda) is None
    with pytest.raises(ValueError, match="batch_decode must be one of auto, on, off"):
        decode_batching_for("yes", cpu)


# --- the real pipeline ---------------------------------------------------------------------------


def test_decode_batch_of_real_segments_gives_each_its_mel_and_audio_alone(engine):
    per = 2 if engine.generation == "2.5" else 1  # 2.5's codes are 25 Hz: half as many for the same audio
    plans = [
        engine.plan(str(EXAMPLES / "voice_01.wav"), "The first sentence is here.", seed=3, max_mel_tokens=60 // per),
        engine.plan(str(EXAMPLES / "voice_02.wav"), "你好，今天天气很好。", seed=4, max_mel_tokens=40 // per,
                    emo_vector=[0, 0.7, 0, 0, 0, 0, 0, 0]),
        engine.plan(str(EXAMPLES / "voice_05.wav"), "A third voice.", seed=5, max_mel_tokens=52 // per,
                    emo_audio_prompt=str(EXAMPLES / "emo_sad.wav"), emo_alpha=0.8),
    ]  # fmt: skip
    generated = engine.generate_batch([(p.speaker, p.emovec, p.segments[0], p.settings, p.generator) for p in plans])
    states = [p.generator.get_state() for p in plans]
    items = [(p.speaker, r.codes, latent, p.generator) for p, (r, latent, _) in zip(plans, generated, strict=True)]
    alone = [engine.decode(*item) for item in items]
    for plan, state in zip(plans, states, strict=True):
        plan.generator.set_state(state)
    batched = engine.decode_batch(items)
    assert len({engine.decode_frames(speaker, codes.shape[0]) for speaker, codes, _, _ in items}) == 3
    for (mel, wav, _), (ref_mel, ref_wav, _) in zip(batched, alone, strict=True):
        torch.testing.assert_close(mel, ref_mel, rtol=0, atol=MEL_ATOL)
        assert wav.shape == ref_wav.shape
        assert (wav - ref_wav).abs().max() <= WAVE_ATOL * 32767


REQUESTS = [
    {"text": "The first sentence is here. And this is the second one.", "seed": 3, "max_mel_tokens": 60},
    {"text": "你好，今天天气很好。", "spk_audio": "examples/voice_02.wav", "seed": 4, "max_mel_tokens": 50,
     "emo_mode": "vector", "emo_vector": [0, 0.7, 0, 0, 0, 0, 0, 0]},
    {"text": "A third voice speaks.", "spk_audio": "examples/voice_05.wav", "seed": 5,
     "emo_mode": "audio", "emo_audio": "examples/emo_sad.wav", "emo_alpha": 0.8},
]  # fmt: skip


def _run(engine, demo_dir: Path, outputs: Path, max_batch: int, batch_decode: str) -> list:
    # One thread for both stages: every round's segments are ready at once, so the rule decides the
    # groups alone (the pool's groups: tests/test_pipelined_runner.py).
    settings = NodeSettings(
        outputs_dir=outputs,
        allowed_dirs=(EXAMPLES,),
        max_batch=max_batch,
        batch_decode=batch_decode,
        decode_workers="0",
    )
    node = Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), settings)
    base = {"spk_audio": "examples/voice_01.wav", "max_mel_tokens": 55, "max_text_tokens_per_segment": 20}
    try:
        jobs = [node.submit(parse_request({**base, **payload}), origin="test") for payload in REQUESTS]
        for job in jobs:
            node.queue.wait_finished(job, timeout=300)
    finally:
        node.close()
    assert all(job.state is JobState.COMPLETED for job in jobs), [job.error for job in jobs]
    return jobs


def test_node_with_batched_decode_sounds_as_each_request_alone(engine, demo_dir, tmp_path, monkeypatch):
    alone = _run(engine, demo_dir, tmp_path / "alone", max_batch=1, batch_decode="off")
    sizes: list[int] = []
    real_decode_batch = engine.decode_batch

    def recording_decode_batch(items, *args, **kwargs):
        sizes.append(len(items))
        return real_decode_batch(items, *args, **kwargs)

    monkeypatch.setattr(engine, "decode_batch", recording_decode_batch)
    batched = _run(engine, demo_dir, tmp_path / "batched", max_batch=3, batch_decode="on")
    assert any(size > 1 for size in sizes), sizes  # segments of different jobs were decoded together
    for mine, reference in zip(batched, alone, strict=True):
        assert [p.index for p in mine.parts] == [p.index for p in reference.parts]
        assert mine.result.audio.shape == reference.result.audio.shape
        difference = np.abs(mine.result.audio.astype(np.int32) - reference.result.audio.astype(np.int32))
        assert difference.max() <= WAVE_ATOL * 32767


def test_batch_decode_flag_and_env_twin_reach_the_node_settings(monkeypatch):
    import argparse

    from serving.options import add_node_flags, node_settings

    def settings(*argv: str) -> NodeSettings:
        parser = argparse.ArgumentParser()
        add_node_flags(parser)
        return node_settings(parser.parse_args(list(argv)))

    assert settings().batch_decode == "auto"
    assert settings("--batch_decode", "on").batch_decode == "on"
    monkeypatch.setenv("INDEXTTS_BATCH_DECODE", "off")
    assert settings().batch_decode == "off"
