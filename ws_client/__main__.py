"""Headless node: the space client without the web UI.

    python -m ws_client --server https://spaces.example.com --space my-space [--model_dir ./checkpoints] …

Takes the same engine and queue flags as webui.py; `--server`/`--space` also read
INDEXTTS_WEBSOCKET_SERVER / INDEXTTS_WEBSOCKET_SPACE, the variables webui.py's flags use.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from indextts.errors import CheckpointError
from serving.engine import load_engine
from serving.node import Node
from serving.options import add_engine_flags, add_node_flags, engine_options, node_settings, setup_logging
from serving.status import ConnectionStatus
from ws_client.client import SpaceClient
from ws_client.journal import JournalInUse

log = logging.getLogger("indextts.ws_client")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    server = os.environ.get("INDEXTTS_WEBSOCKET_SERVER", "")
    space = os.environ.get("INDEXTTS_WEBSOCKET_SPACE", "")
    parser.add_argument("--server", "--websocket-server", default=server, help="the spaces site's URL")
    parser.add_argument("--space", "--websocket-space", default=space, help="the space to register with")
    add_engine_flags(parser)
    add_node_flags(parser)
    args = parser.parse_args(argv)
    if not (args.server and args.space):
        parser.error("--server URL and --space NAME are required (or INDEXTTS_WEBSOCKET_SERVER/_SPACE)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    try:
        loaded = load_engine(engine_options(args))
    except CheckpointError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    node = Node(loaded, node_settings(args, args.server), ConnectionStatus(args.server, args.space))
    try:
        client = SpaceClient(node, args.server, args.space, verbose=args.verbose)
    except JournalInUse as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        node.close()
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    client.start()
    log.info("headless node serving space %r at %s%s", args.space, args.server, " (DEMO checkpoint)" * loaded.demo)
    stop.wait()
    log.info("stopping: unfinished space jobs stay in the journal and resume on the next start")
    client.stop()
    node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
