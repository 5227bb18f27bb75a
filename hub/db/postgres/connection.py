"""One thread's PostgreSQL connection, wrapped to take the hub's SQLite-dialect SQL.

A module of its own so the set-wise apply (hub/db/postgres/apply_set.py) and the store
(hub/db/postgres/store.py) both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from hub.db.postgres.dialect import to_postgres


class PgDb:
    """One thread's connection, taking the hub's SQLite-dialect SQL (hub.db.postgres.dialect).

    It offers what the hub's portable code calls on a sqlite-utils Database and on its
    sqlite3 connection: ``execute``, ``executemany``, ``query``, ``conn`` and
    ``in_transaction``. Statements run with a parameter sequence always, even an empty one,
    so the ``%%`` escapes of the translation are read. ``dialect`` tells hub/db/compat.py
    which engine it is.
    """

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    @property
    def conn(self) -> PgDb:
        return self

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> psycopg.Cursor:
        return self.raw.execute(to_postgres(sql), params)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Any) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(to_postgres(sql), list(rows))
        return cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        with self.raw.cursor(row_factory=dict_row) as cursor:
            cursor.execute(to_postgres(sql), params)  # type: ignore[arg-type]
            yield from cursor.fetchall()

    @contextmanager
    def atomic(self) -> Iterator[PgDb]:
        with self.raw.transaction():
            yield self
