"""From a validated request to audio: resolve the prompts up front, then run the engine on the worker.

`prepare` runs on the submitting side (it may download a URL), so a bad prompt is refused
before the job takes a place in the queue. `EngineRunner` is the queue's runner: the only code
that calls the engine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from indextts.audio import PROMPT_MIN_SECONDS, silence_samples
from indextts.errors import IndexTTSError
from indextts.pipeline import IndexTTS2, to_int16
from serving.jobs import Job, JobContext, JobFailure, JobResult, PartialAudio
from serving.outputs import OutputStore
from serving.request import EmotionMode, SynthesisRequest
from serving.sources import PromptAudio, SourcePolicy, resolve_audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedSynthesis:
    """A request whose audio inputs are fetched, decoded once and known to be usable."""

    request: SynthesisRequest
    speaker: PromptAudio
    emotion: PromptAudio | None


def prepare(request: SynthesisRequest, policy: SourcePolicy) -> PreparedSynthesis:
    """Fetch and check the prompts; raises `serving.sources.AudioSourceError` naming the field."""
    speaker = resolve_audio(request.spk_audio, "spk_audio", policy, min_seconds=PROMPT_MIN_SECONDS)
    emotion = None
    if request.emo_mode is EmotionMode.AUDIO and request.emo_audio is not None:
        emotion = resolve_audio(request.emo_audio, "emo_audio", policy)
    return PreparedSynthesis(request, speaker, emotion)


def _engine_kwargs(prepared: PreparedSynthesis) -> dict[str, object]:
    request = prepared.request
    mode = request.emo_mode
    return {
        "emo_audio_prompt": prepared.emotion.data if prepared.emotion else None,
        # The official UI passes its weight slider in every mode; `infer` ignores it in mode 0.
        "emo_alpha": request.emo_alpha if mode is not EmotionMode.NONE else 1.0,
        "emo_vector": request.emotion_weights(),
        "use_emo_text": mode is EmotionMode.TEXT,
        "emo_text": request.emo_text if mode is EmotionMode.TEXT else None,
        "use_random": request.use_random and mode in (EmotionMode.VECTOR, EmotionMode.TEXT),
        "max_text_tokens_per_segment": request.max_text_tokens_per_segment,
        "seed": request.seed,
        **request.generation_kwargs(),
    }


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


class EngineRunner:
    """Runs one prepared request on the engine, streams its segments, writes the WAV."""

    def __init__(self, engine: IndexTTS2, outputs: OutputStore | None) -> None:
        self.engine, self.outputs = engine, outputs

    def __call__(self, job: Job, context: JobContext) -> JobResult:
        prepared: PreparedSynthesis = job.payload
        request = prepared.request
        started = time.perf_counter()
        rate = self.engine.sample_rate
        gap = np.zeros(silence_samples(request.interval_silence, rate), dtype=np.int16)
        pieces: list[np.ndarray] = []
        try:
            for segment in self.engine.infer_stream(
                prepared.speaker.data, request.text, progress=context.progress, **_engine_kwargs(prepared)
            ):
                audio = to_int16(segment.samples)
                context.emit(PartialAudio(segment.index, segment.count, segment.text, rate, audio))
                if pieces and gap.size:
                    pieces.append(gap)
                pieces.append(audio)
        except IndexTTSError as exc:
            raise JobFailure(str(exc), "invalid") from exc
        except (RuntimeError, MemoryError) as exc:
            if not _is_out_of_memory(exc):
                raise
            self._release_memory()
            raise JobFailure(
                "the GPU ran out of memory for this request; try a shorter text, fewer beams "
                "(num_beams) or a smaller max_text_tokens_per_segment",
                "resources",
            ) from exc
        audio = np.concatenate(pieces)
        path = self.outputs.write(job.id, audio, rate) if self.outputs else None
        return JobResult(rate, audio, path, time.perf_counter() - started)

    def _release_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
