"""Hearing `revoke` while a task runs, so that a revoked synthesis stops instead of running to the end.

Celery's `revoke(task_id)` (without `terminate`) is a broadcast on the worker's control mailbox. The
worker's own consumer only adds the id to its revoked set, which is consulted before a task starts;
and with `--pool solo` that consumer does not even run while a task does (the task holds the main
thread). So each worker process listens to the same broadcasts in a thread of its own, on its own
broker connection, and calls back the task that is being revoked.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery

log = logging.getLogger("indextts.worker")

RECENT = 1024  # revoked ids remembered for tasks that register just after their revoke arrived


class RevocationListener:
    """One per worker process: a daemon thread that hears `revoke` broadcasts meant for `hostname`."""

    def __init__(self, app: Celery, hostname: str) -> None:
        self.app, self.hostname = app, hostname
        self._lock = threading.Lock()
        self._watching: dict[str, Callable[[], None]] = {}
        self._recent: deque[str] = deque(maxlen=RECENT)
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="celery-revocations", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    @contextmanager
    def watch(self, task_id: str, on_revoke: Callable[[], None]) -> Iterator[None]:
        """Inside: `on_revoke()` is called (on the listener's thread) if `task_id` is revoked."""
        with self._lock:
            self._watching[task_id] = on_revoke
            already = task_id in self._recent
        if already:
            on_revoke()
        try:
            yield
        finally:
            with self._lock:
                self._watching.pop(task_id, None)

    def _run(self) -> None:
        while True:
            try:
                with self.app.connection_for_read() as connection:
                    mailbox = self.app.control.mailbox(connection)
                    # Its own node name, so the worker's pidbox does not warn that its queue is in use.
                    node = mailbox.Node(f"{self.hostname}.revocations", channel=connection.default_channel)
                    with node.listen(callback=self._on_message):
                        self._listening.set()
                        while True:
                            try:
                                connection.drain_events(timeout=5.0)
                            except TimeoutError:  # socket.timeout too
                                continue
            except Exception as exc:  # the broker went away: keep trying, tasks still run meanwhile
                self._listening.clear()
                log.warning("revocation listener: %s; reconnecting in 2 s", exc)
                threading.Event().wait(2.0)

    def _on_message(self, body: dict[str, Any], message: Any = None) -> None:
        if not isinstance(body, dict) or body.get("method") != "revoke":
            return
        destination = body.get("destination")
        if destination and self.hostname not in destination:
            return
        ids = (body.get("arguments") or {}).get("task_id") or []
        for task_id in [ids] if isinstance(ids, str) else ids:
            with self._lock:
                self._recent.append(task_id)
                on_revoke = self._watching.get(task_id)
            if on_revoke is not None:
                log.info("task %s revoked while running: stopping its synthesis", task_id)
                on_revoke()


_listener: RevocationListener | None = None
_listener_lock = threading.Lock()


def revocations(app: Celery, hostname: str) -> RevocationListener:
    """This process's listener, started on first use (in the process that runs the tasks)."""
    global _listener
    with _listener_lock:
        if _listener is None:
            _listener = RevocationListener(app, hostname)
        return _listener
