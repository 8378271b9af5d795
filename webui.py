"""IndexTTS Node: the Gradio UI on :7860, on a FastAPI app that later HTTP routes share.

    python webui.py [--port 7860] [--model_dir ./checkpoints] [--fp16] [--demo] …

Every flag has an environment twin (`INDEXTTS_<FLAG>`); see `python webui.py --help`.
Without real weights the UI runs on a tiny random-weight demo checkpoint and says so on the page.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from indextts.errors import CheckpointError
from serving.app import create_app
from serving.auth import ApiKey
from serving.engine import load_engine
from serving.listen import PortInUse, bind_port
from serving.node import Node
from serving.options import add_engine_flags, add_flag, add_node_flags, engine_options, node_settings, setup_logging
from serving.status import ConnectionStatus
from serving.stream_server import StreamServer
from ui.layout import CSS, build_blocks
from ui.uploads import MAX_UPLOAD
from ws_client import SpaceClient
from ws_client.journal import JournalInUse

log = logging.getLogger("indextts.webui")
EXAMPLES_FILE = Path(__file__).resolve().parent / "examples" / "cases.jsonl"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(parser, "--port", 7860, "HTTP port of the UI and the API", int)
    add_flag(parser, "--host", "0.0.0.0", "interface to listen on")
    add_flag(parser, "--gui_seg_tokens", 120, "initial max tokens per segment in the UI (20–600)", int)
    api = parser.add_argument_group("APIs")
    add_flag(api, "--api_key", "", "require this key (Bearer) on every API except /health and /metrics")
    add_flag(api, "--ws_port", 8770, "port of the WebSocket streaming API; 0 turns it off", int)
    space = parser.add_argument_group("central spaces server")
    add_flag(space, "--websocket-mode", False, "connect out to a central spaces server and take its jobs", bool)
    add_flag(space, "--websocket-server", "", "the spaces server's URL, e.g. https://spaces.example.com")
    add_flag(space, "--websocket-space", "", "the space to register this node with")
    add_engine_flags(parser)
    add_node_flags(parser)
    return parser.parse_args(argv)


def build_app(node: Node, gui_seg_tokens: int = 120, api_key: ApiKey | None = None) -> FastAPI:
    """The node's one ASGI app: HTTP routes plus the UI mounted at /."""
    app = create_app(node, api_key)
    blocks = build_blocks(node, gui_seg_tokens, EXAMPLES_FILE)
    blocks.queue(default_concurrency_limit=4)
    allowed = [str(node.settings.outputs_dir.resolve()), str(EXAMPLES_FILE.parent)]
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        css=CSS,
        allowed_paths=allowed,
        max_file_size=MAX_UPLOAD,
        footer_links=["api", "settings"],
        ssr_mode=False,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    status = ConnectionStatus(args.websocket_server, args.websocket_space)
    if args.websocket_mode and not (args.websocket_server and args.websocket_space):
        print("--websocket-mode needs --websocket-server URL and --websocket-space NAME", file=sys.stderr)
        return 2
    try:  # first, so a second node on this port stops before it loads a model or takes space jobs
        listener = bind_port(args.host, args.port)
        loaded = load_engine(engine_options(args))
    except (PortInUse, CheckpointError) as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    node = Node(loaded, node_settings(args, args.websocket_server if args.websocket_mode else ""), status)
    api_key = ApiKey(args.api_key)
    app = build_app(node, args.gui_seg_tokens, api_key)
    stream_server = None
    if args.ws_port:
        stream_server = StreamServer(node, args.host, args.ws_port, api_key, app.state.metrics)
        try:
            stream_server.start()
        except OSError as exc:  # the UI and the HTTP APIs are still worth serving
            log.error("%s — the WebSocket streaming API is OFF; pick another --ws_port (0 = off)", exc)
            stream_server = None
    space_client = None
    try:
        if args.websocket_mode:
            space_client = SpaceClient(node, args.websocket_server, args.websocket_space, verbose=args.verbose)
            space_client.start()
        shown_host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
        log.info("IndexTTS Node UI on http://%s:%d%s", shown_host, args.port, " (DEMO checkpoint)" * loaded.demo)
        server = uvicorn.Server(uvicorn.Config(app, log_level="debug" if args.verbose else "warning"))
        server.run(sockets=[listener])
    except JournalInUse as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        if stream_server is not None:
            stream_server.close()
        if space_client is not None:
            space_client.stop()
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
