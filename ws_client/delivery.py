"""Getting results to the site: upload each WAV, then send its `inference_result`.

Runs in its own thread, apart from synthesis, so a slow upload or a dead connection never stops
the next job. Everything it works on comes from the journal, so a result made while the node was
disconnected — or before a restart — is uploaded and reported once the site is reachable again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from serving.status import ConnectionStatus
from ws_client.journal import DONE, SYNTHESIZED, Entry, Journal
from ws_client.payload import completed_result, failed_result, read_request
from ws_client.uploader import RequestForgotten, Uploader, UploadError

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self,
        journal: Journal,
        uploader: Uploader,
        send: Callable[[dict[str, Any]], bool],
        status: ConnectionStatus,
        retry_every: float = 5.0,
    ) -> None:
        """`send(message)` emits an inference_result and says whether a connection took it."""
        self.journal, self.uploader, self._send, self.status = journal, uploader, send, status
        self.retry_every = retry_every
        self._sending = threading.Lock()  # the loop and a new connection's handler both send
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="space-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def record(self, request_id: str, result: dict[str, Any], seconds: float) -> None:
        """A final result (completed or failed) is journaled and counted, then sent when possible."""
        self.journal.done(request_id, result)
        self.status.job_finished(result.get("status") == "completed", seconds)
        self.wake()

    def resend_since(self, since: float) -> None:
        """Results sent over a connection that then dropped may not have arrived; the site takes repeats."""
        for entry in self.journal.sent_since(since):
            if entry.result and self._send(entry.result):
                log.info("space request %s: result sent again after the reconnect", entry.request_id)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._upload_waiting()
                self.send_finished()
            except Exception:  # delivery must outlive any single result
                log.exception("space delivery: unexpected error")
            self._wake.wait(self.retry_every)

    def _upload_waiting(self) -> None:
        for entry in self.journal.in_state(SYNTHESIZED):
            if self._stopping.is_set() or not self._upload(entry):
                return  # the site is unreachable: try again later, in order

    def _upload(self, entry: Entry) -> bool:
        """False when a transient failure means later entries should wait too."""
        request = read_request(entry.message)
        info = entry.audio_info or {}
        seconds = float(info.get("processing_time", 0.0))
        if entry.wav_path is None or not entry.wav_path.is_file():
            self.record(request.request_id, failed_result(request.request_id, "the audio file was lost on the node"), 0)
            return True
        try:
            wav = entry.wav_path.read_bytes()
            url = self.uploader.upload(request.request_id, request.username, wav, request.upload)
        except RequestForgotten as exc:
            log.error("space request %s cannot be delivered: the site no longer knows it (%s)", request.request_id, exc)
            self.journal.undeliverable(request.request_id, str(exc))
            self.status.job_undeliverable(seconds)
            entry.wav_path.unlink(missing_ok=True)
            return True
        except UploadError as exc:
            if exc.transient:
                log.warning("space request %s: upload failed (%s); will retry", request.request_id, exc)
                self.status.note_error(f"upload failed, will retry: {exc}")
                return False
            message = f"The audio was made but the site refused its upload: {exc}"
            self.record(request.request_id, failed_result(request.request_id, message), seconds)
            return True
        log.info("space request %s: uploaded to %s", request.request_id, url)
        self.record(request.request_id, completed_result(request.request_id, url, info), seconds)
        entry.wav_path.unlink(missing_ok=True)
        return True

    def send_finished(self) -> None:
        """Send every journaled result not yet sent, oldest first, while a connection takes them."""
        with self._sending:
            for entry in self.journal.in_state(DONE):
                if self._stopping.is_set() or entry.result is None or not self._send(entry.result):
                    return  # no connection: sent on the next one
                self.journal.sent(entry.request_id)
                log.info("space request %s: result sent (%s)", entry.request_id, entry.result.get("status"))
