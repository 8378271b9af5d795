"""Jobs run side by side: the queue admits waiting jobs into a running batch, each job ends alone,
and on the real pipeline a batched job sounds as it would have alone."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from serving.engine import LoadedEngine
from serving.jobs import Admit, Job, JobContext, JobFailure, JobQueue, JobResult, JobState
from serving.node import Node, NodeSettings
from serving.request import parse_request
from serving.synthesis import prepare
from tests.conftest import EXAMPLES


def _result() -> JobResult:
    return JobResult(100, np.zeros(100, dtype=np.int16), None, processing_time=0.1)


class SteppedBatchRunner:
    """Each job needs `payload["rounds"]` rounds; a round waits for the test's `step` event."""

    def __init__(self) -> None:
        self.step = threading.Semaphore(0)
        self.batches: list[list[str]] = []  # names running in each round

    def run_batch(self, admit: Admit, max_batch: int) -> None:
        running: dict[str, tuple[JobContext, int]] = {}
        while True:
            for context in admit(max_batch - len(running)):
                running[context.job.payload["name"]] = (context, context.job.payload["rounds"])
            if not running:
                return
            assert self.step.acquire(timeout=10), "the test never released a round"
            self.batches.append(sorted(running))
            for name, (context, left) in list(running.items()):
                if context.job.payload.get("fail"):
                    context.fail(JobFailure(f"{name} is broken"))
                    del running[name]
                elif context.job.payload.get("forget") and left == 1:
                    del running[name]  # never reports: the queue must fail it
                elif left == 1:
                    context.complete(_result())
                    del running[name]
                else:
                    running[name] = (context, left - 1)


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_waiting_jobs_join_a_running_batch_as_places_free_up():
    runner = SteppedBatchRunner()
    queue = JobQueue(runner, max_batch=2)
    try:
        a = queue.submit({"name": "a", "rounds": 1}, "test")
        b = queue.submit({"name": "b", "rounds": 3}, "test")
        c = queue.submit({"name": "c", "rounds": 1}, "test")
        _wait(lambda: a.state is JobState.RUNNING and b.state is JobState.RUNNING, "a and b start together")
        assert c.state is JobState.PENDING and queue.position(c) == 3 and queue.stats().running == 2
        runner.step.release()  # round 1: a finishes, c takes its place while b is still running
        _wait(lambda: c.state is JobState.RUNNING, "c joins the batch")
        assert a.state is JobState.COMPLETED and b.state is JobState.RUNNING
        for _ in range(2):
            runner.step.release()
        queue.wait_finished(b, timeout=10)
        assert runner.batches == [["a", "b"], ["b", "c"], ["b"]]
        assert c.finished_at < b.finished_at  # the short job did not wait for the long one
    finally:
        queue.close()


def test_a_failing_or_forgotten_job_ends_alone_and_the_batch_goes_on():
    runner = SteppedBatchRunner()
    queue = JobQueue(runner, max_batch=3)
    try:
        jobs = [
            queue.submit({"name": "good", "rounds": 2}, "test"),
            queue.submit({"name": "broken", "rounds": 2, "fail": True}, "test"),
            queue.submit({"name": "forgotten", "rounds": 1, "forget": True}, "test"),
        ]
        for _ in range(2):
            runner.step.release()
        for job in jobs:
            queue.wait_finished(job, timeout=10)
        good, broken, forgotten = jobs
        assert good.state is JobState.COMPLETED
        assert broken.state is JobState.FAILED and broken.error == "broken is broken" and broken.error_kind == "invalid"
        assert forgotten.state is JobState.FAILED and "without finishing" in forgotten.error
        assert queue.stats().completed == 1 and queue.stats().failed == 2
    finally:
        queue.close()


def test_a_plain_runner_keeps_jobs_strictly_one_at_a_time():
    running, overlap = [], []

    def runner(job: Job, context: JobContext) -> JobResult:
        running.append(job.id)
        overlap.append(len(running))
        time.sleep(0.05)
        running.remove(job.id)
        return _result()

    queue = JobQueue(runner, max_batch=8)
    try:
        jobs = [queue.submit({}, "test") for _ in range(3)]
        for job in jobs:
            queue.wait_finished(job, timeout=10)
        assert queue.max_batch == 1 and overlap == [1, 1, 1]
    finally:
        queue.close()


# --- the real pipeline ---------------------------------------------------------------------------

REQUESTS = [
    {"text": "The first sentence is here. And this is the second one.", "seed": 3, "max_mel_tokens": 60},
    {"text": "你好，今天天气很好。", "spk_audio": "examples/voice_02.wav", "seed": 4, "max_mel_tokens": 50},
    {"text": "A third voice speaks.", "spk_audio": "examples/voice_05.wav", "num_beams": 1, "seed": 5},
]


def _node(engine, demo_dir: Path, outputs: Path, max_batch: int) -> Node:
    settings = NodeSettings(outputs_dir=outputs, allowed_dirs=(EXAMPLES,), max_batch=max_batch)
    return Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), settings)


def _run_all(node: Node, payloads: list[dict]) -> list[Job]:
    base = {"spk_audio": "examples/voice_01.wav", "max_mel_tokens": 55, "max_text_tokens_per_segment": 20}
    jobs = [node.submit(parse_request({**base, **payload}), origin="test") for payload in payloads]
    for job in jobs:
        node.queue.wait_finished(job, timeout=300)
    return jobs


@pytest.fixture(scope="module")
def alone(engine, demo_dir, tmp_path_factory) -> list[Job]:
    node = _node(engine, demo_dir, tmp_path_factory.mktemp("alone"), max_batch=1)
    try:
        return _run_all(node, REQUESTS)
    finally:
        node.close()


def test_batched_jobs_run_together_and_sound_as_they_would_alone(engine, demo_dir, tmp_path, alone):
    node = _node(engine, demo_dir, tmp_path, max_batch=3)
    try:
        batched = _run_all(node, REQUESTS)
    finally:
        node.close()
    assert all(job.state is JobState.COMPLETED for job in batched + alone), [j.error for j in batched + alone]
    # Side by side: the first job may start alone (the worker wakes at the first submit), the others
    # join it or each other at the next round.
    overlapping = [
        (a, b) for a in batched for b in batched if a is not b and a.started_at < b.started_at < a.finished_at
    ]
    assert overlapping
    for mine, reference in zip(batched, alone, strict=True):
        assert [p.index for p in mine.parts] == [p.index for p in reference.parts]
        assert mine.result.audio.shape == reference.result.audio.shape
        difference = np.abs(mine.result.audio.astype(np.int32) - reference.result.audio.astype(np.int32))
        assert difference.max() <= 1  # the batched products may round the last bit differently
        assert mine.result.path.is_file()


def test_a_request_the_engine_refuses_fails_alone_in_its_batch(engine, demo_dir, tmp_path, alone):
    node = _node(engine, demo_dir, tmp_path, max_batch=3)
    base = {"spk_audio": "examples/voice_01.wav", "max_mel_tokens": 55, "max_text_tokens_per_segment": 20}
    try:
        good = node.submit(parse_request({**base, **REQUESTS[0]}), origin="test")
        # Past validation, but nothing to say once normalised: the engine refuses it while planning.
        prepared = prepare(parse_request({**base, **REQUESTS[2]}), node.policy)
        silent = replace(prepared, request=prepared.request.model_copy(update={"text": "   "}))
        bad = node.queue.submit(silent, origin="test")
        other = node.submit(parse_request({**base, **REQUESTS[2]}), origin="test")
        for job in (good, bad, other):
            node.queue.wait_finished(job, timeout=300)
    finally:
        node.close()
    assert bad.state is JobState.FAILED and bad.error_kind == "invalid" and "text is empty" in bad.error
    assert good.state is JobState.COMPLETED and other.state is JobState.COMPLETED
    assert np.abs(good.result.audio.astype(np.int32) - alone[0].result.audio.astype(np.int32)).max() <= 1


def test_a_batch_that_runs_out_of_memory_is_retried_job_by_job(engine, demo_dir, tmp_path, alone, monkeypatch):
    import torch

    real_round, real_generate = engine.synthesize_round, engine.generate_round
    batch_sizes = []

    def round_that_fits_one(work, decode_groups=None):
        batch_sizes.append(len(work))
        if len(work) > 1:  # what a too-large batch does on a GPU
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_round(work, decode_groups)

    def gpt_round_that_fits_one(work, on_ready=None):  # the pipelined runner's GPT stage
        batch_sizes.append(len(work))
        if len(work) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_generate(work, on_ready)

    monkeypatch.setattr(engine, "synthesize_round", round_that_fits_one)
    monkeypatch.setattr(engine, "generate_round", gpt_round_that_fits_one)
    node = _node(engine, demo_dir, tmp_path, max_batch=3)
    try:
        jobs = _run_all(node, REQUESTS)
    finally:
        node.close()
    assert any(size > 1 for size in batch_sizes)
    assert all(job.state is JobState.COMPLETED for job in jobs), [job.error for job in jobs]
    for mine, reference in zip(jobs, alone, strict=True):
        assert np.abs(mine.result.audio.astype(np.int32) - reference.result.audio.astype(np.int32)).max() <= 1


def test_synthesis_runs_on_the_worker_thread_with_the_process_torch_threads(demo_dir, cache_dir, tmp_path):
    """The model loads on one CPU thread; the queue's worker thread gets the process's thread count."""
    import torch

    from serving.engine import EngineOptions, load_engine

    before = torch.get_num_threads()
    loaded = load_engine(EngineOptions(model_dir=demo_dir, cache_dir=cache_dir, device="cpu"))
    assert torch.get_num_threads() == before and loaded.cpu_threads == before
    seen = []
    queue = JobQueue(
        lambda job, context: seen.append(torch.get_num_threads()) or _result(),
        on_worker_start=lambda: (torch.set_num_threads(1), loaded.start_worker_thread()),
    )
    try:
        queue.wait_finished(queue.submit({}, "test"), timeout=10)
    finally:
        queue.close()
    assert seen == [before]
