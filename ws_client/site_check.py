"""Asking the spaces site whether it still knows a request: `GET {server}/websockets/status?request_id=…`.

The site keeps the requests it has not finished in memory only. After a restart it answers 404
for them, and a result for one can never be delivered (its upload is refused with 403). So the
node asks after every (re)registration about each journaled request it has not finished (the
sweep), and again just before starting each job; a forgotten request is journaled `forgotten`,
counted in the status panel and never run — or, when it is the one synthesizing right now, its
job is cancelled at its next decode step, so the GPU goes to requests someone still waits for.
Nothing is dropped on a guess:

- 200 → the site knows it: run it;
- 404 with the site's JSON `{"error": …}` → forgotten: drop it;
- no answer (the site is down or restarting) → ask again until it answers, since the answer
  decides whether the job is worth the GPU at all (the site's memory may be gone when it returns);
- anything else (a site without this endpoint answers its framework's HTML 404, a proxy a 502
  page) → the node cannot tell, so it runs the job, as it did before the site had the endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

import httpx

from serving.status import ConnectionStatus
from ws_client.journal import ACCEPTED, Journal

log = logging.getLogger(__name__)

Answer = Literal["known", "forgotten", "no answer", "cannot tell"]
TIMEOUT = httpx.Timeout(5.0)
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)  # then every 5 s while the site does not answer
FORGOTTEN_NOTE = "the site no longer knows this request (404 from its status)"


class SiteCheck:
    def __init__(
        self,
        server_url: str,
        journal: Journal,
        status: ConnectionStatus,
        stopping: threading.Event,
        running_now: Callable[[], str | None] = lambda: None,
        cancel_running: Callable[[str, str], bool] = lambda request_id, reason: False,
    ) -> None:
        """`running_now()` names the request the runner has in hand; `cancel_running(request_id,
        reason)` stops its job when the site forgot it mid-synthesis."""
        self.url = server_url.rstrip("/") + "/websockets/status"
        self.journal, self.status, self._stopping = journal, status, stopping
        self._running_now, self._cancel_running = running_now, cancel_running
        self._http = httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        self._warned = False
        self._sweep_due = threading.Event()
        self._thread = threading.Thread(target=self._sweep_loop, name="space-site-check", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._sweep_due.set()
        self._thread.join(TIMEOUT.read or 5.0)
        self._http.close()

    def sweep_soon(self) -> None:
        """After a (re)registration: ask about every journaled request that has not run yet."""
        self._sweep_due.set()

    def ask(self, request_id: str) -> Answer:
        try:
            response = self._http.get(self.url, params={"request_id": request_id})
        except httpx.HTTPError as exc:
            log.info("space request %s: the site's status endpoint did not answer (%s)", request_id, exc)
            return "no answer"
        if response.status_code == 200:
            return "known"
        if response.status_code == 404 and _site_json_error(response):
            return "forgotten"
        if response.status_code in (502, 503, 504):  # a proxy in front of a site that is (re)starting
            return "no answer"
        if not self._warned:  # once: a site without the endpoint answers this way for every request
            self._warned = True
            log.warning(
                "the site's status endpoint answered %d %r (request %s); jobs run without the check",
                response.status_code,
                response.text[:120],
                request_id,
            )
        return "cannot tell"

    def still_wanted(self, request_id: str) -> bool:
        """Just before a job starts: False (and journaled `forgotten`) when the site no longer knows it."""
        attempt = 0
        while not self._stopping.is_set():
            answer = self.ask(request_id)
            if answer == "forgotten":
                self._drop(request_id)
                return False
            if answer != "no answer":
                return True
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            attempt += 1
            if attempt == len(RETRY_DELAYS):
                self.status.note_error(f"waiting for {self.url} to say whether request {request_id} is still wanted")
            self._stopping.wait(delay)
        return False  # stopping: the job stays accepted in the journal for the next start

    def sweep(self) -> int:
        """Drop every unfinished request the site has forgotten (stopping the running one); → how many."""
        dropped = 0
        for entry in self.journal.in_state(ACCEPTED):
            if self._stopping.is_set():
                break
            if self.ask(entry.request_id) != "forgotten":
                continue
            running = entry.request_id == self._running_now()
            dropped += self._drop(entry.request_id)
            if running and self._cancel_running(entry.request_id, FORGOTTEN_NOTE):
                log.warning("space request %s: forgotten by the site mid-synthesis; job cancelled", entry.request_id)
        if dropped:
            log.warning("the site forgot %d request(s) waiting on this node (it restarted); dropped unrun", dropped)
        return dropped

    def _drop(self, request_id: str) -> int:
        if not self.journal.forgotten(request_id, FORGOTTEN_NOTE):
            return 0
        log.warning("space request %s: the site no longer knows it (it restarted); dropped without running", request_id)
        self.status.job_forgotten()
        return 1

    def _sweep_loop(self) -> None:
        while True:
            self._sweep_due.wait()
            if self._stopping.is_set():
                return
            self._sweep_due.clear()
            try:
                self.sweep()
            except Exception:  # the checks must outlive any single failure
                log.exception("space site check: unexpected error")


def _site_json_error(response: httpx.Response) -> bool:
    """The site's own 'Request not found' (JSON), not a framework's page for a missing route."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body
