"""SynthesisRequest: the official UI's defaults, and a message naming the field and the allowed range."""

from __future__ import annotations

import pytest

from serving.request import MAX_TEXT_CHARS, EmotionMode, RequestError, parse_request

BASE = {"text": "你好", "spk_audio": "examples/voice_01.wav"}


def test_defaults_are_the_official_ui_defaults():
    request = parse_request(BASE)
    assert request.emo_mode is EmotionMode.NONE
    assert (request.emo_alpha, request.interval_silence, request.max_text_tokens_per_segment) == (0.65, 200, 120)
    assert request.generation_kwargs() == {
        "do_sample": True,
        "top_p": 0.8,
        "top_k": 30,
        "temperature": 0.8,
        "num_beams": 3,
        "repetition_penalty": 10.0,
        "length_penalty": 0.0,
        "max_mel_tokens": 1500,
    }


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("top_p", 1.5, "top_p: 1.5 is out of range; allowed range 0.0–1.0"),
        ("temperature", 0.0, "temperature: 0.0 is out of range; allowed range 0.1–2.0"),
        ("num_beams", 11, "num_beams: 11 is out of range; allowed range 1–10"),
        ("max_mel_tokens", 2000, "max_mel_tokens: 2000 is out of range; allowed range 50–1815"),
        ("max_text_tokens_per_segment", 10, "max_text_tokens_per_segment: 10 is out of range; allowed range 20–600"),
        ("emo_alpha", -0.1, "emo_alpha: -0.1 is out of range; allowed range 0.0–1.0"),
        ("repetition_penalty", 25, "repetition_penalty: 25 is out of range; allowed range 0.1–20.0"),
    ],
)
def test_out_of_range_values_name_the_field_and_the_range(field, value, expected):
    with pytest.raises(RequestError) as caught:
        parse_request(BASE | {field: value})
    assert str(caught.value) == expected
    assert caught.value.field == field


def test_text_must_say_something_and_not_too_much():
    with pytest.raises(RequestError, match="text: the text is blank"):
        parse_request(BASE | {"text": "  \n "})
    with pytest.raises(RequestError, match=f"text: too long \\({MAX_TEXT_CHARS + 1} characters\\); the limit is"):
        parse_request(BASE | {"text": "字" * (MAX_TEXT_CHARS + 1)})
    with pytest.raises(RequestError, match="text: this field is required"):
        parse_request({"spk_audio": "x.wav"})


def test_several_problems_are_reported_together():
    with pytest.raises(RequestError) as caught:
        parse_request(BASE | {"top_k": 500, "num_beams": 0, "speed": 2})
    fields = [field for field, _ in caught.value.problems]
    assert sorted(fields) == ["num_beams", "speed", "top_k"]
    assert "speed: unknown field" in str(caught.value)


def test_emotion_modes_need_their_inputs():
    with pytest.raises(RequestError, match="emo_audio: emotion mode 'audio' needs an emotion reference"):
        parse_request(BASE | {"emo_mode": "audio"})
    with pytest.raises(RequestError, match="emo_vector: emotion mode 'vector' needs at least one weight"):
        parse_request(BASE | {"emo_mode": "vector", "emo_vector": [0] * 8})
    with pytest.raises(RequestError, match="emo_vector: needs exactly 8 weights"):
        parse_request(BASE | {"emo_mode": "vector", "emo_vector": [0.5] * 7})
    with pytest.raises(RequestError, match=r"emo_vector: sad is 1\.5; each weight must be between 0 and 1"):
        parse_request(BASE | {"emo_mode": "vector", "emo_vector": [0, 0, 1.5, 0, 0, 0, 0, 0]})
    with pytest.raises(RequestError, match="emo_mode: Input should be 'none', 'audio', 'vector' or 'text'"):
        parse_request(BASE | {"emo_mode": "joyful"})


def test_vector_mode_applies_the_official_slider_rule_unless_told_not_to():
    weights = [0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 0.0]  # biased: 0.75 + 0.4125 = 1.1625 > 0.8
    request = parse_request(BASE | {"emo_mode": "vector", "emo_vector": weights})
    scaled = request.emotion_weights()
    assert sum(scaled) == pytest.approx(0.8)
    assert scaled[0] / scaled[6] == pytest.approx((0.8 * 0.9375) / (0.6 * 0.6875))
    raw = parse_request(BASE | {"emo_mode": "vector", "emo_vector": weights, "normalize_emo_vector": False})
    assert raw.emotion_weights() == weights
    assert parse_request(BASE | {"emo_vector": weights}).emotion_weights() is None  # not in vector mode


def test_top_k_zero_turns_top_k_off_and_blank_emotion_text_means_the_main_text():
    request = parse_request(BASE | {"top_k": 0, "emo_mode": "text", "emo_text": "   "})
    assert request.generation_kwargs()["top_k"] is None
    assert request.emo_text is None
