"""What every HTTP route does with a request: check the API key, submit, wait — off the event
loop — and turn the serving core's errors into `ApiError`s with the right status."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from serving.jobs import Job, JobState, QueueFullError
from serving.metrics import NodeMetrics
from serving.node import Node
from serving.request import RequestError, SynthesisRequest
from serving.routes.errors import ApiError
from serving.sources import AudioSourceError

SOURCE_STATUS = {"invalid": 400, "forbidden": 400, "too_large": 413, "timeout": 408, "unreachable": 400}
JOB_STATUS = {"invalid": 400, "resources": 503, "cancelled": 503, "internal": 500}


def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the key is off or the Bearer header carries it."""
    problem = request.app.state.api_key.problem(request.headers.get("authorization"))
    if problem:
        metrics: NodeMetrics = request.app.state.metrics
        metrics.count_request("openai" if request.url.path.startswith("/v1/") else "rest", "unauthorized")
        raise ApiError(401, problem, code="invalid_api_key")


async def synthesize(node: Node, request: SynthesisRequest, origin: str, metrics: NodeMetrics) -> Job:
    """Submit and wait for the job; a failure raises ApiError (and is counted)."""
    job = await submit(node, request, origin, metrics)
    await run_in_threadpool(node.queue.wait_finished, job)
    return finished(job, origin, metrics)


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
