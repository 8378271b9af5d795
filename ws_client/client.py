"""`SpaceClient`: this node's outbound Socket.IO connection to a central spaces site.

One connection at a time, re-established forever (1 s, doubling to 5 s, also for the first
connect); `register` exactly once per connection. The site keeps nothing across connections and
never resends a request, so every request is journaled the moment it arrives and every result
stays journaled until a connection has taken it (see `journal.py`). The site takes
`inference_result` from any socket, registered or not, so each new connection first sends what is
owed and only then registers: a node refused because another holds the space still delivers.
After each registration the site is asked which waiting requests it still knows (`site_check.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import socketio

from serving.node import Node
from ws_client.delivery import Delivery
from ws_client.journal import ACCEPTED, DONE, SENT, SYNTHESIZED, Journal
from ws_client.payload import (
    PayloadError,
    failed_result,
    fits_in_one_message,
    processing_status,
    read_request,
)
from ws_client.runner import JobRunner
from ws_client.site_check import SiteCheck
from ws_client.uploader import RetryPolicy, Uploader

log = logging.getLogger(__name__)

FIRST_DELAY, MAX_DELAY = 1.0, 5.0
CONNECT_TIMEOUT = 10.0
RESEND_WINDOW = 60.0  # results sent this long before a drop are sent again after the reconnect
JOURNAL_NAME = "space_journal.sqlite3"


class SpaceClient:
    def __init__(
        self,
        node: Node,
        server_url: str,
        space: str,
        state_dir: Path | None = None,
        transports: list[str] | None = None,
        upload_retry: RetryPolicy | None = None,
        verbose: bool = False,
    ) -> None:
        """`state_dir` holds the journal and WAVs awaiting upload (default: the outputs folder).
        Raises JournalInUse when another process has that journal open."""
        if not space.strip():
            raise ValueError("the space name is empty: pass --websocket-space NAME")
        self.node, self.server_url, self.space = node, server_url.rstrip("/"), space
        self.transports = transports
        self.status = node.status
        state_dir = state_dir or node.settings.outputs_dir
        self.journal = Journal(state_dir / JOURNAL_NAME)
        self.status.count_backlog_with(lambda: self.journal.count(ACCEPTED, SYNTHESIZED, DONE))
        self._stopping = threading.Event()
        self._registered = threading.Event()
        self._registrations = 0  # successful registrations so far
        self._connection_ended_at: float | None = None
        self.uploader = Uploader(self.server_url, upload_retry, sleep=self._stopping.wait)
        self.delivery = Delivery(self.journal, self.uploader, self._send_result, self.status)
        self.site = SiteCheck(
            self.server_url,
            self.journal,
            self.status,
            self._stopping,
            running_now=lambda: self.runner.current_request,
            cancel_running=lambda request_id, reason: self.runner.cancel_running(request_id, reason),
        )
        self.runner = JobRunner(
            node,
            self.journal,
            self.server_url,
            state_dir / "space_results",
            on_started=self._job_started,
            on_synthesized=self.delivery.wake,
            on_failed=self.delivery.record,
            still_wanted=self.site.still_wanted,
        )
        self.sio = socketio.Client(reconnection=False, handle_sigint=False, logger=verbose, engineio_logger=verbose)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("register_response", self._on_register_response)
        self.sio.on("inference_request", self._on_inference_request)
        self._supervisor = threading.Thread(target=self._stay_connected, name="space-connection", daemon=True)

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; jobs journaled before a restart resume at once."""
        waiting = self.journal.count(ACCEPTED, SYNTHESIZED, DONE)
        if waiting:
            log.info("space journal: %d job(s) or result(s) from before the restart will be completed", waiting)
        self.site.start()
        self.runner.start()
        self.delivery.start()
        self._supervisor.start()

    def stop(self) -> None:
        self._stopping.set()
        self.site.stop()
        self.runner.stop()
        self.delivery.stop()
        if self.sio.connected:
            self.sio.disconnect()
        self._supervisor.join(CONNECT_TIMEOUT + 2)
        self.uploader.close()
        self.journal.close()

    @property
    def registered(self) -> bool:
        return self._registered.is_set()

    # --- the connection ------------------------------------------------------------------------

    def _stay_connected(self) -> None:
        delay = FIRST_DELAY
        while not self._stopping.is_set():
            self.status.set_state("connecting")
            log.info("connecting to %s (space %r)", self.server_url, self.space)
            registrations = self._registrations
            try:
                self.sio.connect(self.server_url, transports=self.transports, wait_timeout=CONNECT_TIMEOUT)
            except socketio.exceptions.ConnectionError as exc:
                self.status.set_state("disconnected", error=f"cannot connect to {self.server_url}: {exc}")
                log.warning("cannot connect to %s: %s; next try in %.0f s", self.server_url, exc, delay)
            else:
                self.sio.wait()  # returns when this connection ends, whoever ended it
                self._connection_ended_at = time.time()
                self._registered.clear()
                if self._registrations > registrations:
                    delay = FIRST_DELAY  # a connection that registered resets the backoff
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, MAX_DELAY)
        self.status.set_state("disconnected")

    def _on_connect(self) -> None:
        log.info("connected to %s (sid %s)", self.server_url, self.sio.sid)
        # Before registering: a refused registration ends the connection, and these need none.
        if self._connection_ended_at is not None:
            self.delivery.resend_since(self._connection_ended_at - RESEND_WINDOW)
        self.delivery.send_finished()
        log.info("registering with space %r", self.space)
        self.sio.emit("register", {"space_name": self.space})

    def _on_disconnect(self, reason: Any = None) -> None:
        was_registered = self._registered.is_set()
        self._registered.clear()
        if self._stopping.is_set():
            return
        snapshot = self.status.snapshot()
        if snapshot.state != "error":  # keep a refusal's message on screen while we retry
            self.status.set_state("disconnected", error=f"connection lost ({reason})" if was_registered else "")
        log.warning("disconnected from %s (%s); reconnecting", self.server_url, reason)

    def _on_register_response(self, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        if data.get("success"):
            connection_id = str(data.get("connection_id", ""))
            self.status.set_state("connected", connection_id=connection_id)
            self._registrations += 1
            self._registered.set()
            log.info("registered with space %r (connection %s)", self.space, connection_id)
            self.site.sweep_soon()  # a restarted site has forgotten what it had not handed out
            self.delivery.wake()
            return
        message = str(data.get("message") or "registration refused without a reason")
        # Refused while an old registration of this space lingers (a half-open drop keeps it up to
        # ~45 s), or the space does not exist yet: the server disconnects and we retry with backoff.
        # Finished results still go out: each new connection sends them before it registers.
        self.status.set_state(
            "error",
            error=f"space {self.space!r} refused the registration: {message} "
            "(no new jobs until it accepts; finished results are still delivered)",
        )
        log.error("space %r refused the registration: %s; retrying", self.space, message)
        if self.sio.connected:
            self.sio.disconnect()

    def _on_inference_request(self, data: Any) -> None:
        """Journal the request and return at once: synthesis runs on the runner's thread."""
        try:
            request = read_request(data)
        except PayloadError as exc:
            log.warning("malformed inference_request ignored: %s", exc)
            request_id = data.get("request_id") if isinstance(data, dict) else None
            if isinstance(request_id, str) and request_id:
                self._send_result(failed_result(request_id, f"The node could not read the request: {exc}"))
            return
        self.status.job_received()
        if self.journal.accept(request.request_id, data, request.order_key or time.time()):
            log.info("space request %s from %r accepted", request.request_id, request.username)
            self.runner.arrived()
            return
        known = self.journal.get(request.request_id)
        if known is not None and known.state in (DONE, SENT) and known.result:
            log.info("space request %s is a duplicate; sending its result again", request.request_id)
            self._send_result(known.result)
        else:
            log.info("space request %s is a duplicate of a job in progress; ignored", request.request_id)

    # --- sending -------------------------------------------------------------------------------

    def _job_started(self, request_id: str) -> None:
        self._send_result(processing_status(request_id))

    def _send_result(self, message: dict[str, Any]) -> bool:
        """Emit over the current connection, registered or not; False when there is none (the journal keeps it)."""
        # Not `sio.connected`: python-socketio sets it only after the connect handler, which sends too.
        if "/" not in self.sio.namespaces or self.sio.eio.state != "connected":
            return False
        if not fits_in_one_message(message):
            # Audio only ever travels by upload; anything this large would drop the connection.
            message = failed_result(message["request_id"], "the result was too large to report")
        try:
            self.sio.emit("inference_result", message)
        except socketio.exceptions.SocketIOError as exc:
            log.warning("could not send the result of %s: %s", message.get("request_id"), exc)
            return False
        return True
