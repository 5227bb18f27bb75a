"""The hub's embedded store: SQLite through sqlite-utils, WAL mode, foreign keys on.

Threads: every thread gets its own connection (``store.db`` is per thread). SQLite in WAL
mode lets readers run beside the one writer, and a connection's transaction state is its
own, so an API request thread can never join, block inside, or roll back the ingest
writer's transaction (which a shared connection would allow). Write transactions start
with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of
failing when a read lock cannot be upgraded. ``synchronous=FULL``: ingest acknowledges a
message to the broker only after its commit, so a commit must survive a power cut.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

from edge.private_files import private_file
from hub.building.model import DEFAULT_CORE_HOURS, validate_building
from hub.db import apply as _apply
from hub.db import transition_index
from hub.db.apply import ApplyResult, ClockPolicy, Incoming, Rejected
from hub.db.sqlite import apply_set, migrations
from hub.errors import ConfigError, NotFound, StoreError
from hub.metrics.kernel import RollupFrame, TransitionFrame

__all__ = ["ApplyResult", "Incoming", "Rejected", "SqliteStore", "StoreQueries"]

log = logging.getLogger(__name__)

COUNTER_NAMES = (
    "messages", "duplicates", "gaps", "late", "dead_letters", "transitions",
    "clock_corrected", "clock_rejected",
)
_STATE_CODE_SQL = "CASE t.state WHEN 'vacant' THEN 0 WHEN 'occupied' THEN 1 ELSE 2 END"
_RollupRow = tuple[str, int, float, float, float]


class StoreQueries:
    """The store's reads and writes, written once in SQLite's SQL dialect.

    Subclasses supply the connection layer: ``db`` (this thread's connection, with
    ``execute``/``query``/``conn``) and ``transaction()``. :class:`SqliteStore` runs the
    SQL as written; :class:`hub.db.postgres.store.PostgresStore` runs it through
    :func:`hub.db.postgres.dialect.to_postgres`, so both engines apply the same rules.
    """

    path: Path

    @property
    def db(self) -> Database:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[Database]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    # -- the building ----------------------------------------------------------------------

    def import_building(self, building: dict[str, Any]) -> None:
        """Insert or update sites, floors, zones and desks; nothing is deleted."""
        rows = validate_building(building)
        with self.transaction() as db:
            _upsert(db, "sites", ("id",),
                    [{**s, "core_hours": _json_or_none(s["core_hours"])} for s in rows.sites])
            _upsert(db, "floors", ("site", "id"), rows.floors)
            _upsert(db, "zones", ("site", "id"), rows.zones)
            _upsert(db, "desks", ("id",), rows.desks)
            agents = {(d["agent"], d["site"]) for d in rows.desks if d["agent"] is not None}
            db.conn.executemany(
                "INSERT INTO agents (id, site) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET site = excluded.site",
                sorted(agents),
            )
        log.info("imported %d sites, %d desks", len(rows.sites), len(rows.desks))

    def sites(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, name, timezone, core_hours, headcount FROM sites ORDER BY id"
        )
        for row in rows:
            row["core_hours"] = (
                json.loads(row["core_hours"]) if row["core_hours"] else dict(DEFAULT_CORE_HOURS)
            )
        return rows

    def site(self, site: str) -> dict[str, Any]:
        for row in self.sites():
            if row["id"] == site:
                return row
        raise NotFound(f"no site '{site}'")

    def floors(self, site: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, name, level FROM floors WHERE site = ? ORDER BY level, id", [site]
        )

    def zones(self, site: str) -> list[dict[str, Any]]:
        return self._rows("SELECT id, floor, name FROM zones WHERE site = ? ORDER BY id", [site])

    def desks(self, site: str) -> list[dict[str, Any]]:
        """Desks with their live state (``unknown`` and no ``since`` if never seen)."""
        return self._rows(
            "SELECT d.id, d.name, d.floor, d.zone, d.agent, d.x, d.y, d.assigned, "
            "COALESCE(s.state, 'unknown') AS state, s.since "
            "FROM desks d LEFT JOIN desk_state s ON s.desk = d.id WHERE d.site = ? ORDER BY d.id",
            [site],
        )

    def assigned_desks(self, site: str) -> set[str]:
        """Desks of a site assigned to one person: reported at zone level only."""
        rows = self.db.execute("SELECT id FROM desks WHERE site = ? AND assigned = 1", [site])
        return {str(row[0]) for row in rows}

    def desk_site(self, desk: str) -> str | None:
        row = self.db.execute("SELECT site FROM desks WHERE id = ?", [desk]).fetchone()
        return None if row is None else str(row[0])

    # -- messages --------------------------------------------------------------------------

    def apply(
        self, batch: Sequence[Incoming], clock: ClockPolicy | None = None
    ) -> ApplyResult:
        """Apply a batch of decoded messages in ONE transaction (see hub.db.apply for rules)."""
        with self.transaction() as db:
            return _apply.apply_batch(db.conn, batch, clock)

    def dead_letter(self, topic: str, reason: str, payload: bytes, received: float) -> None:
        """Record a message that could not be used: reason, size and hash, never the payload."""
        with self.transaction() as db:
            _apply.insert_dead_letter(db.conn, topic, reason, payload, received)
            _apply.bump_counters(db.conn, Counter(dead_letters=1))

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, received, topic, reason, size, sha256 FROM dead_letters "
            "ORDER BY id DESC LIMIT ?", [limit],
        )

    def agents(self, site: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE site = ?", [site]) if site is not None else ("", [])
        rows = self._rows(
            "SELECT id, site, online, boot, version, last_seen, outbox_depth, dropped, faults, "
            f"uptime, clock_offset, gaps FROM agents {where} ORDER BY id", params,
        )
        for row in rows:
            row["online"] = bool(row["online"])
            row["faults"] = json.loads(row["faults"]) if row["faults"] else []
        return rows

    def counters(self) -> dict[str, int]:
        """COUNTER_NAMES (0 if none yet): messages, duplicates, ..., clock_corrected."""
        out = dict.fromkeys(COUNTER_NAMES, 0)
        out.update({row["name"]: int(row["value"]) for row in self._rows(
            "SELECT name, value FROM counters"
        )})
        return out

    def expire_agents(self, cutoff: float, now: float) -> list[str]:
        """Mark agents silent since before ``cutoff`` offline; their desks become unknown."""
        with self.transaction() as db:
            expired = _apply.expire_agents(db.conn, cutoff, now)
        if expired:
            log.warning("agents offline (no heartbeat): %s", ", ".join(expired))
        return expired

    # -- transitions and rollups -----------------------------------------------------------

    def _desk_ids(self, desks: Sequence[str] | None) -> list[str]:
        if desks is not None:
            return list(desks)
        return [row[0] for row in self.db.execute("SELECT id FROM desks ORDER BY id")]

    def transitions(
        self, desks: Sequence[str] | None, since: float, until: float
    ) -> TransitionFrame:
        """Transitions with ``since <= at < until`` plus, per desk, the last one before."""
        ids = self._desk_ids(desks)
        params = [json.dumps(ids), since]
        # Indexed and pending rows (hub/db/transition_index.py) are read apart, then joined.
        before = self.db.execute(
            f"SELECT j.key, t.at, {_STATE_CODE_SQL}, t.id FROM json_each(?) j "
            "JOIN transitions t ON t.id = (SELECT id FROM transitions WHERE desk = j.value "
            "AND at < ? AND pending IS NULL ORDER BY at DESC, id DESC LIMIT 1)", params,
        ).fetchall()
        inside = self.db.execute(
            f"SELECT j.key, t.at, {_STATE_CODE_SQL}, t.id FROM json_each(?) j "
            "JOIN transitions t ON t.desk = j.value AND t.at >= ? AND t.at < ? "
            "AND t.pending IS NULL", [*params, until],
        ).fetchall()
        positions: dict[str, list[int]] = {}
        for k, desk in enumerate(ids):  # a desk named twice gets its rows twice, as above
            positions.setdefault(desk, []).append(k)
        latest = {int(row[0]): tuple(row) for row in before}
        for desk, at, state, row_id in transition_index.pending_by_desk(
            self.db, f"t.at, {_STATE_CODE_SQL}, t.id", ids, "t.at < ?", [until]
        ):
            for k in positions[desk]:
                row = (k, at, state, row_id)
                if at >= since:
                    inside.append(row)
                elif (old := latest.get(k)) is None or (at, row_id) > (old[1], old[3]):
                    latest[k] = row  # the last one before ``since``, whichever part
        table = np.array(list(latest.values()) + inside, dtype=np.float64).reshape(-1, 4)
        order = np.lexsort((table[:, 3], table[:, 1], table[:, 0]))
        table = table[order]
        return TransitionFrame(
            desks=ids,
            desk_index=table[:, 0].astype(np.int64),
            at=table[:, 1].copy(),
            state=table[:, 2].astype(np.int8),
        )

    def rollups(
        self,
        site: str,
        start: float,
        end: float,
        *,
        bin_seconds: int | None = None,
        now: float | None = None,
    ) -> RollupFrame:
        """The site's rollups for bins starting in ``[start, end)``, desks sorted by id.

        The frame's ``end`` is clamped to ``now`` (default: the clock), so that metrics
        count only time that has passed: a future bin is in the grid but not in any window.
        """
        bs = bin_seconds or self.rollup_bin_seconds() or 900
        ids = [d["id"] for d in self._rows("SELECT id FROM desks WHERE site = ? ORDER BY id",
                                           [site])]
        first = -(-int(np.ceil(start)) // bs) * bs
        bins = np.arange(first, end, bs, dtype=np.int64)
        shape = (len(ids), len(bins))
        occupied, unknown, span = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        rows = self.db.execute(
            "SELECT j.key, r.bin_start, r.occupied_s, r.unknown_s, r.span_s FROM json_each(?) j "
            "JOIN rollups r ON r.desk = j.value AND r.bin_start >= ? AND r.bin_start < ?",
            [json.dumps(ids), first, end],
        ).fetchall()
        if rows and len(bins):
            table = np.array(rows, dtype=np.float64)
            offset = table[:, 1] - first
            aligned = offset % bs == 0
            d = table[aligned, 0].astype(np.int64)
            b = (offset[aligned] // bs).astype(np.int64)
            occupied[d, b] = table[aligned, 2]
            unknown[d, b] = table[aligned, 3]
            span[d, b] = table[aligned, 4]
        elapsed_until = min(float(end), time.time() if now is None else float(now))
        return RollupFrame(ids, bins, occupied, unknown, span, bs, float(start), elapsed_until)

    def rollup_bin_seconds(self) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = 'bin_seconds'").fetchone()
        return None if row is None else int(row[0])

    def claim_bin_seconds(self, bin_seconds: int) -> None:
        """Record the bin width the rollups use; refuse a different one later."""
        with self.transaction() as db:
            # Insert-if-absent first: two workers claiming at once both succeed or agree.
            db.execute("INSERT INTO meta (name, value) VALUES ('bin_seconds', ?) "
                       "ON CONFLICT (name) DO NOTHING", [str(bin_seconds)])
            current = self.rollup_bin_seconds()
            if current != bin_seconds:
                raise ConfigError(
                    f"this database's rollups use bin_seconds={current}; set bin_seconds back "
                    f"to {current} (changing it needs a new database)"
                )

    def clear_dirty(self, desks: Iterable[str]) -> None:
        with self.transaction() as db:
            db.conn.execute(
                "DELETE FROM dirty WHERE desk IN (SELECT value FROM json_each(?))",
                [json.dumps(list(desks))],
            )

    def write_rollups(self, rows: Iterable[_RollupRow]) -> int:
        """Upsert (desk, bin_start, occupied_s, unknown_s, span_s) rows."""
        with self.transaction() as db:
            cursor = db.conn.executemany(
                "INSERT INTO rollups (desk, bin_start, occupied_s, unknown_s, span_s) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (desk, bin_start) DO UPDATE SET "
                "occupied_s = excluded.occupied_s, unknown_s = excluded.unknown_s, "
                "span_s = excluded.span_s",
                rows,
            )
        return max(cursor.rowcount, 0)



class SqliteStore(StoreQueries):
    """Sites, desks, agents, transitions and rollups in one SQLite file."""

    dialect = "sqlite"

    def __init__(self, path: Path | str, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            private_file(self.path)  # owner-only, before SQLite creates it (and its WAL)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._registry = threading.Lock()
        # This process's threads queue here for the write lock, in turn, instead of polling
        # SQLite's busy handler (which sleeps up to 100 ms a try, so a thread writing in
        # quick short transactions, like the rollups, could starve the ingest writer).
        self._writer = threading.Lock()
        self._closed = False
        self.db.enable_wal()
        migrations.apply(self.db)

    # -- connections and transactions ------------------------------------------------------

    @property
    def db(self) -> Database:
        """This thread's sqlite-utils Database (created on first use)."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        return db

    def _connect(self) -> Database:
        with self._registry:
            if self._closed:
                raise StoreError(f"the store {self.path} is closed")
            # Close connections of threads that have ended (e.g. a finished worker pool).
            alive = []
            for thread, conn in self._connections:
                if thread.is_alive():
                    alive.append((thread, conn))
                else:
                    conn.close()
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, check_same_thread=False)
            alive.append((threading.current_thread(), conn))
            self._connections = alive
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return _WriterDatabase(conn, self._writer, self.busy_timeout)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction on this thread's connection; nested calls use savepoints.

        The same as ``store.db.atomic()``: both take the write lock up front."""
        with self.db.atomic() as db:
            yield db

    def apply(
        self, batch: Sequence[Incoming], clock: ClockPolicy | None = None
    ) -> ApplyResult:
        """As :meth:`StoreQueries.apply`, with plain desks messages applied set-wise
        (hub/db/sqlite/apply_set.py: same rules, far fewer statements)."""
        cache = getattr(self._local, "apply_cache", None)
        if cache is None:
            cache = self._local.apply_cache = apply_set.Cache()
        with self.transaction() as db:
            return apply_set.apply_batch(db.conn, batch, clock, cache)

    def try_site_lock(self, purpose: str, site: str) -> bool:
        """Always True: one SQLite file has one hub process doing its rollups."""
        return True

    def release_site_locks(self) -> None:
        """Nothing to release (see :meth:`try_site_lock`)."""

    def close(self) -> None:
        """Close every thread's connection; the store cannot be used afterwards."""
        with self._registry:
            self._closed = True
            for _, conn in self._connections:
                conn.close()
            self._connections = []
        self._local = threading.local()


class _WriterDatabase(Database):
    """sqlite-utils' Database whose outermost ``atomic()`` takes the write lock up front.

    Why: sqlite-utils begins a deferred transaction, and one that reads and then writes
    (an audited page view, a password reset) gets SQLITE_BUSY at once, without waiting,
    when ingest has committed since its read: "database is locked" as a 500 during a
    message flood (issue 24, item 3). Here the outermost block queues on this process's
    writer lock (in turn with ingest and the rollups, see SqliteStore.__init__), then
    ``BEGIN IMMEDIATE`` waits on the busy timeout for other processes; nested blocks are
    savepoints as before.
    """

    def __init__(self, conn: sqlite3.Connection, writer: threading.Lock, timeout: float) -> None:
        super().__init__(conn)
        self._writer = writer
        self._timeout = timeout

    @contextmanager
    def atomic(self) -> Iterator[Database]:  # type: ignore[override]
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        if not self._writer.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked (by this hub's other writer)")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            self._writer.release()


def _upsert(db: Database, table: str, key: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Insert rows or update their columns by primary key (portable SQL, fixed names)."""
    if not rows:
        return
    columns = list(rows[0])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    db.conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names only
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
        rows,
    )


def _json_or_none(value: object) -> str | None:
    return None if value is None else json.dumps(value)
