"""PRIVACY.md 13 across the whole web app: any GET that shows an administrator or manager
a person's name, e-mail or check-ins must have written an audit entry about that person.

Every GET route is walked, the pages outside the OpenAPI schema (the admin pages, the
dashboard, CSV downloads) included, once with an API token and once signed in with a
session cookie, as an administrator and as a manager."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from hub.auth import accounts
from hub.db.sqlite.store import SqliteStore
from hub.privacy import audit
from tests.support.web import PASSWORD, SECRET, sign_in

MARKERS = ("Zyxwvut Privacyperson", "zyxwvut@example.org")
FILL = {"site": "hq", "desk": "hq-d1", "fmt": "svg", "floor": "hq-f1", "zone": "hq-north",
        "agent": "hq-agent-1", "code": "hq-d1",
        "token": "not-an-invitation-token-0123"}  # path parameters of the routes walked below


def _get_paths(app: FastAPI) -> list[str]:
    """Every GET route of the app, in or out of the OpenAPI schema."""
    paths = {route.path for route in iter_route_contexts(app.routes)
             if route.methods and "GET" in route.methods and route.path}
    return sorted(paths)


def test_the_walk_covers_the_pages_outside_the_api_schema(app: FastAPI) -> None:
    paths = _get_paths(app)
    assert {"/admin/people", "/admin/agents", "/me/data", "/analytics"} <= set(paths)
    assert "/api/v1/people/{person_id}/data" in paths


def test_every_privileged_read_of_a_person_is_audited(
    app: FastAPI, client: TestClient, store: SqliteStore, ann: int
) -> None:
    store.db.execute("UPDATE users SET name = ?, email = ? WHERE id = ?", [*MARKERS, ann])
    checkin = store.db.execute("SELECT id FROM checkins WHERE person_id = ?", [ann]).fetchone()
    subject = audit.subject_for(store.db, SECRET, ann)
    fill = {**FILL, "person_id": str(ann), "checkin_id": str(checkin[0])}
    leaked_unaudited: list[str] = []
    audited: list[str] = []
    for role in ("admin", "manager"):
        token = accounts.create_api_token(store.db, f"reader-{role}", role=role)
        accounts.create_user(store.db, f"reader-{role}", PASSWORD, role)
        for how in ("token", "session"):
            headers = {"Authorization": f"Bearer {token}"} if how == "token" else {}
            client.cookies.clear()
            if how == "session":
                sign_in(client, f"reader-{role}")
            for path in _get_paths(app):
                url = path.format(**fill)
                before = len(audit.about(store.db, subject or ""))
                response = client.get(url, headers=headers, params={"site": "hq"})
                assert response.status_code < 500, (url, response.text)
                body = response.text
                if response.headers.get("content-type", "").startswith("application/json"):
                    body = json.dumps(response.json(), ensure_ascii=False)
                if any(marker in body for marker in MARKERS):
                    if len(audit.about(store.db, subject or "")) > before:
                        audited.append(f"{role} {how} {path}")
                    else:
                        leaked_unaudited.append(f"{role} {how} {url}")
    assert leaked_unaudited == []
    # The only reads that show the person: their data for an administrator, and the
    # people page, which lists every account (with names and e-mail addresses).
    assert sorted(audited) == [
        "admin session /admin/people",
        "admin session /api/v1/people/{person_id}/data",
        "admin token /api/v1/people/{person_id}/data",
    ]
