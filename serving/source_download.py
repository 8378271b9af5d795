"""The safe downloader behind URL prompts; its policy is described in `serving.sources`."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass

import httpx

from serving.source_policy import AudioSourceError, ErrorKind, SourcePolicy, check_size, format_size, host_key

logger = logging.getLogger(__name__)

USER_AGENT = "IndexTTS-Node"
URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.0.0.0 to this very machine
# Seed 003 lists ftp:// among prompt URLs; this node refuses it on purpose, and says why.
FTP_REFUSED = (
    " (FTP is refused on purpose: its server names the address of the data connection, which would"
    " slip past the private-address check every download gets)"
)


def fetch_url(url: str, field: str, policy: SourcePolicy) -> bytes:
    """Download an http(s) URL under `policy` (described in `serving.sources`); raises AudioSourceError."""
    deadline = time.monotonic() + policy.read_timeout
    first = _checked_url(url.strip(), field, None)
    # Proxies from the environment are ignored: through one, the address checks would not hold.
    with httpx.Client(trust_env=False, follow_redirects=False, headers={"User-Agent": USER_AGENT}) as client:
        return _Download(client, field, policy, url_origin(first), deadline).run(first)


@dataclass
class _Download:
    """One download with its redirects, under one deadline."""

    client: httpx.Client
    field: str
    policy: SourcePolicy
    shown: str  # the URL the user sent, as errors name it
    deadline: float  # time.monotonic() by which the last byte must have arrived
    where: str = ""  # the current hop, as errors name it

    def run(self, url: httpx.URL) -> bytes:
        for hop in range(self.policy.max_redirects + 1):
            self.where = self.shown if hop == 0 else f"{self.shown} (redirected to {url_origin(url)})"
            result = self._from_any_address(url, self._checked_addresses(url))
            if isinstance(result, bytes):
                logger.info(
                    "%s: downloaded %s (%s, %d redirects)", self.field, self.shown, format_size(len(result)), hop
                )
                return result
            try:
                target = str(url.join(result))
            except httpx.InvalidURL:
                raise self._error("invalid", f"redirected to an invalid address ({result[:200]!r})") from None
            url = _checked_url(target, self.field, self.shown)
        raise AudioSourceError(
            self.field,
            "invalid",
            f"{self.shown} redirected more than {self.policy.max_redirects} times; "
            "send the final address of the audio file",
        )

    def _error(self, kind: ErrorKind, detail: str, http_status: int | None = None) -> AudioSourceError:
        return AudioSourceError(self.field, kind, f"{self.where} {detail}", http_status)

    def _checked_addresses(self, url: httpx.URL) -> list[str]:
        host = url.raw_host.decode("ascii")
        trusted = host_key(host) in self.policy.trusted_hosts
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise self._error(
                "unreachable", f"cannot be reached: host '{url.host}' was not found; check the URL"
            ) from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = _refusal(address, allow_private=self.policy.allow_private_urls or trusted)
            if reason:
                raise self._error(
                    "forbidden",
                    f"points to {address}, {reason}; this node only downloads from public addresses. "
                    "Upload the file instead.",
                )
        return addresses

    def _from_any_address(self, url: httpx.URL, addresses: list[str]) -> bytes | str:
        """The body, or the Location of a redirect; tries each checked address until one connects."""
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._from_address(url, address)
            except httpx.ConnectError as exc:
                failure = exc
        raise self._error("unreachable", f"cannot be reached ({failure}); check the URL")

    def _from_address(self, url: httpx.URL, address: str) -> bytes | str:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._too_slow()
        # Connecting to the checked address, not the name, keeps a second DNS answer from sneaking in.
        request = self.client.build_request(
            "GET",
            url.copy_with(host=address),
            headers={"Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else None,
            timeout=httpx.Timeout(remaining, connect=min(self.policy.connect_timeout, remaining)),
        )
        try:
            response = self.client.send(request, stream=True)
            try:
                return self._body(response)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise self._too_slow() from None
        except httpx.DecodingError as exc:
            raise self._error("invalid", f"sent a body that does not decode ({exc})") from None
        except httpx.ConnectError:
            raise
        except httpx.HTTPError as exc:
            raise self._error("unreachable", f"failed to download ({exc}); try again") from None

    def _body(self, response: httpx.Response) -> bytes | str:
        if response.is_redirect:
            return response.headers["location"]
        if not response.is_success:
            raise self._error(
                "unreachable", f"answered HTTP {response.status_code}; check the URL", response.status_code
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit():
            check_size(int(declared), self.where, self.field, self.policy)
        body = bytearray()
        for chunk in response.iter_bytes():  # no chunk_size: each read arrives at once, so the deadline is seen
            body += chunk
            check_size(len(body), self.where, self.field, self.policy)
            if time.monotonic() > self.deadline:
                raise self._too_slow()
        return bytes(body)

    def _too_slow(self) -> AudioSourceError:
        return self._error(
            "timeout",
            f"did not finish downloading within {self.policy.read_timeout:g} s; use a faster host or upload the file",
        )


def _checked_url(text: str, field: str, redirected_from: str | None) -> httpx.URL:
    where = f"{redirected_from} redirected to a URL that" if redirected_from else "the URL"
    scheme = URL_SCHEME.match(text)
    if scheme is None or scheme.group(1).lower() not in ("http", "https"):
        name = scheme.group(1).lower() if scheme else text.partition(":")[0].lower()
        why = FTP_REFUSED if name in ("ftp", "ftps", "sftp") else ""
        raise AudioSourceError(
            field,
            "forbidden",
            f"{where} uses the '{name}' scheme; only http:// and https:// links are downloaded{why}. "
            "Serve the file over https://, or send it as hex or base64",
        )
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise AudioSourceError(field, "invalid", f"{where} is not valid ({exc}); check it") from None
    if not url.host:
        raise AudioSourceError(field, "invalid", f"{where} has no host name; send a full http(s) URL")
    if url.userinfo:
        raise AudioSourceError(field, "invalid", f"{where} contains a user name or password; remove them")
    return url


def _refusal(address: str, allow_private: bool) -> str | None:
    """Why this node must not connect to `address`, or None when it may."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip.sixtofour or ip  # the IPv4 host behind these forms is what gets reached
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "an unspecified address"
    if ip.is_loopback:
        return None if allow_private else "a loopback address (the node itself)"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return None if allow_private else "a private network address"
    return None


def url_origin(url: httpx.URL) -> str:
    """The URL without query or fragment: signed links carry secrets there, and logs keep this."""
    text = f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"
    return text if len(text) <= 120 else text[:117] + "..."
