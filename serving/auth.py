"""The optional API key: when the operator sets one, every front door except /health and /metrics
asks for it (HTTP: `Authorization: Bearer <key>`; WebSocket: that header or a `token` query)."""

from __future__ import annotations

import hmac

MISSING_KEY_MESSAGE = "this node requires an API key: send 'Authorization: Bearer <key>'"
WRONG_KEY_MESSAGE = "the API key is not valid for this node"


class ApiKey:
    def __init__(self, key: str | None = None) -> None:
        self._key = (key or "").strip()

    @property
    def enabled(self) -> bool:
        return bool(self._key)

    def accepts(self, authorization: str | None = None, token: str | None = None) -> bool:
        """True when no key is configured, or the Bearer header or raw token carries it."""
        if not self.enabled:
            return True
        offered = token or ""
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            offered = value.strip() if scheme.lower() == "bearer" else ""
        # Constant-time comparison: the key must not leak through response timing.
        return hmac.compare_digest(offered.encode(), self._key.encode())

    def problem(self, authorization: str | None = None, token: str | None = None) -> str | None:
        """None when accepted, else the message to send back."""
        if self.accepts(authorization, token):
            return None
        return WRONG_KEY_MESSAGE if (authorization or token) else MISSING_KEY_MESSAGE
