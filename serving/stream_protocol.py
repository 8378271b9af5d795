"""The WebSocket streaming protocol (seed 001, "IndexTTS WebSocket 流式语音合成接口说明"): messages
in and out, as plain functions. The server (`stream_server.py`) only moves them.

Client → server (JSON text frames; binary frames holding UTF-8 JSON are read the same way):
    {"type": "tts_stream", "text", "prompt_audio", "emo_mode": "none|audio|vector|text",
     "emo_audio"?, "emo_alpha"?, "emo_vector"?, "emo_text"?, "interval_silence"?, "max_tokens"?,
     "use_random"?, "stream"?: false, "chunks"?: false, "chunk_format"?: "wav"|"pcm",
     + any SynthesisRequest sampling field}
    {"type": "task_status", "task_id"}
    Any other key is refused with an error naming it (as REST does); `task_id` in a tts_stream
    message is tolerated and ignored, since the seed's server makes the ids.
Server → client: welcome {"status": "success", "session_id", "message", "usage"}; queued → start →
one binary WAV (one per segment with "stream": true; with "chunks": true a {"type": "chunk", …}
text frame before each piece's binary frame, as the audio is made) → end, each with the seed's `message`;
errors {"status": "error", "type": "error", "task_id", "session_id", "message", "field"}, the
message in the seed's words for the cases its error table lists.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import numpy as np
import soundfile as sf

from serving.jobs import Job
from serving.parts import StreamedPiece
from serving.request import RequestError, SynthesisRequest, parse_request

# The seed's names → SynthesisRequest's.
RENAMED = {"prompt_audio": "spk_audio", "max_tokens": "max_text_tokens_per_segment"}
PASSED = (
    "text",
    "emo_mode",
    "emo_audio",
    "emo_alpha",
    "emo_vector",
    "emo_text",
    "use_random",
    "interval_silence",
    "do_sample",
    "top_p",
    "top_k",
    "temperature",
    "num_beams",
    "repetition_penalty",
    "length_penalty",
    "max_mel_tokens",
    "seed",
    "normalize_emo_vector",
)
PROTOCOL_KEYS = ("type", "task_id", "stream", "chunks", "chunk_format")  # about the message, not the synthesis
CHUNK_FORMATS = ("wav", "pcm")
EMO_MODES = ("none", "audio", "vector", "text")
SEED_EMO_ALPHA = 1.0  # the seed's default for emo_alpha (SynthesisRequest's is the official UI's 0.65)

# The seed's own texts (its message table), word for word: clients may compare them.
WELCOME = "已连接到 IndexTTS WebSocket"
USAGE = '发送 {"type":"tts_stream", "text":"...", "emo_mode":"none/audio/vector/text", ...} 开始合成'
QUEUED = "任务已加入队列，等待处理"
STARTED = "开始生成音频"
ENDED = "生成完成"
TEXT_MISSING = "缺少有效的 text"
EMO_MODE_INVALID = "emo_mode 必须是 none/audio/vector/text"
EMO_AUDIO_MISSING = "情感参考音频模式需要提供 emo_audio"
EMO_VECTOR_MISSING = "情感向量模式需要提供 emo_vector"
EMO_TEXT_MISSING = "情感文本引导模式需要提供 emo_text"
# Cases the seed's table does not list: our words, starting with the field.
PROMPT_MISSING = "prompt_audio: 缺少说话人参考音频 (give a path inside the allowed folders or an http(s) URL)"


class ProtocolError(ValueError):
    """A message the server answers with an error frame; the connection stays open."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def delivery(message: dict[str, Any]) -> str:
    """How the audio is sent: "whole" (the seed's one WAV), "segments" (`stream`: one WAV per
    segment) or "chunks" (`chunks`: every piece as it is made, each announced by a chunk frame)."""
    chunks = message.get("chunks", False)
    if not isinstance(chunks, bool):
        raise ProtocolError("chunks: must be true or false", "chunks")
    chunk_format = message.get("chunk_format", "wav")
    if chunk_format not in CHUNK_FORMATS:
        raise ProtocolError('chunk_format: must be "wav" or "pcm" (with "chunks": true)', "chunk_format")
    if chunks:
        return "chunks"
    return "segments" if message.get("stream") else "whole"


def to_request(message: dict[str, Any]) -> SynthesisRequest:
    if _blank(message.get("text")):
        raise ProtocolError(TEXT_MISSING, "text")
    if not message.get("prompt_audio"):
        raise ProtocolError(PROMPT_MISSING, "prompt_audio")
    mode = message.get("emo_mode", "none")
    if mode not in EMO_MODES:
        raise ProtocolError(EMO_MODE_INVALID, "emo_mode")
    if mode == "audio" and not message.get("emo_audio"):
        raise ProtocolError(EMO_AUDIO_MISSING, "emo_audio")
    if mode == "vector" and message.get("emo_vector") is None:
        raise ProtocolError(EMO_VECTOR_MISSING, "emo_vector")
    if mode == "text" and _blank(message.get("emo_text")):
        raise ProtocolError(EMO_TEXT_MISSING, "emo_text")
    unknown = [key for key in message if key not in RENAMED and key not in PASSED and key not in PROTOCOL_KEYS]
    if unknown:
        raise ProtocolError(f"{unknown[0]}: unknown field; check its spelling", unknown[0])
    fields = {RENAMED.get(key, key): value for key, value in message.items() if key not in PROTOCOL_KEYS}
    fields.setdefault("emo_alpha", SEED_EMO_ALPHA)
    fields["streaming"] = delivery(message) != "whole"  # the engine makes the first audio sooner
    try:
        return parse_request(fields)
    except RequestError as exc:
        reverse = {ours: theirs for theirs, ours in RENAMED.items()}
        problems = "; ".join(f"{reverse.get(field, field)}: {text}" for field, text in exc.problems)
        raise ProtocolError(problems, reverse.get(exc.field, exc.field)) from None


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def chunk_frame(session_id: str, task_id: str, piece: StreamedPiece, chunk_format: str, size: int) -> dict[str, Any]:
    """The text frame announcing the binary frame that follows it (`size` bytes)."""
    frame = {"type": "chunk", "task_id": task_id, "session_id": session_id, **piece.describe()}
    return frame | {"format": chunk_format, "bytes": size}


def chunk_bytes(piece: StreamedPiece, chunk_format: str) -> bytes:
    """A piece as a small WAV file, or as raw 16-bit little-endian samples ("pcm")."""
    if chunk_format == "pcm":
        return piece.audio.astype("<i2").tobytes()
    return wav_bytes(piece.audio, piece.sample_rate)


def welcome(session_id: str, sample_rate: int, version: str) -> dict[str, Any]:
    return {
        "status": "success",
        "type": "welcome",
        "session_id": session_id,
        "message": WELCOME,
        "usage": USAGE,
        "version": version,
        "sample_rate": sample_rate,
    }


def error(session_id: str, task_id: str | None, message: str, field: str | None = None) -> dict[str, Any]:
    return {
        "status": "error",
        "type": "error",
        "task_id": task_id,
        "session_id": session_id,
        "message": message,
        "field": field,
    }


def iso_time(timestamp: float | None) -> str | None:
    """The seed's form, `2024-11-04T10:30:00.123456`: the node's local time, no offset."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp).isoformat(timespec="microseconds")


def task_status(session_id: str, job: Job, position: int) -> dict[str, Any]:
    status = {
        "type": "task_status",
        "session_id": session_id,
        "task_id": job.id,
        "status": job.state.value,
        "created_at": iso_time(job.created_at),
        "completed_at": iso_time(job.finished_at),
        "error_message": job.error,
        "started_at": iso_time(job.started_at),
        "progress": round(job.progress, 3),
        "stage": job.stage,
    }
    if position:
        status["position"] = position
    return status
