"""``open_store``: the one place that picks an engine from a database URL.

Why a module of its own: it imports both engines, and both engines import the Store
protocol (hub/db/protocol.py); keeping the choice out of the protocol keeps the imports
one-way (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

from hub.db.protocol import Store, is_postgres_url
from hub.errors import ConfigError


def open_store(url_or_path: str | Path) -> Store:
    """``postgresql://...`` -> PostgresStore; a file path or ``sqlite:///path`` -> SqliteStore."""
    text = str(url_or_path)
    if is_postgres_url(text):
        try:
            from hub.db.postgres.store import PostgresStore
        except ImportError as exc:  # psycopg is the [postgres] extra
            raise ConfigError(
                f"database_url is a PostgreSQL URL but psycopg cannot be loaded ({exc}): "
                "pip install 'deskpulse[postgres]'"
            ) from None
        return PostgresStore(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]  # as SQLAlchemy: sqlite:///rel.db, sqlite:////abs.db
    elif "://" in text:
        raise ConfigError(
            f"database_url {text.split('://')[0]}://... is not supported; use "
            "postgresql://user@host/db, sqlite:///path/to/file.db or a file path"
        )
    from hub.db.sqlite.store import SqliteStore

    return SqliteStore(Path(text))
