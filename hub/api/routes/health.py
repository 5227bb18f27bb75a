"""Liveness for load balancers and `make demo`: no authentication, no personal data."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status

from hub import __version__
from hub.api.deps import IngestStatusDep, StoreDep
from hub.api.models import BrokerState, HealthPublic
from hub.db.compat import DatabaseError
from hub.errors import StoreError

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
_DOWN: tuple[type[Exception], ...] = (*DatabaseError, StoreError)  # either engine, or no pool


@router.get("/healthz", response_model=HealthPublic)
def healthz(store: StoreDep, ingest_status: IngestStatusDep, response: Response) -> HealthPublic:
    """`status` is "ok" when the database answers; the broker link is reported, not required."""
    try:
        store.db.execute("SELECT 1").fetchone()
        database = "ok"
    except _DOWN as exc:
        log.warning("health check: database error: %s", exc)
        database = "error"
    broker: BrokerState = "unknown"
    if ingest_status is not None:
        try:
            reported = ingest_status().get("broker")
        except Exception:  # a broken probe must not break the health check
            log.exception("health check: ingest status probe failed")
            reported = None
        if reported == "connected" or reported == "disconnected":
            broker = reported
    healthy = database == "ok"
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(
        status="ok" if healthy else "degraded",
        version=__version__,
        database="ok" if healthy else "error",
        broker=broker,
    )
