"""The IndexTTS2 facade end to end on the tiny checkpoint: lengths, streaming, seeds, caches, errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from indextts.audio import silence_samples
from indextts.errors import AudioDecodeError, AudioTooShortError, TextError

from .conftest import EXAMPLES

VOICE = EXAMPLES / "voice_07.wav"
TWO_SENTENCES = "The first sentence is here. And this is the second one, which follows it."  # 2+ segments at 20 tokens
FAST = dict(max_mel_tokens=12, num_beams=1, max_text_tokens_per_segment=20)


def expected_samples(engine, codes_per_segment: list[int], interval_ms: int) -> int:
    """256 samples per mel frame: 2.0 makes floor(f32(N)·1.72) frames of N codes (50 Hz); 2.5's codec
    doubles its 25 Hz codes first, int(2N·1.72)."""
    if engine.generation == "2.5":
        frames = [int(2 * n * 1.72) for n in codes_per_segment]
    else:
        frames = [int(np.float32(n) * np.float32(1.72)) for n in codes_per_segment]
    return sum(f * 256 for f in frames) + (len(frames) - 1) * silence_samples(interval_ms)


def test_output_length_follows_the_code_count_plus_silences(engine):
    result = engine.synthesize(VOICE, TWO_SENTENCES, interval_silence=300, seed=3, **FAST)
    codes = [s.codes for s in result.segments]
    segments = engine.split_segments(TWO_SENTENCES, FAST["max_text_tokens_per_segment"])  # 2 or 3: the tokenizer's
    assert len(codes) == len(segments) >= 2 and all(n == FAST["max_mel_tokens"] for n in codes)  # never stops
    assert result.sample_rate == 22050 and result.audio.dtype == np.int16
    assert result.audio.shape == (expected_samples(engine, codes, 300),)
    assert result.timings.gpt_generate > 0 and result.timings.vocoder > 0


def test_streaming_yields_the_same_audio_as_infer(engine):
    sr, audio = engine.infer(VOICE, TWO_SENTENCES, seed=5, **FAST)
    chunks = list(engine.infer_stream(VOICE, TWO_SENTENCES, seed=5, **FAST))
    assert len(chunks) >= 2 and [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.count == len(chunks) for c in chunks)
    gap = np.zeros(silence_samples(200), dtype=np.float32)
    pieces = [part for chunk in chunks for part in (gap, chunk.samples)][1:]  # the silence between segments only
    joined = np.concatenate(pieces).astype(np.int16)
    assert sr == 22050 and audio.shape == (joined.shape[0], 1)
    np.testing.assert_array_equal(audio[:, 0], joined)


def test_same_seed_same_audio_other_seed_other_audio(engine):
    first = engine.synthesize(VOICE, "Hello there.", seed=11, **FAST).audio
    again = engine.synthesize(VOICE, "Hello there.", seed=11, **FAST).audio
    other = engine.synthesize(VOICE, "Hello there.", seed=12, **FAST).audio
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_second_call_with_the_same_prompt_skips_prompt_processing(engine):
    prompts = engine.models.prompts
    engine.synthesize(EXAMPLES / "voice_08.wav", "Hi.", seed=1, **FAST)
    misses = (prompts.speakers.misses, prompts.emotions.misses)
    engine.synthesize(EXAMPLES / "voice_08.wav", "Hi again.", seed=1, **FAST)
    assert (prompts.speakers.misses, prompts.emotions.misses) == misses


def test_infer_writes_a_16_bit_wav_file(engine, tmp_path):
    out = engine.infer(VOICE, "Hello.", tmp_path / "sub" / "out.wav", seed=2, **FAST)
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.frames == expected_samples(engine, [FAST["max_mel_tokens"]], 200)


def test_progress_reports_fractions_and_stages(engine):
    seen: list[tuple[float, str]] = []
    engine.synthesize(VOICE, TWO_SENTENCES, progress=lambda f, s: seen.append((f, s)), seed=1, **FAST)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    count = len(engine.split_segments(TWO_SENTENCES, FAST["max_text_tokens_per_segment"]))
    assert any(f"segment {count}/{count}" in stage for _, stage in seen)


def test_bad_inputs_raise_typed_errors(engine, tmp_path):
    with pytest.raises(TextError):
        engine.synthesize(VOICE, "   ", **FAST)
    with pytest.raises(AudioDecodeError):
        engine.synthesize(tmp_path / "nope.wav", "Hello.", **FAST)
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(2205, dtype=np.float32), 22050)
    with pytest.raises(AudioTooShortError):
        engine.synthesize(short, "Hello.", **FAST)
    with pytest.raises(TypeError):
        engine.synthesize(VOICE, "Hello.", not_a_setting=1)


@pytest.mark.parametrize(
    "emotion",
    [
        {},
        {"emo_audio_prompt": EXAMPLES / "emo_sad.wav", "emo_alpha": 0.65},
        {"emo_vector": [0, 0, 0, 0, 0, 0, 0.5, 0.3], "emo_alpha": 0.8},
        {"use_emo_text": True, "emo_text": "我今天太开心了"},
    ],
    ids=["same-as-speaker", "emotion-audio", "emotion-vector", "emotion-text"],
)
def test_every_emotion_mode_synthesises(engine, emotion):
    result = engine.synthesize(VOICE, "Hello.", seed=4, **emotion, **FAST)
    assert result.audio.shape == (expected_samples(engine, [FAST["max_mel_tokens"]], 200),)
    assert np.abs(result.audio).max() > 0  # the demo vocoder makes audible noise


def test_requests_synthesised_side_by_side_sound_as_they_would_alone(engine):
    """`synthesize_round` batches the GPT decode of several plans; each plan's audio is unchanged."""
    requests = [
        (VOICE, TWO_SENTENCES, dict(seed=5, **FAST)),
        (
            EXAMPLES / "voice_02.wav",
            "A single short line.",
            dict(seed=9, max_mel_tokens=8, max_text_tokens_per_segment=20),
        ),
    ]
    alone = [[c.samples for c in engine.infer_stream(v, t, **kw)] for v, t, kw in requests]
    plans = [engine.plan(v, t, **kw) for v, t, kw in requests]
    together: list[list[np.ndarray]] = [[], []]
    counts = [len(plan.segments) for plan in plans]  # [2, 1] on IndexTTS-2, [3, 1] with 2.5's tokenizer
    for index in range(max(counts)):
        work = [(plan, index) for plan in plans if index < len(plan.segments)]
        for (plan, _), segment in zip(work, engine.synthesize_round(work), strict=True):
            together[plans.index(plan)].append(segment.samples)
    assert counts[0] >= 2 and counts[1] == 1
    assert [len(a) for a in alone] == counts and [len(t) for t in together] == counts
    for mine, reference in zip([*together[0], *together[1]], [*alone[0], *alone[1]], strict=True):
        np.testing.assert_allclose(mine, reference, atol=0.5)  # PCM scale: within half an LSB
