"""The rules a prompt source is checked against, and the error a refused source raises."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ErrorKind = Literal["invalid", "forbidden", "too_large", "timeout", "unreachable"]


class AudioSourceError(ValueError):
    """A prompt that cannot be used; `str(exc)` is the user-facing message, starting with the field.
    `http_status` is the status a URL answered with, when it answered at all (callers that retry
    need it: a 4xx is final, a 5xx may pass)."""

    def __init__(self, field: str, kind: ErrorKind, detail: str, http_status: int | None = None) -> None:
        self.field = field
        self.kind = kind
        self.detail = detail
        self.http_status = http_status
        self.message = f"{field}: {detail}"
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[AudioSourceError], tuple[str, str, str, int | None]]:
        # Celery and process pools pickle errors; the default would call __init__ with the message alone.
        return type(self), (self.field, self.kind, self.detail, self.http_status)


@dataclass(frozen=True)
class SourcePolicy:
    """Where prompts may come from and how big they may be."""

    allowed_dirs: tuple[Path, ...] = ()
    base_dir: Path = dataclasses.field(default_factory=Path.cwd)
    max_bytes: int = 20 * 1024 * 1024
    max_seconds: float = 120.0
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_redirects: int = 3
    allow_private_urls: bool = False
    trusted_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        dirs = (self.allowed_dirs,) if isinstance(self.allowed_dirs, (str, os.PathLike)) else self.allowed_dirs
        hosts = (self.trusted_hosts,) if isinstance(self.trusted_hosts, str) else self.trusted_hosts
        object.__setattr__(self, "allowed_dirs", tuple(Path(directory) for directory in dirs))
        object.__setattr__(self, "base_dir", Path(self.base_dir))
        object.__setattr__(self, "trusted_hosts", tuple(host_key(host) for host in hosts))
        for name in ("max_bytes", "max_seconds", "connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SourcePolicy.{name} must be greater than 0, got {getattr(self, name)!r}")
        if self.max_redirects < 0:
            raise ValueError(f"SourcePolicy.max_redirects must be 0 or more, got {self.max_redirects!r}")

    def allowed_roots(self) -> list[Path]:
        return [(self.base_dir / directory).resolve() for directory in self.allowed_dirs]


def check_size(size: int, what: str, field: str, policy: SourcePolicy) -> None:
    if size > policy.max_bytes:
        raise AudioSourceError(
            field,
            "too_large",
            f"{what} is over {format_size(policy.max_bytes)} (the limit); send a shorter clip or a compressed format",
        )


def format_size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} kB"
    return f"{count / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def host_key(host: str) -> str:
    """Hostnames compare case-insensitively without a trailing dot; IP literals in canonical form."""
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name
