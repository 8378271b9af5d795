"""Prompt sources against real files, real encodings and a real HTTP server on 127.0.0.1.

The server's request log shows whether a refused URL was ever contacted: refusals by address
must happen before connecting, so none of the always-refused addresses needs a network.
"""

from __future__ import annotations

import base64
import io
import pickle
import socket
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serving.sources import AudioSourceError, SourcePolicy, detect_kind, fetch_url, resolve_audio
from tests.conftest import EXAMPLES, REPO

HUGE_BYTES = 50 * 1024 * 1024
CHUNK = b"\0" * 65536


def wav_bytes(seconds: float, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


GOOD_WAV = wav_bytes(1.0)


class PromptServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), PromptHandler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()  # set at teardown so the slow handlers end at once
        self.huge_done = threading.Event()
        self.huge_sent_all = False

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class PromptHandler(BaseHTTPRequestHandler):
    server: PromptServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        route = self.path.split("?")[0]
        if route == "/good.wav":
            self._reply(200, GOOD_WAV, "audio/wav")
        elif route == "/page.html":
            self._reply(200, b"<!doctype html><html><body>Listen here!</body></html>", "text/html")
        elif route.startswith("/redirect/"):
            hops_left = int(route.rsplit("/", 1)[1])
            self._redirect("/good.wav" if hops_left == 0 else f"/redirect/{hops_left - 1}")
        elif route == "/to-file":
            self._redirect("file:///etc/passwd")
        elif route == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif route == "/slow.wav":
            self._headers(200, len(GOOD_WAV))
            self.server.stop.wait(10)  # far past the test's read timeout
        elif route == "/trickle.wav":
            self._headers(200, len(GOOD_WAV))
            self._trickle()
        elif route == "/declared-huge.wav":
            self._headers(200, 10**9)
            self.server.stop.wait(10)
        elif route == "/huge.bin":
            self._headers(200, None)  # no length: the body ends when the connection closes
            self._flood()
        else:
            self._reply(404, b"not found", "text/plain")

    def _headers(self, status: int, length: int | None, content_type: str = "audio/wav") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self._headers(status, len(body), content_type)
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self) -> None:
        """Each byte comes quickly, the whole never does: 100 bytes over 5 s, then the connection closes."""
        try:
            for byte in GOOD_WAV[:100]:
                if self.server.stop.wait(0.05):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            pass  # the client gave up, as it should

    def _flood(self) -> None:
        try:
            for _ in range(HUGE_BYTES // len(CHUNK)):
                self.wfile.write(CHUNK)
            self.server.huge_sent_all = True
        except OSError:
            pass
        finally:
            self.server.huge_done.set()


@pytest.fixture(scope="module")
def server() -> Iterator[PromptServer]:
    prompt_server = PromptServer()
    thread = threading.Thread(target=prompt_server.serve_forever, daemon=True)
    thread.start()
    yield prompt_server
    prompt_server.stop.set()
    prompt_server.shutdown()
    prompt_server.server_close()


LOCAL = SourcePolicy(allow_private_urls=True, read_timeout=10.0)
EXAMPLES_ONLY = SourcePolicy(base_dir=REPO, allowed_dirs=(EXAMPLES,))


def refused(value: object, policy: SourcePolicy, kind: str, field: str = "spk_audio", **kwargs) -> str:
    """The refusal message, after checking its kind and that it names the field first."""
    with pytest.raises(AudioSourceError) as caught:
        resolve_audio(value, field, policy, **kwargs)
    error = caught.value
    assert (error.field, error.kind) == (field, kind), str(error)
    assert str(error) == error.message
    assert error.message.startswith(f"{field}: ")
    return error.message


# --- detection ---------------------------------------------------------------------------------

WAV_BASE64 = base64.b64encode(GOOD_WAV).decode()


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"RIFF....WAVE", "bytes"),
        (bytearray(b"RIFF"), "bytes"),
        ("https://example.com/a.wav", "url"),
        ("  http://example.com/a.wav\n", "url"),
        ("ftp://example.com/a.wav", "url"),
        ("file:///etc/passwd", "url"),
        ("data:audio/wav;base64,UklGRg==", "base64"),
        ("ab" * 60, "hex"),  # 120 hex digits
        ("a" * 101, "base64"),  # odd-length hex is not hex; it only fits the base64 alphabet
        (WAV_BASE64, "base64"),
        (textwrap.fill(WAV_BASE64, 76), "base64"),
        ("ab" * 20, "path"),  # hex, but too short to be audio
        ("examples/voice_01.wav", "path"),
        (Path("examples/voice_01.wav"), "path"),
        ("C:\\voices\\a.wav", "path"),
    ],
)
def test_detect_kind_follows_the_documented_rules(value: str | bytes, kind: str) -> None:
    assert detect_kind(value) == kind


# --- files -------------------------------------------------------------------------------------


def test_a_file_inside_an_allowed_folder_is_read_with_its_length() -> None:
    audio = resolve_audio("examples/voice_01.wav", "spk_audio", EXAMPLES_ONLY)
    info = sf.info(EXAMPLES / "voice_01.wav")
    assert audio.data == (EXAMPLES / "voice_01.wav").read_bytes()
    assert audio.origin == "examples/voice_01.wav"
    assert audio.sample_rate == info.samplerate
    assert audio.duration == pytest.approx(info.duration)
    assert resolve_audio(EXAMPLES / "voice_02.wav", "spk_audio", EXAMPLES_ONLY).origin == "examples/voice_02.wav"


@pytest.mark.parametrize("path", ["examples/../pyproject.toml", "/etc/passwd", str(REPO / "pyproject.toml")])
def test_paths_outside_the_allowed_folders_are_forbidden(path: str) -> None:
    message = refused(path, EXAMPLES_ONLY, "forbidden")
    assert "(examples)" in message


def test_a_symlink_out_of_an_allowed_folder_is_forbidden(tmp_path: Path) -> None:
    allowed, outside = tmp_path / "voices", tmp_path / "private"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.wav").write_bytes(GOOD_WAV)
    (allowed / "own.wav").write_bytes(GOOD_WAV)
    (allowed / "escape.wav").symlink_to(outside / "secret.wav")
    (allowed / "alias.wav").symlink_to(allowed / "own.wav")
    policy = SourcePolicy(base_dir=tmp_path, allowed_dirs=(Path("voices"),))

    refused("voices/escape.wav", policy, "forbidden")
    assert resolve_audio("voices/alias.wav", "spk_audio", policy).data == GOOD_WAV


def test_paths_are_refused_when_no_folder_is_allowed() -> None:
    message = refused(str(EXAMPLES / "voice_01.wav"), SourcePolicy(base_dir=REPO), "forbidden")
    assert "not accepted" in message


def test_missing_files_folders_and_oversized_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "big.wav").write_bytes(wav_bytes(1.0))
    policy = SourcePolicy(base_dir=tmp_path, allowed_dirs=(tmp_path,), max_bytes=10_000)
    assert "no such file 'nope.wav'" in refused("nope.wav", policy, "invalid")
    assert "folder" in refused(".", policy, "invalid")
    assert "10 kB" in refused("big.wav", policy, "too_large")


# --- encoded data and uploads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        (GOOD_WAV, "upload (43 kB)"),
        (GOOD_WAV.hex(), "hex (43 kB)"),
        (GOOD_WAV.hex().upper(), "hex (43 kB)"),
        (WAV_BASE64, "base64 (43 kB)"),
        (textwrap.fill(WAV_BASE64, 76) + "\n", "base64 (43 kB)"),
        ("data:audio/wav;base64," + WAV_BASE64, "data URI (43 kB)"),
    ],
)
def test_every_encoding_gives_back_the_same_bytes(value: str | bytes, origin: str) -> None:
    audio = resolve_audio(value, "spk_audio", SourcePolicy())
    assert (audio.data, audio.origin, audio.sample_rate) == (GOOD_WAV, origin, 22050)
    assert audio.duration == pytest.approx(1.0)


def test_odd_length_hex_is_refused_with_a_hint() -> None:
    assert "odd number of digits" in refused(GOOD_WAV.hex()[:-1], SourcePolicy(), "invalid")


def test_broken_base64_and_non_base64_data_uris_are_invalid() -> None:
    assert "does not decode" in refused(WAV_BASE64[:-3], SourcePolicy(), "invalid")
    assert "base64" in refused("data:audio/wav,RIFF%00%00", SourcePolicy(), "invalid")


def test_encoded_data_over_the_byte_cap_is_too_large() -> None:
    small = SourcePolicy(max_bytes=10_000)
    refused(GOOD_WAV, small, "too_large")
    refused(GOOD_WAV.hex(), small, "too_large")
    refused(WAV_BASE64, small, "too_large")


def test_data_that_is_not_audio_is_invalid() -> None:
    message = refused(b"this is certainly not a sound file " * 20, SourcePolicy(), "invalid", field="emo_audio")
    assert "upload (700 bytes) is not audio" in message


def test_empty_or_missing_values_are_invalid() -> None:
    refused(b"", SourcePolicy(), "invalid")
    refused("   ", SourcePolicy(), "invalid")
    refused(None, SourcePolicy(), "invalid")


def test_duration_limits_give_the_actual_length() -> None:
    assert "3.0 s long; the limit is 2 s" in refused(wav_bytes(3.0), SourcePolicy(max_seconds=2), "too_large")
    assert "1.00 s long; at least 2 s" in refused(GOOD_WAV, SourcePolicy(), "invalid", min_seconds=2)


def _wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def test_a_prompt_sampled_below_8khz_is_refused_naming_its_rate() -> None:
    eight_hz = _wav(np.zeros(16, np.float32), 8)  # 2 s at 8 Hz, the case the issue reported
    assert "sampled at 8 Hz; a voice prompt needs at least 8000 Hz" in refused(eight_hz, SourcePolicy(), "invalid")
    low = _wav(0.3 * np.sin(np.arange(4000) / 3).astype(np.float32), 4000)
    assert "sampled at 4000 Hz" in refused(low, SourcePolicy(), "invalid", field="emo_audio")
    assert resolve_audio(wav_bytes(1.0, rate=8000), "spk_audio", SourcePolicy()).sample_rate == 8000


@pytest.mark.parametrize(("subtype", "fmt"), [("PCM_16", "WAV"), ("FLOAT", "WAV"), ("PCM_24", "FLAC")])
def test_digital_silence_is_refused_in_any_encoding(subtype: str, fmt: str) -> None:
    silent = _wav(np.zeros(2 * 22050, np.float32), 22050, subtype, fmt)
    message = refused(silent, SourcePolicy(), "invalid")
    assert "is silent: every sample of the first 15 s" in message


def test_a_quiet_prompt_or_one_that_starts_with_silence_is_accepted() -> None:
    quiet = 0.001 * np.sin(np.arange(22050) / 4)  # about -60 dBFS: quiet, not empty
    assert resolve_audio(_wav(quiet.astype(np.float32), 22050), "spk_audio", SourcePolicy()).duration == 1.0
    late = np.concatenate([np.zeros(22050 * 3), 0.3 * np.sin(np.arange(22050) / 4)]).astype(np.float32)
    assert resolve_audio(_wav(late, 22050), "spk_audio", SourcePolicy()).duration == 4.0


def test_a_prompt_whose_first_15_seconds_are_silent_is_refused() -> None:
    late = np.concatenate([np.zeros(22050 * 16), 0.3 * np.sin(np.arange(22050) / 4)]).astype(np.float32)
    assert "is silent" in refused(_wav(late, 22050), SourcePolicy(), "invalid")


# --- URLs --------------------------------------------------------------------------------------


def test_a_url_is_downloaded_with_the_node_user_agent(server: PromptServer) -> None:
    audio = resolve_audio(server.url("/good.wav?sig=abc"), "spk_audio", LOCAL)
    assert audio.data == GOOD_WAV
    assert audio.origin == server.url("/good.wav")  # the query may hold a secret and is kept out of logs
    assert server.requests[-1][1]["User-Agent"] == "IndexTTS-Node"


@pytest.mark.parametrize("hops", [1, 3])
def test_redirects_up_to_the_limit_are_followed(server: PromptServer, hops: int) -> None:
    assert fetch_url(server.url(f"/redirect/{hops - 1}"), "spk_audio", LOCAL) == GOOD_WAV


def test_too_many_redirects_are_refused(server: PromptServer) -> None:
    assert "redirected more than 3 times" in refused(server.url("/redirect/4"), LOCAL, "invalid")


def test_redirects_to_other_schemes_or_metadata_are_forbidden(server: PromptServer) -> None:
    assert "'file' scheme" in refused(server.url("/to-file"), LOCAL, "forbidden")
    assert "169.254.169.254" in refused(server.url("/to-metadata"), LOCAL, "forbidden")


def test_http_errors_and_web_pages_are_reported(server: PromptServer) -> None:
    message = refused(server.url("/missing.wav?token=s3cret"), LOCAL, "unreachable")
    assert message == f"spk_audio: {server.url('/missing.wav')} answered HTTP 404; check the URL"
    assert "web page" in refused(server.url("/page.html"), LOCAL, "invalid")


def test_slow_servers_time_out(server: PromptServer) -> None:
    impatient = SourcePolicy(allow_private_urls=True, read_timeout=0.5)
    refused(server.url("/slow.wav"), impatient, "timeout")
    refused(server.url("/trickle.wav"), impatient, "timeout")  # every byte is prompt, the whole is not


def test_oversized_downloads_stop_early(server: PromptServer) -> None:
    capped = SourcePolicy(allow_private_urls=True, max_bytes=200_000, read_timeout=10.0)
    refused(server.url("/declared-huge.wav"), capped, "too_large")  # from the header, without waiting for a body
    refused(server.url("/huge.bin"), capped, "too_large")
    assert server.huge_done.wait(10)
    assert not server.huge_sent_all


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused(f"http://127.0.0.1:{port}/a.wav", LOCAL, "unreachable")


def test_the_default_policy_refuses_the_node_itself_without_connecting(server: PromptServer) -> None:
    for url in (server.url("/good.wav?probe=ip"), server.url("/good.wav?probe=name", host="localhost")):
        assert "loopback" in refused(url, SourcePolicy(), "forbidden")
    assert not [path for path in server.paths() if "probe" in path]


@pytest.mark.parametrize("trusted", ["127.0.0.1", "LOCALHOST"])
def test_trusted_hosts_may_be_private(server: PromptServer, trusted: str) -> None:
    url = server.url("/good.wav", host="localhost" if trusted == "LOCALHOST" else "127.0.0.1")
    assert resolve_audio(url, "spk_audio", SourcePolicy(trusted_hosts=(trusted,))).data == GOOD_WAV
    assert server.requests[-1][1]["Host"] == url.split("/")[2]  # the name is kept while the address is pinned


def test_the_download_connects_to_the_address_that_was_checked(
    server: PromptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second DNS answer (here: a loopback address nothing listens on) is never used."""
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def changing_dns(host: str, port: int, *args: object, **kwargs: object) -> list:
        if host != "voices.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        return real_getaddrinfo(next(answers, "127.0.0.2"), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", changing_dns)
    url = server.url("/good.wav", host="voices.test")
    assert fetch_url(url, "spk_audio", SourcePolicy(trusted_hosts=("voices.test",))) == GOOD_WAV
    assert server.requests[-1][1]["Host"] == url.split("/")[2]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/a.wav",
        "http://[::ffff:169.254.169.254]/a.wav",
        "http://0.0.0.0/a.wav",
        "http://224.0.0.1/a.wav",
        "http://240.0.0.1/a.wav",
    ],
)
@pytest.mark.parametrize(
    "policy",
    [SourcePolicy(allow_private_urls=True), SourcePolicy(trusted_hosts=("169.254.169.254", "fe80::1", "0.0.0.0"))],
)
def test_metadata_link_local_and_reserved_addresses_are_always_forbidden(url: str, policy: SourcePolicy) -> None:
    refused(url, policy, "forbidden")


@pytest.mark.parametrize("url", ["http://10.0.0.1/a.wav", "http://100.64.0.1/a.wav", "http://[fc00::1]/a.wav"])
def test_private_networks_are_forbidden_by_default(url: str) -> None:
    assert "private network" in refused(url, SourcePolicy(), "forbidden")


@pytest.mark.parametrize("scheme", ["ftp", "file", "gopher"])
def test_other_schemes_are_forbidden_by_name(scheme: str) -> None:
    assert f"'{scheme}' scheme" in refused(f"{scheme}://example.com/a.wav", LOCAL, "forbidden")


def test_urls_with_credentials_are_refused() -> None:
    refused("http://user:pass@127.0.0.1/a.wav", LOCAL, "invalid")


# --- the error and the policy ------------------------------------------------------------------


def test_errors_survive_pickling_for_worker_processes() -> None:
    error = AudioSourceError("emo_audio", "too_large", "upload (30 MB) is over 20 MB (the limit)")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.kind, str(copy)) == ("emo_audio", "too_large", str(error))


def test_policy_settings_are_checked_and_normalised() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        SourcePolicy(max_bytes=0)
    policy = SourcePolicy(allowed_dirs="examples", trusted_hosts="Spaces.Example.COM.")  # type: ignore[arg-type]
    assert policy.allowed_dirs == (Path("examples"),)
    assert policy.trusted_hosts == ("spaces.example.com",)
