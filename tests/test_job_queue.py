"""The job queue's contract: one at a time in arrival order, bounded, cancellable, forgetful on time.

These tests drive the queue with a runner they control (an event per job), so they can hold a job
"running" while they look; the real engine runs behind the same queue in test_serving_synthesis.py.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from serving.jobs import Job, JobContext, JobFailure, JobQueue, JobResult, JobState, PartialAudio, QueueFullError


class GatedRunner:
    """Runs job payloads of the form {"name": str, "fail": str | None}; each waits for its gate."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def gate(self, name: str) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(name, threading.Event())

    def __call__(self, job: Job, context: JobContext) -> JobResult:
        name = job.payload["name"]
        self.order.append(name)
        context.progress(0.5, "working")
        context.emit(PartialAudio(0, 1, name, 100, np.ones(10, dtype=np.int16)))
        assert self.gate(name).wait(10), f"{name} was never released"
        if job.payload.get("fail") == "expected":
            raise JobFailure("the prompt is not audio", "invalid")
        if job.payload.get("fail") == "crash":
            raise RuntimeError("something broke")
        return JobResult(100, np.zeros(200, dtype=np.int16), None, processing_time=1.0)


@pytest.fixture
def runner() -> GatedRunner:
    return GatedRunner()


@pytest.fixture
def queue(runner: GatedRunner):
    q = JobQueue(runner, max_pending=3, keep_finished=300.0)
    yield q
    for gate in runner.gates.values():
        gate.set()
    q.close()


def _wait_state(queue: JobQueue, job: Job, state: JobState) -> None:
    deadline = time.monotonic() + 10
    while job.state is not state:
        assert time.monotonic() < deadline, f"job stayed {job.state}, expected {state}"
        queue.wait(job, job.version, timeout=0.5)


def test_jobs_run_one_at_a_time_in_arrival_order(queue: JobQueue, runner: GatedRunner):
    jobs = [queue.submit({"name": name}, "test") for name in "abc"]
    _wait_state(queue, jobs[0], JobState.RUNNING)
    assert [j.state for j in jobs] == [JobState.RUNNING, JobState.PENDING, JobState.PENDING]
    assert [queue.position(j) for j in jobs] == [0, 2, 3]
    for name in "cba":  # release out of order: the queue still runs a, then b, then c
        runner.gate(name).set()
    for job in jobs:
        queue.wait_finished(job, timeout=10)
    assert runner.order == ["a", "b", "c"]
    assert all(j.state is JobState.COMPLETED for j in jobs)
    assert jobs[0].finished_at <= jobs[1].started_at and jobs[1].finished_at <= jobs[2].started_at
    assert all(j.created_at <= j.started_at <= j.finished_at for j in jobs)


def test_progress_and_parts_reach_a_waiting_client(queue: JobQueue, runner: GatedRunner):
    job = queue.submit({"name": "a"}, "test")
    _wait_state(queue, job, JobState.RUNNING)
    queue.wait(job, -1, timeout=5)
    deadline = time.monotonic() + 5
    while job.stage != "working" and time.monotonic() < deadline:
        queue.wait(job, job.version, timeout=0.5)
    assert (job.progress, job.stage) == (0.5, "working")
    runner.gate("a").set()
    parts = list(queue.stream(job, timeout=10))
    assert [p.text for p in parts] == ["a"]
    assert job.state is JobState.COMPLETED and job.progress == 1.0


def test_a_full_queue_refuses_with_a_busy_message(queue: JobQueue, runner: GatedRunner):
    first = queue.submit({"name": "running"}, "test")
    _wait_state(queue, first, JobState.RUNNING)
    for name in "xyz":
        queue.submit({"name": name}, "test")
    with pytest.raises(QueueFullError, match=r"busy: 3 jobs are already waiting \(limit 3\)"):
        queue.submit({"name": "one too many"}, "test")
    runner.gate("running").set()
    queue.wait_finished(first, timeout=10)
    deadline = time.monotonic() + 5
    while queue.stats().pending >= 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    queue.submit({"name": "fits again"}, "test")  # a place freed up


def test_cancel_ends_a_waiting_job_at_once_and_a_running_one_through_its_runner(queue: JobQueue, runner: GatedRunner):
    running = queue.submit({"name": "a"}, "test")
    _wait_state(queue, running, JobState.RUNNING)
    waiting = queue.submit({"name": "b"}, "test")
    after = queue.submit({"name": "c"}, "test")
    assert queue.cancel(waiting.id) is True
    assert waiting.state is JobState.CANCELLED and waiting.error_kind == "cancelled"
    assert queue.position(after) == 2
    assert queue.cancel(running.id, "the client left") is True
    assert running.state is JobState.RUNNING  # asked to stop; this runner only stops when released
    runner.gate("a").set()
    runner.gate("c").set()
    queue.wait_finished(after, timeout=10)
    assert runner.order == ["a", "c"]
    # Its runner's result came too late: nobody wants it any more.
    assert running.state is JobState.CANCELLED and running.result is None
    assert running.error.startswith("the client left while running") and running.cancel_delay is not None
    assert after.state is JobState.COMPLETED and queue.stats().cancelled == 2
    assert queue.cancel(running.id) is False  # finished: nothing to cancel


def test_a_failing_job_fails_alone_and_the_worker_carries_on(queue: JobQueue, runner: GatedRunner):
    bad = queue.submit({"name": "bad", "fail": "expected"}, "test")
    crash = queue.submit({"name": "crash", "fail": "crash"}, "test")
    good = queue.submit({"name": "good"}, "test")
    for name in ("bad", "crash", "good"):
        runner.gate(name).set()
    queue.wait_finished(good, timeout=10)
    assert (bad.state, bad.error, bad.error_kind) == (JobState.FAILED, "the prompt is not audio", "invalid")
    assert crash.state is JobState.FAILED and crash.error_kind == "internal"
    assert "RuntimeError: something broke" in crash.error
    assert good.state is JobState.COMPLETED
    stats = queue.stats()
    assert (stats.completed, stats.failed) == (1, 2)
    assert stats.mean_processing_time == 1.0 and stats.mean_rtf == 0.5  # 1 s for 2 s of audio


def test_finished_jobs_are_forgotten_after_the_retention_time(runner: GatedRunner):
    queue = JobQueue(runner, keep_finished=0.3)
    try:
        runner.gate("a").set()
        job = queue.submit({"name": "a"}, "test")
        queue.wait_finished(job, timeout=10)
        assert queue.get(job.id) is job
        time.sleep(0.5)
        assert queue.get(job.id) is None
    finally:
        queue.close()


def test_closing_cancels_waiting_jobs_and_refuses_new_ones(runner: GatedRunner):
    queue = JobQueue(runner)
    running = queue.submit({"name": "a"}, "test")
    _wait_state(queue, running, JobState.RUNNING)
    waiting = queue.submit({"name": "b"}, "test")
    runner.gate("a").set()
    queue.close()
    assert waiting.state is JobState.CANCELLED
    assert running.state is JobState.COMPLETED
    with pytest.raises(QueueFullError, match="shutting down"):
        queue.submit({"name": "c"}, "test")
