"""The demo checkpoint's GPT never emits its stop code: the demo engine stops each segment at a
speech length derived from its text, a real checkpoint keeps the official behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from indextts.factory import DEMO_MARKER
from indextts.length_cap import CODES_PER_SECOND, CODES_PER_SECOND_25, SpeechLengthCap, demo_speech_length
from indextts.pipeline import IndexTTS2
from serving.engine import EngineOptions, load_engine
from tests.conftest import EXAMPLES

VOICE = EXAMPLES / "voice_01.wav"
SHORT, LONG = "你好。", "今天天气很好，我们一起去公园散步吧。"


@pytest.fixture
def capped(engine: IndexTTS2):
    engine.speech_length_cap = demo_speech_length(engine.generation)
    yield engine
    engine.speech_length_cap = None


def test_each_segment_stops_at_a_length_that_fits_its_text(capped: IndexTTS2):
    plan = capped.plan(VOICE, f"{SHORT}{LONG}" * 3, max_text_tokens_per_segment=20)
    tokens = [len(segment.ids) for segment in plan.segments]
    limits = [plan.settings_for(index).max_mel_tokens for index in range(len(tokens))]
    cap, per_second = capped.speech_length_cap, CODES_PER_SECOND_25 if capped.generation == "2.5" else CODES_PER_SECOND
    assert len(set(tokens)) > 1 and limits == [cap.codes_for(n) for n in tokens]
    assert all(limit / per_second < 6 for limit in limits)  # a line of text, a few seconds of audio
    (segment,) = capped.infer_stream(VOICE, SHORT, seed=1, num_beams=1)
    short_tokens = len(capped.split_segments(SHORT, 20)[0].ids)  # 2.5 counts its language and stop ids too
    assert cap.min_codes == per_second and segment.codes == cap.codes_for(short_tokens)
    assert segment.codes < 2 * per_second  # "你好。" still gets a second of sound (or a little more), no more


def test_the_cap_never_raises_a_requests_own_max_mel_tokens(capped: IndexTTS2):
    (segment,) = capped.infer_stream(VOICE, LONG, seed=1, num_beams=1, max_mel_tokens=60)
    assert segment.codes == 60


def test_cap_arithmetic_has_a_floor_and_a_ceiling():
    cap = SpeechLengthCap(codes_per_text_token=10, min_codes=50, max_codes=300)
    assert [cap.codes_for(n) for n in (1, 5, 12, 30, 100)] == [50, 50, 120, 300, 300]
    with pytest.raises(ValueError):
        SpeechLengthCap(min_codes=100, max_codes=50)


def test_only_the_demo_checkpoint_gets_the_cap(demo_dir: Path, cache_dir: Path, tmp_path: Path):
    demo = load_engine(EngineOptions(model_dir=demo_dir, cache_dir=cache_dir, device="cpu"))
    assert demo.demo and demo.engine.speech_length_cap == demo_speech_length(demo.engine.generation)
    # The same files without the factory's marker: a real checkpoint as far as the node can tell.
    real = tmp_path / "real"
    real.mkdir()
    for entry in demo_dir.iterdir():
        if entry.name != DEMO_MARKER:
            (real / entry.name).symlink_to(entry)
    loaded = load_engine(EngineOptions(model_dir=real, cache_dir=cache_dir, device="cpu"))
    assert not loaded.demo and loaded.engine.speech_length_cap is None


def test_only_a_requests_own_limit_warns_that_a_segment_may_be_cut_short(
    capped: IndexTTS2, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level("WARNING", logger="indextts"):
        list(capped.infer_stream(VOICE, SHORT, seed=1, num_beams=1))  # stopped by the demo's cap: expected
        assert not [r for r in caplog.records if "cut short" in r.getMessage()]
        list(capped.infer_stream(VOICE, SHORT, seed=1, num_beams=1, max_mel_tokens=20))  # the request's own limit
    (warning,) = [r for r in caplog.records if "cut short" in r.getMessage()]
    assert "max_mel_tokens (20)" in warning.getMessage()
