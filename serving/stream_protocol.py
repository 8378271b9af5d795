"""The WebSocket streaming protocol (seed "IndexTTS WebSocket 流式语音合成接口说明"): messages in and
out, as plain functions. The server (`stream_server.py`) only moves them.

Client → server (JSON text frames):
    {"type": "tts_stream", "text", "prompt_audio", "emo_mode": "none|audio|vector|text",
     "emo_audio"?, "emo_alpha"?, "emo_vector"?, "emo_text"?, "interval_silence"?, "max_tokens"?,
     "use_random"?, "task_id"?, "stream"?: false, + any SynthesisRequest sampling field}
    {"type": "task_status", "task_id"}
Server → client: welcome; queued → start → one binary WAV (one per segment with "stream": true)
→ end; errors {"status": "error", "type": "error", "task_id", "session_id", "message"}.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import soundfile as sf

from serving.jobs import Job
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
# The seed client's own checks, in its words, so its users read the same messages.
TEXT_MISSING = "text: 请输入待合成文本。(the text is empty)"
PROMPT_MISSING = "prompt_audio: 缺少说话人参考音频。(give a path inside the allowed folders or an http(s) URL)"
EMO_AUDIO_MISSING = "emo_audio: 情感参考音频模式需要上传情感音频。(emo_mode 'audio' needs emo_audio)"
EMO_TEXT_MISSING = "emo_text: 情感文本引导模式需要输入引导文本。(emo_mode 'text' needs emo_text)"


class ProtocolError(ValueError):
    """A message the server answers with an error frame; the connection stays open."""


def to_request(message: dict[str, Any]) -> SynthesisRequest:
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError(TEXT_MISSING)
    if not message.get("prompt_audio"):
        raise ProtocolError(PROMPT_MISSING)
    mode = message.get("emo_mode", "none")
    if mode == "audio" and not message.get("emo_audio"):
        raise ProtocolError(EMO_AUDIO_MISSING)
    if mode == "text" and not (isinstance(message.get("emo_text"), str) and message["emo_text"].strip()):
        raise ProtocolError(EMO_TEXT_MISSING)
    fields = {RENAMED.get(key, key): value for key, value in message.items() if key in RENAMED or key in PASSED}
    try:
        return parse_request(fields)
    except RequestError as exc:
        reverse = {ours: theirs for theirs, ours in RENAMED.items()}
        problems = "; ".join(f"{reverse.get(field, field)}: {text}" for field, text in exc.problems)
        raise ProtocolError(problems) from None


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def error(session_id: str, task_id: str | None, message: str) -> dict[str, Any]:
    return {"status": "error", "type": "error", "task_id": task_id, "session_id": session_id, "message": message}


def task_status(session_id: str, job: Job, position: int) -> dict[str, Any]:
    status = {
        "type": "task_status",
        "task_id": job.id,
        "session_id": session_id,
        "status": job.state.value,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": round(job.progress, 3),
        "stage": job.stage,
    }
    if position:
        status["position"] = position
    if job.error:
        status["error"] = job.error
    return status
