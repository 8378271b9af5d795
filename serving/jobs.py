"""`JobQueue`: one worker thread owns the engine; every front door submits here.

Jobs start in arrival order. A plain `Runner` runs them strictly one at a time. A `BatchRunner` gets
an `admit` function from the worker: it keeps up to `max_batch` jobs running side by side and
admits waiting jobs whenever a place frees up (between text segments), so a job never waits for a
whole batch; with `max_batch == 1` that is one job at a time again.
Each job moves pending → running → completed / failed / cancelled, carries its timestamps,
progress and error text, and can stream partial results (one per text segment) to whoever waits on
it. A failing job fails alone: the worker logs it and goes on. Finished jobs stay queryable for
`keep_finished` seconds.

`cancel` ends a waiting job at once; a running job is asked to stop (`JobContext.should_stop`) and
its runner ends it at the next decode step or segment boundary (`JobContext.cancelled`), which frees
its place in the batch.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)


class JobState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class QueueFullError(RuntimeError):
    """The queue holds its maximum of waiting jobs; the client should retry later."""


class JobCancelled(Exception):
    """A runner's way to say that the job stopped because it was cancelled (see `JobQueue.cancel`)."""


class JobFailure(Exception):
    """An expected failure with a message meant for the user (bad input, out of memory…)."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class JobResult:
    sample_rate: int
    audio: np.ndarray = field(repr=False)  # (n,) int16
    path: Path | None
    processing_time: float  # seconds from start to finish on the worker

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    @property
    def rtf(self) -> float:
        return self.processing_time / self.duration if self.duration else 0.0


@dataclass(frozen=True)
class PartialAudio:
    """One streamed piece of a running job: a text segment's audio, or a chunk of it.

    `index`/`count` number the segments; `span` is the [start, end) character range of the
    request's own text this piece was made from (None where it cannot be told), so clients can
    subtitle or align what they play.
    """

    index: int
    count: int
    text: str
    sample_rate: int
    audio: np.ndarray = field(repr=False)  # (n,) int16
    span: tuple[int, int] | None = None
    chunk: int = 0  # position of this piece inside its segment (0 for the first or only one)
    last_in_segment: bool = True


@dataclass(eq=False)
class Job:
    payload: Any = field(repr=False)
    origin: str  # which front door submitted it: "webui", "space", "rest", …
    id: str = field(default_factory=lambda: str(uuid.uuid4()))  # UUIDs, as the WebSocket seed states
    state: JobState = JobState.PENDING
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: float = 0.0
    stage: str = "queued"
    error: str | None = None
    error_kind: str | None = None  # "invalid" (the request's fault), "resources", "internal", "cancelled"
    result: JobResult | None = None
    parts: list[PartialAudio] = field(default_factory=list, repr=False)
    version: int = 0  # bumped on every change, for waiters
    cancel_requested: float | None = None  # monotonic time `cancel` asked a running job to stop
    cancel_reason: str = ""
    cancel_delay: float | None = None  # seconds from that request to the job's end (its place free)
    stop_delay: float | None = None  # seconds from that request to the runner's first stop (no more work)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class QueueStats:
    pending: int
    running: int
    completed: int
    failed: int
    cancelled: int
    mean_processing_time: float  # seconds per completed job
    mean_rtf: float
    audio_seconds: float  # produced in total


class JobContext:
    """What the runner may do while it works on a job: report progress, stream parts."""

    def __init__(self, queue: JobQueue, job: Job) -> None:
        self._queue, self.job = queue, job

    def progress(self, fraction: float, stage: str) -> None:
        self._queue._update(self.job, progress=max(0.0, min(1.0, fraction)), stage=stage)

    def emit(self, part: PartialAudio) -> None:
        self._queue._update(self.job, part=part)

    def should_stop(self) -> bool:
        """True once the job was cancelled: the runner stops at its next step and calls `cancelled`."""
        requested = self.job.cancel_requested
        if requested is None:
            return False
        if self.job.stop_delay is None:  # the first boundary that sees it: no more work is done for it
            self.job.stop_delay = time.monotonic() - requested
        return True

    def cancelled(self, detail: str = "") -> None:
        """Batch runners: the job stopped because it was cancelled; its place is free."""
        self._queue._conclude(self.job, error=JobCancelled(detail))

    def complete(self, result: JobResult) -> None:
        """Batch runners: the job is done (single runners return their result instead)."""
        self._queue._conclude(self.job, result=result)

    def fail(self, error: BaseException) -> None:
        """Batch runners: the job failed; a `JobFailure` carries a message for the user."""
        self._queue._conclude(self.job, error=error)


Runner = Callable[[Job, JobContext], JobResult]
Admit = Callable[[int], list[JobContext]]  # up to n waiting jobs, now running; [] when none wait


@runtime_checkable
class BatchRunner(Protocol):
    def run_batch(self, admit: Admit, max_batch: int) -> None:
        """Run admitted jobs side by side until none are left and `admit` gives no more.

        Every admitted job must end through its context's `complete` or `fail`.
        """


class JobQueue:
    """FIFO of jobs, run by a single worker thread that calls `runner` (one at a time, or batched)."""

    def __init__(
        self,
        runner: Runner | BatchRunner,
        max_pending: int = 32,
        keep_finished: float = 300.0,
        max_batch: int = 1,
        on_worker_start: Callable[[], None] | None = None,
    ) -> None:
        self._runner = runner
        self._on_worker_start = on_worker_start  # per-thread setup of the engine, on the worker thread
        self.max_batch = max_batch if isinstance(runner, BatchRunner) else 1
        self.max_pending = max_pending
        self.keep_finished = keep_finished
        self._lock = threading.Condition()
        self._pending: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._running: list[Job] = []
        self._closed = False
        self._counts = dict.fromkeys(("completed", "failed", "cancelled"), 0)
        self._processing_total = self._rtf_total = self._audio_total = 0.0
        self._listeners: list[Callable[[Job], None]] = []
        self._worker = threading.Thread(target=self._work, name="synthesis-worker", daemon=True)
        self._worker.start()

    # --- front door API ------------------------------------------------------------------------

    def submit(self, payload: Any, origin: str) -> Job:
        with self._lock:
            if self._closed:
                raise QueueFullError("the node is shutting down; retry on another node or in a moment")
            if len(self._pending) >= self.max_pending:
                raise QueueFullError(
                    f"the node is busy: {len(self._pending)} jobs are already waiting (limit {self.max_pending}); "
                    "retry in a little while"
                )
            job = Job(payload, origin)
            self._jobs[job.id] = job
            self._pending.append(job)
            self._lock.notify_all()
        log.info("job %s queued from %s (%d waiting)", job.id, origin, len(self._pending))
        return job

    def add_listener(self, on_finished: Callable[[Job], None]) -> None:
        """Call `on_finished(job)` once per job that reaches a final state (metrics, journals)."""
        with self._lock:
            self._listeners.append(on_finished)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._forget_old()
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Every job still known (waiting, running, or finished within `keep_finished`), oldest first."""
        with self._lock:
            self._forget_old()
            return sorted(self._jobs.values(), key=lambda job: job.created_at)

    def position(self, job: Job) -> int:
        """0 while running or finished, else 1 + the number of jobs ahead of it."""
        with self._lock:
            if job.state is not JobState.PENDING:
                return 0
            ahead = next((i for i, queued in enumerate(self._pending) if queued is job), len(self._pending))
            return ahead + 1 + len(self._running)

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        """Cancel a job: a waiting one ends now, a running one at its next decode step or segment.

        False when the job is unknown or already finished. `reason` (who cancelled) goes to the log
        and the job's error text.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.finished:
                return False
            if job.state is JobState.RUNNING:
                if job.cancel_requested is None:
                    job.cancel_requested, job.cancel_reason = time.monotonic(), reason
                    log.info("job %s: stop requested while running (%s)", job_id, reason)
                return True
            self._pending.remove(job)
            self._finish(job, JobState.CANCELLED, error=f"{reason} before it started", error_kind="cancelled")
        log.info("job %s cancelled while waiting (%s)", job_id, reason)
        self._notify_listeners(job)
        return True

    def wait(self, job: Job, seen_version: int = -1, timeout: float | None = None) -> int:
        """Block until the job changed past `seen_version` (or finished, or timeout); → its version."""
        with self._lock:
            self._lock.wait_for(lambda: job.version != seen_version or job.finished, timeout)
            return job.version

    def wait_finished(self, job: Job, timeout: float | None = None) -> Job:
        with self._lock:
            self._lock.wait_for(lambda: job.finished, timeout)
        return job

    def stream(self, job: Job, timeout: float | None = None) -> Iterator[PartialAudio]:
        """The job's parts as they are produced; ends when the job finishes."""
        sent, version = 0, -1
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            version = self.wait(job, version, remaining)
            parts, finished = list(job.parts[sent:]), job.finished
            yield from parts
            sent += len(parts)
            if finished or (deadline is not None and time.monotonic() >= deadline):
                return

    def stats(self) -> QueueStats:
        with self._lock:
            done = self._counts["completed"]
            return QueueStats(
                pending=len(self._pending),
                running=len(self._running),
                completed=done,
                failed=self._counts["failed"],
                cancelled=self._counts["cancelled"],
                mean_processing_time=self._processing_total / done if done else 0.0,
                mean_rtf=self._rtf_total / done if done else 0.0,
                audio_seconds=self._audio_total,
            )

    @property
    def depth(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._running)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking jobs, cancel the waiting ones and let the running one finish."""
        with self._lock:
            self._closed = True
            dropped = list(self._pending)
            self._pending.clear()
            for job in dropped:
                self._finish(job, JobState.CANCELLED, "the node shut down", "cancelled")
            self._lock.notify_all()
        for job in dropped:
            self._notify_listeners(job)
        self._worker.join(timeout)

    # --- worker --------------------------------------------------------------------------------

    def _work(self) -> None:
        if self._on_worker_start is not None:
            self._on_worker_start()
        while True:
            with self._lock:
                # Sleep on the condition (no polling): idle nodes cost no CPU. The timeout only
                # lets old finished jobs be forgotten while nothing else happens.
                self._lock.wait_for(lambda: self._pending or self._closed, timeout=self.keep_finished)
                self._forget_old()
                if self._closed and not self._pending:
                    return
                if not self._pending:
                    continue
            if isinstance(self._runner, BatchRunner):
                self._run_batch(self._runner)
            else:
                for context in self._admit(1):
                    self._run(context)

    def _admit(self, n: int) -> list[JobContext]:
        """Move up to n waiting jobs to running."""
        with self._lock:
            taken = [self._pending.popleft() for _ in range(min(n, len(self._pending)))]
            for job in taken:
                self._running.append(job)
                job.state, job.started_at, job.stage = JobState.RUNNING, time.time(), "starting"
                job.version += 1
                log.info("job %s started (%s)", job.id, job.origin)
            self._lock.notify_all()
        return [JobContext(self, job) for job in taken]

    def _run(self, context: JobContext) -> None:
        try:
            if context.should_stop():
                raise JobCancelled("before it started running")
            result = self._runner(context.job, context)  # type: ignore[operator]
            if context.should_stop():  # a runner that does not look at should_stop: drop its result
                raise JobCancelled("its result came after the cancel")
        except Exception as exc:
            self._conclude(context.job, error=exc)
        else:
            self._conclude(context.job, result=result)

    def _run_batch(self, runner: BatchRunner) -> None:
        admitted: list[Job] = []

        def admit(n: int) -> list[JobContext]:
            contexts = self._admit(n)
            admitted.extend(context.job for context in contexts)
            return contexts

        try:
            runner.run_batch(admit, self.max_batch)
        except Exception:
            log.exception("the batch runner failed")
        for job in admitted:
            if not job.finished:
                self._conclude(job, error=RuntimeError("the batch ended without finishing this job"))

    def _conclude(self, job: Job, result: JobResult | None = None, error: BaseException | None = None) -> None:
        if job.finished:  # a runner that reports twice: the first word stands
            return
        if error is None and result is not None:
            log.info(
                "job %s done: %.2f s of audio in %.2f s (RTF %.3f)",
                job.id,
                result.duration,
                result.processing_time,
                result.rtf,
            )
            self._end(job, JobState.COMPLETED, result=result)
        elif isinstance(error, JobCancelled):
            requested = job.cancel_requested
            if requested is not None:
                job.cancel_delay = time.monotonic() - requested
            delay = f" {job.cancel_delay:.3f} s after the request" if requested is not None else ""
            reason = job.cancel_reason or "cancelled"
            where = f" ({error})" if str(error) else ""
            log.info("job %s cancelled while running%s%s", job.id, where, delay)
            self._end(job, JobState.CANCELLED, f"{reason} while running{where}", "cancelled")
        elif isinstance(error, JobFailure):
            log.warning("job %s failed: %s", job.id, error)
            self._end(job, JobState.FAILED, str(error), error.kind)
        else:
            log.error("job %s failed unexpectedly", job.id, exc_info=error)
            self._end(job, JobState.FAILED, f"internal error: {type(error).__name__}: {error}", "internal")

    def _end(
        self,
        job: Job,
        state: JobState,
        error: str | None = None,
        kind: str | None = None,
        result: JobResult | None = None,
    ) -> None:
        with self._lock:
            if job.finished:  # two threads may conclude one job (a pipelined runner): the first word stands
                return
            if job in self._running:
                self._running.remove(job)
            job.result = result
            self._finish(job, state, error, kind)
        self._notify_listeners(job)

    def _notify_listeners(self, job: Job) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(job)
            except Exception:
                log.exception("a job listener failed on job %s", job.id)

    def _finish(self, job: Job, state: JobState, error: str | None, error_kind: str | None) -> None:
        """Under the lock: record the final state and the counters, wake every waiter."""
        job.state, job.finished_at, job.error, job.error_kind = state, time.time(), error, error_kind
        job.progress = 1.0 if state is JobState.COMPLETED else job.progress
        job.stage = state.value
        job.version += 1
        self._counts[state.value] += 1
        if state is JobState.COMPLETED and job.result is not None:
            self._processing_total += job.result.processing_time
            self._rtf_total += job.result.rtf
            self._audio_total += job.result.duration
        self._lock.notify_all()

    def _update(
        self, job: Job, progress: float | None = None, stage: str | None = None, part: PartialAudio | None = None
    ) -> None:
        with self._lock:
            if progress is not None:
                job.progress = progress
            if stage is not None:
                job.stage = stage
            if part is not None:
                job.parts.append(part)
            job.version += 1
            self._lock.notify_all()

    def _forget_old(self) -> None:
        horizon = time.time() - self.keep_finished
        for job_id in [i for i, job in self._jobs.items() if job.finished and job.finished_at < horizon]:
            del self._jobs[job_id]
