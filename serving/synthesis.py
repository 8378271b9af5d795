"""From a validated request to audio: resolve the prompts up front, then run the engine on the worker.

`prepare` runs on the submitting side (it may download a URL), so a bad prompt is refused
before the job takes a place in the queue. `EngineRunner` is the queue's runner: the only code
that calls the engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from indextts.audio import PROMPT_MIN_SECONDS, silence_samples
from indextts.errors import Cancelled, IndexTTSError
from indextts.pipeline import IndexTTS2, RequestPlan, SegmentAudio, to_int16
from indextts.streaming import AudioChunk
from indextts.text.segmenter import DEFAULT_FIRST_SEGMENT_TOKENS
from serving.decode_batching import DecodeBatching
from serving.jobs import Admit, Job, JobCancelled, JobContext, JobFailure, JobResult, PartialAudio
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
        emotion = resolve_audio(request.emo_audio, "emo_audio", policy, min_seconds=PROMPT_MIN_SECONDS)
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
        # Streaming: a short first segment, so the first audio comes after a clause's worth of work.
        "first_segment_tokens": DEFAULT_FIRST_SEGMENT_TOKENS if request.streaming else 0,
        "seed": request.seed,
        "language": request.language,
        "duration_factor": request.duration_factor,
        **request.generation_kwargs(),
    }


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def as_job_failure(exc: Exception) -> Exception:
    """The engine's typed errors and out-of-memory become failures with a message for the user."""
    if isinstance(exc, Cancelled):
        return JobCancelled(str(exc))
    if isinstance(exc, IndexTTSError):
        return JobFailure(str(exc), "invalid")
    if isinstance(exc, (RuntimeError, MemoryError)) and _is_out_of_memory(exc):
        return JobFailure(
            "the GPU ran out of memory for this request; try a shorter text, fewer beams "
            "(num_beams) or a smaller max_text_tokens_per_segment",
            "resources",
        )
    return exc


@dataclass(eq=False)
class _RunningJob:
    """A job inside a batch: its plan, the next segment to make and the audio made so far."""

    context: JobContext
    plan: RequestPlan
    gap: np.ndarray
    started: float
    next_segment: int = 0
    pieces: list[np.ndarray] = field(default_factory=list)
    chunks_sent: int = 0  # chunks of the current segment already streamed (streaming requests)

    @property
    def done(self) -> bool:
        return self.next_segment == len(self.plan.segments)


class EngineRunner:
    """Runs prepared requests on the engine, streams their segments, writes the WAVs.

    Up to `max_batch` jobs run side by side, their GPT decoding batched one text segment at a time
    (see `IndexTTS2.synthesize_round`); with `max_batch == 1`, one job after another. Their segments'
    flow matching and vocoder are batched as `decode_batching` decides.
    A cancelled job (its context's `should_stop`) leaves the batch at the next decode step, or
    before its next segment, and ends as cancelled; the others go on as if it had never been there.
    """

    job_type: type[_RunningJob] = _RunningJob  # what a running job's state is kept in

    def __init__(
        self, engine: IndexTTS2, outputs: OutputStore | None, decode_batching: DecodeBatching | None = None
    ) -> None:
        self.engine, self.outputs = engine, outputs
        # How a round's segments share the flow-matching solve and the vocoder (None: each alone).
        self.decode_batching = decode_batching

    def run_batch(self, admit: Admit, max_batch: int) -> None:
        running: list[_RunningJob] = []
        while True:
            running += self._plan_all(admit(max_batch - len(running)))
            for item in [r for r in running if r.context.should_stop()]:
                running.remove(item)
                item.context.cancelled(f"after {item.next_segment}/{len(item.plan.segments)} segments")
            if not running:
                return  # the queue's worker calls again while jobs wait
            self._round(running)
            for item in [r for r in running if r.done or r.context.job.finished]:
                running.remove(item)
                if not item.context.job.finished:
                    item.context.progress(0.9, "finishing")
                    item.context.complete(self._result(item.context.job, item.pieces, item.started))

    def _plan_all(self, contexts: list[JobContext]) -> list[_RunningJob]:
        planned = []
        for context in contexts:
            prepared: PreparedSynthesis = context.job.payload
            request = prepared.request
            started = time.perf_counter()
            if context.should_stop():
                context.cancelled("before its prompt was read")
                continue
            context.progress(0.0, "prompt")
            gap = np.zeros(silence_samples(request.interval_silence, self.engine.sample_rate), dtype=np.int16)
            item = self.job_type(context, None, gap, started)  # type: ignore[arg-type]  # its plan follows
            try:
                item.plan = self.engine.plan(
                    prepared.speaker.data,
                    request.text,
                    should_stop=context.should_stop,
                    on_chunk=self._chunk_emitter(item) if request.streaming else None,
                    **_engine_kwargs(prepared),
                )
            except Exception as exc:
                context.fail(as_job_failure(exc))
                continue
            planned.append(item)
        return planned

    def _chunk_emitter(self, item: _RunningJob) -> Callable[[AudioChunk], None]:
        """A streaming job's vocoder chunks go out as parts the moment they exist."""
        rate = self.engine.sample_rate

        def emit(chunk: AudioChunk) -> None:
            audio = to_int16(chunk.samples)
            item.context.emit(
                PartialAudio(
                    chunk.index, chunk.count, chunk.text, rate, audio, chunk.span, chunk.chunk, chunk.last_in_segment
                )
            )
            item.chunks_sent += 1

        return emit

    def _round(self, running: list[_RunningJob]) -> None:
        """The next segment of every running job; if the batch as a whole fails, each job tries alone."""
        for item in running:
            count = len(item.plan.segments)
            item.context.progress(0.2 + 0.7 * item.next_segment / count, f"segment {item.next_segment + 1}/{count}")
        made = 0
        try:
            groups = self.decode_batching.groups if self.decode_batching else None
            segments = self.engine.synthesize_round([(r.plan, r.next_segment) for r in running], groups)
            for item, segment in zip(running, segments, strict=True):
                self._accept(item, segment)
                made += 1
                self._end_cancelled(running[made:])
            return
        except Exception as exc:
            batch_error = exc
            self._release_memory()
            if len(running) == 1:
                running[0].context.fail(as_job_failure(exc))
                return
            log.warning(
                "a batch of %d failed (%s); its %d unfinished jobs go on one by one",
                len(running),
                exc,
                len(running) - made,
            )
        waiting = running[made:]
        for item in waiting:
            if item.chunks_sent:  # part of this segment is out: a second try would not continue it
                item.context.fail(as_job_failure(batch_error))
                continue
            try:
                for segment in self.engine.synthesize_round([(item.plan, item.next_segment)]):
                    self._accept(item, segment)
            except Exception as exc:
                self._release_memory()
                item.context.fail(as_job_failure(exc))

    def _end_cancelled(self, later: list[_RunningJob]) -> None:
        """Jobs of this round still to come that were cancelled meanwhile end now, not after their
        neighbours' decoding: the engine does no more work for them (it asks the same check)."""
        for item in later:
            if not item.context.job.finished and item.context.should_stop():
                item.context.cancelled(f"during segment {item.next_segment + 1}/{len(item.plan.segments)}")

    def _accept(self, item: _RunningJob, segment: SegmentAudio | Cancelled) -> None:
        if isinstance(segment, Cancelled):
            item.context.cancelled(str(segment))  # ends the job now; run_batch drops it after the round
            return
        audio = to_int16(segment.samples)  # a streaming job's: its chunks joined, as they were sent
        if item.plan.on_chunk is None:
            rate = self.engine.sample_rate
            item.context.emit(PartialAudio(segment.index, segment.count, segment.text, rate, audio, segment.span))
        item.chunks_sent = 0
        if item.pieces and item.gap.size:
            item.pieces.append(item.gap)
        item.pieces.append(audio)
        item.next_segment += 1

    def _result(self, job: Job, pieces: list[np.ndarray], started: float) -> JobResult:
        audio = np.concatenate(pieces)
        rate = self.engine.sample_rate
        path = self.outputs.write(job.id, audio, rate) if self.outputs else None
        return JobResult(rate, audio, path, time.perf_counter() - started)

    def _release_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
