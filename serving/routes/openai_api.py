"""OpenAI-compatible speech API: `POST /v1/audio/speech`, `GET /v1/audio/voices`, `GET /v1/models`.

Voices are names from `examples/voices.json` (alloy … verse → examples/voice_01 … voice_11).
Defaults follow seed 004, not OpenAI: `voice` may be left out (→ "alloy") and `response_format`
defaults to "wav" (OpenAI: voice required, mp3). Unknown body fields are ignored, as OpenAI's
SDKs may send newer ones; numbers must be JSON numbers (`true` is refused, as on every door).
`instructions` drives the emotion-from-text mode. `speed` changes the tempo, not the pitch.
`stream_format: "audio"` streams each text segment as soon as it is synthesized; `"sse"` sends
`speech.audio.delta` events (base64 audio in `response_format`) and `speech.audio.done`.
IndexTTS settings (`seed`, `max_mel_tokens`, `num_beams`, …) may be added to the body — the
SDKs' `extra_body`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from indextts.audio import silence_samples
from serving.encoding import CONTENT_TYPES, STREAMABLE, change_tempo, encode, encode_chunk, wav_stream_header
from serving.jobs import Job
from serving.request import EmotionMode, RequestError, StrictBool, numbers_only, parse_request
from serving.routes.errors import ApiError
from serving.routes.jobs import cancel_on_disconnect, finished, follow, require_api_key, submit
from serving.voices import VoiceCatalog

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], dependencies=[Depends(require_api_key)])
MODELS = ("indextts-2", "indextts-2.5", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MAX_INPUT_CHARS = 4096
SETTINGS = (
    "seed",
    "max_mel_tokens",
    "num_beams",
    "do_sample",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "interval_silence",
    "max_text_tokens_per_segment",
    "emo_alpha",
    "language",
)


class VoiceRef(BaseModel):
    id: str = Field(max_length=200)


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # newer SDKs may send fields this node does not use

    model: str = Field(
        "indextts-2", max_length=200, description="Accepted and ignored: a node serves one model (GET /v1/models)."
    )
    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS, description="The text to speak.")
    voice: str | VoiceRef = Field("alloy", description="A voice name from GET /v1/audio/voices.")
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "wav"
    speed: float = Field(1.0, ge=0.25, le=4.0, description="Tempo; the pitch stays the same.")
    instructions: str | None = Field(None, max_length=MAX_INPUT_CHARS, description="How to speak: the emotion.")
    stream_format: Literal["audio", "sse"] | None = None
    seed: int | None = None
    max_mel_tokens: int | None = None
    num_beams: int | None = None
    do_sample: StrictBool | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    interval_silence: int | None = None
    max_text_tokens_per_segment: int | None = None
    emo_alpha: float | None = None
    language: str | None = Field(
        None, max_length=16, description="IndexTTS-2.5: zh, en, ja, es or auto (detected); see GET /v1/models."
    )

    @field_validator("speed", *(name for name in SETTINGS if name not in ("do_sample", "language")), mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: object) -> object:
        return numbers_only(value)


def _catalog(request: Request) -> VoiceCatalog:
    return request.app.state.voices


def _synthesis_request(body: SpeechBody, catalog: VoiceCatalog):
    voice_id = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    voice = catalog.get(voice_id)
    if voice is None:
        names = ", ".join(catalog.names())
        raise ApiError(400, f"voice: unknown voice {voice_id!r}; use one of {names}", "voice", "unknown_voice")
    fields = {"text": body.input, "spk_audio": str(voice.file)}
    if body.instructions and body.instructions.strip():
        fields |= {"emo_mode": EmotionMode.TEXT, "emo_text": body.instructions}
    fields |= {name: getattr(body, name) for name in SETTINGS if getattr(body, name) is not None}
    try:
        return parse_request(fields)
    except RequestError as exc:
        param = "input" if exc.field == "text" else exc.field
        raise ApiError(400, str(exc).replace("text:", "input:"), param, "invalid_value") from None


@router.post(
    "/audio/speech",
    summary="Create speech (OpenAI-compatible)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in CONTENT_TYPES.values()}, "description": "The audio file"}},
)
async def create_speech(body: SpeechBody, request: Request) -> Response:
    node, metrics = request.app.state.node, request.app.state.metrics
    synthesis = _synthesis_request(body, _catalog(request))
    job = await submit(node, synthesis, "openai", metrics)
    fmt, media_type = body.response_format, CONTENT_TYPES[body.response_format]
    if body.stream_format == "sse":
        events = cancel_on_disconnect(node, job, request, _sse(node, job, body, metrics), metrics, "openai")
        return StreamingResponse(events, media_type="text/event-stream")
    if body.stream_format == "audio":
        chunks = cancel_on_disconnect(node, job, request, _audio_stream(node, job, body, metrics), metrics, "openai")
        return StreamingResponse(chunks, media_type=media_type)
    await follow(node, job, request)
    result = finished(job, "openai", metrics).result
    audio = await run_in_threadpool(change_tempo, result.audio, result.sample_rate, body.speed)
    data = await run_in_threadpool(encode, audio, result.sample_rate, fmt)
    return Response(data, media_type=media_type)


def _segments(node, job: Job, body: SpeechBody) -> Iterator[tuple[np.ndarray, int]]:
    """Each segment's audio (tempo applied, the request's silence in front of all but the first)."""
    gap = None
    for part in node.queue.stream(job):
        audio = change_tempo(part.audio, part.sample_rate, body.speed)
        if gap is None:
            gap = np.zeros(silence_samples(job.payload.request.interval_silence, part.sample_rate), np.int16)
        elif gap.size:
            audio = np.concatenate([gap, audio])
        yield audio, part.sample_rate


def _audio_stream(node, job: Job, body: SpeechBody, metrics) -> Iterator[bytes]:
    fmt = body.response_format
    if fmt not in STREAMABLE:  # Ogg/Opus and FLAC files do not concatenate: send the file when done
        node.queue.wait_finished(job)
        if job.result is not None:
            rate = job.result.sample_rate
            yield encode(change_tempo(job.result.audio, rate, body.speed), rate, fmt)
        metrics.count_request("openai", "ok" if job.result is not None else "failed")
        return
    for index, (audio, rate) in enumerate(_segments(node, job, body)):
        if fmt == "wav" and index == 0:
            yield wav_stream_header(rate)
        yield encode_chunk(audio, rate, fmt)
    metrics.count_request("openai", "ok" if job.result is not None else "failed")


def _sse(node, job: Job, body: SpeechBody, metrics) -> Iterator[str]:
    seconds = 0.0
    for audio, rate in _segments(node, job, body):
        seconds += audio.size / rate
        chunk = base64.b64encode(encode(audio, rate, body.response_format)).decode()
        yield f"data: {json.dumps({'type': 'speech.audio.delta', 'audio': chunk})}\n\n"
    node.queue.wait_finished(job)
    if job.result is None:
        metrics.count_request("openai", "failed")
        error = {"type": "error", "error": {"message": f"synthesis failed: {job.error}", "type": "server_error"}}
        yield f"data: {json.dumps(error)}\n\n"
        return
    metrics.count_request("openai", "ok")
    usage = {"input_tokens": len(body.input), "output_tokens": round(seconds * 50)}
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    yield f"data: {json.dumps({'type': 'speech.audio.done', 'usage': usage})}\n\n"


class VoiceInfo(BaseModel):
    id: str
    name: str
    language: str


class VoiceList(BaseModel):
    voices: list[VoiceInfo]


@router.get("/audio/voices", response_model=VoiceList, summary="The voices /v1/audio/speech accepts")
def list_voices(request: Request) -> VoiceList:
    return VoiceList(voices=[VoiceInfo(id=v.id, name=v.name, language=v.language) for v in _catalog(request).all()])


class ModelInfo(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    generation: str | None = Field(None, description='The IndexTTS generation this node runs ("2" or "2.5").')
    languages: list[str] | None = Field(None, description="Values `language` takes (IndexTTS-2.5), else absent.")
    duration_factor: bool | None = Field(None, description="Whether `duration_factor` is honoured (IndexTTS-2.5).")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]


STARTED = int(time.time())


@router.get(
    "/models",
    response_model=ModelList,
    response_model_exclude_none=True,
    summary="Model ids accepted by /v1/audio/speech; the first is the model this node runs, with its generation",
)
def list_models(request: Request) -> ModelList:
    engine = request.app.state.node.loaded.engine
    loaded = f"indextts-{engine.generation}"
    running = ModelInfo(
        id=loaded,
        created=STARTED,
        owned_by="indextts-node",
        generation=engine.generation,
        languages=list(engine.languages) or None,
        duration_factor=engine.has_duration_factor,
    )
    aliases = [ModelInfo(id=m, created=STARTED, owned_by="indextts-node") for m in MODELS if m != loaded]
    return ModelList(data=[running, *aliases])
