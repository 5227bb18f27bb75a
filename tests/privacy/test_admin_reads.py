"""PRIVACY.md 13 across the whole API: any GET that shows an administrator or manager a
person's name, e-mail or check-ins must have written an audit entry about that person."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub import accounts
from hub.privacy import audit
from hub.store import SqliteStore
from tests.privacy.conftest import SECRET

MARKERS = ("Zyxwvut Privacyperson", "zyxwvut@example.org")
FILL = {"site": "hq", "desk": "hq-d1", "fmt": "svg", "floor": "hq-f1", "zone": "hq-north",
        "agent": "hq-agent-1"}  # path parameters of the routes walked below


def _get_paths(app: FastAPI) -> list[str]:
    paths = []
    for path, operations in app.openapi()["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        content = get.get("responses", {}).get("200", {}).get("content", {})
        if "text/event-stream" in content:
            continue  # an endless stream; it carries desk states only (tested elsewhere)
        paths.append(path)
    return paths


def test_every_privileged_read_of_a_person_is_audited(
    app: FastAPI, client: TestClient, store: SqliteStore, ann: int
) -> None:
    store.db.execute("UPDATE users SET name = ?, email = ? WHERE id = ?", [*MARKERS, ann])
    checkin = store.db.execute("SELECT id FROM checkins WHERE person_id = ?", [ann]).fetchone()
    subject = audit.subject_for(store.db, SECRET, ann)
    fill = {**FILL, "person_id": str(ann), "checkin_id": str(checkin[0])}
    leaked_unaudited: list[str] = []
    audited_reads = 0
    for role in ("admin", "manager"):
        token = accounts.create_api_token(store.db, f"reader-{role}", role=role)
        headers = {"Authorization": f"Bearer {token}"}
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
                    audited_reads += 1
                else:
                    leaked_unaudited.append(f"{role} {url}")
    assert leaked_unaudited == []
    assert audited_reads == 1  # the admin's GET /api/v1/people/{id}/data, and nothing else
