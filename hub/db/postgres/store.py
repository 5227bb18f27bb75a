"""The hub store on PostgreSQL (psycopg 3 with a connection pool), for several hub workers.

The reads and writes are :class:`hub.db.sqlite.store.StoreQueries`, the very SQL the SQLite store
runs, translated by :func:`hub.db.postgres.dialect.to_postgres` (plain desks messages are applied
set-wise by hub/db/postgres/apply_set.py, the same rules in PostgreSQL's array statements); only
the connection layer is PostgreSQL's own:

- Each thread holds one pooled connection (autocommit outside ``transaction()``), as each
  thread of the SQLite store has its own connection: a request thread can never join or
  roll back the ingest writer's transaction. A thread's connection returns to the pool
  when the thread has ended, and a broken one (server restart, killed backend) is
  replaced on the next use.
- Across workers, correctness comes from constraints, not process memory: a message's
  ``(agent, boot, seq)`` is the primary key of ``messages`` and a second copy is an
  ``ON CONFLICT DO NOTHING`` that counts a duplicate, whichever worker got it; a check-in
  token's id is the primary key of ``used_tokens``.
- Rollups of a site are done by one worker at a time: :meth:`PostgresStore.try_site_lock`
  takes a session advisory lock on the rollup thread's connection and keeps it; if that
  worker dies its connection ends, the lock with it, and another worker takes the site
  over on its next tick. While a refresh runs it locks the site's dirty marks
  (``FOR UPDATE``), so an event that arrives meanwhile is never cleared unrolled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout
from sqlite_utils import Database

from hub.db.apply import ApplyResult, ClockPolicy, Incoming
from hub.db.postgres import apply_set as apply_set_pg
from hub.db.postgres import migrations as migrations_pg
from hub.db.postgres.connection import PgDb
from hub.db.sqlite.store import StoreQueries
from hub.errors import StoreError

log = logging.getLogger(__name__)

# Advisory lock classes (the first key of pg_try_advisory_lock(int, int)); the second key
# is hashtext(site). Two sites with the same hash share one lock: one worker does both.
LOCK_CLASSES = {"rollup": 0x726F6C6C}


def redact(url: str) -> str:
    """The URL without its password (for logs and cache keys)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class PostgresStore(StoreQueries):
    """Sites, desks, agents, transitions and rollups in one PostgreSQL database."""

    dialect = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 40, timeout: float = 10.0) -> None:
        self.url = url
        self.path = Path(redact(url))  # only a name: report caches key on it
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, psycopg.Connection]] = []
        self._registry = threading.Lock()
        self._closed = False
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_connections, timeout=timeout, open=False,
            kwargs={"autocommit": True}, reset=_reset, name="deskpulse",
        )
        try:
            self.pool.open(wait=True, timeout=timeout)
        except PoolTimeout:
            self.pool.close()
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact(url)} within {timeout:.0f} s"
            ) from None
        with self.pool.connection() as conn:
            applied = migrations_pg.apply(conn)
        if applied:
            log.info("PostgreSQL migrations applied: %s", ", ".join(applied))

    # -- connections and transactions ------------------------------------------------------

    @property
    def db(self) -> Database:
        """This thread's connection as a :class:`PgDb` (typed as the Database it stands in for)."""
        pg: PgDb | None = getattr(self._local, "pg", None)
        if pg is None or pg.raw.broken or pg.raw.closed:
            pg = PgDb(self._connect(pg.raw if pg is not None else None))
            self._local.pg = pg
            self._local.locks = set()
        return cast(Database, pg)

    def _connect(self, broken: psycopg.Connection | None) -> psycopg.Connection:
        with self._registry:
            if self._closed:
                raise StoreError(f"the store {self.path} is closed")
            alive = []
            for thread, conn in self._connections:
                if conn is broken or not thread.is_alive():
                    self.pool.putconn(conn)  # a broken one is discarded by the pool
                else:
                    alive.append((thread, conn))
            self._connections = alive
        conn = self.pool.getconn()
        with self._registry:
            self._connections.append((threading.current_thread(), conn))
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """A transaction on this thread's connection; nested calls use savepoints."""
        db = self.db
        with cast(PgDb, db).raw.transaction():
            yield db

    def close(self) -> None:
        """Return every thread's connection and close the pool."""
        with self._registry:
            self._closed = True
            for _, conn in self._connections:
                self.pool.putconn(conn)
            self._connections = []
        self._local = threading.local()
        self.pool.close()

    # -- one worker per site ---------------------------------------------------------------

    def try_site_lock(self, purpose: str, site: str) -> bool:
        """Hold (or take now) ``purpose``'s lock for ``site`` on this thread's connection.

        False if another connection holds it. The lock lasts until
        :meth:`release_site_locks` or until the connection ends (the worker died).
        """
        pg = cast(PgDb, self.db)
        held: set[tuple[str, str]] = self._local.locks
        if (purpose, site) in held:
            return True
        (got,) = pg.raw.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASSES[purpose], site)
        ).fetchone() or (False,)
        if got:
            held.add((purpose, site))
            log.info("this worker now does %s for site %s", purpose, site)
        return bool(got)

    def release_site_locks(self) -> None:
        """Give up every site lock this thread holds (a clean stop)."""
        pg: PgDb | None = getattr(self._local, "pg", None)
        if pg is not None and not pg.raw.broken and not pg.raw.closed:
            pg.raw.execute("SELECT pg_advisory_unlock_all()")
        self._local.locks = set()

    def backend_pid(self) -> int:
        """This thread's server process id (tests end it to simulate a dead worker)."""
        return int(cast(PgDb, self.db).raw.info.backend_pid)

    # -- PostgreSQL-specific parts of the queries -------------------------------------------

    def apply(
        self, batch: Sequence[Incoming], clock: ClockPolicy | None = None
    ) -> ApplyResult:
        """As the SQLite store, plain desks messages set-wise (hub/db/postgres/apply_set.py: the
        rules of hub.db.apply in a few array statements, safe beside other workers), with the
        batch's messages grouped by agent (stable, so each agent's own order is kept): two
        workers' transactions then lock the agents' rows in the same order and cannot
        deadlock on them. SQLite has one writer and needs no order."""
        ordered = sorted(batch, key=lambda item: item.topic.agent)
        with self.transaction() as db:
            return apply_set_pg.apply_batch(cast(PgDb, db.conn), ordered, clock)


def _reset(conn: psycopg.Connection) -> None:
    """A connection going back to the pool drops the site locks its thread held."""
    conn.execute("SELECT pg_advisory_unlock_all()")
