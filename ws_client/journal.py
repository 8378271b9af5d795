"""The space client's on-disk journal: accepted jobs and results not yet delivered survive a
disconnect, a crash or a restart of the node.

One SQLite row per request id moves through:

    accepted ──> synthesized ──> done ──> sent
        │             │            ↑
        └─────────────┴────────────┘   (a failure skips straight to done, with a `failed` result)
    synthesized ──> undeliverable      (the site no longer knows the request id)
    accepted ──> forgotten             (the site forgot the request before it ran: never run)

`accepted` rows are run (again) after a restart; `synthesized` rows hold a WAV waiting for its
upload; `done` rows hold the `inference_result` message waiting for a connection.

One process at a time: the journal holds an exclusive lock (`<journal>.lock`, with the holder's
pid) for as long as it is open, so a second node on the same folder stops with a clear error
instead of running the same jobs again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCEPTED, SYNTHESIZED, DONE, SENT = "accepted", "synthesized", "done", "sent"
UNDELIVERABLE, FORGOTTEN = "undeliverable", "forgotten"
KEEP_DELIVERED_SECONDS = 7 * 24 * 3600  # answered rows are kept a week, to recognise duplicates

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    message TEXT NOT NULL,          -- the inference_request as received (JSON)
    order_key REAL NOT NULL,        -- the site's submission time, else our arrival time
    arrival INTEGER NOT NULL,       -- tie-break: our arrival sequence
    state TEXT NOT NULL,
    wav_path TEXT,
    audio_info TEXT,                -- duration, sample_rate, processing_time, rtf (JSON)
    result TEXT,                    -- the inference_result to send (JSON)
    note TEXT,
    updated_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state, order_key, arrival);
"""


@dataclass(frozen=True)
class Entry:
    request_id: str
    message: dict[str, Any]
    state: str
    wav_path: Path | None
    audio_info: dict[str, Any] | None
    result: dict[str, Any] | None
    note: str | None


class JournalInUse(RuntimeError):
    """Another process has this journal open."""


class Journal:
    """Thread-safe; every change is committed before the call returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._owner = _lock_exclusively(path.with_name(path.name + ".lock"))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._arrivals = self._scalar("SELECT COALESCE(MAX(arrival), 0) FROM requests")
        self._prune()

    def accept(self, request_id: str, message: dict[str, Any], order_key: float) -> bool:
        """Record a new request; False when the id is already known (a duplicate)."""
        with self._lock:
            self._arrivals += 1
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO requests (request_id, message, order_key, arrival, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (request_id, json.dumps(message, ensure_ascii=False), order_key, self._arrivals, ACCEPTED, time.time()),
            )
            return cursor.rowcount == 1

    def get(self, request_id: str) -> Entry | None:
        rows = self._select("WHERE request_id = ?", (request_id,))
        return rows[0] if rows else None

    def in_state(self, state: str) -> list[Entry]:
        """Rows in one state, oldest submission first."""
        return self._select("WHERE state = ? ORDER BY order_key, arrival", (state,))

    def next_accepted(self) -> Entry | None:
        rows = self._select("WHERE state = ? ORDER BY order_key, arrival LIMIT 1", (ACCEPTED,))
        return rows[0] if rows else None

    def synthesized(self, request_id: str, wav_path: Path, audio_info: dict[str, Any]) -> None:
        self._set(request_id, SYNTHESIZED, wav_path=str(wav_path), audio_info=json.dumps(audio_info))

    def done(self, request_id: str, result: dict[str, Any]) -> None:
        self._set(request_id, DONE, result=json.dumps(result, ensure_ascii=False))

    def sent(self, request_id: str) -> None:
        self._set(request_id, SENT, sent_at=time.time())

    def undeliverable(self, request_id: str, note: str) -> None:
        self._set(request_id, UNDELIVERABLE, note=note)

    def forgotten(self, request_id: str, note: str) -> bool:
        """An accepted request the site no longer knows is never run; False when it was not accepted."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE requests SET state = ?, note = ?, updated_at = ? WHERE request_id = ? AND state = ?",
                (FORGOTTEN, note, time.time(), request_id, ACCEPTED),
            )
            return cursor.rowcount == 1

    def sent_since(self, since: float) -> list[Entry]:
        """Results emitted after `since`: worth repeating when the connection that carried them dropped."""
        return self._select("WHERE state = ? AND sent_at >= ? ORDER BY order_key, arrival", (SENT, since))

    def count(self, *states: str) -> int:
        marks = ",".join("?" * len(states))
        return self._scalar(f"SELECT COUNT(*) FROM requests WHERE state IN ({marks})", states)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._owner.close()  # releases the lock

    # --- internals -----------------------------------------------------------------------------

    def _set(self, request_id: str, state: str, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._lock:
            self._db.execute(
                f"UPDATE requests SET state = ?, updated_at = ?{', ' if columns else ''}{assignments} "
                "WHERE request_id = ?",
                (state, time.time(), *columns.values(), request_id),
            )

    def _select(self, where: str, params: tuple[Any, ...]) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT request_id, message, state, wav_path, audio_info, result, note FROM requests {where}", params
            ).fetchall()
        return [
            Entry(
                request_id=row[0],
                message=json.loads(row[1]),
                state=row[2],
                wav_path=Path(row[3]) if row[3] else None,
                audio_info=json.loads(row[4]) if row[4] else None,
                result=json.loads(row[5]) if row[5] else None,
                note=row[6],
            )
            for row in rows
        ]

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return int(self._db.execute(sql, params).fetchone()[0])

    def _prune(self) -> None:
        horizon = time.time() - KEEP_DELIVERED_SECONDS
        with self._lock:
            self._db.execute(
                "DELETE FROM requests WHERE state IN (?, ?, ?) AND updated_at < ?",
                (SENT, UNDELIVERABLE, FORGOTTEN, horizon),
            )


def _lock_exclusively(lock_path: Path):
    """Hold an exclusive lock on `lock_path` (with our pid in it) or raise JournalInUse naming the holder.

    flock locks belong to the open file: the kernel drops them when the process ends, however it
    ends, so a killed node never leaves a stale lock behind."""
    handle = open(lock_path, "a+")  # noqa: SIM115 — held open for the journal's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise JournalInUse(
            f"the space journal in {lock_path.parent} is in use by another node process (pid {holder}); "
            "stop that process, or give this node its own --outputs_dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
