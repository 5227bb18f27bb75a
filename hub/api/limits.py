"""HTTP limits: request body size (413), check-in rate (429), and "is this request HTTPS?".

The body limit is an ASGI middleware so it covers every route, floor-plan uploads
included: a declared ``Content-Length`` over the limit is refused before the app runs,
and a chunked body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

import json
import math

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.auth import ratelimit
from hub.config import HubSettings
from hub.db.protocol import Store

CHECKIN_WINDOW_SECONDS = 60.0


def body_too_large_detail(max_bytes: int) -> str:
    return f"request body is larger than the limit of {max_bytes} bytes"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` so FastAPI's body parsing passes it on as a 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=body_too_large_detail(max_bytes))


def request_is_https(scope: Scope, *, trust_proxy: bool) -> bool:
    """HTTPS as the client saw it: the ASGI scheme, or, only when ``trust_proxy`` is on,
    the first ``X-Forwarded-Proto`` value set by the TLS-terminating reverse proxy."""
    if scope.get("scheme") == "https":
        return True
    if not trust_proxy:
        return False
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 and a JSON ``detail``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, code: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": code, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "invalid Content-Length header")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, 413, body_too_large_detail(self.max_bytes))
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside FastAPI's body parsing
            if started:
                raise
            await self._refuse(send, exc.status_code, str(exc.detail))


def limit_checkins(store: Store, settings: HubSettings, who: str) -> None:
    """429 with a detail and ``Retry-After`` once ``who`` used up this minute's check-ins."""
    wait = ratelimit.take(store, f"checkin:{who}", limit=settings.checkin_rate_per_minute,
                          window=CHECKIN_WINDOW_SECONDS)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many check-ins; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
