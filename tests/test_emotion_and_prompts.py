"""Emotion modes and prompt conditioning through the real engine on the tiny checkpoint."""

from __future__ import annotations

import random
import shutil
import threading

import pytest
import torch

from indextts.emotion.control import EmotionError, EmotionRequest, resolve_emotion
from indextts.emotion.vectors import EmotionMatrices, scale_emotion_weights
from indextts.errors import AudioDecodeError, CheckpointError
from indextts.gpt.generation import GenerationSettings

from .conftest import EXAMPLES

VOICE = EXAMPLES / "voice_01.wav"
HAPPY = EXAMPLES / "emo_happy.wav"
SETTINGS = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=6)
WEIGHTS = [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.2]


def content_latent_shape(engine, n_codes: int) -> tuple[int, int, int]:
    """2.0: the teacher-forced GPT latent (1, N, model_dim); 2.5: the codec's decode (1, 2N, semantic_dim)."""
    cfg = engine.models.cfg
    return (1, 2 * n_codes, cfg.semantic_dim) if engine.generation == "2.5" else (1, n_codes, cfg.gpt.model_dim)


def test_mode_selection_follows_the_official_rules():
    def text_model(text: str) -> list[float]:
        return [0.0, 1.0, 0, 0, 0, 0, 0, 0] if "angry" in text else [0.0] * 7 + [1.0]

    same = resolve_emotion(EmotionRequest(), VOICE, "hi", None)
    assert (same.emo_audio, same.alpha, same.weights) == (VOICE, 1.0, None)
    audio = resolve_emotion(EmotionRequest(emo_audio=HAPPY, emo_alpha=0.6), VOICE, "hi", None)
    assert (audio.emo_audio, audio.alpha) == (HAPPY, 0.6)
    vector = resolve_emotion(EmotionRequest(emo_audio=HAPPY, emo_vector=[0.3333] * 8, emo_alpha=0.5), VOICE, "", None)
    assert vector.emo_audio == VOICE and vector.alpha == 1.0  # a vector discards the emotion recording
    assert vector.weights == [0.1666] * 8  # × clamp(α, 0, 1), truncated to 4 decimals
    text = resolve_emotion(EmotionRequest(use_emo_text=True), VOICE, "I am so angry", text_model)
    assert text.weights == [0.0, 1.0, 0, 0, 0, 0, 0, 0]  # emo_text defaults to the synthesis text
    with pytest.raises(EmotionError, match="Qwen"):
        resolve_emotion(EmotionRequest(use_emo_text=True), VOICE, "hi", None)
    with pytest.raises(EmotionError, match="8 values"):
        resolve_emotion(EmotionRequest(emo_vector=[1.0, 0.0]), VOICE, "hi", None)
    assert scale_emotion_weights([0.12345, 1.0], 2.0) == [0.12345, 1.0]  # α above 1 is clamped to 1


def test_nearest_prototype_rows_and_the_mix():
    spk = torch.eye(3, 4).repeat(8, 1)[:24]  # 8 groups of 3 rows: unit vectors e0, e1, e2
    emo = torch.arange(24, dtype=torch.float32).unsqueeze(1).repeat(1, 2)  # row r holds [r, r]
    matrices = EmotionMatrices.from_tensors(spk, emo, [3] * 8, 4, 2)
    assert matrices.nearest_rows(torch.tensor([0.1, 0.9, 0.2, 0.0])) == [1] * 8
    mixed = matrices.mix([1.0] + [0.0] * 6 + [0.5], [1] * 8)
    torch.testing.assert_close(mixed, torch.tensor([[1.0 + 0.5 * 22, 1.0 + 0.5 * 22]]))
    assert matrices.random_rows(random.Random(0)) == matrices.random_rows(random.Random(0))
    with pytest.raises(CheckpointError, match=r"feat1.pt"):
        EmotionMatrices.from_tensors(spk[:20], emo, [3] * 8, 4, 2)


def test_every_emotion_mode_produces_codes(engine):
    segment = engine.split_segments("Hello there.")[0]
    speaker = engine.speaker(VOICE)
    requests = {
        "same as speaker": EmotionRequest(),
        "emotion audio": EmotionRequest(emo_audio=HAPPY, emo_alpha=0.65),
        "emotion vector": EmotionRequest(emo_vector=WEIGHTS),
        "emotion text": EmotionRequest(use_emo_text=True, emo_text="今天真开心"),
    }
    emovecs = {}
    for mode, request in requests.items():
        emovec = engine.emotion_vector(VOICE, "Hello there.", request)
        codes, latent, _ = engine.generate(speaker, emovec, segment, SETTINGS)
        assert codes.codes.shape == (SETTINGS.max_mel_tokens,), mode
        assert latent.shape == content_latent_shape(engine, SETTINGS.max_mel_tokens), mode
        emovecs[mode] = emovec
    assert not torch.allclose(emovecs["same as speaker"], emovecs["emotion audio"])
    assert not torch.allclose(emovecs["same as speaker"], emovecs["emotion vector"])


def test_vector_mode_is_the_prototype_mix_plus_the_remaining_weight_of_the_voice(engine):
    m = engine.models
    base = engine.emotion_vector(VOICE, "hi", EmotionRequest())
    vector = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_vector=WEIGHTS))
    style = engine.speaker(VOICE).style
    expected = m.matrices.mix(WEIGHTS, m.matrices.nearest_rows(style)) + (1 - sum(WEIGHTS)) * base
    torch.testing.assert_close(vector, expected)
    first = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_vector=WEIGHTS, use_random=True), random.Random(5))
    again = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_vector=WEIGHTS, use_random=True), random.Random(5))
    torch.testing.assert_close(first, again)


def test_emotion_audio_weight_blends_linearly(engine):
    # α = 0 gives the speaker features' own emotion (not mode 0's, which re-reads the file at 16 kHz)
    own = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_audio=HAPPY, emo_alpha=0.0))
    full = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_audio=HAPPY, emo_alpha=1.0))
    half = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_audio=HAPPY, emo_alpha=0.5))
    torch.testing.assert_close(half, own + 0.5 * (full - own), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(own, engine.emotion_vector(VOICE, "hi", EmotionRequest()))


def test_a_cached_prompt_keeps_its_emotion_vector_and_it_equals_the_official_merge(engine, monkeypatch):
    m = engine.models
    expected = m.gpt.merge_emovec(engine.speaker(VOICE).spk_cond_emb, m.prompts.emotion(HAPPY).emo_cond_emb, 0.6)
    calls = []
    encode = m.gpt.emotion_vector
    monkeypatch.setattr(m.gpt, "emotion_vector", lambda cond: calls.append(cond) or encode(cond))
    for _ in range(3):
        merged = engine.emotion_vector(VOICE, "hi", EmotionRequest(emo_audio=HAPPY, emo_alpha=0.6))
        assert torch.equal(merged, expected)  # bit for bit: the same two vectors, mixed the official way
    assert len(calls) <= 2  # each recording at most once (a test before may have cached them already)


def test_prompt_cache_is_keyed_by_content_bounded_and_shared_by_threads(engine, tmp_path):
    prompts = engine.models.prompts
    prompts.speakers.clear()
    misses = prompts.speakers.misses
    renamed = tmp_path / "same-voice-other-name.wav"
    shutil.copy(VOICE, renamed)
    first = prompts.speaker(VOICE)
    assert prompts.speaker(renamed) is first  # same bytes, other name: no second computation
    assert prompts.speaker(VOICE.read_bytes()) is first
    assert prompts.speakers.misses == misses + 1

    shutil.copy(EXAMPLES / "voice_02.wav", renamed)  # the file changes under the same name
    assert prompts.speaker(renamed) is not first
    assert prompts.speakers.misses == misses + 2

    prompts.speakers.clear()
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(prompts.speaker(EXAMPLES / "voice_03.wav"))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] is results[1]
    assert prompts.speakers.misses == misses + 3  # computed once for both threads

    for name in ("voice_04.wav", "voice_05.wav", "voice_06.wav"):
        prompts.speaker(EXAMPLES / name)
    assert len(prompts.speakers) <= prompts.speakers.capacity


def test_unreadable_prompt_is_a_typed_audio_error(engine, tmp_path):
    with pytest.raises(AudioDecodeError):
        engine.speaker(tmp_path / "missing.wav")
    (tmp_path / "noise.wav").write_bytes(b"definitely not audio" * 100)
    with pytest.raises(AudioDecodeError):
        engine.speaker(tmp_path / "noise.wav")
