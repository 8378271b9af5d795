"""A small bounded, thread-safe cache keyed by content, for prompt conditioning.

The official code keys its prompt cache by the path string, so a file replaced under the same name
is not noticed and the same audio under two names is processed twice. Here the key is a hash of
the audio bytes. Concurrent requests for the same key compute it once; the others wait for it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

V = TypeVar("V")


def content_key(source: str | os.PathLike | bytes, *salt: str) -> str:
    """sha256 of the audio bytes (file content for a path), plus what else the value depends on."""
    digest = hashlib.sha256()
    for part in salt:
        digest.update(part.encode() + b"\0")
    if isinstance(source, bytes | bytearray | memoryview):
        digest.update(source)
    else:
        with Path(source).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class ContentCache(Generic[V]):
    """LRU of at most `capacity` values; `get_or_compute` runs `compute` once per missing key."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, V] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def get_or_compute(self, key: str, compute: Callable[[], V]) -> V:
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key]
                pending = self._pending.get(key)
                if pending is None:
                    self._pending[key] = threading.Event()
                    self.misses += 1
                    break
            pending.wait()  # another thread is computing it; then look again (it may have failed)
        try:
            value = compute()
            with self._lock:
                if self.capacity > 0:
                    self._items[key] = value
                    while len(self._items) > self.capacity:
                        self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._pending.pop(key).set()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
