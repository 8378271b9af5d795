"""Taking the node's HTTP port before anything else starts.

A second node started on a machine where the port is taken must stop at once, before its space
client takes jobs it would then abandon; so `webui.py` binds the port first and hands the bound
socket to uvicorn, which starts listening on it once the app is ready.
"""

from __future__ import annotations

import socket


class PortInUse(OSError):
    """The HTTP port cannot be bound; the message names it and says what to do."""


def bind_port(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), not yet listening (connections are refused until uvicorn serves)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PortInUse(f"cannot listen on {host}:{port}: {exc}; check --host") from None
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise PortInUse(
            f"cannot listen on {host}:{port} ({exc.strerror}): another process has the port — "
            "is another node running? Stop it or pick another --port"
        ) from None
    listener.set_inheritable(True)
    return listener
