"""Metrics 10 (zone presence) and 11 (check-in figures) inside GET /api/v1/utilisation.

Hand-computed cases: the pure grouping functions first, then the same figures over a real
store and the HTTP API, with the k suppression (including the secondary suppression that
stops a hidden group being recovered by subtraction).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hub.api.routes.utilisation_models import ReportPublic
from hub.checkin import service
from hub.checkin.figures import Stay, compute
from hub.db.sqlite.store import SqliteStore
from hub.reports.people import checkin_groups, presence_groups
from tests.support.building import BERLIN, SITE, Desks, local_midnight, send

BS = 900


def test_presence_of_zones_floors_and_the_site() -> None:
    per_zone = {"z1": [(0, 4), (900, 2)], "z2": [(0, 1), (900, 5)], "z3": [(0, 2)]}
    zones = presence_groups(per_zone, {"z1": 0, "z2": 1, "z3": 2}, 3, k=3)
    assert zones[0] == {"mean": 4.0, "mean_label": "4", "peak": 4, "peak_label": "4",
                        "reported_bins": 2, "suppressed_bins": 1, "k": 3, "zones": 1}
    assert (zones[2]["mean"], zones[2]["mean_label"], zones[2]["peak"],
            zones[2]["peak_label"]) == (None, "< 3", None, "< 3")
    # floors: f1 = z1 + z2 per bin: 5 and 7; f2 = z3: 2, below k.
    f1, f2 = presence_groups(per_zone, {"z1": 0, "z2": 0, "z3": 1}, 2, k=3)
    assert (f1["mean"], f1["peak"], f1["suppressed_bins"], f1["zones"]) == (6.0, 7, 0, 2)
    assert (f2["mean"], f2["peak"], f2["suppressed_bins"]) == (None, None, 1)
    (site,) = presence_groups(per_zone, {"z1": 0, "z2": 0, "z3": 0}, 1, k=3)
    assert (site["mean"], site["peak"]) == (7.0, 7)  # bins 0: 4+1+2, 900: 2+5
    empty = presence_groups({}, {}, 1, k=3)[0]
    assert (empty["mean_label"], empty["reported_bins"]) == ("no data", 0)


def occupied(*spans: tuple[int, float, float]) -> tuple[Any, Any, Any]:
    d, s, e = zip(*spans, strict=True) if spans else ((), (), ())
    return (np.array(d, dtype=np.int64), np.array(s, dtype=float), np.array(e, dtype=float))


def test_check_in_figures_per_group_with_secondary_suppression() -> None:
    desks = ["a", "b", "c", "d"]
    # Zones A (desk a), B (b), C (c, d) on one floor; k = 3.
    stays = ([Stay(1, "a", 0, 100), Stay(2, "a", 100, 200)]  # A: 2 people
             + [Stay(p, "b", 100 * p, 100 * p + 50) for p in (3, 4, 5)]  # B: 3 people
             + [Stay(p, "c", 100 * p, 100 * p + 100) for p in (6, 7, 8, 9)])  # C: 4 people
    occ = occupied((0, 50.0, 150.0), (2, 600.0, 700.0), (3, 0.0, 40.0), (3, 60.0, 100.0))
    group = np.array([0, 1, 2, 2])
    out = checkin_groups(stays, occ, desks=desks, desk_group=group, parent=["f"] * 3,
                         timezone="UTC", k=3)
    a, b, c = out
    # A is under k; A alone would be floor - B - C: so B (fewest visible people) goes too.
    assert a["suppressed"] and b["suppressed"] and not c["suppressed"]
    assert a["checkins"] is None and b["mean_duration_s"] is None and a["k"] == b["k"] == 3
    assert c["checkins"] == 4 and c["mean_duration_s"] == 100.0
    assert c["agreement"] == pytest.approx(100 / 400)  # c occupied 600-700 = stay of 6
    # Walk-ins are sensor figures, never suppressed: d (no check-in) had two spells.
    assert c["walk_ins"] == {"spells": 2, "uncovered_share": pytest.approx(80 / 180)}
    assert a["walk_ins"] == {"spells": 0, "uncovered_share": 0.0}
    # The same as checkin.figures.compute over the group's own stays and intervals.
    direct = compute(stays[5:], {"c": [(600.0, 700.0)], "d": [(0.0, 40.0), (60.0, 100.0)]},
                     "UTC", 3)
    assert {**direct, "k": 3, "hours": "all"} == c
    # One parent per zone's floor: A and B on different floors, nothing to subtract from.
    apart = checkin_groups(stays, occ, desks=desks, desk_group=group, parent=["f", "g", "g"],
                           timezone="UTC", k=3)
    assert [x["suppressed"] for x in apart] == [True, False, False]
    # Per-day counts only where asked (the site group): here C has them, then not.
    assert c["checkins_per_day"] == [{"date": "1970-01-01", "checkins": 4, "suppressed": False}]
    no_days = checkin_groups(stays, occ, desks=desks, desk_group=group, parent=["f"] * 3,
                             timezone="UTC", k=3, per_day=False)[2]
    assert no_days["checkins_per_day"] is None and no_days["checkins"] == 4


@pytest.fixture
def day(store: SqliteStore, desks: Desks) -> str:
    """A past local day: 8 people check in (k = 5), sensors, BLE counts; see the test."""
    d = datetime.now(BERLIN).date() - timedelta(days=3)
    m = local_midnight(d)
    desks.send(*((f"hq-d{i}", "vacant", m + 7 * 3600) for i in range(1, 6)))
    one = m + 13 * 3600
    desks.send(("hq-d1", "occupied", one), ("hq-d4", "occupied", one + 3600),
               ("hq-d5", "occupied", one + 7200))
    desks.send(("hq-d1", "vacant", one + 1800), ("hq-d4", "vacant", one + 3900),
               ("hq-d5", "vacant", one + 7800))
    for person, desk, start in ((1, "hq-d1", 0), (2, "hq-d1", 1200), (3, "hq-d1", 2400),
                                (4, "hq-d2", 0), (5, "hq-d3", 0), (6, "hq-d3", 1200),
                                (7, "hq-d4", 0), (8, "hq-d4", 1200)):
        service.check_in(store, person, desk, via="phone", now=one + start)
        service.check_out(store, person, now=one + start + 1000)
    nine = int(m + 9 * 3600)
    send(store, SITE, "hq-ble-1", ("hq-north", nine, 6), ("hq-south", nine, 3),
         ("hq-east", nine, 7), ("hq-north", nine + BS, 2), ("hq-south", nine + BS, 4))
    return d.isoformat()


def report(client: TestClient, auth: dict[str, str], day: str, group: str) -> dict[str, Any]:
    response = client.get("/api/v1/utilisation", headers=auth,
                          params={"site": SITE, "group": group, "from": day, "to": day})
    assert response.status_code == 200, response.text
    body = response.json()
    ReportPublic.model_validate(body)
    return {r["key"]: r for r in body["results"]}


def test_site_figures_over_http(client: TestClient, auth: dict[str, str], day: str) -> None:
    site = report(client, auth, day, "site")[SITE]
    assert site["checkins"] == {
        "spec_version": "11.1", "k": 5, "suppressed": False, "hours": "all", "checkins": 8,
        "checkins_per_day": [{"date": day, "checkins": 8, "suppressed": False}],
        "mean_duration_s": 1000.0,
        # d1 occupied 13:00-13:30 sees person 1 whole (1000 s) and person 2 for 600 s.
        "agreement": pytest.approx(1600 / 8000),
        # walk-ins: d4 14:00-14:05 (a desk with check-ins), d5 15:00-15:10 (none);
        # uncovered: 200 s of d1's 1800 s, 300 s and 600 s.
        "walk_ins": {"spells": 2, "uncovered_share": pytest.approx(1100 / 2700)},
        # every check-in here was made by phone (a desk label)
        "by_via": {"phone": {"checkins": 8, "suppressed": False},
                   "qr": {"checkins": 0, "suppressed": False},
                   "beacon": {"checkins": 0, "suppressed": False}},
    }
    # Over more than 7 days the walk-ins (every desk's raw transitions) are left out;
    # the check-in figures read only the checked-in desks and stay the same.
    start = (datetime.fromisoformat(day) - timedelta(days=10)).date().isoformat()
    response = client.get("/api/v1/utilisation", headers=auth,
                          params={"site": SITE, "from": start, "to": day})
    ReportPublic.model_validate(response.json())
    (wide,) = response.json()["results"]
    assert wide["checkins"]["walk_ins"] is None
    assert {k: wide["checkins"][k] for k in ("checkins", "mean_duration_s", "agreement")} == {
        k: site["checkins"][k] for k in ("checkins", "mean_duration_s", "agreement")}
    # BLE: 09:00 6 + 3 + 7 = 16, 09:15 2 + 4 = 6 (both >= 5).
    assert site["zone_presence"] == {
        "mean": 11.0, "mean_label": "11", "peak": 16, "peak_label": "16",
        "reported_bins": 2, "suppressed_bins": 0, "k": 5, "zones": 3}


def test_floors_and_zones_suppress_what_could_single_out_people(
    client: TestClient, auth: dict[str, str], day: str
) -> None:
    floors = report(client, auth, day, "floor")
    # f1 has 6 people, f2 2: f2 is hidden, and f1 too, else site - f1 would give f2.
    assert floors["hq-f1"]["checkins"]["suppressed"] is True
    assert floors["hq-f2"]["checkins"]["suppressed"] is True
    assert floors["hq-f1"]["checkins"]["checkins"] is None
    assert floors["hq-f2"]["checkins"]["walk_ins"] == {"spells": 2, "uncovered_share": 1.0}
    assert all(f["checkins"]["checkins_per_day"] is None for f in floors.values())
    assert (floors["hq-f1"]["zone_presence"]["mean"],
            floors["hq-f1"]["zone_presence"]["peak"]) == (7.5, 9)  # 9 and 6
    zones = report(client, auth, day, "zone")
    assert all(z["checkins"]["suppressed"] for z in zones.values())
    north = zones["hq-north"]["zone_presence"]
    assert (north["mean"], north["peak"], north["suppressed_bins"]) == (6.0, 6, 1)
    south = zones["hq-south"]["zone_presence"]
    assert (south["mean"], south["mean_label"], south["peak_label"]) == (None, "< 5", "< 5")
    desks = report(client, auth, day, "desk")
    assert all(d["checkins"] is None and d["zone_presence"] is None for d in desks.values())
    csv_text = client.get("/api/v1/utilisation.csv", headers=auth,
                          params={"site": SITE, "group": "floor", "from": day, "to": day}).text
    assert "checkins.walk_ins.spells" in csv_text and "zone_presence.mean" in csv_text
