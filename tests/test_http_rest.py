"""REST `/tts`, `/health`, `/metrics` and the API key, with `requests` against a real server on the
real tiny pipeline; prompt URLs are served by a real local HTTP server."""

from __future__ import annotations

import dataclasses
import http.server
import io
import socket
import threading
import time
from pathlib import Path

import openai
import pytest
import requests
import soundfile as sf

from tests.api_servers import FAST, http_server, make_node
from tests.conftest import EXAMPLES

VOICE = (EXAMPLES / "voice_01.wav").read_bytes()


class _Prompts(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow.wav":
            time.sleep(3)
        body = VOICE if self.path.endswith(".wav") else b"not audio at all " * 50
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def prompts():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Prompts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def api(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("rest"), allow_private_urls=True)
    node.policy = dataclasses.replace(node.policy, read_timeout=1.0)  # the slow prompt times out quickly
    with http_server(node) as (url, _):
        yield url
    node.close()


def _tts(url: str, **body) -> requests.Response:
    return requests.post(f"{url}/tts", json={"text": "你好，世界。", **FAST, **body}, timeout=120)


def test_tts_with_a_prompt_url_returns_wav_hex_and_timings(api: str, prompts: str):
    answer = _tts(api, spk_audio=f"{prompts}/voice.wav")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    audio, rate = sf.read(io.BytesIO(bytes.fromhex(body["audio_hex"])), dtype="int16")
    assert rate == 22050 and body["audio_length"] == pytest.approx(audio.shape[0] / rate, abs=1e-3)
    assert body["inference_time"] > 0 and body["rtf"] > 0 and body["text"] == "你好，世界。"


def test_tts_with_hex_audio_and_an_emotion_reference(api: str, prompts: str):
    answer = _tts(api, spk_audio=VOICE.hex(), emo_audio=f"{prompts}/sad.wav", emo_alpha=0.8)
    assert answer.status_code == 200, answer.text
    assert answer.json()["audio_length"] > 0


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"spk_audio": "ab" * 200}, 400, "spk_audio"),  # hex that is not audio
        ({"spk_audio": "PROMPT/not-audio.txt"}, 400, "spk_audio"),
        ({"spk_audio": "PROMPT/slow.wav"}, 408, "spk_audio"),
        ({"spk_audio": "/etc/passwd"}, 400, "spk_audio"),
        ({"spk_audio": "ftp://example.com/a.wav"}, 400, "spk_audio"),
        ({"spk_audio": "examples/voice_01.wav", "top_p": 3}, 422, "top_p"),
        ({"spk_audio": "examples/voice_01.wav", "text": "   "}, 422, "text"),
        ({"spk_audio": "examples/voice_01.wav", "bogus": 1}, 422, "bogus"),
        ({"spk_audio": 12}, 422, "spk_audio"),
        ({}, 422, "spk_audio"),
    ],
)
def test_bad_requests_get_a_status_and_a_message_naming_the_field(api: str, prompts: str, body, status, words):
    body = {key: value.replace("PROMPT", prompts) if isinstance(value, str) else value for key, value in body.items()}
    answer = _tts(api, **body)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert words in detail and "Traceback" not in detail


def test_malformed_and_huge_bodies_get_clean_4xx(api: str):
    broken = requests.post(f"{api}/tts", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    for path in ("/tts", "/v1/audio/speech"):
        with socket.create_connection(("127.0.0.1", int(api.rsplit(":", 1)[1]))) as raw:
            raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode())
            raw.sendall(b"Content-Length: 60000000\r\n\r\n{")
            raw.settimeout(5)
            answer = b""
            while b"send audio by URL" not in answer and (chunk := raw.recv(4096)):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413") and b"send audio by URL" in answer
    wrong_method = requests.get(f"{api}/tts", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["detail"]


def test_health_and_metrics(api: str, prompts: str):
    health = requests.get(f"{api}/health", timeout=10).json()
    assert health["status"] == "healthy" and health["model_loaded"] is True and health["deepspeed_enabled"] is False
    assert {"device", "queue_depth", "version"} <= set(health)
    assert _tts(api, spk_audio=f"{prompts}/voice.wav").status_code == 200
    metrics = requests.get(f"{api}/metrics", timeout=10)
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'indextts_requests_total{front_door="rest",outcome="ok"}' in text
    assert 'indextts_requests_total{front_door="rest",outcome="invalid"}' in text
    assert 'indextts_job_latency_seconds_count{origin="rest"}' in text
    assert "indextts_job_rtf_bucket" in text and "indextts_audio_seconds_total" in text
    assert 'indextts_queue_depth{state="pending"} 0.0' in text
    assert 'indextts_space_connection_state{state="local"} 1.0' in text


def test_the_api_key_guards_every_api_but_health_and_metrics(engine, demo_dir: Path, tmp_path: Path):
    node = make_node(engine, demo_dir, tmp_path)
    with http_server(node, api_key="s3cret") as (url, _):
        missing = requests.post(f"{url}/tts", json={"text": "x", "spk_audio": "examples/voice_01.wav"}, timeout=10)
        assert missing.status_code == 401 and "API key" in missing.json()["detail"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
        assert openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret").models.list().data
        headers = {"Authorization": "Bearer s3cret"}
        good = requests.post(
            f"{url}/tts",
            json={"text": "好。", "spk_audio": "examples/voice_01.wav", **FAST},
            headers=headers,
            timeout=120,
        )
        assert good.status_code == 200, good.text
        assert requests.get(f"{url}/health", timeout=10).status_code == 200
        metrics = requests.get(f"{url}/metrics", timeout=10).text
        assert 'indextts_requests_total{front_door="rest",outcome="unauthorized"} 1.0' in metrics
    node.close()
