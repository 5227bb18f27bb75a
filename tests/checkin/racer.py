"""A hub worker process for test_single_use: imports only what a worker needs (fast spawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.checkin import service
from hub.checkin.tokens import TokenReplayed
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.errors import DeskpulseError


def redeem_all(
    data_dir: str, secret: str, token_list: list[str], barrier: Any, results: Any,
    database_url: str | None = None,
) -> None:
    """One 'hub worker': its own process, its own connections, the same database (the
    SQLite file, or the PostgreSQL database at ``database_url``)."""
    settings = HubSettings(data_dir=Path(data_dir), secret_key=secret, database_url=database_url)
    store = open_store(settings.store_url)
    outcomes: dict[str, str] = {}
    barrier.wait(30)
    for token in token_list:
        try:
            outcome, _ = service.redeem(store, settings, token, "hq-d1")
            outcomes[token] = outcome
        except TokenReplayed:
            outcomes[token] = "replayed"
        except DeskpulseError as exc:
            outcomes[token] = f"error: {type(exc).__name__}"
    store.close()
    results.put(outcomes)
