"""The WebSocket streaming front door on its own port (:8770 by default, as existing clients expect).

Runs the `websockets` asyncio server in a thread of its own next to uvicorn. Every `tts_stream`
request goes through the node's one queue (FIFO with the UI and the other front doors); waiting
on the queue happens in a private thread pool so the event loop never blocks. Many requests may
share a connection; a client that disconnects cancels its tasks, waiting or running. A message
that cannot be read (not UTF-8, not JSON, nested too deep) gets an error frame; the connection and
its other tasks go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from serving.app import VERSION
from serving.auth import ApiKey
from serving.jobs import Job, JobState, QueueFullError
from serving.metrics import NodeMetrics
from serving.node import Node
from serving.parts import PiecePlacer, SegmentGatherer, StreamedPiece, segment_count
from serving.sources import AudioSourceError
from serving.stream_protocol import (
    ENDED,
    QUEUED,
    RENAMED,
    STARTED,
    ProtocolError,
    chunk_bytes,
    chunk_frame,
    delivery,
    error,
    task_status,
    to_request,
    wav_bytes,
    welcome,
)

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1 << 20  # requests carry prompts by path or URL, never inline


class StreamServer:
    def __init__(
        self,
        node: Node,
        host: str = "0.0.0.0",
        port: int = 8770,
        api_key: ApiKey | None = None,
        metrics: NodeMetrics | None = None,
        max_pending_per_connection: int = 4,
    ) -> None:
        self.node, self.host, self._port = node, host, port
        self.api_key = api_key or ApiKey()
        self.metrics = metrics
        self.max_pending = max_pending_per_connection
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="stream-wait")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stream-server", daemon=True)

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Listen; returns once the port is bound (raises OSError naming the port if it is taken)."""
        self._thread.start()
        self._ready.wait(30)
        if self._failure is not None:
            raise OSError(f"the WebSocket stream server cannot listen on {self.host}:{self._port}: {self._failure}")

    def close(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the event loop ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); nothing else can see this thread fail
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        async with serve(
            self._session,
            self.host,
            self._port,
            process_request=self._check_key,
            max_size=MAX_MESSAGE_BYTES,
        ) as server:
            self._server = server
            self._port = next(iter(server.sockets)).getsockname()[1]
            log.info("WebSocket stream server on ws://%s:%d", self.host, self._port)
            self._ready.set()
            await server.wait_closed()

    def _check_key(self, connection: ServerConnection, request: Request) -> Response | None:
        token = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
        problem = self.api_key.problem(request.headers.get("Authorization"), token)
        if problem is None:
            return None
        self._count("unauthorized")
        return connection.respond(HTTPStatus.UNAUTHORIZED, problem + " (or a ?token=<key> query)\n")

    async def _in_thread(self, function, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    # --- one connection ------------------------------------------------------------------------

    async def _session(self, websocket: ServerConnection) -> None:
        session = Session(self, websocket)
        await session.send(welcome(session.id, self.node.engine.sample_rate, VERSION))
        try:
            while True:
                # Undecoded, so that a text frame with invalid UTF-8 gets an error reply instead of
                # the library closing the connection (1007) and losing its other tasks.
                await session.handle(await websocket.recv(decode=False))
        except ConnectionClosed:
            pass
        finally:
            await session.close()

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.count_request("stream", outcome)


class Session:
    """One client connection: its id, its tasks, and the frames it is sent (one writer at a time)."""

    def __init__(self, server: StreamServer, websocket: ServerConnection) -> None:
        self.server, self.websocket = server, websocket
        self.id = str(uuid.uuid4())
        self.jobs: dict[str, Job] = {}
        self.tasks: set[asyncio.Task] = set()
        self.waiting = 0  # requests accepted on this connection whose job has not started yet
        self._send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any] | bytes) -> None:
        data = frame if isinstance(frame, bytes) else json.dumps(frame, ensure_ascii=False)
        async with self._send_lock:
            await self.websocket.send(data)

    async def handle(self, message: bytes) -> None:
        """One frame from the client; whatever it holds, the connection stays usable."""
        try:
            data = _decode(message)
        except ProtocolError as exc:
            self.server._count("invalid")
            await self.send(error(self.id, None, str(exc), exc.field))
            return
        try:
            await self._dispatch(data)
        except ConnectionClosed:
            raise
        except Exception:  # a bug must not cost the connection its other tasks
            log.exception("stream session %s: a message could not be handled", self.id)
            await self.send(error(self.id, None, "internal error handling this message; see the node's log"))

    async def _dispatch(self, data: Any) -> None:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "tts_stream":
            if self.waiting >= self.server.max_pending:
                self.server._count("busy")
                limit = f"{self.server.max_pending} tasks are already waiting on this connection"
                await self.send(error(self.id, None, f"{limit}; wait for one to finish"))
                return
            self.waiting += 1  # counted here, before any await, so a burst cannot slip past the limit
            task = asyncio.create_task(self._synthesize(data))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif kind == "task_status":
            await self._status(data.get("task_id"))
        else:
            shown = json.dumps(kind, ensure_ascii=False)[:80]
            await self.send(
                error(self.id, None, f"type: unknown message type {shown}; use tts_stream or task_status", "type")
            )

    async def close(self) -> None:
        """The client left: its tasks are cancelled (running ones stop at their next decode step)."""
        for job in list(self.jobs.values()):
            if self.server.node.queue.cancel(job.id, "the WebSocket connection closed"):
                log.info("stream session %s closed: task %s cancelled", self.id, job.id)
        for task in list(self.tasks):
            task.cancel()

    async def _status(self, task_id: Any) -> None:
        job = self.server.node.queue.get(task_id) if isinstance(task_id, str) and task_id else None
        if job is None:
            shown = task_id if isinstance(task_id, str) else None
            message = "task_id: 任务不存在 (unknown task_id; finished tasks are kept 5 minutes)"
            await self.send(error(self.id, shown, message, "task_id"))
            return
        await self.send(task_status(self.id, job, self.server.node.queue.position(job)))

    async def _synthesize(self, message: dict[str, Any]) -> None:
        server = self.server
        try:
            request = to_request(message)
            job = await server._in_thread(server.node.submit, request, "stream")
        except ProtocolError as exc:
            self.waiting -= 1
            server._count("invalid")
            await self.send(error(self.id, None, str(exc), exc.field))
            return
        except AudioSourceError as exc:
            self.waiting -= 1
            server._count("invalid")
            await self.send(error(self.id, None, _seed_names(str(exc)), SEED_NAMES.get(exc.field, exc.field)))
            return
        except QueueFullError as exc:
            self.waiting -= 1
            server._count("busy")
            await self.send(error(self.id, None, str(exc)))
            return
        except Exception:  # runs as its own task: without this the client would never hear back
            self.waiting -= 1
            log.exception("stream session %s: a tts_stream request could not be queued", self.id)
            await self.send(error(self.id, None, "internal error queueing this request; see the node's log"))
            return
        self.jobs[job.id] = job
        log.info("stream session %s: task %s queued (%s)", self.id, job.id, request.summary())
        try:
            await self._follow(job, delivery(message), message.get("chunk_format", "wav"))
        finally:
            self.jobs.pop(job.id, None)

    async def _follow(self, job: Job, how: str, chunk_format: str) -> None:
        """Send the task's frames: queued, start, its audio (`how`: whole, segments or chunks), end."""
        server, queue = self.server, self.server.node.queue
        common = {"task_id": job.id, "session_id": self.id}
        await self.send({"type": "queued", **common, "message": QUEUED, "position": queue.position(job)})
        version = -1
        try:
            while job.state is JobState.PENDING:
                version = await server._in_thread(queue.wait, job, version, 1.0)
        finally:
            self.waiting -= 1
        if job.state is JobState.RUNNING or (job.finished and job.started_at is not None):
            await self.send({"type": "start", **common, "message": STARTED})
        sent, gatherer = 0, SegmentGatherer()
        placer = PiecePlacer(job.payload.request.interval_silence)
        while True:
            finished = job.finished
            for part in list(job.parts[sent:]) if how != "whole" else []:
                sent += 1
                if how == "chunks":
                    await self._send_chunk(job, placer.place(part), chunk_format)
                elif (segment := gatherer.add(part)) is not None:
                    await self.send(wav_bytes(segment.audio, segment.sample_rate))
            if finished:
                break
            version = await server._in_thread(queue.wait, job, version, 1.0)
        if how == "segments" and (rest := gatherer.flush()) is not None:  # a segment cut short
            await self.send(wav_bytes(rest.audio, rest.sample_rate))
        result = job.result
        if job.state is not JobState.COMPLETED or result is None:
            server._count("cancelled" if job.state is JobState.CANCELLED else "failed")
            await self.send(error(self.id, job.id, f"synthesis failed: {job.error}"))
            return
        if how == "whole":
            await self.send(wav_bytes(result.audio, result.sample_rate))
        server._count("ok")
        await self.send(
            {
                "type": "end",
                **common,
                "message": ENDED,
                "duration": round(result.duration, 3),
                "sample_rate": result.sample_rate,
                "processing_time": round(result.processing_time, 3),
                "rtf": round(result.rtf, 4),
                "segments": segment_count(job.parts),
            }
        )
        log.info("stream session %s: task %s sent (%.2f s of audio)", self.id, job.id, result.duration)

    async def _send_chunk(self, job: Job, piece: StreamedPiece, chunk_format: str) -> None:
        """A chunk frame and its audio, back to back (no other frame of this connection between them)."""
        data = chunk_bytes(piece, chunk_format)
        announce = json.dumps(chunk_frame(self.id, job.id, piece, chunk_format, len(data)), ensure_ascii=False)
        async with self._send_lock:
            await self.websocket.send(announce)
            await self.websocket.send(data)


def _decode(message: bytes) -> Any:
    """The JSON in a frame, or a ProtocolError saying why it cannot be read."""
    try:
        return json.loads(message.decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"the message is not UTF-8 text (byte {exc.start}); send JSON encoded as UTF-8"
    except RecursionError:
        problem = "the message is not valid JSON: it is nested too deeply; send a flat JSON object"
    except ValueError as exc:
        problem = f"the message is not valid JSON ({exc}); send a JSON object"
    raise ProtocolError(problem, "message")


SEED_NAMES = {ours: theirs for theirs, ours in RENAMED.items()}


def _seed_names(message: str) -> str:
    """Errors from the serving core in the protocol's field names."""
    for ours, theirs in SEED_NAMES.items():
        message = message.replace(f"{ours}:", f"{theirs}:")
    return message
