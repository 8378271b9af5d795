"""Runs the space's accepted jobs one at a time, in submission order, through the node's queue.

The Socket.IO handler only journals a request and wakes this thread, so Socket.IO's own
ping/pong is never held up by synthesis. python-socketio handles every event in its own thread,
so two requests a few milliseconds apart may be journaled in reverse order: the runner waits
`settle` seconds after the newest arrival and then takes the earliest *submission*, which restores
the order the users submitted in.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from serving.jobs import Job, JobState, QueueFullError
from serving.node import Node
from serving.sources import AudioSourceError
from ws_client.journal import Entry, Journal
from ws_client.payload import PayloadError, failed_result, read_request, to_synthesis_request

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2.0
# The prompt usually lives on the site itself: a brief outage there should not fail the job.
FETCH_RETRY_DELAYS = (1.0, 3.0)


class JobRunner:
    def __init__(
        self,
        node: Node,
        journal: Journal,
        server_url: str,
        results_dir: Path,
        on_started: Callable[[str], None],
        on_synthesized: Callable[[], None],
        on_failed: Callable[[str, dict, float], None],
        still_wanted: Callable[[str], bool] = lambda request_id: True,
        settle: float = 0.2,
    ) -> None:
        """Callbacks: `still_wanted(request_id)` just before a job starts (False: skip it, the site
        forgot it); `on_started(request_id)`; `on_synthesized()` once a WAV waits for upload;
        `on_failed(request_id, failed_result, seconds)` for a job that cannot produce audio."""
        self.node, self.journal, self.server_url = node, journal, server_url
        self.results_dir = results_dir
        self._on_started, self._on_synthesized, self._on_failed = on_started, on_synthesized, on_failed
        self._still_wanted = still_wanted
        self.settle = settle
        self.current_request: str | None = None  # the request in hand, from its check to its end
        self._wake = threading.Condition()
        self._last_arrival = 0.0
        self._stopping = threading.Event()
        self._current: Job | None = None
        self._abandoned: str | None = None  # the request in hand, once the site forgot it
        self._hand = threading.Lock()  # current_request / _current / _abandoned change together
        self._thread = threading.Thread(target=self._loop, name="space-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def arrived(self) -> None:
        """A request was journaled: run it once the burst it belongs to has settled."""
        with self._wake:
            self._last_arrival = time.monotonic()
            self._wake.notify_all()

    def cancel_running(self, request_id: str, reason: str) -> bool:
        """The site forgot the request in hand: stop its job (or never start it); False if not in hand."""
        with self._hand:
            if self.current_request != request_id:
                return False
            self._abandoned = request_id
            job = self._current
        if job is not None:
            self.node.queue.cancel(job.id, reason)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wait_for_settled_burst()
            entry = self.journal.next_accepted()
            if entry is None:
                with self._wake:
                    self._wake.wait(timeout=5.0)
                continue
            with self._hand:
                self.current_request, self._current, self._abandoned = entry.request_id, None, None
            try:
                if self._still_wanted(entry.request_id):
                    self._run(entry)
            except Exception:  # the runner must outlive any single job
                log.exception("space request %s: unexpected error", entry.request_id)
                self._on_failed(entry.request_id, failed_result(entry.request_id, "internal error on the node"), 0.0)
            finally:
                with self._hand:
                    self.current_request, self._current, self._abandoned = None, None, None

    def _wait_for_settled_burst(self) -> None:
        while not self._stopping.is_set():
            quiet_for = time.monotonic() - self._last_arrival
            if quiet_for >= self.settle:
                return
            time.sleep(self.settle - quiet_for)

    def _run(self, entry: Entry) -> None:
        request = read_request(entry.message)
        started = time.perf_counter()
        log.info("space request %s from %r: started", request.request_id, request.username)
        self._on_started(request.request_id)
        try:
            synthesis = to_synthesis_request(request, self.server_url)
            job = self._submit(synthesis)
        except (PayloadError, AudioSourceError) as exc:
            self._fail(request.request_id, _user_message(exc), started)
            return
        if job is None:  # stopping before a queue place was free: run again after the restart
            return
        with self._hand:
            self._current = job
            forgotten_meanwhile = self._abandoned == request.request_id
        if forgotten_meanwhile:
            self.node.queue.cancel(job.id, "the site forgot this request")
        while not self.node.queue.wait_finished(job, timeout=1.0).finished:
            if self._stopping.is_set():
                return  # the node is shutting down; the journal keeps it accepted for the restart
        if job.state is JobState.CANCELLED and self._abandoned == request.request_id:
            seconds = time.perf_counter() - started
            log.info("space request %s: stopped after %.2f s, the site forgot it", request.request_id, seconds)
            return
        if job.state is JobState.CANCELLED:
            log.info("space request %s: cancelled by shutdown; will run after the restart", request.request_id)
            return
        if job.state is JobState.FAILED or job.result is None:
            self._fail(request.request_id, f"Synthesis failed: {job.error}", started)
            return
        result = job.result
        wav_path = self._save(request.request_id, result.audio, result.sample_rate)
        info = {
            "duration": round(result.duration, 3),
            "sample_rate": result.sample_rate,
            "processing_time": round(result.processing_time, 3),
            "rtf": round(result.rtf, 4),
        }
        self.journal.synthesized(request.request_id, wav_path, info)
        self._on_synthesized()
        log.info(
            "space request %s: %.2f s of audio in %.2f s (job %s); uploading",
            request.request_id,
            result.duration,
            time.perf_counter() - started,
            job.id,
        )

    def _submit(self, synthesis) -> Job | None:
        """Queue the job; when other front doors have filled the queue, wait for a place, never drop."""
        fetch_retries = list(FETCH_RETRY_DELAYS)
        while not self._stopping.is_set():
            try:
                return self.node.submit(synthesis, origin="space")
            except QueueFullError as exc:
                log.info("queue full (%s); the space job waits %.0f s", exc, BUSY_RETRY_SECONDS)
                self._stopping.wait(BUSY_RETRY_SECONDS)
            except AudioSourceError as exc:
                if not _worth_retrying(exc) or not fetch_retries:
                    raise
                delay = fetch_retries.pop(0)
                log.info("prompt audio not fetched (%s); trying again in %.0f s", exc, delay)
                self._stopping.wait(delay)
        return None

    def _save(self, request_id: str, audio, sample_rate: int) -> Path:
        """The WAV waits here for its upload; the outputs folder's pruning cannot touch it."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{request_id}.wav"
        buffer = io.BytesIO()
        sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
        partial = path.with_suffix(".part")
        partial.write_bytes(buffer.getvalue())
        partial.replace(path)
        return path

    def _fail(self, request_id: str, message: str, started: float) -> None:
        seconds = time.perf_counter() - started
        log.warning("space request %s failed after %.2f s: %s", request_id, seconds, message)
        self._on_failed(request_id, failed_result(request_id, message), seconds)


def _worth_retrying(exc: AudioSourceError) -> bool:
    """A site that is down or slow may be back in a moment; a URL answering 4xx says no for good."""
    if exc.kind not in ("unreachable", "timeout"):
        return False
    status = exc.http_status
    return status is None or status >= 500 or status in (408, 425, 429)


def _user_message(exc: Exception) -> str:
    if isinstance(exc, AudioSourceError):
        what = "speaker audio" if exc.field == "spk_audio" else "emotion audio"
        return f"The {what} could not be used ({exc}). Check the file or link and submit again."
    return str(exc)
