"""A spaces hub for tests: a real python-socketio server (Engine.IO v4) that behaves as
../shared/spaces-protocol.md describes the central site — its refusals, its one-connection-per-
space rule, its in-memory request history and its upload routes.

    hub = SpacesHub(spaces=["voice"]).start()
    request_id = hub.submit("voice", "你好。", hub.prompt_url("voice_01.wav"))
    hub.wait_for(request_id)  # → the RequestRecord once completed or failed

`HubState` is the site's memory. `restart(keep_history=True)` brings the server back on the same
port with the same state (a network or proxy restart); `keep_history=False` is a real site restart:
every request the site had not finished is forgotten (its status answers 404, its upload 403).
`GET /websockets/status?request_id=…` answers as the site's does (200 with the record, 404
`{"error": "Request not found"}`, 400 without an id); `state.status_queries` lists the ids asked.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import socketio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FINAL = ("completed", "failed")


@dataclass
class RequestRecord:
    request_id: str
    space: str
    username: str
    status: str = "queued"  # until handed out to a node; then "processing", then what the node reports
    result: dict[str, Any] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)  # every status reported, in order
    created_at: str = field(default_factory=lambda: datetime.now().isoformat())
    updated_at: str = field(default_factory=lambda: datetime.now().isoformat())


@dataclass
class HubState:
    spaces: dict[str, list[str]] = field(default_factory=dict)  # name → space ids (two ids: a duplicate name)
    requests: dict[str, RequestRecord] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file name or storage key → bytes
    upload_attempts: int = 0
    failing_uploads: int = 0  # the next N uploads answer 503
    events: list[tuple[str, Any]] = field(default_factory=list)  # (event name, data) from nodes, in order
    message_sizes: list[int] = field(default_factory=list)  # bytes of every Socket.IO message from nodes
    registrations: list[str] = field(default_factory=list)  # connection ids handed out
    status_queries: list[str] = field(default_factory=list)  # request ids asked about, in order
    prompt_fetches: list[str] = field(default_factory=list)  # prompt file names requested, in order

    def add_space(self, name: str) -> None:
        self.spaces.setdefault(name, []).append(str(uuid.uuid4()))


class SpacesHub:
    def __init__(
        self,
        spaces: list[str] | tuple[str, ...] = (),
        state: HubState | None = None,
        port: int | None = None,
        object_storage: bool = False,
        ping_interval: float = 25,
        ping_timeout: float = 20,
        status_endpoint: bool = True,
    ) -> None:
        """`status_endpoint=False`: an older site without `/websockets/status` (its framework's HTML 404)."""
        self.state = state or HubState()
        for name in spaces:
            self.state.add_space(name)
        self.port = port or _free_port()
        self.object_storage = object_storage
        self.status_endpoint = status_endpoint
        self._ping = (ping_interval, ping_timeout)
        self._lock = threading.RLock()  # predicates passed to wait_until may call the hub's readers
        self._changed = threading.Condition(self._lock)
        self._space_of_sid: dict[str, str] = {}  # registered sockets (per connection: not in state)
        self._sid_of_space: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prompt_url(self, name: str) -> str:
        return f"{self.url}/prompts/{name}"

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> SpacesHub:
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            max_http_buffer_size=1_000_000,
            cors_allowed_origins=[],
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("register", self._on_register)
        self.sio.on("inference_result", self._on_result)
        self.sio.on("disconnect", self._on_disconnect)
        routes = [
            Route("/api/upload", self._upload, methods=["POST"]),
            Route("/storage/{key}", self._put, methods=["PUT"]),
            Route("/storage/{key}", self._get_upload, methods=["GET"]),
            Route("/files/{key}", self._get_upload, methods=["GET"]),
            Route("/prompts/{name}", self._prompt, methods=["GET"]),
            Route("/websockets/status", self._status, methods=["GET"]),
        ]
        app = socketio.ASGIApp(self.sio, other_asgi_app=Starlette(routes=routes), on_startup=self._remember_loop)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="spaces-hub", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the test hub did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None
        with self._lock:
            self._space_of_sid.clear()
            self._sid_of_space.clear()

    def restart(
        self, keep_history: bool = True, down_for: float = 0.0, until: Callable[[], bool] | None = None
    ) -> SpacesHub:
        """Stop and start again on the same port; without history, as a real site restart. `until`:
        stay down (at least `down_for` s) until it says so, e.g. until the node has finished a job."""
        self.stop()
        time.sleep(down_for)
        deadline = time.monotonic() + 300
        while until is not None and not until():
            if time.monotonic() > deadline:
                raise AssertionError("the hub stayed down 300 s waiting for its condition")
            time.sleep(0.05)
        if not keep_history:
            old = self.state
            finished = {key: record for key, record in old.requests.items() if record.status in FINAL}
            self.state = HubState(spaces=old.spaces, requests=finished, uploads=old.uploads)
        return self.start()

    def forget(self, request_id: str) -> None:
        """The site loses one request (as a restart would), without a restart."""
        with self._changed:
            self.state.requests.pop(request_id, None)
            self._changed.notify_all()

    # --- what tests do -------------------------------------------------------------------------

    def submit(self, space: str, prompt: str, audio: str, username: str = "tester", **extra: Any) -> str:
        """A web user submits a job: one `inference_request` to the space's room, never resent."""
        request_id = extra.pop("request_id", None) or str(uuid.uuid4())
        message: dict[str, Any] = {
            "request_id": request_id,
            "username": username,
            "payload": {"prompt": prompt, "audio": audio, "timestamp": datetime.now().isoformat(), **extra},
        }
        if self.object_storage:
            key = f"{request_id}.wav"
            message["upload"] = {
                "put_url": f"{self.url}/storage/{key}?signature=test",
                "final_url": f"{self.url}/files/{key}",
                "content_type": "audio/wav",
            }
        with self._lock:
            record = self.state.requests.setdefault(request_id, RequestRecord(request_id, space, username))
            space_id = self.state.spaces[space][0]
            if space_id in self._sid_of_space:
                record.status = "processing"  # handed out to the connected node
        self._call(self.sio.emit("inference_request", message, room=space_id))
        return request_id

    def emit_raw(self, space: str, data: Any) -> None:
        """Send anything as an inference_request (malformed-message tests)."""
        with self._lock:
            space_id = self.state.spaces[space][0]
        self._call(self.sio.emit("inference_request", data, room=space_id))

    def wait_for(self, request_id: str, timeout: float = 120, statuses: tuple[str, ...] = FINAL) -> RequestRecord:
        with self._changed:
            ok = self._changed.wait_for(
                lambda: request_id in self.state.requests and self.state.requests[request_id].status in statuses,
                timeout,
            )
            record = self.state.requests.get(request_id)
        if not ok:
            raise AssertionError(f"request {request_id} is {record.status if record else 'unknown'} after {timeout} s")
        return record

    def wait_until(self, predicate, timeout: float = 60, what: str = "condition") -> None:
        """Wait for a condition on the hub or on the node (checked on every hub event and every 0.1 s)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                self._changed.wait(min(remaining, 0.1))

    def connected_space(self, space: str) -> str | None:
        with self._lock:
            return self._sid_of_space.get(self.state.spaces[space][0]) if space in self.state.spaces else None

    def fetch(self, url: str) -> bytes:
        """What the user's browser gets for a reported audio_url."""
        key = url.rsplit("/", 1)[-1]
        with self._lock:
            return self.state.uploads[key]

    # --- Socket.IO handlers --------------------------------------------------------------------

    async def _remember_loop(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def _on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        pass

    async def _on_register(self, sid: str, data: Any) -> None:
        self._note("register", data)
        name = data.get("space_name") if isinstance(data, dict) else None
        if not name:
            await self.sio.emit("register_response", {"success": False, "message": "space_name is required"}, to=sid)
            return
        with self._lock:
            already = sid in self._space_of_sid
            ids = self.state.spaces.get(name, [])
            taken = len(ids) == 1 and ids[0] in self._sid_of_space
        if already or taken:
            await self._refuse(sid, "Space already has a connected app")
        elif not ids:
            await self._refuse(sid, f'Space "{name}" not found or is not a WebSocket space')
        elif len(ids) > 1:
            await self._refuse(sid, f'Multiple spaces with name "{name}" found. Please use unique space names.')
        else:
            connection_id = str(uuid.uuid4())
            with self._changed:
                self._space_of_sid[sid] = ids[0]
                self._sid_of_space[ids[0]] = sid
                self.state.registrations.append(connection_id)
                self._changed.notify_all()
            await self.sio.enter_room(sid, ids[0])
            await self.sio.emit(
                "register_response",
                {
                    "success": True,
                    "connection_id": connection_id,
                    "space_id": ids[0],
                    "message": f'Successfully connected to space "{name}"',
                },
                to=sid,
            )

    async def _refuse(self, sid: str, message: str) -> None:
        await self.sio.emit("register_response", {"success": False, "message": message}, to=sid)
        await self.sio.disconnect(sid)  # the site frees the space if this socket held it

    async def _on_result(self, sid: str, data: Any) -> None:
        self._note("inference_result", data)
        if not isinstance(data, dict):
            return
        with self._changed:
            record = self.state.requests.get(str(data.get("request_id")))
            if record is not None:  # unknown ids are ignored, as on the site
                record.status = str(data.get("status"))
                record.statuses.append(record.status)
                record.updated_at = datetime.now().isoformat()
                if data.get("result"):
                    record.result = data["result"]
            self._changed.notify_all()

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        with self._changed:
            space_id = self._space_of_sid.pop(sid, None)
            if space_id is not None and self._sid_of_space.get(space_id) == sid:
                del self._sid_of_space[space_id]
            self._changed.notify_all()

    def _note(self, event: str, data: Any) -> None:
        import json

        with self._changed:
            self.state.events.append((event, data))
            self.state.message_sizes.append(len(json.dumps(data, ensure_ascii=False).encode()))
            self._changed.notify_all()

    # --- HTTP routes ---------------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        with self._lock:
            self.state.upload_attempts += 1
            if self.state.failing_uploads > 0:
                self.state.failing_uploads -= 1
                return JSONResponse({"success": False, "error": "storage temporarily unavailable"}, 503)
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return JSONResponse({"success": False, "error": "No file part"}, 400)
        if not upload.filename:
            return JSONResponse({"success": False, "error": "No selected file"}, 400)
        request_id = str(form.get("request_id") or "")
        with self._lock:
            record = self.state.requests.get(request_id)
        if record is None:
            return JSONResponse({"success": False, "error": "Invalid request_id"}, 403)
        if form.get("username") and form.get("username") != record.username:
            return JSONResponse({"success": False, "error": "Username mismatch"}, 403)
        data = await upload.read()
        name = f"{uuid.uuid4().hex}_{upload.filename}"
        with self._changed:
            self.state.uploads[name] = data
            self._changed.notify_all()
        url = f"http://{request.headers['host']}/files/{name}"
        return JSONResponse({"success": True, "url": url, "file_url": url, "filename": name})

    async def _put(self, request: Request) -> Response:
        with self._lock:
            self.state.upload_attempts += 1
            if self.state.failing_uploads > 0:
                self.state.failing_uploads -= 1
                return Response("storage temporarily unavailable", 503)
        data = await request.body()
        with self._changed:
            self.state.uploads[request.path_params["key"]] = data
            self._changed.notify_all()
        return Response(status_code=200)

    async def _get_upload(self, request: Request) -> Response:
        with self._lock:
            data = self.state.uploads.get(request.path_params["key"])
        return Response(data, media_type="audio/wav") if data is not None else Response(status_code=404)

    async def _status(self, request: Request) -> Response:
        request_id = request.query_params.get("request_id")
        if not self.status_endpoint:
            with self._lock:
                self.state.status_queries.append(request_id or "")
            return Response(
                "<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", 404, media_type="text/html"
            )
        if not request_id:
            return JSONResponse({"error": "request_id is required"}, 400)
        with self._changed:
            self.state.status_queries.append(request_id)
            record = self.state.requests.get(request_id)
            self._changed.notify_all()
        if record is None:
            return JSONResponse({"error": "Request not found"}, 404)
        return JSONResponse(
            {
                "request_id": request_id,
                "status": record.status,
                "result": record.result or None,
                "created_at": record.created_at,
                "updated_at": record.updated_at,
            }
        )

    async def _prompt(self, request: Request) -> Response:
        name = request.path_params["name"]
        with self._lock:
            self.state.prompt_fetches.append(name)
        if name == "not-audio.txt":
            return Response("this is not audio " * 200, media_type="text/plain")
        path = EXAMPLES / name
        return FileResponse(path) if path.is_file() and path.parent == EXAMPLES else Response(status_code=404)

    def _call(self, coroutine) -> Any:
        if self._loop is None:
            raise RuntimeError("the hub is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
