"""Metric 11 check-in figures: hand-computed answers, k-suppression, over HTTP."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hub.checkin import service
from hub.checkin.figures import Stay, compute
from hub.db.sqlite.store import SqliteStore
from tests.support.building import Desks

DAY = 86400.0
STAYS = [Stay(1, "a", 0, 100), Stay(2, "b", 0, 100), Stay(3, "c", 0, 100),
         Stay(4, "d", 0, 100), Stay(5, "e", 0, 200)]
OCCUPIED = {"a": [(50.0, 150.0)], "b": [(0.0, 100.0)], "f": [(10.0, 20.0), (30.0, 40.0)]}


def test_hand_computed_figures() -> None:
    out = compute(STAYS, OCCUPIED, "UTC", k=5)
    assert out["suppressed"] is False
    assert out["checkins"] == 5
    assert out["checkins_per_day"] == [
        {"date": "1970-01-01", "checkins": 5, "suppressed": False}]
    assert out["mean_duration_s"] == 120.0  # (4 x 100 + 200) / 5
    assert out["agreement"] == 150 / 600  # a: 50 s seen, b: 100 s seen, of 600 s
    # f's two spells had no check-in; uncovered: a 50 s + f 20 s of 220 s occupied.
    assert out["walk_ins"] == {"spells": 2, "uncovered_share": pytest.approx(70 / 220)}


def test_fewer_than_k_people_suppress_every_check_in_figure() -> None:
    out = compute(STAYS, OCCUPIED, "UTC", k=6)
    assert out["suppressed"] is True
    assert [out[key] for key in ("checkins", "checkins_per_day", "mean_duration_s",
                                 "agreement")] == [None] * 4
    assert out["walk_ins"]["spells"] == 2  # sensor-only: still shown
    # The same person five times is still one person.
    same = [Stay(1, s.desk, s.start, s.end) for s in STAYS]
    assert compute(same, OCCUPIED, "UTC", k=3)["suppressed"] is True


def test_a_day_with_fewer_than_k_people_shows_no_count() -> None:
    stays = [*STAYS[:3], Stay(1, "a", DAY, DAY + 10)]
    days = compute(stays, {}, "Europe/Berlin", k=3)["checkins_per_day"]
    # Day 2 has one person. Showing day 1 (3) next to the total (4) would give day 2
    # away by subtraction, so day 1 is hidden too (secondary suppression).
    assert days == [{"date": "1970-01-01", "checkins": None, "suppressed": True},
                    {"date": "1970-01-02", "checkins": None, "suppressed": True}]


def test_figures_over_the_store_and_http(
    client: TestClient, store: SqliteStore, manager_auth: dict[str, str],
) -> None:
    now = time.time()
    t0 = now - 3000
    desks = Desks(store)
    for person, desk in enumerate(("hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"), start=1):
        service.check_in(store, person, desk, via="phone", now=t0)
        service.check_out(store, person, now=t0 + 1000)
    desks.send(("hq-d1", "occupied", t0 + 500), ("hq-d1", "vacant", t0 + 1500),
               ("hq-d2", "occupied", t0 + 2000), ("hq-d2", "vacant", t0 + 2100))
    response = client.get("/api/v1/checkins/figures",
                          params={"site": "hq", "start": t0 - 10, "end": now},
                          headers=manager_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checkins"] == 5 and body["mean_duration_s"] == pytest.approx(1000)
    assert body["agreement"] == pytest.approx(500 / 5000)
    assert body["walk_ins"]["spells"] == 1  # hq-d2 at t0 + 2000, nobody checked in
    assert body["walk_ins"]["uncovered_share"] == pytest.approx(600 / 1100)
    assert body["k"] == 5 and body["spec_version"]
    assert "person" not in response.text
    service.check_in(store, 6, "hq-d1", via="phone", now=t0 + 2500)
    narrow = client.get("/api/v1/checkins/figures",
                        params={"site": "hq", "start": t0 + 2400, "end": now},
                        headers=manager_auth).json()
    assert narrow["suppressed"] is True and narrow["checkins"] is None
    assert client.get("/api/v1/checkins/figures", params={"site": "nope"},
                      headers=manager_auth).status_code == 404
    assert client.get("/api/v1/checkins/figures", params={"site": "hq"}).status_code == 401
    for bad in ({"start": "nan"}, {"end": "inf"}, {"start": now, "end": now - 1}):
        assert client.get("/api/v1/checkins/figures", params={"site": "hq", **bad},
                          headers=manager_auth).status_code == 422


def test_a_hidden_day_cannot_be_recovered_by_subtraction() -> None:
    """One day with 2 people among days of 5+: the total minus the shown days would
    give it away, so the smallest other day is hidden with it (secondary suppression)."""
    from hub.checkin.figures import Stay, compute

    base = 1_795_000_000.0  # a Thursday around noon, UTC
    stays = []
    for day, people in enumerate([range(6), range(5), range(2)]):
        for person in people:
            start = base + day * 86_400 + person * 60
            stays.append(Stay(person=person, desk=f"d{person}", start=start, end=start + 3600))
    figures = compute(stays, {}, "UTC", k=5)
    days = figures["checkins_per_day"]
    assert [d["suppressed"] for d in days] == [False, True, True]
    shown = sum(d["checkins"] for d in days if not d["suppressed"])
    assert figures["checkins"] - shown == 7  # two hidden days together: 5 + 2


def test_check_ins_by_way_hide_a_way_used_by_fewer_than_k_people() -> None:
    label = [Stay(p, "a", 0, 10, "phone") for p in range(1, 7)]  # 6 people
    qr = [Stay(p, "b", 20, 30, "qr") for p in range(7, 12)] * 2  # 5 people, 10 check-ins
    badge = [Stay(12, "c", 0, 10, "beacon"), Stay(13, "c", 20, 30, "beacon")]  # 2 people
    out = compute(label + qr, {}, "UTC", k=5)
    assert out["by_via"] == {"phone": {"checkins": 6, "suppressed": False},
                             "qr": {"checkins": 10, "suppressed": False},
                             "beacon": {"checkins": 0, "suppressed": False}}
    # Two badge holders: hidden, and so is the smallest other way (else total - shown).
    out = compute(label + qr + badge, {}, "UTC", k=5)
    assert out["by_via"]["beacon"] == {"checkins": None, "suppressed": True}
    assert out["by_via"]["qr"] == {"checkins": None, "suppressed": True}
    assert out["by_via"]["phone"] == {"checkins": 6, "suppressed": False}
