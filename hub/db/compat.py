"""The few things the hub's modules do on a connection that SQLite and PostgreSQL spell
differently, for code handed ``store.db`` (a sqlite-utils Database, or the PostgreSQL
store's :class:`hub.db.postgres.connection.PgDb`, which translates the SQLite dialect through
hub/db/postgres/dialect.py). Everything else those modules run is the same SQL on both engines.

- the new row's id: ``cursor.lastrowid`` on SQLite, ``RETURNING id`` on PostgreSQL;
- a constraint refusal: ``sqlite3.IntegrityError`` or ``psycopg.IntegrityError``. On
  PostgreSQL an error aborts the whole transaction, so a statement that may be refused
  inside one runs in ``db.atomic()`` (a savepoint on both engines);
- writers taking turns: SQLite's ``BEGIN IMMEDIATE`` lets one writer in at a time, which
  read-then-write code (the audit chain, rate limits, a person's check-in or check-out)
  relies on; on PostgreSQL :func:`take_turn` takes a transaction-scoped advisory lock
  for the same effect;
- single rows by column name: :func:`insert_row`, :func:`update_row`, :func:`upsert_row`
  in portable SQL, where sqlite-utils' ``db.table(...)`` helpers exist on SQLite only.

Schemas: the PostgreSQL store's migrations (hub/db/postgres/migrations.py) create every table,
including those hub/auth/accounts.py and hub/auth/ratelimit.py create themselves on SQLite, whose
``ensure_schema`` is therefore a no-op there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

IntegrityError: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
DatabaseError: tuple[type[Exception], ...] = (sqlite3.Error,)
try:  # the [postgres] extra; without it no psycopg error can be raised, SQLite's suffice
    import psycopg
except ImportError:  # pragma: no cover - tests/edge/test_lean_import.py runs without it
    pass
else:
    IntegrityError += (psycopg.IntegrityError,)
    DatabaseError += (psycopg.Error,)

# Advisory lock class of take_turn (first key of pg_advisory_xact_lock(int, int)); distinct
# from the site locks and the migrations' lock in hub/db/postgres/store.py and
# hub/db/postgres/migrations.py.
_TURN_CLASS = 0x7475726E  # "turn"


def is_postgres(db: Any) -> bool:
    """True for the PostgreSQL store's connection (``store.db`` or ``store.db.conn``)."""
    return getattr(db, "dialect", "sqlite") == "postgresql"


def insert_id(db: Any, sql: str, params: Sequence[Any] | dict[str, Any]) -> int:
    """Run one ``INSERT`` into a table with an ``id`` key and return the new row's id."""
    if is_postgres(db):
        row = db.execute(f"{sql} RETURNING id", params).fetchone()
        return int(row[0])
    return int(db.execute(sql, params).lastrowid or 0)


def take_turn(db: Any, name: str) -> None:
    """Inside a transaction: wait until no other transaction holds the turn ``name``.

    A no-op on SQLite, whose write transactions already take turns (``BEGIN IMMEDIATE``).
    """
    if is_postgres(db):
        db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", [_TURN_CLASS, name])


def insert_row(db: Any, table: str, row: dict[str, Any]) -> None:
    """``INSERT`` one row (what sqlite-utils' ``db.table(t).insert(row)`` did; fixed names)."""
    columns = list(row)
    db.execute(f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names only
               f"VALUES ({', '.join(':' + c for c in columns)})", row)


def update_row(db: Any, table: str, key: dict[str, Any], changes: dict[str, Any]) -> None:
    """``UPDATE`` the row whose primary key is ``key`` (fixed names, values as parameters)."""
    if not changes:
        return
    sets = ", ".join(f"{c} = :set_{c}" for c in changes)
    where = " AND ".join(f"{c} = :key_{c}" for c in key)
    db.execute(f"UPDATE {table} SET {sets} WHERE {where}",  # noqa: S608 - fixed names only
               {**{f"set_{c}": v for c, v in changes.items()},
                **{f"key_{c}": v for c, v in key.items()}})


def upsert_row(db: Any, table: str, row: dict[str, Any], key: tuple[str, ...]) -> None:
    """Insert the row, or update its other columns where the primary key ``key`` exists."""
    columns = list(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    db.execute(f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names only
               f"VALUES ({', '.join(':' + c for c in columns)}) "
               f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}", row)
