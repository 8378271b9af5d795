"""Real servers on free ports for the API tests: the node's FastAPI app under uvicorn, and the
WebSocket stream server, both on a real tiny-engine Node."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from serving.app import create_app
from serving.auth import ApiKey
from serving.engine import LoadedEngine
from serving.node import Node, NodeSettings
from tests.conftest import EXAMPLES

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}


def make_node(engine, demo_dir: Path, outputs: Path, **settings) -> Node:
    settings.setdefault("allowed_dirs", (EXAMPLES,))
    return Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), NodeSettings(outputs_dir=outputs, **settings))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def http_server(node: Node, api_key: str = ""):
    """The node's app on 127.0.0.1:<free port>; yields (base URL, app)."""
    app = create_app(node, ApiKey(api_key))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)
