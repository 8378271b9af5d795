"""Audio sources: turn a prompt given as a path, URL, hex, base64 or upload into checked audio bytes.

Every front door calls `resolve_audio` before a job is queued, so a bad prompt fails at once
with an `AudioSourceError` whose message starts with the request field's name.

How a value is read (`detect_kind`, a documented contract):

- bytes or bytearray: an upload. A `Path` object: a file path.
- a string starting with a scheme and `://`: a URL; only http and https are fetched.
- `data:...;base64,...`: a data URI; its payload is base64.
- over 100 characters, an even number of them, all hex digits: hex.
- over 100 characters of the base64 alphabet (padding and line breaks allowed): base64.
  Hex with an odd number of digits lands here and is refused as undecodable.
- anything else: a file path, relative to `SourcePolicy.base_dir`, which must resolve (after
  symlinks and `..`) inside one of `SourcePolicy.allowed_dirs`; with none, paths are refused.

Audio checks: the data must decode, last no longer than `SourcePolicy.max_seconds` and no shorter
than the caller's `min_seconds`, be sampled at 8 kHz or more (`MIN_SAMPLE_RATE`) and carry a
signal: a clip whose first 15 s (the part the model uses) are digital silence is refused.

URL policy (`fetch_url`): before connecting, and again for every redirect, the host is looked up
and every address checked. Link-local (including cloud metadata at 169.254.169.254), multicast,
unspecified and reserved addresses are always refused; loopback and private ones (RFC 1918, ULA,
CGNAT...) only pass with `allow_private_urls` or for a host in `trusted_hosts`. The connection is
then made to the checked address itself, so a second DNS answer cannot redirect it. Redirects
are followed by hand up to `max_redirects`, `read_timeout` bounds the whole download, the body
stops at `max_bytes`, and proxy settings from the environment are ignored.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

import httpx
import numpy as np
import soundfile as sf

from indextts.audio import PROMPT_MAX_SECONDS, load_audio
from indextts.errors import AudioDecodeError, AudioTooLongError, EmptyAudioError
from serving.source_download import URL_SCHEME, fetch_url, url_origin
from serving.source_policy import AudioSourceError, SourcePolicy, check_size, format_size

__all__ = [
    "AudioSourceError",
    "PromptAudio",
    "SourceKind",
    "SourcePolicy",
    "detect_kind",
    "fetch_url",
    "resolve_audio",
]

logger = logging.getLogger(__name__)

SourceKind = Literal["bytes", "url", "hex", "base64", "path"]

MIN_SAMPLE_RATE = 8000  # telephone speech; below it there is no voice left to clone
SILENCE_PEAK = 1 / 32768  # under one step of 16-bit audio: nothing was recorded
ENCODED_MIN_CHARS = 100  # shorter strings are always names: no real audio encodes this small
_HEX = re.compile(r"[0-9A-Fa-f]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/\s]+={0,2}\s*")
_SENT_AS = "send it as an upload, base64 or an http(s) URL instead"


@dataclass(frozen=True)
class PromptAudio:
    """A prompt that passed every check, ready to queue."""

    data: bytes  # the encoded file as received; the engine decodes it itself
    origin: str  # for logs and errors: "examples/voice_01.wav", "https://host/a.wav", "hex (52 kB)"
    duration: float  # seconds
    sample_rate: int  # the file's own rate


def detect_kind(value: str | bytes | bytearray | PurePath) -> SourceKind:
    """Which kind of source a request value is; the rules are in the module docstring."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, PurePath):
        return "path"
    text = value.strip()
    if URL_SCHEME.match(text):
        return "url"
    if text[:5].lower() == "data:":
        return "base64"
    if len(text) > ENCODED_MIN_CHARS:
        if len(text) % 2 == 0 and _HEX.fullmatch(text):
            return "hex"
        if _BASE64.fullmatch(text):
            return "base64"
    return "path"


def resolve_audio(
    value: str | bytes | bytearray | PurePath | None, field: str, policy: SourcePolicy, *, min_seconds: float = 0.0
) -> PromptAudio:
    """Read, size-check and decode-check one prompt; raises AudioSourceError naming `field`."""
    try:
        data, origin = _read_source(value, field, policy)
        audio = _check_audio(data, origin, field, policy, min_seconds)
    except AudioSourceError as exc:
        logger.warning("prompt refused (%s): %s", exc.kind, exc.message)
        raise
    logger.info("%s: accepted %s (%.2f s at %d Hz)", field, origin, audio.duration, audio.sample_rate)
    return audio


# --- reading each kind of source ---------------------------------------------------------------


def _read_source(
    value: str | bytes | bytearray | PurePath | None, field: str, policy: SourcePolicy
) -> tuple[bytes, str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AudioSourceError(
            field, "invalid", "no audio given; send a file path, an http(s) URL, base64 or hex data, or upload a file"
        )
    kind = detect_kind(value)
    if kind == "bytes":
        data = bytes(value)  # type: ignore[arg-type]
        if not data:
            raise AudioSourceError(field, "invalid", "the uploaded file is empty; upload an audio recording")
        check_size(len(data), "the upload", field, policy)
        return data, f"upload ({format_size(len(data))})"
    if kind == "path":
        return _read_file(value, field, policy)  # type: ignore[arg-type]
    text = str(value).strip()
    if kind == "url":
        return fetch_url(text, field, policy), url_origin(httpx.URL(text))
    if kind == "hex":
        check_size(len(text) // 2, "the hex data", field, policy)
        data = bytes.fromhex(text)  # detect_kind only says "hex" for an even run of hex digits
        return data, f"hex ({format_size(len(data))})"
    return _decode_base64(text, field, policy)


def _read_file(value: str | PurePath, field: str, policy: SourcePolicy) -> tuple[bytes, str]:
    given = os.fspath(value).strip()
    roots = policy.allowed_roots()
    if not roots:
        raise AudioSourceError(field, "forbidden", f"file paths are not accepted by this node ('{given}'); {_SENT_AS}")
    try:
        resolved = (policy.base_dir / given).resolve()
    except (OSError, ValueError, RuntimeError):
        raise AudioSourceError(field, "invalid", f"'{given[:200]}' is not a usable file path; {_SENT_AS}") from None
    if not any(resolved.is_relative_to(root) for root in roots):
        folders = ", ".join(_shown_path(root, policy.base_dir) for root in roots)
        raise AudioSourceError(
            field,
            "forbidden",
            f"'{given}' is outside the folders this node reads prompts from ({folders}); "
            f"name a file inside them, or {_SENT_AS}",
        )
    origin = _shown_path(resolved, policy.base_dir)
    try:
        info = resolved.stat()
        if stat.S_ISDIR(info.st_mode):
            raise AudioSourceError(field, "invalid", f"'{given}' is a folder, not an audio file; name a file inside it")
        if not stat.S_ISREG(info.st_mode):
            raise AudioSourceError(field, "invalid", f"'{given}' is not a regular file; name an audio file")
        check_size(info.st_size, f"'{given}'", field, policy)
        with resolved.open("rb") as handle:
            data = handle.read(policy.max_bytes + 1)  # the file may have grown since stat()
    except FileNotFoundError:
        raise AudioSourceError(field, "invalid", f"no such file '{given}'; check the name and folder") from None
    except OSError as exc:
        raise AudioSourceError(field, "invalid", f"'{given}' cannot be read ({exc.strerror}); check the file") from None
    check_size(len(data), f"'{given}'", field, policy)
    return data, origin


def _decode_base64(text: str, field: str, policy: SourcePolicy) -> tuple[bytes, str]:
    label, name = "base64 data", "base64"
    if text[:5].lower() == "data:":
        header, comma, text = text.partition(",")
        if not comma or not header.lower().endswith(";base64"):
            raise AudioSourceError(
                field, "invalid", "only base64 data URIs are accepted; send 'data:audio/wav;base64,<data>'"
            )
        label, name = "the data URI", "data URI"
    compact = "".join(text.split())
    check_size(len(compact) * 3 // 4 - compact[-2:].count("="), label, field, policy)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        hint = ""
        if len(compact) % 2 and _HEX.fullmatch(compact):
            hint = f" It looks like hex with an odd number of digits ({len(compact)}); hex needs two digits per byte."
        raise AudioSourceError(
            field, "invalid", f"{label} does not decode ({exc}); send standard base64 with '=' padding.{hint}"
        ) from None
    if not data:
        raise AudioSourceError(field, "invalid", f"{label} is empty; send an audio recording")
    return data, f"{name} ({format_size(len(data))})"


# --- checking the audio ------------------------------------------------------------------------


def _check_audio(data: bytes, origin: str, field: str, policy: SourcePolicy, min_seconds: float) -> PromptAudio:
    header = _header_info(data)
    wave = None
    if header:
        duration, sample_rate = header
    else:
        wave, sample_rate = _decoded(data, origin, field, policy)
        duration = len(wave) / sample_rate
    if duration > policy.max_seconds:
        raise _too_long(origin, duration, field, policy)
    if sample_rate < MIN_SAMPLE_RATE:
        raise AudioSourceError(
            field,
            "invalid",
            f"{origin} is sampled at {sample_rate} Hz; a voice prompt needs at least {MIN_SAMPLE_RATE} Hz "
            "(16–48 kHz recordings work best). Send an ordinary speech recording.",
        )
    if duration < min_seconds:
        raise AudioSourceError(
            field,
            "invalid",
            f"{origin} is {duration:.2f} s long; at least {min_seconds:g} s is needed. "
            "Send a longer clip (3–15 s of clear speech works best).",
        )
    if _peak(data, wave, sample_rate) < SILENCE_PEAK:
        raise AudioSourceError(
            field,
            "invalid",
            f"{origin} is silent: every sample of the first {PROMPT_MAX_SECONDS} s (the part the model uses) "
            "is zero. Send a recording of someone speaking.",
        )
    return PromptAudio(data=data, origin=origin, duration=duration, sample_rate=sample_rate)


def _header_info(data: bytes) -> tuple[float, int] | None:
    """Duration and rate from the header alone, when libsndfile knows the format and the length."""
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        return None
    return info.frames / info.samplerate, int(info.samplerate)


def _peak(data: bytes, wave: np.ndarray | None, sample_rate: int) -> float:
    """The loudest sample of the first PROMPT_MAX_SECONDS (read from the file unless already decoded)."""
    frames = PROMPT_MAX_SECONDS * sample_rate
    if wave is None:
        try:
            with sf.SoundFile(io.BytesIO(data)) as handle:
                wave = handle.read(frames=frames, dtype="float32")
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
            return 1.0  # the header was readable; the engine's decoder reports what else is wrong
    return float(np.abs(wave[:frames]).max(initial=0.0))


def _decoded(data: bytes, origin: str, field: str, policy: SourcePolicy) -> tuple[np.ndarray, int]:
    try:
        wave, sample_rate = load_audio(data, None, policy.max_seconds)
    except AudioTooLongError as exc:
        raise _too_long(origin, exc.duration_s, field, policy) from None
    except EmptyAudioError:
        raise AudioSourceError(field, "invalid", f"{origin} contains no audio samples; send a recording") from None
    except AudioDecodeError:
        page = " It looks like a web page; link to the audio file itself." if data.lstrip()[:1] == b"<" else ""
        raise AudioSourceError(
            field,
            "invalid",
            f"{origin} is not audio (WAV, FLAC, OGG, Opus, MP3 ...); send a voice recording in one of them.{page}",
        ) from None
    return wave, sample_rate


def _too_long(origin: str, duration: float, field: str, policy: SourcePolicy) -> AudioSourceError:
    return AudioSourceError(
        field,
        "too_large",
        f"{origin} is {duration:.1f} s long; the limit is {policy.max_seconds:g} s. "
        f"Send a shorter clip (only the first {PROMPT_MAX_SECONDS} s are used).",
    )


# --- small helpers -----------------------------------------------------------------------------


def _shown_path(path: Path, base_dir: Path) -> str:
    try:
        return path.relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        return str(path)
