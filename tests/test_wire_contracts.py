"""The HTTP front doors' wire details as seeds 003 (REST) and 004 (OpenAI) state them, and the one
input policy they share with the WebSocket: numbers are numbers, unreadable bodies are malformed
JSON. Real uvicorn server, real tiny pipeline; the queue shows what each request became."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from serving.request import EmotionMode
from tests.api_servers import FAST, http_server, make_node
from tests.conftest import EXAMPLES

VOICE = "examples/voice_01.wav"
NUMBER_FIELDS = [
    "top_k",
    "top_p",
    "temperature",
    "num_beams",
    "repetition_penalty",
    "emo_alpha",
    "seed",
    "interval_silence",
    "max_mel_tokens",
    "length_penalty",
    "max_text_tokens_per_segment",
]


@pytest.fixture(scope="module")
def api(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("wire"))
    with http_server(node) as (url, _):
        yield url, node
    node.close()


def _last_request(node):
    return node.queue.wait_finished(node.queue.jobs()[-1], timeout=120).payload.request


def _post(url: str, path: str, **kwargs) -> requests.Response:
    return requests.post(f"{url}{path}", timeout=120, **kwargs)


# --- REST /tts (seed 003) ----------------------------------------------------------------------


def test_tts_emo_alpha_defaults_to_one(api):
    url, node = api
    answer = _post(url, "/tts", json={"text": "好。", "spk_audio": VOICE, "emo_audio": "examples/emo_sad.wav", **FAST})
    assert answer.status_code == 200, answer.text
    request = _last_request(node)
    assert request.emo_mode is EmotionMode.AUDIO and request.emo_alpha == 1.0


def test_ftp_prompt_urls_are_refused_saying_why(api):
    answer = _post(api[0], "/tts", json={"text": "好。", "spk_audio": "ftp://example.com/speaker.wav"})
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("spk_audio: ") and "'ftp' scheme" in detail and "refused on purpose" in detail
    assert "https://" in detail  # what to do instead


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_json_true_is_not_a_number_on_tts(api, field: str):
    answer = _post(api[0], "/tts", json={"text": "好。", "spk_audio": VOICE, field: True})
    assert answer.status_code == 422, answer.text
    assert f"{field}: must be a number, not true" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"top_p": "0.8"}, "top_p: must be a number, not the string '0.8'"),
        ({"emo_vector": [True, 0, 0, 0, 0, 0, 0, 0], "emo_mode": "vector"}, "emo_vector: must be a number"),
        ({"use_random": 1}, "use_random"),
        ({"do_sample": "false"}, "do_sample"),
        ({"top_k": 2.5}, "top_k"),
        ({"emo_alhpa": 0.5}, "emo_alhpa: unknown field"),
    ],
)
def test_other_loose_values_and_unknown_fields_are_refused_on_tts(api, body: dict, words: str):
    answer = _post(api[0], "/tts", json={"text": "好。", "spk_audio": VOICE, **body})
    assert answer.status_code == 422 and words in answer.json()["detail"], answer.text


def test_integral_floats_still_fill_integer_fields(api):
    url, node = api
    answer = _post(url, "/tts", json={"text": "好。", "spk_audio": VOICE, **FAST, "interval_silence": 100.0})
    assert answer.status_code == 200, answer.text
    assert _last_request(node).interval_silence == 100


def _wav(samples: np.ndarray, rate: int) -> str:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue().hex()


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (_wav(np.zeros(16, np.float32), 8), "sampled at 8 Hz"),  # 2 s of zeros at 8 Hz
        (_wav(np.zeros(44100, np.float32), 22050), "is silent"),
        (_wav(0.3 * np.sin(np.arange(4000) / 4).astype(np.float32), 22050), "at least 0.5 s"),
    ],
)
def test_prompts_that_cannot_be_a_voice_are_refused_naming_the_field(api, audio: str, words: str):
    for field in ("spk_audio", "emo_audio"):
        body = {"text": "好。", "spk_audio": VOICE, field: audio}
        answer = _post(api[0], "/tts", json=body)
        assert answer.status_code == 400, answer.text
        detail = answer.json()["detail"]
        assert detail.startswith(f"{field}: ") and words in detail


# --- unreadable bodies: the malformed-JSON shape on both HTTP doors ---------------------------

UNREADABLE = [
    (b"{not json", "the body is not valid JSON"),
    ('{"text": "é"}'.encode("latin-1"), "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("body", "words"), UNREADABLE)
def test_unreadable_bodies_get_the_malformed_json_answer(api, body: bytes, words: str):
    headers = {"Content-Type": "application/json"}
    rest = _post(api[0], "/tts", data=body, headers=headers)
    assert rest.status_code == 422 and words in rest.json()["detail"]
    assert rest.json()["detail"].startswith("the body is not valid JSON")
    openai = _post(api[0], "/v1/audio/speech", data=body, headers=headers)
    error = openai.json()["error"]
    assert openai.status_code == 400 and words in error["message"]
    assert (error["param"], error["type"], error["code"]) == ("body", "invalid_request_error", "invalid_value")


# --- OpenAI-compatible (seed 004) --------------------------------------------------------------


def test_speech_without_voice_or_format_is_alloy_as_wav(api):
    url, node = api
    answer = _post(url, "/v1/audio/speech", json={"model": "tts-1", "input": "你好世界", **FAST})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/wav" and answer.content[:4] == b"RIFF"
    info = sf.info(io.BytesIO(answer.content))
    assert info.samplerate == 22050 and info.frames > 0
    assert Path(_last_request(node).spk_audio) == (EXAMPLES / "voice_01.wav").resolve()


@pytest.mark.parametrize(("field", "value"), [("speed", True), ("seed", True), ("temperature", "0.5")])
def test_speech_numbers_must_be_numbers(api, field: str, value: object):
    answer = _post(api[0], "/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", field: value})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == field and "must be a number" in error["message"]


def test_speech_ignores_unknown_fields_as_openai_sdks_may_send_them(api):
    answer = _post(api[0], "/v1/audio/speech", json={"input": "Hi.", "some_future_option": 1, **FAST})
    assert answer.status_code == 200 and answer.content[:4] == b"RIFF"
