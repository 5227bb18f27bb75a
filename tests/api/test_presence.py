"""GET /api/v1/zones/presence and /api/v1/zones/live over a real store and app."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.building import send

BS = 900




def at(text: str, tz: str = "Europe/Berlin") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp())


def test_presence_per_zone_with_suppression_and_several_agents(
    client: TestClient, store: SqliteStore, auth: dict[str, str]
) -> None:
    nine = at("2024-05-06T09:00")
    send(store, "hq", "hq-agent-1", ("hq-north", nine, 6), ("hq-north", nine + BS, 4),
         ("hq-north", nine + 2 * BS, 10), ("hq-south", nine, 2))
    send(store, "hq", "hq-agent-2", ("hq-north", nine, 8), ("hq-north", nine + BS, 3))
    send(store, "hq", "hq-agent-1", ("hq-north", at("2024-05-07T09:00"), 99))  # after `to`

    response = client.get("/api/v1/zones/presence",
                          params={"site": "hq", "from": "2024-05-06", "to": "2024-05-06"},
                          headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["site"], body["bin_seconds"], body["k"]) == ("hq", 900, 5)
    assert body["window"]["timezone"] == "Europe/Berlin"
    assert body["window"]["from"] == "2024-05-06T00:00:00+02:00"
    assert body["spec_version"] == "1.0"
    assert [(z["zone"], z["name"], z["floor"]) for z in body["zones"]] == [
        ("hq-north", "North", "hq-f1"), ("hq-south", "South", "hq-f1"),
        ("hq-east", "East", "hq-f2")]
    north, south, east = body["zones"]
    # max over agents: 8, max(4, 3) = 4 (hidden), 10; the mean leaves the hidden bin out.
    assert north["bins"] == [
        {"bin": nine, "devices": 8, "suppressed": False, "label": "8"},
        {"bin": nine + BS, "devices": None, "suppressed": True, "label": "< 5"},
        {"bin": nine + 2 * BS, "devices": 10, "suppressed": False, "label": "10"},
    ]
    assert (north["mean"], north["mean_label"], north["peak"], north["peak_label"]) == (
        9.0, "9", 10, "10")
    assert (north["reported_bins"], north["suppressed_bins"]) == (3, 1)
    assert (south["mean"], south["mean_label"], south["peak"], south["peak_label"]) == (
        None, "< 5", None, "< 5")
    assert south["bins"] == [{"bin": nine, "devices": None, "suppressed": True, "label": "< 5"}]
    assert (east["bins"], east["mean_label"]) == ([], "no data")
    assert "2" not in {b["label"] for b in south["bins"]}


def test_presence_uses_the_core_hours(
    client: TestClient, store: SqliteStore, auth: dict[str, str]
) -> None:
    # The lab site has the default core hours: Mon-Fri 08:00-18:00, UTC.
    send(store, "lab", "lab-agent",
         ("lab-z", at("2024-05-06T07:45", "UTC"), 50),   # before 08:00
         ("lab-z", at("2024-05-06T08:00", "UTC"), 6),
         ("lab-z", at("2024-05-06T17:45", "UTC"), 12),
         ("lab-z", at("2024-05-06T18:00", "UTC"), 70),   # after 18:00
         ("lab-z", at("2024-05-11T10:00", "UTC"), 80))   # Saturday
    body = client.get("/api/v1/zones/presence",
                      params={"site": "lab", "from": "2024-05-06", "to": "2024-05-12"},
                      headers=auth).json()
    (zone,) = body["zones"]
    assert [b["devices"] for b in zone["bins"]] == [6, 12]
    assert (zone["mean"], zone["peak"]) == (9.0, 12)
    assert (body["window"]["start"], body["window"]["end"]) == ("08:00", "18:00")


def test_privacy_k_comes_from_the_settings(tmp_path: Path, store: SqliteStore) -> None:
    nine = at("2024-05-06T09:00")
    send(store, "hq", "hq-agent-1", ("hq-north", nine, 3), ("hq-north", nine + BS, 2))
    app = create_app(HubSettings(data_dir=tmp_path / "k3", privacy_k=3), store)
    token = accounts.create_api_token(store.db, "k3", role="employee")
    with TestClient(app) as client:
        body = client.get("/api/v1/zones/presence",
                          params={"site": "hq", "from": "2024-05-06", "to": "2024-05-06"},
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert body["k"] == 3
    assert [b["label"] for b in body["zones"][0]["bins"]] == ["3", "< 3"]


def test_live_shows_the_latest_closed_bin_per_zone(
    client: TestClient, store: SqliteStore, auth: dict[str, str]
) -> None:
    closed = int(time.time() // BS) * BS - BS
    send(store, "hq", "hq-agent-1", ("hq-north", closed - BS, 20), ("hq-north", closed, 7),
         ("hq-south", closed, 3), ("hq-east", closed - 10 * BS, 40))
    send(store, "hq", "hq-agent-2", ("hq-north", closed, 6))
    body = client.get("/api/v1/zones/live", params={"site": "hq"}, headers=auth).json()
    assert (body["site"], body["bin_seconds"], body["k"]) == ("hq", 900, 5)
    assert body["zones"] == [
        {"zone": "hq-north", "name": "North", "floor": "hq-f1", "bin": closed, "devices": 7,
         "suppressed": False, "label": "7"},
        {"zone": "hq-south", "name": "South", "floor": "hq-f1", "bin": closed, "devices": None,
         "suppressed": True, "label": "< 5"},
        {"zone": "hq-east", "name": "East", "floor": "hq-f2", "bin": None, "devices": None,
         "suppressed": False, "label": "no data"},
    ]


def test_presence_refuses_bad_requests(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/api/v1/zones/presence", params={"site": "hq"}).status_code == 401
    assert client.get("/api/v1/zones/live", params={"site": "hq"}).status_code == 401
    missing = client.get("/api/v1/zones/live", params={"site": "nowhere"}, headers=auth)
    assert (missing.status_code, missing.json()) == (404, {"detail": "site 'nowhere' not found"})
    bad = client.get("/api/v1/zones/presence", params={"site": "hq", "from": "soon"},
                     headers=auth)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "from"]
    backwards = client.get("/api/v1/zones/presence",
                           params={"site": "hq", "from": "2024-05-07", "to": "2024-05-06"},
                           headers=auth)
    assert backwards.status_code == 422
