"""The one ``Store`` interface of the ingest, rollup and report path.

``open_store`` (which engine a URL names) lives in :mod:`hub.db.engines`, so this module
imports neither engine and the engines can import it without a cycle.

Two implementations: :class:`hub.db.sqlite.store.SqliteStore` (one file, one hub process) and
:class:`hub.db.postgres.store.PostgresStore` (several hub workers). Both take the same SQL
(:class:`hub.db.sqlite.store.StoreQueries`); ``db`` is this thread's connection for the modules
that run their own SQL in SQLite's dialect (reports, accounts, check-in, privacy, ...),
which PostgreSQL also takes through hub/db/postgres/dialect.py; what the engines do differently
beyond the SQL text is in hub/db/compat.py (docs/scale.md, "PostgreSQL store").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlite_utils import Database

from hub.db.apply import ApplyResult, ClockPolicy, Incoming
from hub.metrics.kernel import RollupFrame, TransitionFrame


class Store(Protocol):
    """What hub/ingest/ingestor.py, hub/reports/rollup.py, the reports and the read API call on a
    store."""

    path: Path
    dialect: str  # "sqlite" or "postgresql"

    @property
    def db(self) -> Database: ...
    def transaction(self) -> AbstractContextManager[Database]: ...
    def close(self) -> None: ...

    # the building
    def import_building(self, building: dict[str, Any]) -> None: ...
    def sites(self) -> list[dict[str, Any]]: ...
    def site(self, site: str) -> dict[str, Any]: ...
    def floors(self, site: str) -> list[dict[str, Any]]: ...
    def zones(self, site: str) -> list[dict[str, Any]]: ...
    def desks(self, site: str) -> list[dict[str, Any]]: ...
    def assigned_desks(self, site: str) -> set[str]: ...
    def desk_site(self, desk: str) -> str | None: ...

    # messages
    def apply(self, batch: Sequence[Incoming], clock: ClockPolicy | None = None
              ) -> ApplyResult: ...
    def dead_letter(self, topic: str, reason: str, payload: bytes, received: float) -> None: ...
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def agents(self, site: str | None = None) -> list[dict[str, Any]]: ...
    def counters(self) -> dict[str, int]: ...
    def expire_agents(self, cutoff: float, now: float) -> list[str]: ...

    # transitions and rollups
    def transitions(self, desks: Sequence[str] | None, since: float, until: float
                    ) -> TransitionFrame: ...
    def rollups(self, site: str, start: float, end: float, *, bin_seconds: int | None = None,
                now: float | None = None) -> RollupFrame: ...
    def rollup_bin_seconds(self) -> int | None: ...
    def claim_bin_seconds(self, bin_seconds: int) -> None: ...
    def clear_dirty(self, desks: Iterable[str]) -> None: ...
    def write_rollups(self, rows: Iterable[tuple[str, int, float, float, float]]) -> int: ...

    # one worker per site (always granted on SQLite)
    def try_site_lock(self, purpose: str, site: str) -> bool: ...
    def release_site_locks(self) -> None: ...


def is_postgres_url(url: str | Path) -> bool:
    return str(url).startswith(("postgresql://", "postgres://"))


def is_transient(exc: BaseException) -> bool:
    """A database error worth retrying for as long as it takes: SQLite busy or locked;
    PostgreSQL connection lost, deadlock or serialisation failure (psycopg's
    OperationalError covers all three)."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the [postgres] extra is not installed
        return False
    return isinstance(exc, psycopg.OperationalError)
