"""Signing in through the real login form: the CSRF token from a page, the shared test
password and secret key."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hub.api.deps import SESSION_COOKIE
from hub.auth import accounts
from hub.db.sqlite.store import SqliteStore

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> Any:
    form = client.get("/login")
    return client.post("/login", data={
        "username": username, "password": password, "csrf_token": csrf_from(form.text),
    })


SECRET = "checkin-tests-secret-0123456789"


PASSWORD = "a long test password"


def sign_in(client: TestClient, username: str) -> None:
    form = client.get("/login")
    response = client.post("/login", data={
        "username": username, "password": PASSWORD, "csrf_token": csrf_from(form.text),
    })
    assert response.status_code == 303, response.text


def http_routes(app: FastAPI) -> list[tuple[str, str, bool]]:
    """(method, path, is a JSON API route) of every route, as the OpenAPI builder sees them
    (FastAPI >= 0.16x keeps included routers lazily; older ones list the routes directly).
    Mounts (static files, Swagger UI assets) have no methods and are public by design."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    items: list[Any] = list(contexts(app.routes)) if contexts else list(app.routes)
    found = []
    for item in items:
        path, methods = getattr(item, "path", None), getattr(item, "methods", None)
        if not path or not methods:
            continue
        original = getattr(item, "original_route", item)
        is_api = isinstance(original, APIRoute) and bool(item.include_in_schema)
        found += [(method, path, is_api) for method in sorted(methods) if method != "HEAD"]
    return found


def session(app: FastAPI, store: SqliteStore, name: str, role: str) -> TestClient:
    user = accounts.create_user(store.db, name, PASSWORD, role)
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, accounts.create_session(store.db, user))
    return client
