"""The node's connection to a central spaces server, as the UI and /health show it.

The Socket.IO client writes here; readers take immutable snapshots. In local mode (no
`--websocket-mode`) the state stays "local" and the panel says so.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Literal

State = Literal["local", "connecting", "connected", "error", "disconnected"]


@dataclass(frozen=True)
class ConnectionSnapshot:
    state: State = "local"
    server: str = ""
    space: str = ""
    connection_id: str = ""
    connected_since: float | None = None
    last_error: str = ""
    jobs_received: int = 0
    jobs_done: int = 0
    jobs_failed: int = 0
    processing_seconds: float = 0.0  # total over finished jobs
    updated_at: float = 0.0

    @property
    def mean_processing_time(self) -> float:
        finished = self.jobs_done + self.jobs_failed
        return self.processing_seconds / finished if finished else 0.0


class ConnectionStatus:
    """Thread-safe holder of the current `ConnectionSnapshot`."""

    def __init__(self, server: str = "", space: str = "") -> None:
        self._lock = threading.Lock()
        self._snapshot = ConnectionSnapshot(server=server, space=space, updated_at=time.time())

    def snapshot(self) -> ConnectionSnapshot:
        with self._lock:
            return self._snapshot

    def set_state(self, state: State, *, connection_id: str = "", error: str = "") -> None:
        with self._lock:
            current = self._snapshot
            since = current.connected_since
            if state == "connected" and current.state != "connected":
                since = time.time()
            elif state != "connected":
                since = None
            self._snapshot = replace(
                current,
                state=state,
                connection_id=connection_id if state == "connected" else "",
                connected_since=since,
                last_error=error or current.last_error,
                updated_at=time.time(),
            )

    def job_received(self) -> None:
        self._count(jobs_received=1)

    def job_finished(self, ok: bool, seconds: float) -> None:
        self._count(jobs_done=int(ok), jobs_failed=int(not ok), processing_seconds=seconds)

    def _count(self, **increments: float) -> None:
        with self._lock:
            current = self._snapshot
            changes = {name: getattr(current, name) + value for name, value in increments.items()}
            self._snapshot = replace(current, updated_at=time.time(), **changes)
