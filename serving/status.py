"""The node's connection to a central spaces server, as the UI and /health show it.

The Socket.IO client writes here; readers take immutable snapshots. In local mode (no
`--websocket-mode`) the state stays "local" and the panel says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
    last_error_at: float | None = None  # when last_error happened (it may predate the current connection)
    jobs_received: int = 0
    jobs_done: int = 0  # completed and reported
    jobs_failed: int = 0  # reported to the site as failed (bad input, synthesis error)
    jobs_forgotten: int = 0  # dropped unrun: the site had forgotten them (it restarted) before they started
    jobs_undeliverable: int = 0  # made, but the site forgot them before it took the result
    processing_seconds: float = 0.0  # total over jobs that ran
    backlog: int = 0  # jobs still to run, or results still to upload or send (the space client's journal)
    updated_at: float = 0.0

    @property
    def mean_processing_time(self) -> float:
        finished = self.jobs_done + self.jobs_failed + self.jobs_undeliverable
        return self.processing_seconds / finished if finished else 0.0

    @property
    def error_predates_connection(self) -> bool:
        """The last error is from before the current connection (an earlier outage), not a live problem."""
        return (
            self.state == "connected"
            and self.last_error_at is not None
            and self.connected_since is not None
            and self.last_error_at < self.connected_since
        )


class ConnectionStatus:
    """Thread-safe holder of the current `ConnectionSnapshot`."""

    def __init__(self, server: str = "", space: str = "") -> None:
        self._lock = threading.Lock()
        self._snapshot = ConnectionSnapshot(server=server, space=space, updated_at=time.time())
        self._backlog: Callable[[], int] | None = None

    def snapshot(self) -> ConnectionSnapshot:
        with self._lock:
            snapshot, backlog = self._snapshot, self._backlog
        return replace(snapshot, backlog=backlog()) if backlog else snapshot

    def count_backlog_with(self, backlog: Callable[[], int]) -> None:
        """The space client's journal says how much is still owed to the site."""
        with self._lock:
            self._backlog = backlog

    def note_error(self, error: str) -> None:
        """Remember a problem without changing the connection state (e.g. an upload to retry)."""
        now = time.time()
        with self._lock:
            self._snapshot = replace(self._snapshot, last_error=error, last_error_at=now, updated_at=now)

    def set_state(self, state: State, *, connection_id: str = "", error: str = "") -> None:
        now = time.time()
        with self._lock:
            current = self._snapshot
            since = current.connected_since
            if state == "connected" and current.state != "connected":
                since = now
            elif state != "connected":
                since = None
            self._snapshot = replace(
                current,
                state=state,
                connection_id=connection_id if state == "connected" else "",
                connected_since=since,
                last_error=error or current.last_error,
                last_error_at=now if error else current.last_error_at,
                updated_at=now,
            )

    def job_received(self) -> None:
        self._count(jobs_received=1)

    def job_finished(self, ok: bool, seconds: float) -> None:
        self._count(jobs_done=int(ok), jobs_failed=int(not ok), processing_seconds=seconds)

    def job_forgotten(self) -> None:
        self._count(jobs_forgotten=1)

    def job_undeliverable(self, seconds: float) -> None:
        self._count(jobs_undeliverable=1, processing_seconds=seconds)

    def _count(self, **increments: float) -> None:
        with self._lock:
            current = self._snapshot
            changes = {name: getattr(current, name) + value for name, value in increments.items()}
            self._snapshot = replace(current, updated_at=time.time(), **changes)
