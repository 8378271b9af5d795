"""Prometheus metrics for one node, shared by every front door.

Front doors count their requests with `count_request(front_door, outcome)`; job latency, RTF and
audio produced are observed from the queue as jobs finish; queue depth and the space connection
are read at scrape time, so they are never stale.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from serving.jobs import Job, JobState
from serving.node import Node

FRONT_DOORS = ("webui", "rest", "openai", "stream", "space", "celery")
OUTCOMES = ("ok", "invalid", "unauthorized", "busy", "failed", "cancelled")
SPACE_STATES = ("local", "connecting", "connected", "error", "disconnected")
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
RTF_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10)


class _LiveState:
    """Gauges computed from the node when Prometheus scrapes."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        stats = self._node.queue.stats()
        depth = GaugeMetricFamily("indextts_queue_depth", "Jobs waiting or running", labels=["state"])
        depth.add_metric(["pending"], stats.pending)
        depth.add_metric(["running"], stats.running)
        yield depth
        space = self._node.status.snapshot()
        state = GaugeMetricFamily(
            "indextts_space_connection_state", "1 for the space client's current state", labels=["state"]
        )
        for name in SPACE_STATES:
            state.add_metric([name], float(space.state == name))
        yield state


class NodeMetrics:
    """The node's metrics in their own registry (tests and several apps in one process stay apart)."""

    def __init__(self, node: Node) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "indextts_requests",
            "Requests per front door and outcome",
            ["front_door", "outcome"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "indextts_jobs", "Finished jobs per origin and final state", ["origin", "state"], registry=self.registry
        )
        self.latency = Histogram(
            "indextts_job_latency_seconds",
            "From queueing to the end of synthesis",
            ["origin"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rtf = Histogram(
            "indextts_job_rtf", "Processing time / audio duration", buckets=RTF_BUCKETS, registry=self.registry
        )
        self.audio_seconds = Counter("indextts_audio_seconds", "Seconds of audio synthesised", registry=self.registry)
        self.registry.register(_LiveState(node))
        node.queue.add_listener(self._job_finished)

    def count_request(self, front_door: str, outcome: str) -> None:
        """One request at a front door; outcome is one of OUTCOMES."""
        self.requests.labels(front_door, outcome).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _job_finished(self, job: Job) -> None:
        self.jobs.labels(job.origin, job.state.value).inc()
        if job.state is not JobState.COMPLETED or job.result is None or job.finished_at is None:
            return
        self.latency.labels(job.origin).observe(job.finished_at - job.created_at)
        self.rtf.observe(job.result.rtf)
        self.audio_seconds.inc(job.result.duration)
