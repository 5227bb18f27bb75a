"""Store-and-forward queue in SQLite, so a message survives a broker outage or a power cut.

Every message is committed here (WAL, ``synchronous=FULL``) before it is published, and
deleted only when the broker has acknowledged it. The boot counter lives in the same file,
so ``(agent, boot, seq)`` stays unique across restarts.

The queue is bounded three ways (edge.toml ``[outbox]``): by messages, by their bytes (an
SD card is small) and by age. Past a bound the *oldest* rows are dropped, and every drop
is counted (``dropped``, sent in the agent's health): recent state matters more than old
history, and a week-old desk change is worth less than the card space it takes. Age is
measured with the wall clock, which a Pi without a real-time clock may get wrong at boot:
while the clock reads before 2020 nothing is dropped for age, and rows written under such
a clock are never dropped for age (their age is unknown; the other two bounds still hold).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import OutboxError
from edge.private_files import private_file
from edge.protocol import MIN_TIMESTAMP

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    queued REAL              -- wall-clock time it was written (for the age bound)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
# Outboxes written before the age bound have no ``queued`` column: their rows count as
# written when the file is opened by this version (so they age out one max_age later).
_ADD_QUEUED = "ALTER TABLE outbox ADD COLUMN queued REAL"
_QUEUED_INDEX = "CREATE INDEX IF NOT EXISTS outbox_queued ON outbox (queued)"

MAX_ROWS = 100_000
MAX_BYTES = 64 * 1024 * 1024
MAX_AGE_SECONDS = 7 * 86400.0
SANE_CLOCK = MIN_TIMESTAMP  # 2020-01-01 UTC: a clock reading earlier is not yet set
# Rows past the age bound (parameters: SANE_CLOCK, the cutoff); rows written before the
# clock was set have no known age and never match.
_AGED = "queued >= ? AND queued < ?"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    qos: int


class Outbox:
    """A thread-safe FIFO of (topic, payload, qos) rows. ``path`` is the SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_rows < 1 or max_bytes < 1 or not max_age > 0:
            raise ValueError("max_rows, max_bytes and max_age must be positive")
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        try:
            private_file(self.path)  # owner-only, before SQLite creates it (and its WAL)
            # Autocommit mode: each statement (or explicit BEGIN block) is one transaction.
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=5.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "queued" not in columns:
                with self._transaction():
                    self._db.execute(_ADD_QUEUED)
                    self._db.execute("UPDATE outbox SET queued = ?", (self.clock(),))
            self._db.execute(_QUEUED_INDEX)
            self._depth, self._bytes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
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
        """Rows dropped past a bound (full or too old), over the file's whole life."""
        with self._lock:
            return self._meta("dropped")

    def enqueue(self, topic: str, payload: bytes, qos: int) -> int:
        """Persist one message; returns its row id. Drops the oldest rows past a bound."""
        now = self.clock()
        with self._lock:
            with self._transaction():
                cur = self._db.execute(
                    "INSERT INTO outbox (topic, payload, qos, queued) VALUES (?, ?, ?, ?)",
                    (topic, payload, qos, now),
                )
                row_id = int(cur.lastrowid or 0)
                drops = self._drop_past_bounds(
                    now, self._depth + 1, self._bytes + len(payload), keep=row_id)
            self._depth += 1
            self._bytes += len(payload)
            self._commit_drops(drops)
        self._report(drops)
        return row_id

    def expire(self) -> int:
        """Drop the rows past a bound now (enqueue does it too); how many. Writes (and
        syncs) the file only when there is something to drop."""
        now = self.clock()
        with self._lock:
            over = self._depth > self.max_rows or self._bytes > self.max_bytes
            if not over and now >= SANE_CLOCK:
                (over,) = self._db.execute(
                    f"SELECT EXISTS (SELECT 1 FROM outbox WHERE {_AGED})",
                    (SANE_CLOCK, now - self.max_age)).fetchone()
            if not over:
                return 0
            with self._transaction():
                drops = self._drop_past_bounds(now, self._depth, self._bytes)
            self._commit_drops(drops)
        self._report(drops)
        return sum(count for count, _ in drops.values())

    def _drop_past_bounds(
        self, now: float, depth: int, total: int, keep: int | None = None
    ) -> dict[str, tuple[int, int]]:
        """Delete the oldest rows past each bound, inside the caller's transaction, given
        the ``depth`` and ``total`` bytes the file holds now; per reason, (rows, bytes)
        dropped. ``keep`` (the row just written) always stays."""
        drops: dict[str, tuple[int, int]] = {}
        if now >= SANE_CLOCK:
            aged = (SANE_CLOCK, now - self.max_age, keep)
            rows, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox "
                f"WHERE {_AGED} AND id IS NOT ?", aged).fetchone()
            if rows:
                self._db.execute(f"DELETE FROM outbox WHERE {_AGED} AND id IS NOT ?", aged)
                drops["older than max_age"] = (rows, size)
        aged_rows, aged_bytes = drops.get("older than max_age", (0, 0))
        depth, total = depth - aged_rows, total - aged_bytes
        if depth > self.max_rows or total > self.max_bytes:
            # Oldest first, until both bounds hold again (never the row just written).
            cut_rows = cut_bytes = 0
            last = None
            for row_id, size in self._db.execute(
                "SELECT id, LENGTH(payload) FROM outbox WHERE id IS NOT ? ORDER BY id", (keep,)
            ):
                if depth - cut_rows <= self.max_rows and total - cut_bytes <= self.max_bytes:
                    break
                cut_rows, cut_bytes, last = cut_rows + 1, cut_bytes + size, row_id
            if last is not None:
                self._db.execute("DELETE FROM outbox WHERE id <= ? AND id IS NOT ?", (last, keep))
                drops["full"] = (cut_rows, cut_bytes)
        dropped = sum(count for count, _ in drops.values())
        if dropped:
            self._set_meta("dropped", self._meta("dropped") + dropped)
        return drops

    def _commit_drops(self, drops: dict[str, tuple[int, int]]) -> None:
        """After the transaction committed: the in-memory totals follow the file."""
        for rows, size in drops.values():
            self._depth -= rows
            self._bytes -= size

    def _report(self, drops: dict[str, tuple[int, int]]) -> None:
        for reason, (rows, _) in drops.items():
            if reason == "full":
                log.warning("outbox full (at most %d messages, %d bytes): dropped the %d oldest",
                            self.max_rows, self.max_bytes, rows)
            else:
                log.warning("outbox: dropped %d message(s) %s (%.0f s)", rows, reason,
                            self.max_age)

    def pending(self, limit: int, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """Up to ``limit`` rows, oldest first, skipping the ids in ``exclude``; rows past
        the age bound are dropped first (after a long outage they are not sent at all)."""
        self.expire()
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
                # (No RETURNING: the SQLite of older Raspberry Pi OS releases lacks it.)
                gone = self._db.execute(
                    "SELECT LENGTH(payload) FROM outbox WHERE id = ?", (row_id,)).fetchall()
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._depth -= len(gone)
            self._bytes -= sum(size for (size,) in gone)

    def depth(self) -> int:
        """Rows waiting for a broker acknowledgement."""
        with self._lock:
            return self._depth

    def size(self) -> int:
        """Bytes of payload waiting (the ``max_bytes`` bound counts these)."""
        with self._lock:
            return self._bytes

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


@dataclass(frozen=True)
class OutboxSummary:
    """An outbox's figures, read without opening it for writing (``deskpulse edge status``)."""

    boot: int  # the last boot number handed out (0: the agent never started)
    depth: int  # messages waiting for the broker's acknowledgement
    size_bytes: int
    oldest_queued: float | None  # wall-clock time the oldest dated waiting row was written
    undated: int  # waiting rows written while the clock was not set (age unknown)
    dropped: int  # over the file's life


def summarize(path: Path) -> OutboxSummary | None:
    """The figures of the outbox at ``path``, read-only (safe beside the running agent);
    None if there is no such file. sqlite3.Error if it cannot be read."""
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        depth, size, oldest, undated = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), "
            "MIN(CASE WHEN queued >= ? THEN queued END), "
            "COUNT(CASE WHEN queued IS NULL OR queued < ? THEN 1 END) FROM outbox",
            (SANE_CLOCK, SANE_CLOCK)).fetchone()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()
    return OutboxSummary(int(meta.get("boot", 0)), int(depth), int(size), oldest, int(undated),
                         int(meta.get("dropped", 0)))
