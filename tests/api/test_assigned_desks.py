"""PRIVACY.md 8: a desk permanently assigned to one person is reported at zone level only.

Building of tests/api/conftest.py with hq-d1 (zone North, with hq-d2) and hq-d3 (zone South,
alone) assigned. Two days ago desk 1 is occupied 08:00-10:00 and desk 2 vacant from 08:00.
"""

from __future__ import annotations

import copy
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from hub.building.model import validate_building
from hub.db.sqlite.store import SqliteStore
from hub.errors import ConfigError
from hub.privacy.inventory import live_schema
from hub.reports.rollup import refresh_rollups
from tests.support.building import BUILDING, SITE, Desks

BERLIN = ZoneInfo("Europe/Berlin")
ASSIGNED = {"hq-d1", "hq-d3"}


def _assigned_building() -> dict[str, Any]:
    building = copy.deepcopy(BUILDING)
    for floor in building["sites"][0]["floors"]:
        for zone in floor["zones"]:
            for desk in zone["desks"]:
                if desk["id"] in ASSIGNED:
                    desk["assigned"] = True
    return building


@pytest.fixture
def day(store: SqliteStore, desks: Desks) -> str:
    store.import_building(_assigned_building())
    when = datetime.now(BERLIN).date() - timedelta(days=2)
    start = datetime(when.year, when.month, when.day, tzinfo=BERLIN).timestamp()
    desks.send(("hq-d1", "occupied", start + 8 * 3600), ("hq-d2", "vacant", start + 8 * 3600))
    desks.send(("hq-d1", "vacant", start + 10 * 3600))
    desks.send(("hq-d3", "occupied", time.time() - 60))  # live now: must not show
    refresh_rollups(store, time.time(), 900)
    return date.isoformat(when)


def _get(client: TestClient, auth: dict[str, str], path: str, **params: str) -> Any:
    response = client.get(path, params={"site": SITE, **params}, headers=auth)
    assert response.status_code == 200, response.text
    return response


def test_import_validates_and_stores_the_flag_but_never_a_person(store: SqliteStore) -> None:
    store.import_building(_assigned_building())
    assert store.assigned_desks(SITE) == ASSIGNED
    assert {d["id"]: d["assigned"] for d in store.desks(SITE)}["hq-d2"] == 0
    bad = _assigned_building()
    bad["sites"][0]["floors"][0]["zones"][0]["desks"][0]["assigned"] = "mia"
    with pytest.raises(ConfigError, match=r"zones\[0\]\.desks\[0\]\.assigned must be true"):
        validate_building(bad)
    columns = set(live_schema(store.db.conn)["desks"])
    assert "assigned" in columns and not columns & {"person", "person_id", "user", "owner"}


def test_an_assigned_desk_never_appears_with_its_own_figures_or_live_state(
    client: TestClient, auth: dict[str, str], day: str
) -> None:
    live = _get(client, auth, "/api/v1/desks").json()["desks"]
    states = {d["id"]: (d["state"], d["since"]) for d in live}
    assert states["hq-d1"] == ("assigned", None) and states["hq-d3"] == ("assigned", None)
    assert states["hq-d2"][0] == "vacant" and states["hq-d2"][1] is not None
    stream = _get(client, auth, "/api/v1/desks/stream").text  # the snapshot alone
    assert stream.count("event: snapshot") == 1
    assert '"id":"hq-d3","name":"Desk 3","floor":"hq-f1","zone":"hq-south",' \
           '"state":"assigned","since":null' in stream
    assert '"occupied"' not in stream  # desk 3 is occupied right now

    window = {"from": day, "to": day, "group": "desk"}
    body = _get(client, auth, "/api/v1/utilisation", **window).json()
    assert [r["key"] for r in body["results"]] == ["hq-d2", "hq-d4", "hq-d5"]
    assert "8" in body["not_included"]
    csv_text = _get(client, auth, "/api/v1/utilisation.csv", **window).text
    series = _get(client, auth, "/api/v1/utilisation/timeseries", **window)
    assert [r["key"] for r in series.json()["results"]] == ["hq-d2", "hq-d4", "hq-d5"]
    for text in (csv_text, series.text, _get(client, auth, "/api/v1/utilisation.csv",
                                             **{**window, "group": "desk"}).text):
        assert "hq-d1" not in text and "hq-d3" not in text
        assert "Desk 1" not in text and "Desk 3" not in text


def test_zone_totals_still_count_an_assigned_desk_unless_it_is_alone(
    client: TestClient, auth: dict[str, str], day: str
) -> None:
    zones = _get(client, auth, "/api/v1/utilisation", **{"from": day, "to": day,
                                                         "group": "zone"}).json()
    rows = {r["key"]: r for r in zones["results"]}
    # North = desks 1 (assigned) and 2: desk 1's two occupied hours are in the zone.
    assert rows["hq-north"]["desks"] == 2 and rows["hq-north"]["occupied_seconds"] == 7200
    # South = desk 3 alone, assigned, fewer than k = 5 desks: no desks and no figures.
    assert rows["hq-south"]["desks"] == 0 and rows["hq-south"]["occupied_seconds"] == 0
    assert "8" in zones["not_included"]
    floors = _get(client, auth, "/api/v1/utilisation", **{"from": day, "to": day,
                                                          "group": "floor"}).json()
    first = next(r for r in floors["results"] if r["key"] == "hq-f1")
    assert first["desks"] == 2 and first["occupied_seconds"] == 7200  # South left out too
