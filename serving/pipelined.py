"""Pipelined stages: the runner thread generates codes while a pool of threads decodes finished segments.

`EngineRunner` runs a round's two stages one after the other: during the GPT round (serial, per-request
sampling work) one CPU core idles, and during the decode no codes are made. `PipelinedRunner` overlaps
them (`indextts.rounds`): each segment is handed over the step its codes are done (its noise drawn, so
its audio does not depend on when or where it is decoded), a pool thread decodes it as soon as one is
free, and the runner thread goes on with the next round. The rules:

* a job's segments are decoded one after the other, in order: its parts, chunks and final WAV are
  exactly as before;
* a job's codes run ahead of its audio by at most `Pipelining.lookahead` segments (bounded memory);
* the ready segments of different jobs share a decode as `decode_batching` decides, a streaming
  job's alone and first; a group takes at most its share of the ready segments (ready / threads),
  so the last round's segments are decoded by every thread rather than by the first one free;
* on the CPU, while the pool has nothing to decode, a GPT round takes one job, so decoding starts
  after one job's codes;
* a GPT round of several jobs that fails is retried job by job; so is a decode group (a streaming job
  that already sent chunks of that segment fails instead); a failure ends only the jobs it touched.

`serving.decode_batching.Pipelining` holds the numbers (workers, round size) and why.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from indextts.errors import Cancelled
from indextts.pipeline import IndexTTS2, SegmentAudio
from indextts.rounds import Outcome, ReadySegment, decode_order
from serving.decode_batching import DecodeBatching, Pipelining
from serving.jobs import Admit
from serving.outputs import OutputStore
from serving.synthesis import EngineRunner, _RunningJob, as_job_failure

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.05  # the runner's longest wait for a decode before it looks for new jobs again
POOL_EXIT_SECONDS = 120.0  # the longest a batch waits for its decode threads to leave (one diffusion step)


@dataclass(eq=False)
class _PipelinedJob(_RunningJob):
    generated: int = 0  # segments whose codes are handed over
    ready: dict[int, ReadySegment] = field(default_factory=dict)  # handed over, waiting for a decode thread
    decoding: bool = False  # a pool thread is decoding its next segment
    ended: bool = False  # completed, failed or cancelled (by whichever thread saw it first)
    concluded: bool = False  # ... and the queue has been told: until then the batch is not over
    handed: dict[int, int] = field(default_factory=dict)  # segment → hand-over order (oldest decoded first)

    @property
    def ahead(self) -> int:
        """Segments with codes but no audio yet."""
        return self.generated - self.next_segment


def _cancel_between(job: _PipelinedJob) -> None:
    job.context.cancelled(f"after {job.next_segment}/{len(job.plan.segments)} segments")


class PipelinedRunner(EngineRunner):
    """`EngineRunner` with the GPT stage on the queue's worker thread and the decode stage on a pool."""

    job_type = _PipelinedJob

    def __init__(
        self,
        engine: IndexTTS2,
        outputs: OutputStore | None,
        decode_batching: DecodeBatching | None,
        pipelining: Pipelining,
    ) -> None:
        super().__init__(engine, outputs, decode_batching)
        if pipelining.workers < 1:
            raise ValueError("a pipelined runner needs at least one decode worker")
        self.pipelining = pipelining
        self._cond = threading.Condition()
        self._jobs: list[_PipelinedJob] = []
        self._order = itertools.count()
        self._generation = 0  # the pool's threads live while run_batch runs; a new batch, new threads
        self._cpu = engine.device.type == "cpu"

    # --- the runner thread: planning and the GPT stage --------------------------------------------

    def run_batch(self, admit: Admit, max_batch: int) -> None:
        pool = self._start_pool()
        if self._cpu and self.pipelining.runner_threads:
            torch.set_num_threads(self.pipelining.runner_threads)
        try:
            self._run(admit, max_batch)
        finally:
            with self._cond:  # every job has ended: the pool is idle, its threads leave
                self._generation += 1
                self._cond.notify_all()
            # ... and the batch ends once they have: a thread still finishing the diffusion step of a
            # cancelled job must not outlive it (a daemon thread inside torch when the process exits
            # aborts it: "terminate called without an active exception").
            for thread in pool:
                thread.join(POOL_EXIT_SECONDS)
                if thread.is_alive():
                    log.warning("decode thread %s still busy %.0f s after its batch", thread.name, POOL_EXIT_SECONDS)

    def _run(self, admit: Admit, max_batch: int) -> None:
        while True:
            with self._cond:
                self._jobs = [j for j in self._jobs if not j.concluded]
                places = max_batch - len(self._jobs)
            # Admit (and plan: text front end, prompt) no more jobs than one GPT round takes: the rest
            # are planned between rounds, while the pool decodes, not all before the first codes.
            planned = self._plan_all(admit(min(places, self.pipelining.max_round or places)))
            with self._cond:
                self._jobs += planned  # type: ignore[arg-type]
                jobs = list(self._jobs)
                self._cond.notify_all()
            for job in jobs:
                if not job.ended and not job.decoding and job.context.should_stop():
                    self._end(job, _cancel_between)
            with self._cond:
                # A job a pool thread is ending counts until the queue has its result: returning
                # earlier would let the queue conclude it as unfinished.
                live = [j for j in self._jobs if not j.concluded]
                if not live:
                    return  # the queue's worker calls again while jobs wait
                lookahead = self.pipelining.lookahead
                work = [j for j in live if not j.ended and j.generated < len(j.plan.segments) and j.ahead < lookahead]
                work = work[: self._round_size(live)]
                if not work:
                    self._cond.wait(WAIT_SECONDS)  # every job waits for its audio: a decode ends soon
                    continue
            self._generate(work)

    def _round_size(self, live: list[_PipelinedJob]) -> int | None:
        """Under the lock: how many jobs the next GPT round takes (None: all).

        With a round limit (the CPU), a pool with nothing to decode gets one job's codes first: a
        round's cost grows with its jobs there, so the decode threads start after one job's codes
        instead of idling through a whole round (a burst's start).
        """
        limit = self.pipelining.max_round
        if limit and not any(j.decoding or j.ready for j in live):
            return 1
        return limit

    def _generate(self, work: list[_PipelinedJob]) -> None:
        """One GPT round; if it fails as a whole, each job whose codes were not handed over tries alone."""
        for job in work:
            count = len(job.plan.segments)
            job.context.progress(0.2 + 0.7 * job.generated / count, f"segment {job.generated + 1}/{count}")
        handed: set[int] = set()

        def on_ready(position: int, outcome: Outcome) -> None:
            handed.add(position)
            self._hand_over(work[position], outcome)

        try:
            self.engine.generate_round([(j.plan, j.generated) for j in work], on_ready)
            return
        except Exception as exc:
            self._release_memory()
            if len(work) == 1:
                self._end(work[0], lambda j, exc=exc: j.context.fail(as_job_failure(exc)))
                return
            log.warning("a GPT round of %d failed (%s); its unfinished jobs go on one by one", len(work), exc)
        for position, job in enumerate(work):
            if position in handed or job.ended:
                continue
            try:
                self.engine.generate_round([(job.plan, job.generated)], lambda _, o, job=job: self._hand_over(job, o))
            except Exception as exc:
                self._release_memory()
                self._end(job, lambda j, exc=exc: j.context.fail(as_job_failure(exc)))

    def _hand_over(self, job: _PipelinedJob, outcome: Outcome) -> None:
        if isinstance(outcome, Cancelled):
            self._end(job, lambda j: j.context.cancelled(str(outcome)))
            return
        with self._cond:
            if job.ended:
                return
            job.ready[outcome.index] = outcome
            job.handed[outcome.index] = next(self._order)
            job.generated += 1
            self._cond.notify_all()

    def _end(self, job: _PipelinedJob, how: Callable[[_PipelinedJob], None]) -> None:
        """End a job once, whichever thread sees it first; its waiting segments are dropped."""
        with self._cond:
            if job.ended:
                return
            job.ended = True
            job.ready.clear()
            self._cond.notify_all()
        try:
            if not job.context.job.finished:
                how(job)
        finally:
            with self._cond:
                job.concluded = True
                self._cond.notify_all()

    # --- the pool: the decode stage ----------------------------------------------------------------

    def _start_pool(self) -> list[threading.Thread]:
        pool = []
        for n in range(self.pipelining.workers):
            thread = threading.Thread(target=self._decode_loop, args=(self._generation,), name=f"decode-{n}")
            thread.daemon = True
            thread.start()
            pool.append(thread)
        return pool

    def _decode_loop(self, generation: int) -> None:
        if self._cpu:
            torch.set_num_threads(1)  # each decode thread on its own core (GNU OpenMP: per thread)
        while True:
            with self._cond:
                group = self._take_group()
                while not group:
                    if self._generation != generation:
                        return
                    self._cond.wait()
                    group = self._take_group()
            try:
                for job, _ in group:  # cancelled while waiting here: no decode is spent on it
                    if job.context.should_stop():
                        self._end(job, lambda j: j.context.cancelled(f"before decoding segment {j.next_segment + 1}"))
                live = [(job, segment) for job, segment in group if not job.ended]
                if live:
                    self._decode(live)
            except Exception:  # never lose the thread: the node keeps serving
                log.exception("a decode thread failed")
                for job, _ in group:
                    self._end(job, lambda j: j.context.fail(RuntimeError("its decode failed unexpectedly")))
            finally:
                with self._cond:
                    for job, _ in group:
                        job.decoding = False
                    self._cond.notify_all()

    def _take_group(self) -> list[tuple[_PipelinedJob, ReadySegment]]:
        """Under the lock: the ready segments to decode next (each job's next one, never two at once)."""
        candidates = [j for j in self._jobs if not j.ended and not j.decoding and j.next_segment in j.ready]
        if not candidates:
            return []
        candidates.sort(key=lambda j: j.handed[j.next_segment])
        segments = [j.ready[j.next_segment] for j in candidates]
        rule = self.decode_batching
        if rule is not None:  # the ready segments are shared among the threads, not all given to the first
            rule = replace(rule, max_size=min(rule.max_size, -(-len(segments) // self.pipelining.workers)))
        order = decode_order(segments, rule.groups if rule else None)
        # A streaming segment first; else the group holding the segment handed over first.
        group = order[0] if segments[order[0][0]].streaming else next(g for g in order if 0 in g)
        for k in group:
            candidates[k].decoding = True
            del candidates[k].ready[candidates[k].next_segment]
        return [(candidates[k], segments[k]) for k in group]

    def _decode(self, group: list[tuple[_PipelinedJob, ReadySegment]]) -> None:
        try:
            outcomes = self.engine.decode_segments([segment for _, segment in group])
        except Exception as exc:
            self._release_memory()
            if len(group) == 1:
                self._end(group[0][0], lambda j, exc=exc: j.context.fail(as_job_failure(exc)))
                return
            log.warning("a decode of %d segments failed (%s); they go on one by one", len(group), exc)
            for job, segment in group:
                if job.chunks_sent:  # part of this segment is out: a second try would not continue it
                    self._end(job, lambda j, exc=exc: j.context.fail(as_job_failure(exc)))
                    continue
                try:
                    (outcome,) = self.engine.decode_segments([segment])
                except Exception as alone:
                    self._release_memory()
                    self._end(job, lambda j, alone=alone: j.context.fail(as_job_failure(alone)))
                    continue
                self._deliver(job, outcome)
            return
        for (job, _), outcome in zip(group, outcomes, strict=True):
            self._deliver(job, outcome)

    def _deliver(self, job: _PipelinedJob, outcome: SegmentAudio | Cancelled) -> None:
        """A decoded segment goes out (in order: a job decodes one segment at a time); the last completes it."""
        if job.ended:
            return
        if isinstance(outcome, Cancelled):
            self._end(job, lambda j: j.context.cancelled(str(outcome)))
            return
        self._accept(job, outcome)
        if job.done:
            job.context.progress(0.9, "finishing")
            result = self._result(job.context.job, job.pieces, job.started)
            self._end(job, lambda j: j.context.complete(result))
