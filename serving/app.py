"""The node's FastAPI app factory. It receives the node (tests pass a real small one); front doors
add their routes here, and webui.py mounts the Gradio UI on the same app and port."""

from __future__ import annotations

from fastapi import FastAPI

from serving.auth import ApiKey
from serving.metrics import NodeMetrics
from serving.node import Node

VERSION = "0.1.0"


def create_app(node: Node, api_key: ApiKey | None = None, metrics: NodeMetrics | None = None) -> FastAPI:
    app = FastAPI(title="IndexTTS Node", version=VERSION, docs_url="/docs", redoc_url="/redoc")
    app.state.node = node
    app.state.api_key = api_key or ApiKey()
    app.state.metrics = metrics or NodeMetrics(node)

    @app.get("/health", tags=["node"])
    def health() -> dict[str, object]:
        """Liveness and what the node runs; cheap enough for load balancers to poll."""
        stats = node.queue.stats()
        return {
            "status": "healthy",
            "model_loaded": True,
            "demo_checkpoint": node.loaded.demo,
            "device": node.loaded.device,
            "dtype": node.loaded.dtype,
            "queue_depth": stats.pending + stats.running,
            "version": VERSION,
        }

    return app
