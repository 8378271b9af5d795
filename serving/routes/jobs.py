"""What every HTTP route does with a request: check the API key, submit, wait — off the event
loop — and turn the serving core's errors into `ApiError`s with the right status.

A client that disconnects while its job waits or runs cancels the job (`follow`, `cancel_on_disconnect`):
nobody would receive the audio, so the GPU should not make it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from serving.jobs import Job, JobState, QueueFullError
from serving.metrics import NodeMetrics
from serving.node import Node
from serving.request import RequestError, SynthesisRequest
from serving.routes.errors import ApiError
from serving.sources import AudioSourceError

SOURCE_STATUS = {"invalid": 400, "forbidden": 400, "too_large": 413, "timeout": 408, "unreachable": 400}
JOB_STATUS = {"invalid": 400, "resources": 503, "cancelled": 503, "internal": 500}
log = logging.getLogger(__name__)
T = TypeVar("T")


def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the key is off or the Bearer header carries it."""
    problem = request.app.state.api_key.problem(request.headers.get("authorization"))
    if problem:
        metrics: NodeMetrics = request.app.state.metrics
        metrics.count_request("openai" if request.url.path.startswith("/v1/") else "rest", "unauthorized")
        raise ApiError(401, problem, code="invalid_api_key")


async def synthesize(node: Node, request: SynthesisRequest, origin: str, metrics: NodeMetrics, http: Request) -> Job:
    """Submit and wait for the job (cancelled if `http`'s client leaves); a failure raises ApiError (and is counted)."""
    job = await submit(node, request, origin, metrics)
    await follow(node, job, http)
    return finished(job, origin, metrics)


async def follow(node: Node, job: Job, http: Request) -> None:
    """Wait (off the event loop) for the job to finish; cancel it if the client goes away meanwhile."""
    watcher = asyncio.create_task(_watch_disconnect(node, job, http))
    try:
        await run_in_threadpool(node.queue.wait_finished, job)
    finally:
        watcher.cancel()


async def cancel_on_disconnect(
    node: Node, job: Job, http: Request, chunks: Iterator[T], metrics: NodeMetrics, origin: str
) -> AsyncIterator[T]:
    """A streamed body: `chunks` (made in a thread) until the job ends; a client that leaves cancels it."""
    watcher = asyncio.create_task(_watch_disconnect(node, job, http))
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:
        watcher.cancel()
        if not job.finished:  # the response was abandoned part-way (the server saw the client go)
            node.queue.cancel(job.id, "the HTTP client disconnected")
        if job.cancel_requested is not None or job.state is JobState.CANCELLED:  # never reached its own count
            metrics.count_request(origin, "cancelled")


async def _watch_disconnect(node: Node, job: Job, http: Request) -> None:
    # The body is read by now, so the next ASGI message is the disconnect.
    while (await http.receive())["type"] != "http.disconnect":
        pass
    if node.queue.cancel(job.id, "the HTTP client disconnected"):
        log.info("job %s: the HTTP client of %s disconnected; job cancelled", job.id, http.url.path)


async def submit(node: Node, request: SynthesisRequest, origin: str, metrics: NodeMetrics) -> Job:
    try:
        return await run_in_threadpool(node.submit, request, origin)
    except AudioSourceError as exc:
        metrics.count_request(origin, "invalid")
        raise ApiError(SOURCE_STATUS.get(exc.kind, 400), str(exc), exc.field, f"audio_{exc.kind}") from None
    except RequestError as exc:
        metrics.count_request(origin, "invalid")
        raise ApiError(422, str(exc), exc.field, "invalid_value") from None
    except QueueFullError as exc:
        metrics.count_request(origin, "busy")
        raise ApiError(503, str(exc), code="queue_full") from None


def finished(job: Job, origin: str, metrics: NodeMetrics) -> Job:
    """The job if it completed, else the ApiError its failure maps to."""
    if job.state is JobState.COMPLETED and job.result is not None:
        metrics.count_request(origin, "ok")
        return job
    kind = job.error_kind or "internal"
    metrics.count_request(origin, "cancelled" if kind == "cancelled" else "failed")
    message = f"synthesis failed: {job.error}" if kind != "invalid" else str(job.error)
    raise ApiError(JOB_STATUS.get(kind, 500), message, code=f"synthesis_{kind}")
