"""A Redis lock per host and GPU, so two workers never run on one GPU at once.

`SET key token NX PX ttl` takes it; only the holder's token can extend or release it (a Lua
compare-and-act). The expiry means a worker that died while holding it cannot block the GPU
forever; while a task runs, a thread renews it every third of the ttl.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any

import redis

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


class GpuLockTimeout(TimeoutError):
    """Another worker held the GPU for longer than we were willing to wait."""


class GpuLock:
    def __init__(self, client: redis.Redis, device: str, ttl: float = 60.0, host: str | None = None) -> None:
        self.client = client
        self.key = f"indextts:gpu_lock:{host or socket.gethostname()}:{device}"
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}:{threading.get_native_id()}:{uuid.uuid4().hex[:8]}"
        self._token: str | None = None

    @contextmanager
    def held(self, wait: float):
        """Hold the lock for the block, renewing it; raises GpuLockTimeout after `wait` seconds."""
        token = f"{self.holder}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait
        while not self.client.set(self.key, token, nx=True, px=int(self.ttl * 1000)):
            if time.monotonic() > deadline:
                raise GpuLockTimeout(f"the GPU lock {self.key} stayed taken for {wait:.0f} s")
            time.sleep(0.2)
        self._token = token
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(token, stop), daemon=True, name="gpu-lock-renew")
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(5)
            self.client.eval(_RELEASE, 1, self.key, token)
            self._token = None

    def state(self) -> dict[str, Any]:
        """What health checks report: who holds it (if anyone) and for how much longer."""
        holder = self.client.get(self.key)
        ttl_ms = self.client.pttl(self.key) if holder else -2
        return {
            "key": self.key,
            "held": holder is not None,
            "holder": holder.decode() if isinstance(holder, bytes) else holder,
            "held_by_me": holder is not None and self._token is not None,
            "ttl": round(ttl_ms / 1000, 1) if ttl_ms > 0 else None,
        }

    def _renew(self, token: str, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            self.client.eval(_EXTEND, 1, self.key, token, int(self.ttl * 1000))
