"""Cancelled jobs stop, on the real tiny pipeline: through the queue, inside a running batch (its
neighbours sound exactly as without it), and from every front door whose client goes away — an
abandoned HTTP request or stream, a closed WebSocket. Each frees the worker within `CANCEL_BOUND`.

A long job is the tiny demo checkpoint with `max_mel_tokens=1500`: it never emits its stop code, so
uncancelled its one segment takes minutes on this CPU; cancellation is what ends it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from websockets.asyncio.client import connect

from serving.jobs import Job, JobState
from serving.node import Node
from serving.request import parse_request
from serving.stream_server import StreamServer
from tests.api_servers import http_server, make_node
from tests.conftest import EXAMPLES

# Seconds from "cancel" to the job's end (its place and the worker free). bench/cancel_bench.py
# measures the worst case on this CPU (one decode step, or one segment's s2mel + vocoder when the
# request arrives just as its decoding starts); uncancelled, a long job runs for minutes.
CANCEL_BOUND = 5.0
LONG = {"text": "This sentence is never finished.", "max_mel_tokens": 1500, "num_beams": 1, "seed": 7}
VOICE_HEX = (EXAMPLES / "voice_01.wav").read_bytes().hex()


def _wait(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _only_job(node: Node, origin: str) -> Job:
    jobs = [job for job in node.queue.jobs() if job.origin == origin]
    assert len(jobs) == 1, jobs
    return jobs[0]


def _assert_cancelled_in_time(node: Node, job: Job, left_at: float) -> None:
    """The job ended as cancelled within the bound of the moment its client left (wall clock)."""
    node.queue.wait_finished(job, timeout=CANCEL_BOUND + 30)
    assert job.state is JobState.CANCELLED, (job.state, job.error)
    assert job.error_kind == "cancelled" and job.started_at is not None
    assert job.finished_at - left_at < CANCEL_BOUND, job.finished_at - left_at
    assert job.result is None


@pytest.fixture()
def node(engine, demo_dir: Path, tmp_path: Path):
    node = make_node(engine, demo_dir, tmp_path, max_batch=4)
    yield node
    node.close()


# --- the queue and the batch ---------------------------------------------------------------------


def test_a_running_and_a_waiting_job_are_cancelled_and_counted(engine, demo_dir: Path, tmp_path: Path):
    node = make_node(engine, demo_dir, tmp_path, max_batch=1)
    try:
        base = {"spk_audio": "examples/voice_01.wav"}
        running = node.submit(parse_request({**base, **LONG}), "test")
        waiting = node.submit(parse_request({**base, **LONG}), "test")
        _wait(lambda: running.state is JobState.RUNNING and running.stage.startswith("segment"), "the job runs")
        assert node.queue.cancel(waiting.id, "test") and waiting.state is JobState.CANCELLED
        assert waiting.started_at is None  # it never ran
        time.sleep(1.0)  # well inside its GPT decoding
        asked = time.time()
        assert node.queue.cancel(running.id, "test")
        _assert_cancelled_in_time(node, running, asked)
        assert running.cancel_delay is not None and running.cancel_delay < CANCEL_BOUND
        assert not node.queue.cancel(running.id)  # finished: nothing left to cancel
        stats = node.queue.stats()
        assert (stats.cancelled, stats.running, stats.pending, stats.completed) == (2, 0, 0, 0)
    finally:
        node.close()


REQUESTS = [
    {"text": "The first sentence is here. And this is the second one.", "seed": 3, "max_mel_tokens": 60},
    {"text": "你好，今天天气很好。", "spk_audio": "examples/voice_02.wav", "seed": 4, "max_mel_tokens": 50},
]


def _submit_all(node: Node, payloads: list[dict]) -> list[Job]:
    base = {"spk_audio": "examples/voice_01.wav", "max_text_tokens_per_segment": 20, "num_beams": 1}
    return [node.submit(parse_request({**base, **payload}), origin="test") for payload in payloads]


def test_a_job_cancelled_inside_a_running_batch_leaves_its_neighbours_unchanged(engine, demo_dir, tmp_path):
    alone_node = make_node(engine, demo_dir, tmp_path / "alone", max_batch=1)
    try:
        alone = _submit_all(alone_node, REQUESTS)
        for job in alone:
            alone_node.queue.wait_finished(job, timeout=300)
    finally:
        alone_node.close()
    node = make_node(engine, demo_dir, tmp_path / "batch", max_batch=3)
    try:
        # The first job may start alone (the worker wakes at the first submit); the long one and the
        # second join it at the next round, and the three share decode steps until it is cancelled.
        *others, long = _submit_all(node, [*REQUESTS, LONG])
        _wait(lambda: long.stage.startswith("segment"), "the long job decodes")
        time.sleep(1.0)
        asked = time.time()
        node.queue.cancel(long.id, "test")
        _assert_cancelled_in_time(node, long, asked)
        for job in others:
            node.queue.wait_finished(job, timeout=300)
    finally:
        node.close()
    beside = [job for job in others if job.started_at < long.finished_at and job.finished_at > long.started_at]
    assert beside, "no neighbour ran in the cancelled job's batch"
    for mine, reference in zip(others, alone, strict=True):
        assert mine.state is JobState.COMPLETED, mine.error
        assert [p.index for p in mine.parts] == [p.index for p in reference.parts]
        assert mine.result.audio.shape == reference.result.audio.shape
        difference = np.abs(mine.result.audio.astype(np.int32) - reference.result.audio.astype(np.int32))
        assert difference.max() <= 1  # as any batched job: the batched products may round the last bit


# --- front doors whose client goes away -----------------------------------------------------------


def _metric(base_url: str, line_start: str) -> float:
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
    return values[0] if values else 0.0


def test_an_abandoned_rest_request_cancels_its_running_job(node: Node):
    with http_server(node) as (url, _):
        body = {"spk_audio": VOICE_HEX, **LONG}
        with pytest.raises(requests.ReadTimeout):
            requests.post(f"{url}/tts", json=body, timeout=(5, 3))  # the client gives up and hangs up
        left_at = time.time()
        job = _only_job(node, "rest")
        assert job.started_at is not None and job.started_at < left_at  # it was running, not waiting
        _assert_cancelled_in_time(node, job, left_at)
        assert _metric(url, 'indextts_jobs_total{origin="rest",state="cancelled"}') == 1.0
        assert _metric(url, 'indextts_requests_total{front_door="rest",outcome="cancelled"}') == 1.0


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_an_abandoned_openai_stream_cancels_its_job(node: Node, stream_format: str):
    with http_server(node) as (url, _):
        body = {"input": LONG["text"], "voice": "alloy", "response_format": "wav", "stream_format": stream_format}
        body |= {key: value for key, value in LONG.items() if key != "text"}
        response = requests.post(f"{url}/v1/audio/speech", json=body, stream=True, timeout=30)
        assert response.status_code == 200
        job = _only_job(node, "openai")
        _wait(lambda: job.state is JobState.RUNNING, "the job starts")
        time.sleep(1.0)
        response.close()  # the listener leaves mid-stream
        left_at = time.time()
        _assert_cancelled_in_time(node, job, left_at)
        assert _metric(url, 'indextts_jobs_total{origin="openai",state="cancelled"}') == 1.0
        _wait(lambda: _metric(url, 'indextts_requests_total{front_door="openai",outcome="cancelled"}') == 1.0,
              "the abandoned stream is counted as a cancelled request", timeout=10)  # fmt: skip


def test_an_abandoned_openai_request_cancels_its_job(node: Node):
    with http_server(node) as (url, _):
        body = {"input": LONG["text"], "voice": "alloy", "response_format": "wav"}
        body |= {key: value for key, value in LONG.items() if key != "text"}
        with pytest.raises(requests.ReadTimeout):
            requests.post(f"{url}/v1/audio/speech", json=body, timeout=(5, 3))
        left_at = time.time()
        _assert_cancelled_in_time(node, _only_job(node, "openai"), left_at)


def test_a_closed_websocket_cancels_its_running_task(node: Node):
    server = StreamServer(node, "127.0.0.1", 0)
    server.start()

    async def go() -> tuple[str, float]:
        async with connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.recv()  # welcome
            request = {"type": "tts_stream", "prompt_audio": str(EXAMPLES / "voice_01.wav"), **LONG}
            await ws.send(json.dumps(request))
            while (data := json.loads(await ws.recv()))["type"] != "start":
                task_id = data.get("task_id", None)
            await asyncio.sleep(1.0)
        return task_id, time.time()  # the connection is closed here

    try:
        task_id, left_at = asyncio.run(asyncio.wait_for(go(), 120))
        _assert_cancelled_in_time(node, node.queue.get(task_id), left_at)
    finally:
        server.close()
