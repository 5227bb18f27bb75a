"""Server-Sent Events for the live floor map: a snapshot, then only the desks that changed.

The stream polls the store (one small indexed query per site) every `POLL_SECONDS`, so a
state change committed by ingest reaches the browser well within a second, whatever
process wrote it. A stream ends after `MAX_STREAM_SECONDS`; EventSource reconnects on its
own (after the `retry` delay), which also re-checks the caller's session or token.
Without `Accept: text/event-stream` the answer is the snapshot alone (a finite response).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from hub.api.deps import CurrentPrincipal, SiteDep, StoreDep
from hub.db.protocol import Store
from hub.errors import StoreError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/desks", tags=["desks"])
POLL_SECONDS = 0.3
KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 300.0
RETRY_MS = 1000
_STATES = ("occupied", "vacant", "unknown")


def public_desk(row: dict[str, Any]) -> dict[str, Any]:
    """What the map may show of a desk: never who sits there, nor whether the one person a
    desk is assigned to is in (PRIVACY.md 8): such a desk is always ``assigned``."""
    state = row.get("state")
    if row.get("assigned"):
        state, since = "assigned", None
    else:
        state, since = (state if state in _STATES else "unknown"), row.get("since")
    return {
        "id": row["id"], "name": row["name"], "floor": row["floor"], "zone": row.get("zone"),
        "state": state, "since": since,
        "x": row.get("x"), "y": row.get("y"),
    }


def changed(before: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[
        dict[str, Any]]:
    """Desks that are new or differ from `before` (a desk that disappeared is not sent)."""
    return [desk for key, desk in now.items() if before.get(key) != desk]


def event(name: str, body: dict[str, Any]) -> bytes:
    """One SSE frame; JSON never contains a raw newline, so one `data:` line suffices."""
    return f"event: {name}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


def _read(store: Store, site: str) -> dict[str, dict[str, Any]]:
    return {row["id"]: public_desk(row) for row in store.desks(site)}


async def desk_events(
    request: Request, store: Store, site: str, *, poll: float = POLL_SECONDS,
    lifetime: float = MAX_STREAM_SECONDS,
) -> AsyncIterator[bytes]:
    """`snapshot` with every desk, then `desks` with the changed ones; stops on disconnect."""
    current = await asyncio.to_thread(_read, store, site)
    yield f"retry: {RETRY_MS}\n\n".encode()
    yield event("snapshot", {"site": site, "as_of": time.time(), "desks": list(current.values())})
    started = last_sent = time.monotonic()
    while time.monotonic() - started < lifetime:
        await asyncio.sleep(poll)
        if await request.is_disconnected():
            return
        try:
            latest = await asyncio.to_thread(_read, store, site)
        except StoreError:  # the hub is shutting down: end the stream, the client retries
            log.info("desk stream ended: the store is closed")
            return
        delta = changed(current, latest)
        current = latest
        if delta:
            yield event("desks", {"site": site, "as_of": time.time(), "desks": delta})
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`snapshot` then `desks` events, JSON data"}},
)
def desk_stream(
    request: Request, store: StoreDep, site: SiteDep, principal: CurrentPrincipal
) -> StreamingResponse:
    """Live desk states as Server-Sent Events: a `snapshot` event with every desk of the
    site (id, name, floor, zone, state, since, x, y), then a `desks` event with only the
    desks whose state changed. Anonymous: never who sits at a desk.

    A client that does not send `Accept: text/event-stream` (EventSource always does) gets
    the snapshot alone, and the response ends: a plain GET never hangs."""
    live = "text/event-stream" in request.headers.get("accept", "")
    return StreamingResponse(
        desk_events(request, store, site["id"], lifetime=MAX_STREAM_SECONDS if live else 0.0),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
