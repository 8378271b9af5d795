"""The OpenAI-compatible speech API through the official `openai` SDK, against a real server on
the real tiny pipeline."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import av
import numpy as np
import openai
import pytest
import requests
import soundfile as sf

from serving.encoding import change_tempo
from serving.request import EmotionMode
from tests.api_servers import FAST, http_server, make_node


@pytest.fixture(scope="module")
def api(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("openai"))
    with http_server(node) as (url, _):
        yield url, node
    node.close()


@pytest.fixture(scope="module")
def client(api) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api[0]}/v1", api_key="unused", max_retries=0)


def _decode(data: bytes) -> tuple[int, float]:
    """(sample rate, seconds) of a compressed or WAV file, read by FFmpeg."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.rate, samples / stream.rate


@pytest.mark.parametrize(
    ("response_format", "rate"), [("mp3", 22050), ("opus", 48000), ("aac", 22050), ("flac", 22050), ("wav", 22050)]
)
def test_every_format_decodes_as_that_format(client: openai.OpenAI, response_format: str, rate: int):
    response = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello there.", response_format=response_format, extra_body=FAST
    )
    codec = {"mp3": "mp3", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le"}[response_format]
    with av.open(io.BytesIO(response.content)) as container:
        assert container.streams.audio[0].codec_context.name.startswith(codec)
    decoded_rate, seconds = _decode(response.content)
    assert decoded_rate == rate and seconds > 0.2


def test_pcm_is_raw_24khz_16bit_and_wav_is_the_default(client: openai.OpenAI, api):
    wav = client.audio.speech.create(
        model="tts-1", voice="echo", input="Raw audio.", response_format="wav", extra_body=FAST
    )
    pcm = client.audio.speech.create(
        model="tts-1", voice="echo", input="Raw audio.", response_format="pcm", extra_body=FAST
    )
    assert pcm.response.headers["content-type"] == "audio/pcm"
    wav_seconds = _decode(wav.content)[1]
    assert len(pcm.content) % 2 == 0
    assert len(pcm.content) / 2 / 24000 == pytest.approx(wav_seconds, abs=0.01)  # same audio, resampled
    default = requests.post(
        f"{api[0]}/v1/audio/speech", json={"input": "Default.", "voice": "echo", **FAST}, timeout=120
    )
    assert default.headers["content-type"] == "audio/wav" and _decode(default.content)[1] > 0  # seed 004


def test_speed_changes_the_tempo(client: openai.OpenAI):
    def seconds(speed: float) -> float:
        response = client.audio.speech.create(
            model="tts-1", voice="fable", input="One two three.", response_format="wav", speed=speed, extra_body=FAST
        )
        return _decode(response.content)[1]

    normal, fast, slow = seconds(1.0), seconds(2.0), seconds(0.5)
    assert fast / normal == pytest.approx(0.5, abs=0.03)
    assert slow / normal == pytest.approx(2.0, abs=0.06)


def test_the_tempo_change_keeps_the_pitch():
    rate = 22050
    tone = (np.sin(2 * np.pi * 440 * np.arange(rate * 2) / rate) * 8000).astype(np.int16)
    for speed in (0.25, 0.5, 1.5, 4.0):
        changed = change_tempo(tone, rate, speed)
        spectrum = np.abs(np.fft.rfft(changed))
        assert changed.size / tone.size == pytest.approx(1 / speed, rel=0.05)
        assert np.argmax(spectrum) * rate / changed.size == pytest.approx(440, abs=5)


def test_streaming_sends_each_segment_as_it_is_ready(client: openai.OpenAI, api):
    text = "The first sentence is here. And the second one follows it."
    extra = {**FAST, "max_text_tokens_per_segment": 20}
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="onyx", input=text, response_format="pcm", extra_body={**extra, "stream_format": "audio"}
    ) as response:
        chunks = [chunk for chunk in response.iter_bytes() if chunk]
    streamed = b"".join(chunks)
    job = _last_job(api[1])
    assert len(job.parts) >= 2
    assert len(streamed) % 2 == 0 and len(streamed) / 2 / 24000 == pytest.approx(job.result.duration, abs=0.05)
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="onyx", input=text, response_format="wav", extra_body={**extra, "stream_format": "audio"}
    ) as response:
        wav = response.read()
    assert _decode(wav)[1] == pytest.approx(job.result.duration, abs=0.05)


def test_sse_sends_audio_deltas_then_done(api):
    body = {"input": "Events please.", "voice": "nova", "response_format": "pcm", "stream_format": "sse", **FAST}
    with requests.post(f"{api[0]}/v1/audio/speech", json=body, stream=True, timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")
        ]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1) and events
    assert events[-1]["type"] == "speech.audio.done" and events[-1]["usage"]["input_tokens"] > 0
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) > 24000 * 2 * 0.2


def test_instructions_drive_the_emotion_text_mode(client: openai.OpenAI, api):
    client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="coral", input="Guess how I feel.", instructions="非常开心", extra_body=FAST
    )
    request = _last_job(api[1]).payload.request
    assert request.emo_mode is EmotionMode.TEXT and request.emo_text == "非常开心"


def test_errors_arrive_as_sdk_exceptions_with_the_message(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as unknown:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi.")
    assert "unknown voice 'nobody'" in str(unknown.value) and "alloy" in str(unknown.value)
    assert unknown.value.body["param"] == "voice"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 4097)
    assert too_long.value.body["param"] == "input"
    with pytest.raises(openai.BadRequestError) as too_fast:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=5.0)
    assert "speed" in str(too_fast.value)


def test_voices_and_models_are_listed(api):
    voices = requests.get(f"{api[0]}/v1/audio/voices", timeout=10).json()["voices"]
    assert [v["id"] for v in voices][:3] == ["alloy", "echo", "fable"] and len(voices) == 11
    assert {"id", "name", "language"} <= set(voices[0])
    models = openai.OpenAI(base_url=f"{api[0]}/v1", api_key="x").models.list()
    assert "tts-1" in [model.id for model in models.data]


def test_models_name_the_loaded_generation_first(api, layout: str):
    first = requests.get(f"{api[0]}/v1/models", timeout=10).json()["data"][0]
    assert first["id"] == f"indextts-{layout}" and first["generation"] == layout
    if layout == "2.5":
        assert first["duration_factor"] is True and {"zh", "en", "ja", "es"} <= set(first["languages"])
    else:
        assert "languages" not in first


def test_speech_takes_a_language_the_model_reads(api, layout: str):
    body = {"model": "tts-1", "voice": "alloy", "input": "こんにちは。", "language": "ja", **FAST}
    response = requests.post(f"{api[0]}/v1/audio/speech", json=body | {"response_format": "wav"}, timeout=600)
    if layout == "2":
        assert response.status_code == 400 and "language 'ja'" in response.json()["error"]["message"]
        return
    assert response.status_code == 200, response.text
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == 22050 and audio.shape[0] == int(2 * 50 * 1.72) * 256  # 50 codes at 25 Hz → 172 mel frames
    bad = requests.post(f"{api[0]}/v1/audio/speech", json=body | {"language": "xx"}, timeout=600)
    assert bad.status_code == 400 and "language 'xx'" in bad.json()["error"]["message"]


def test_a_busy_node_answers_503(engine, demo_dir: Path, tmp_path: Path):
    node = make_node(engine, demo_dir, tmp_path, max_pending=0)
    with http_server(node) as (url, _):
        busy = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as refused:
            busy.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
        assert refused.value.status_code == 503 and "busy" in str(refused.value)
    node.close()


def _last_job(node):
    return node.queue.wait_finished(node.queue.jobs()[-1], timeout=120)
