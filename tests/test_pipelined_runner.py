"""Pipelined stages (`--decode_workers`): the runner thread generates codes while a pool decodes.

On the real tiny checkpoint through the real queue: each job sounds as it would alone and gets its
parts in order, a streaming job's first chunk leaves while a longer neighbour is still generating,
a job cancelled in the pool ends there, and a decode that fails ends only its own job.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from serving.engine import LoadedEngine
from serving.jobs import Job, JobContext, JobState
from serving.node import Node, NodeSettings
from serving.pipelined import PipelinedRunner
from serving.request import parse_request
from tests.conftest import EXAMPLES

WAVE_ATOL = 2e-3 * 32767  # a segment decoded in a group: float rounding (tests/test_decode_batching.py)
BASE = {"spk_audio": "examples/voice_01.wav", "max_mel_tokens": 50, "max_text_tokens_per_segment": 20}
REQUESTS = [
    {"text": "The first sentence is here, with more words in it. And this is the second one, also long.", "seed": 3},
    {"text": "你好，今天天气很好。", "spk_audio": "examples/voice_02.wav", "seed": 4, "max_mel_tokens": 50,
     "emo_mode": "vector", "emo_vector": [0, 0.7, 0, 0, 0, 0, 0, 0]},
    {"text": "A third voice speaks.", "spk_audio": "examples/voice_05.wav", "seed": 5, "num_beams": 1,
     "emo_mode": "audio", "emo_audio": "examples/emo_sad.wav", "emo_alpha": 0.8},
    {"text": "Short one.", "seed": 6, "max_mel_tokens": 50},
]  # fmt: skip


def _node(engine, demo_dir: Path, outputs: Path, **settings) -> Node:
    options = {"max_batch": 4, "batch_decode": "on", "decode_workers": "2", **settings}
    node = Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), NodeSettings(outputs, (EXAMPLES,), **options))
    assert isinstance(node.queue._runner, PipelinedRunner) == (options["decode_workers"] != "0")
    return node


def _submit(node: Node, payload: dict) -> Job:
    return node.submit(parse_request({**BASE, **payload}), origin="test")


def _finish(node: Node, jobs: list[Job]) -> None:
    for job in jobs:
        node.queue.wait_finished(job, timeout=300)


def _same_audio(mine: Job, reference: Job) -> None:
    assert mine.state is JobState.COMPLETED, mine.error
    assert [p.index for p in mine.parts] == [p.index for p in reference.parts]
    assert mine.result.audio.shape == reference.result.audio.shape
    assert np.abs(mine.result.audio.astype(np.int32) - reference.result.audio.astype(np.int32)).max() <= WAVE_ATOL


@pytest.fixture(scope="module")
def alone(engine, demo_dir, tmp_path_factory) -> list[Job]:
    """Each request alone on today's runner: one job at a time, both stages on one thread."""
    node = _node(engine, demo_dir, tmp_path_factory.mktemp("alone"), max_batch=1, decode_workers="0")
    try:
        jobs = [_submit(node, payload) for payload in REQUESTS]
        _finish(node, jobs)
    finally:
        node.close()
    return jobs


def test_jobs_decoded_in_the_pool_sound_as_alone_with_their_parts_in_order(
    engine, demo_dir, tmp_path, alone, monkeypatch
):
    threads: set[str] = set()
    real_decode = engine.decode_segments

    def recording_decode(segments):
        threads.add(threading.current_thread().name)
        return real_decode(segments)

    monkeypatch.setattr(engine, "decode_segments", recording_decode)
    node = _node(engine, demo_dir, tmp_path)
    try:
        jobs = [_submit(node, payload) for payload in REQUESTS]
        _finish(node, jobs)
    finally:
        node.close()
    assert threads and all(name.startswith("decode-") for name in threads), threads
    assert len(alone[0].parts) > 1  # the multi-segment job
    for mine, reference in zip(jobs, alone, strict=True):
        _same_audio(mine, reference)
        assert [p.index for p in mine.parts] == list(range(mine.parts[0].count))


def test_a_streaming_job_gets_its_first_chunk_while_a_longer_neighbour_still_generates(
    engine, demo_dir, tmp_path, monkeypatch
):
    """Issue 21's leftover: the streaming job's first segment is decoded as soon as its own codes are
    done, not when the longest segment of its GPT round is. The long job's GPT waits (between its
    decode steps) for the streaming job's first chunk, so only the order of events is asserted."""
    events: list[str] = []
    jobs: dict[str, Job] = {}
    first_chunk = threading.Event()
    real_stop = JobContext.should_stop

    def gated_stop(context: JobContext) -> bool:
        if context.job is jobs.get("long") and not first_chunk.is_set():
            first_chunk.wait(0.02)  # a moment for the pool at each of the long job's steps
            if jobs["streaming"].parts:
                first_chunk.set()
                events.append("streaming job: first chunk")
        return real_stop(context)

    real_round = engine.generate_round

    def recording_round(work, on_ready=None):
        def ready(position, outcome):
            if work[position][0].segments[0].text.lower().startswith("a long"):
                events.append("long job: codes done")
            return on_ready(position, outcome) if on_ready else None

        return real_round(work, ready)

    # The first job's planning waits until both others are queued: they then join one GPT round.
    both_queued, real_plan = threading.Event(), engine.plan

    def plan_once_both_wait(*args, **kwargs):
        assert both_queued.wait(60)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(JobContext, "should_stop", gated_stop)
    monkeypatch.setattr(engine, "generate_round", recording_round)
    monkeypatch.setattr(engine, "plan", plan_once_both_wait)
    node = _node(engine, demo_dir, tmp_path, batch_decode="off")
    try:
        first = _submit(node, {"text": "First.", "seed": 1, "max_mel_tokens": 50})
        long_text = {"text": "A long sentence that takes many codes to say.", "max_mel_tokens": 500, "num_beams": 1}
        streaming = {"text": "Hi. Then a second sentence follows here.", "streaming": True, "num_beams": 1}
        jobs["streaming"] = _submit(node, {**streaming, "seed": 1, "max_mel_tokens": 50})
        jobs["long"] = _submit(node, {**long_text, "seed": 2})
        both_queued.set()
        _finish(node, [first, *jobs.values()])
    finally:
        node.close()
    assert all(job.state is JobState.COMPLETED for job in jobs.values()), [j.error for j in jobs.values()]
    assert events[:2] == ["streaming job: first chunk", "long job: codes done"], events
    parts = jobs["streaming"].parts
    assert [(p.index, p.chunk) for p in parts] == sorted((p.index, p.chunk) for p in parts)


def test_a_job_cancelled_while_queued_or_decoding_in_the_pool_ends_and_the_others_sound_as_alone(
    engine, demo_dir, tmp_path, alone, monkeypatch
):
    """One decode thread: the first decode waits at a gate while the victim's segment is queued; the
    victim is cancelled there. The second victim is cancelled while its own decode runs."""
    gate, decoding = threading.Event(), threading.Event()
    decoded_plans: list[str] = []
    real_decode = engine.decode_segments
    victims: dict[str, Job] = {}

    def gated_decode(segments):
        texts = [s.plan.segments[s.index].text.lower() for s in segments]
        decoded_plans.extend(texts)
        if not gate.is_set():
            decoding.set()
            assert gate.wait(60)
        if any("running" in t for t in texts):
            node.queue.cancel(victims["running"].id)
        return real_decode(segments)

    monkeypatch.setattr(engine, "decode_segments", gated_decode)
    node = _node(engine, demo_dir, tmp_path, decode_workers="1", batch_decode="off")
    try:
        first = _submit(node, REQUESTS[3])
        assert decoding.wait(120)  # the only decode thread is busy with the first job's segment
        victims["queued"] = _submit(node, {"text": "Cancel me while queued.", "seed": 8, "max_mel_tokens": 50})
        victims["running"] = _submit(node, {"text": "Cancel me while running.", "seed": 9, "max_mel_tokens": 50})
        _wait_ready(node, victims["queued"])
        node.queue.cancel(victims["queued"].id)
        gate.set()
        after = _submit(node, REQUESTS[2])
        _finish(node, [first, *victims.values(), after])
    finally:
        node.close()
    assert victims["queued"].state is JobState.CANCELLED, victims["queued"].error
    assert victims["running"].state is JobState.CANCELLED, victims["running"].error
    assert "cancel me while queued." not in decoded_plans  # no decode was spent on it
    assert "diffusion step" in victims["running"].error  # it left between the steps of its decode
    _same_audio(first, alone[3])
    _same_audio(after, alone[2])


def _wait_ready(node: Node, job: Job) -> None:
    """Until the job's first segment waits in the pool (its codes handed over)."""
    runner: PipelinedRunner = node.queue._runner  # type: ignore[assignment]
    done = threading.Event()
    for _ in range(1200):
        with runner._cond:
            if any(j.context.job is job and j.ready for j in runner._jobs):
                done.set()
                break
            runner._cond.wait(0.1)
    assert done.is_set(), "its codes never reached the pool"


def test_a_failing_decode_ends_only_its_job_and_the_node_serves_the_next(
    engine, demo_dir, tmp_path, alone, monkeypatch
):
    real_decode = engine.decode_segments
    sizes: list[int] = []

    def failing_decode(segments):
        sizes.append(len(segments))
        if len(segments) > 1:  # as a too-large batch on a GPU: each is retried alone
            raise MemoryError("out of memory")
        if any("broken" in s.plan.segments[s.index].text.lower() for s in segments):
            raise RuntimeError("the vocoder broke")
        return real_decode(segments)

    monkeypatch.setattr(engine, "decode_segments", failing_decode)
    node = _node(engine, demo_dir, tmp_path)
    try:
        broken = _submit(node, {"text": "This one is broken.", "seed": 7, "max_mel_tokens": 50})
        good = [_submit(node, payload) for payload in REQUESTS[1:]]
        _finish(node, [broken, *good])
        later = _submit(node, REQUESTS[0])
        _finish(node, [later])
    finally:
        node.close()
    assert broken.state is JobState.FAILED and "the vocoder broke" in broken.error
    for mine, reference in zip([*good, later], [*alone[1:], alone[0]], strict=True):
        _same_audio(mine, reference)


def test_decode_workers_flag_env_twin_and_rule(monkeypatch):
    import argparse

    import torch

    from serving.decode_batching import CPU_MAX_ROUND, Pipelining, cpu_cores, pipelining_for
    from serving.options import add_node_flags, node_settings

    def settings(*argv: str) -> NodeSettings:
        parser = argparse.ArgumentParser()
        add_node_flags(parser)
        return node_settings(parser.parse_args(list(argv)))

    assert settings().decode_workers == "auto"
    assert settings("--decode_workers", "3").decode_workers == "3"
    monkeypatch.setenv("INDEXTTS_DECODE_WORKERS", "0")
    assert settings().decode_workers == "0"

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    # the CPU takes small GPT rounds (a round's cost grows with its jobs there), CUDA every job
    assert pipelining_for("auto", cpu) == Pipelining(cpu_cores(), max_round=CPU_MAX_ROUND)
    assert pipelining_for("auto", cuda) == Pipelining(1)
    assert pipelining_for("0", cpu) is None and pipelining_for("2", cuda) == Pipelining(2)
    assert pipelining_for("2", cpu) == Pipelining(2, max_round=CPU_MAX_ROUND)
    for bad in ("two", "-1"):
        with pytest.raises(ValueError, match="decode_workers"):
            pipelining_for(bad, cpu)


def test_a_job_a_pool_thread_is_completing_is_not_ended_as_unfinished(engine, demo_dir, tmp_path, monkeypatch):
    """The pool thread that decodes a job's last segment completes it; meanwhile the runner thread
    finds no work left. The batch must not end (and the queue call the job unfinished) before the
    job's result is in."""
    real_complete = JobContext.complete

    def slow_complete(self, result):
        time.sleep(0.5)  # the runner thread looks for work many times meanwhile
        real_complete(self, result)

    monkeypatch.setattr(JobContext, "complete", slow_complete)
    node = _node(engine, demo_dir, tmp_path, max_batch=2)
    try:
        jobs = [_submit(node, payload) for payload in (REQUESTS[3], REQUESTS[2])]
        _finish(node, jobs)
        assert [job.state for job in jobs] == [JobState.COMPLETED] * 2, [job.error for job in jobs]
    finally:
        node.close()
