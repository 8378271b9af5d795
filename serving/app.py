"""The node's FastAPI app factory. It receives the node (tests pass a real small one); the HTTP
front doors (`serving/routes/`) live here, and webui.py mounts the Gradio UI on the same app and
port. /health and /metrics stay open when an API key is set; everything else asks for it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.auth import ApiKey
from serving.metrics import NodeMetrics
from serving.node import Node
from serving.routes import openai_api, rest
from serving.routes.errors import ApiError, error_response, install_error_handlers
from serving.voices import DEFAULT_VOICES_FILE, VoiceCatalog

VERSION = "0.1.0"
MAX_BODY_BYTES = 45 * 1024 * 1024  # a 20 MB prompt as hex is 40 MB of JSON; more is refused unread


class RefuseHugeBodies:
    """413 before reading a body declared too large. Plain ASGI, not `@app.middleware("http")`:
    that one hides the client's disconnect from the app, so abandoned requests could not be cancelled."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                limit = MAX_BODY_BYTES // 2**20
                error = ApiError(413, f"the request body is over {limit} MB; send audio by URL")
                await error_response(Request(scope), error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    node: Node,
    api_key: ApiKey | None = None,
    metrics: NodeMetrics | None = None,
    voices: VoiceCatalog | None = None,
) -> FastAPI:
    app = FastAPI(title="IndexTTS Node", version=VERSION, docs_url="/docs", redoc_url="/redoc")
    app.state.node = node
    app.state.api_key = api_key or ApiKey()
    app.state.metrics = metrics or NodeMetrics(node)
    app.state.voices = voices or VoiceCatalog.load(DEFAULT_VOICES_FILE)
    install_error_handlers(app)
    app.add_middleware(RefuseHugeBodies)

    @app.get("/health", tags=["node"])
    def health() -> dict[str, object]:
        """Liveness and what the node runs; cheap enough for load balancers to poll."""
        stats = node.queue.stats()
        return {
            "status": "healthy",
            "model_loaded": True,
            "deepspeed_enabled": False,
            "demo_checkpoint": node.loaded.demo,
            "device": node.loaded.device,
            "dtype": node.loaded.dtype,
            "queue_depth": stats.pending + stats.running,
            "version": VERSION,
        }

    @app.get("/metrics", tags=["node"], response_class=Response)
    def metrics_text() -> Response:
        """Prometheus metrics: requests per front door, queue depth, latency and RTF, audio produced."""
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    app.include_router(rest.router)
    app.include_router(openai_api.router)
    return app
