"""The spaces site's wire format: `inference_request` in, `inference_result` out.

The site sends `payload.prompt` (the text) and `payload.audio` (a URL of the speaker prompt); hubs
and tools may add optional settings under the `SynthesisRequest` names. Every error text here is
read by a web user on the site, so it says which input is wrong and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from serving.request import RequestError, SynthesisRequest, parse_request

# Optional payload keys a hub may send, by their SynthesisRequest names.
OPTIONAL_SETTINGS = (
    "emo_mode",
    "emo_audio",
    "emo_alpha",
    "emo_vector",
    "normalize_emo_vector",
    "emo_text",
    "use_random",
    "interval_silence",
    "max_text_tokens_per_segment",
    "do_sample",
    "top_p",
    "top_k",
    "temperature",
    "num_beams",
    "repetition_penalty",
    "length_penalty",
    "max_mel_tokens",
    "seed",
    "language",  # IndexTTS-2.5 nodes (an IndexTTS-2 node refuses languages it cannot read, naming the field)
    "duration_factor",
)
ALIASES = {"emotion_mode": "emo_mode", "emotion_audio": "emo_audio", "emotion_vector": "emo_vector"}
SITE_FIELD_NAMES = {"text": "prompt", "spk_audio": "audio"}  # how the site's users know our fields
MAX_ERROR_CHARS = 1000
MAX_MESSAGE_BYTES = 900_000  # the site drops the connection above 1,000,000 bytes per message


class PayloadError(ValueError):
    """The request cannot be run as sent; the message is shown to the user on the site."""


@dataclass(frozen=True)
class SpaceRequest:
    request_id: str
    username: str
    payload: dict[str, Any]
    upload: dict[str, Any] | None  # {put_url, final_url, content_type} when the site has object storage

    @property
    def order_key(self) -> float:
        """The site's submission time: bursts are run in the order users submitted them."""
        stamp = self.payload.get("timestamp")
        try:
            return datetime.fromisoformat(str(stamp)).timestamp()
        except (TypeError, ValueError):
            return 0.0


def read_request(message: Any) -> SpaceRequest:
    """Check the envelope of an `inference_request`; raises PayloadError."""
    if not isinstance(message, dict):
        raise PayloadError("the request is not a JSON object")
    request_id = message.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        raise PayloadError("the request has no request_id")
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise PayloadError("the request has no payload object")
    upload = message.get("upload")
    return SpaceRequest(
        request_id=request_id,
        username=str(message.get("username") or ""),
        payload=payload,
        upload=upload if isinstance(upload, dict) and upload.get("put_url") else None,
    )


def to_synthesis_request(request: SpaceRequest, server_url: str) -> SynthesisRequest:
    """`payload.prompt` → text, `payload.audio` → speaker audio, known optional keys as they are."""
    payload = request.payload
    text = payload.get("prompt")
    if not isinstance(text, str) or not text.strip():
        raise PayloadError("The text to speak (prompt) is empty: type some text and submit again.")
    audio = payload.get("audio")
    if not isinstance(audio, str) or not audio.strip():
        raise PayloadError("No speaker audio (audio) was sent: attach a voice sample of a few seconds and try again.")
    fields: dict[str, Any] = {"text": text, "spk_audio": _absolute(audio.strip(), server_url)}
    for key, value in payload.items():
        name = ALIASES.get(key, key)
        if name in OPTIONAL_SETTINGS and value is not None:
            fields[name] = _absolute(value, server_url) if name == "emo_audio" and isinstance(value, str) else value
    try:
        return parse_request(fields)
    except RequestError as exc:
        problems = "; ".join(f"{SITE_FIELD_NAMES.get(field, field)}: {message}" for field, message in exc.problems)
        raise PayloadError(f"Invalid request: {problems}") from exc


def _absolute(url: str, server_url: str) -> str:
    """The site may hand out its own files as root-relative URLs."""
    return urljoin(server_url.rstrip("/") + "/", url) if url.startswith("/") else url


def site_error(message: str) -> str:
    """Our field names in the site's words, and short enough for its page."""
    for ours, theirs in SITE_FIELD_NAMES.items():
        message = message.replace(f"{ours}:", f"{theirs}:").replace(f"'{ours}'", f"'{theirs}'")
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


def completed_result(request_id: str, audio_url: str, audio_info: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "status": "completed",
        "result": {"audio_url": audio_url, "audio_format": "wav", **audio_info},
    }


def failed_result(request_id: str, error: str) -> dict[str, Any]:
    return {"request_id": request_id, "status": "failed", "result": {"error": site_error(error)}}


def processing_status(request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "status": "processing", "result": {}}


def fits_in_one_message(message: dict[str, Any]) -> bool:
    """Audio never travels over the socket; this guards against any other oversized field."""
    return len(json.dumps(message, ensure_ascii=False).encode()) <= MAX_MESSAGE_BYTES
