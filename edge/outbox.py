"""Store-and-forward queue in SQLite, so a message survives a broker outage or a power cut.

Every message is committed here (WAL, ``synchronous=FULL``) before it is published, and
deleted only when the broker has acknowledged it. The boot counter lives in the same file,
so ``(agent, boot, seq)`` stays unique across restarts. When the queue is full the oldest
rows are dropped and counted: recent state matters more than old history.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import OutboxError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    qos: int


class Outbox:
    """A thread-safe FIFO of (topic, payload, qos) rows. ``path`` is the SQLite file."""

    def __init__(self, path: Path, *, max_rows: int = 100_000) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be >= 1")
        self.path = Path(path)
        self.max_rows = max_rows
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: each statement (or explicit BEGIN block) is one transaction.
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=5.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            (self._depth,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open the outbox at {self.path}: {exc}") from None

    def start_boot(self) -> int:
        """Increment and persist the boot counter; the first boot is 1."""
        with self._lock, self._transaction():
            boot = self._meta("boot") + 1
            self._set_meta("boot", boot)
        return boot

    @property
    def boot(self) -> int:
        """The last boot number handed out (0 before the first)."""
        with self._lock:
            return self._meta("boot")

    @property
    def dropped(self) -> int:
        """Rows dropped because the outbox was full, over the file's whole life."""
        with self._lock:
            return self._meta("dropped")

    def enqueue(self, topic: str, payload: bytes, qos: int) -> int:
        """Persist one message; returns its row id. Drops the oldest rows when full."""
        with self._lock:
            with self._transaction():
                cur = self._db.execute(
                    "INSERT INTO outbox (topic, payload, qos) VALUES (?, ?, ?)",
                    (topic, payload, qos),
                )
                row_id = int(cur.lastrowid or 0)
                excess = max(self._depth + 1 - self.max_rows, 0)
                if excess:
                    self._db.execute(
                        "DELETE FROM outbox WHERE id IN "
                        "(SELECT id FROM outbox ORDER BY id LIMIT ?)",
                        (excess,),
                    )
                    self._set_meta("dropped", self._meta("dropped") + excess)
            self._depth += 1 - excess
        if excess:
            log.warning("outbox full (%d rows): dropped the %d oldest", self.max_rows, excess)
        return row_id

    def pending(self, limit: int, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """Up to ``limit`` rows, oldest first, skipping the ids in ``exclude``."""
        skip = set(exclude)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos FROM outbox ORDER BY id LIMIT ?",
                (limit + len(skip),),
            ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3]) for r in rows if r[0] not in skip][:limit]

    def ack(self, row_id: int) -> None:
        """Delete an acknowledged row; an id that is already gone is fine."""
        with self._lock:
            with self._transaction():
                cur = self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._depth -= max(cur.rowcount, 0)

    def depth(self) -> int:
        """Rows waiting for a broker acknowledgement."""
        with self._lock:
            return self._depth

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self.path)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error; SQLite errors become OutboxError."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self._path}: {exc}") from None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as err:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox {self._path}: {err}") from None
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise OutboxError(f"outbox {self._path}: {exc}") from None
