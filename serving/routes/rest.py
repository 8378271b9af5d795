"""REST: `POST /tts` as the "IndexTTS2 API service" documents it.

    {"text": "...", "spk_audio": "<http(s) URL or hex WAV>", "emo_audio"?: ..., "emo_alpha"?: 1.0}
    → {"audio_hex": "<WAV as hex>", "audio_length": s, "inference_time": s, "rtf": x, "text": "..."}

Errors: 400 unusable audio, 408 download timeout, 413 audio too large, 422 invalid fields,
503 queue full, 500 synthesis failed — each `{"detail": "<message naming the field>"}`.
Every other `SynthesisRequest` field (emotion modes, sampling, seed) is accepted too; unknown
fields are refused (422 naming the field), as on the WebSocket. `ftp://` prompt URLs, listed by
the seed, are refused with a 400 that says why (see `serving.source_download`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from serving.encoding import encode
from serving.request import EmotionMode, SynthesisRequest
from serving.routes.jobs import require_api_key, synthesize

router = APIRouter(tags=["REST"], dependencies=[Depends(require_api_key)])

ERRORS = {
    400: {"description": "The audio cannot be used (not audio, forbidden URL or path, unreachable)"},
    401: {"description": "An API key is required or wrong"},
    408: {"description": "Downloading the audio timed out"},
    413: {"description": "The audio or the body is too large"},
    422: {"description": "A field is missing or out of range"},
    500: {"description": "Synthesis failed"},
    503: {"description": "The queue is full or the model is not loaded; retry later"},
}


class TtsBody(SynthesisRequest):
    """`SynthesisRequest` with audio given as text: an http(s) URL or a hex-encoded file."""

    spk_audio: str = Field(
        description="Speaker prompt: an http(s) URL, or the file as hex (even-length, > 100 hex digits)."
    )
    emo_audio: str | None = Field(None, description="Emotion reference (URL or hex); implies emo_mode 'audio'.")
    emo_alpha: float = Field(1.0, ge=0.0, le=1.0, description="Emotion strength; seed 003's default is 1.0.")


class TtsResponse(BaseModel):
    audio_hex: str = Field(description="The WAV file (22.05 kHz, 16-bit mono) as hex.")
    audio_length: float = Field(description="Seconds of audio.")
    inference_time: float = Field(description="Seconds the synthesis took.")
    rtf: float = Field(description="inference_time / audio_length.")
    text: str


@router.post("/tts", response_model=TtsResponse, responses=ERRORS, summary="Synthesize speech (WAV as hex)")
async def tts(body: TtsBody, request: Request) -> TtsResponse:
    if body.emo_audio and "emo_mode" not in body.model_fields_set:
        body = TtsBody.model_validate({**body.model_dump(exclude_unset=True), "emo_mode": EmotionMode.AUDIO})
    node, metrics = request.app.state.node, request.app.state.metrics
    job = await synthesize(node, body, "rest", metrics, request)
    result = job.result
    return TtsResponse(
        audio_hex=encode(result.audio, result.sample_rate, "wav").hex(),
        audio_length=round(result.duration, 3),
        inference_time=round(result.processing_time, 3),
        rtf=round(result.rtf, 4),
        text=body.text,
    )
