"""Uploading a result's WAV to the spaces site, as its protocol describes.

1. With `upload.put_url`: HTTP PUT the bytes there and report `upload.final_url`.
2. Otherwise, or when the PUT keeps failing: multipart `POST {server}/api/upload` with `file`,
   `request_id` and `username`; report the answer's `url`. No Authorization header: the request
   id is the credential, and a key would file the result under the key's owner.

Transient failures (network errors, 5xx, 429) are retried with exponential backoff. A 403
"Invalid request_id" means the site forgot the request (it restarted): the result can never be
delivered, which is a different outcome from a failed upload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=120.0, pool=10.0)


class UploadError(RuntimeError):
    """The upload did not succeed. `transient` says whether trying again later may help."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class RequestForgotten(UploadError):
    """The site answered 403 Invalid request_id: it no longer knows this request."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 16.0

    def delays(self) -> list[float]:
        return [min(self.first_delay * 2**i, self.max_delay) for i in range(self.attempts - 1)]


class Uploader:
    def __init__(
        self,
        server_url: str,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        """`sleep(seconds)` may return True to abandon the retries (the node is stopping)."""
        self.server_url = server_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep or (lambda seconds: time.sleep(seconds) or False)
        self._http = httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)

    def upload(self, request_id: str, username: str, wav: bytes, upload: dict | None) -> str:
        """The public URL of the uploaded WAV; raises UploadError."""
        if upload and upload.get("put_url") and upload.get("final_url"):
            try:
                self._with_retries(lambda: self._put(upload, wav), f"PUT for {request_id}")
                return str(upload["final_url"])
            except UploadError as exc:
                log.warning("request %s: presigned PUT failed (%s); falling back to /api/upload", request_id, exc)
        return self._with_retries(lambda: self._post(request_id, username, wav), f"upload of {request_id}")

    def close(self) -> None:
        self._http.close()

    def _with_retries(self, attempt: Callable[[], str], what: str) -> str:
        delays = self.retry.delays()
        while True:
            try:
                return attempt()
            except UploadError as exc:
                if not exc.transient or not delays:
                    raise
                delay = delays.pop(0)
                log.info("%s failed (%s); retrying in %.0f s", what, exc, delay)
                if self._sleep(delay):
                    raise
            except httpx.HTTPError as exc:
                if not delays:
                    raise UploadError(f"cannot reach the upload server: {exc}", transient=True) from exc
                delay = delays.pop(0)
                log.info("%s failed (%s); retrying in %.0f s", what, exc, delay)
                if self._sleep(delay):
                    raise UploadError(f"cannot reach the upload server: {exc}", transient=True) from exc

    def _put(self, upload: dict, wav: bytes) -> str:
        content_type = str(upload.get("content_type") or "audio/wav")
        response = self._http.put(str(upload["put_url"]), content=wav, headers={"Content-Type": content_type})
        _raise_for(response, "PUT to the storage URL")
        return str(upload["final_url"])

    def _post(self, request_id: str, username: str, wav: bytes) -> str:
        form = {"request_id": request_id, **({"username": username} if username else {})}
        response = self._http.post(
            f"{self.server_url}/api/upload",
            data=form,
            files={"file": (f"{request_id}.wav", wav, "audio/wav")},
        )
        _raise_for(response, "POST /api/upload")
        try:
            answer = response.json()
        except ValueError as exc:
            raise UploadError(f"POST /api/upload answered non-JSON: {response.text[:200]!r}", transient=True) from exc
        url = answer.get("url") or answer.get("file_url") if isinstance(answer, dict) else None
        if not url:
            raise UploadError(f"POST /api/upload answered without a url: {answer!r:.200}", transient=False)
        return str(url)


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    detail = _error_text(response)
    message = f"{what} answered {response.status_code}: {detail}"
    if response.status_code == 403 and "request_id" in detail.lower():
        raise RequestForgotten(message)
    transient = response.status_code >= 500 or response.status_code in (408, 425, 429)
    raise UploadError(message, transient)


def _error_text(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(answer, dict):
        return str(answer.get("error") or answer.get("message") or answer)[:200]
    return str(answer)[:200]
