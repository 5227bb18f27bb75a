"""The read API over a real store: shapes, anonymity, errors, headers, OpenAPI."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edge.protocol import Health, Topic
from hub.api.app import CONTENT_SECURITY_POLICY
from hub.db.sqlite.store import Incoming, SqliteStore
from tests.support.building import SITE, Desks

DESK_FIELDS = {"id", "name", "floor", "zone", "state", "since"}


def test_healthz_needs_no_auth_and_reports_the_broker(
    client: TestClient, broker_state: dict[str, Any]
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "version": "0.1.0", "database": "ok", "broker": "connected"}
    broker_state["broker"] = "disconnected"
    assert client.get("/healthz").json()["broker"] == "disconnected"
    broker_state["broker"] = "on fire"  # anything else is not trusted
    assert client.get("/healthz").json()["broker"] == "unknown"


def test_healthz_without_an_ingest_probe_says_unknown(
    settings: Any, store: SqliteStore
) -> None:
    from hub.api.app import create_app

    with TestClient(create_app(settings, store)) as bare:
        assert bare.get("/healthz").json()["broker"] == "unknown"


def test_sites_lists_floors_by_level_with_zones(
    client: TestClient, auth: dict[str, str]
) -> None:
    sites = client.get("/api/v1/sites", headers=auth).json()
    hq = sites[0]
    assert {k: hq[k] for k in ("id", "name", "timezone")} == {
        "id": "hq", "name": "Head office", "timezone": "Europe/Berlin"}
    assert [(f["id"], f["name"], f["level"]) for f in hq["floors"]] == [
        ("hq-f1", "First floor", 1), ("hq-f2", "Second floor", 2)]
    assert hq["floors"][0]["zones"] == [
        {"id": "hq-north", "name": "North"}, {"id": "hq-south", "name": "South"}]


def test_desks_shape_states_and_no_identity(
    client: TestClient, auth: dict[str, str], desks: Desks
) -> None:
    now = time.time()
    desks.send(("hq-d1", "occupied", now - 120), ("hq-d2", "vacant", now - 60))
    desks.send(("hq-d3", "occupied", now - 30), ("hq-d3", "vacant", now - 10))
    before = time.time()
    body = client.get("/api/v1/desks", params={"site": SITE}, headers=auth).json()
    assert set(body) == {"site", "as_of", "desks"}
    assert body["site"] == SITE and body["as_of"] >= before
    for desk in body["desks"]:
        assert set(desk) == DESK_FIELDS  # no agent, no person, no badge, nothing else
    by_id = {d["id"]: d for d in body["desks"]}
    assert sorted(by_id) == ["hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"]
    assert by_id["hq-d1"] == {"id": "hq-d1", "name": "Desk 1", "floor": "hq-f1",
                              "zone": "hq-north", "state": "occupied",
                              "since": pytest.approx(now - 120)}
    assert by_id["hq-d2"]["state"] == "vacant"
    assert by_id["hq-d3"]["state"] == "vacant"
    assert by_id["hq-d3"]["since"] == pytest.approx(now - 10)
    assert by_id["hq-d4"] == {"id": "hq-d4", "name": "Desk 4", "floor": "hq-f2",
                              "zone": "hq-east", "state": "unknown", "since": None}


@pytest.mark.parametrize("path", ["/api/v1/desks", "/api/v1/utilisation", "/api/v1/agents"])
def test_unknown_site_is_404_with_the_exact_detail(
    client: TestClient, auth: dict[str, str], path: str
) -> None:
    response = client.get(path, params={"site": "x"}, headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "site 'x' not found"}


def test_missing_site_parameter_keeps_fastapis_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.get("/api/v1/desks", headers=auth)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["query", "site"] and detail[0]["type"] == "missing"


def test_agents_show_online_and_outbox_depth(
    client: TestClient, auth: dict[str, str], desks: Desks
) -> None:
    desks.send(("hq-d1", "vacant", time.time()))
    agents = client.get("/api/v1/agents", params={"site": SITE}, headers=auth).json()
    assert [a["id"] for a in agents] == ["hq-agent-1"]
    agent = agents[0]
    assert agent["site"] == SITE and isinstance(agent["online"], bool)
    assert agent["last_seen"] == pytest.approx(time.time(), abs=30)
    assert "outbox_depth" in agent
    assert agent["clock_offset"] is None  # no health report yet


def test_agents_show_the_clock_offset_of_their_last_health_report(
    client: TestClient, auth: dict[str, str], desks: Desks
) -> None:
    desks.send(("hq-d1", "vacant", time.time()))
    now = time.time()
    health = Health(agent=desks.agent, boot=1, sent=now - 600, uptime=1.0, outbox_depth=0,
                    dropped=0)
    desks.store.apply([Incoming(Topic(SITE, desks.agent, "health"), health, now)])
    agents = client.get("/api/v1/agents", params={"site": SITE}, headers=auth).json()
    assert agents[0]["clock_offset"] == pytest.approx(600, abs=0.01)


@pytest.mark.parametrize("path", [
    "/healthz", "/login", "/api/v1/sites", "/static/app.css", "/openapi.json", "/nope", "/",
])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain http


def test_hsts_only_over_https(app: Any) -> None:
    with TestClient(app, base_url="https://hub.example") as secure:
        response = secure.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_openapi_lists_the_v1_routes_and_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["version"] == "0.1.0"
    assert {"/healthz", "/api/v1/sites", "/api/v1/desks", "/api/v1/utilisation",
            "/api/v1/agents"} <= set(spec["paths"])
    assert "/login" not in spec["paths"]  # browser pages are not API
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_docs_page_is_served_locally_without_inline_script(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert '<script src="/docs-assets/swagger-ui-bundle.js"' in page.text
    assert "<script>" not in page.text and "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/docs.js").status_code == 200


def test_static_assets_are_served(client: TestClient) -> None:
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert ".innerHTML" not in js.text and "eval(" not in js.text
    assert client.get("/static/app.css").status_code == 200
