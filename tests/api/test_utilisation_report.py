"""The full report, heatmap, time series and CSV over HTTP, from stored and computed days."""

from __future__ import annotations

import copy
import csv
import io
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.api.routes.utilisation_models import ReportPublic
from hub.db.sqlite.store import SqliteStore
from hub.reports import day_store as report_rollup
from hub.reports.rollup import refresh_rollups
from tests.support.building import BERLIN, BIN, BUILDING, SITE, Desks, local_midnight


@pytest.fixture
def three_days(store: SqliteStore, desks: Desks) -> tuple[date, date]:
    """Desks 1-3 with a known pattern on three past local days (all-day core hours)."""
    first = datetime.now(BERLIN).date() - timedelta(days=5)
    for k in range(3):
        m = local_midnight(first + timedelta(days=k))
        desks.send(("hq-d1", "vacant", m + 7 * 3600), ("hq-d2", "vacant", m + 7 * 3600),
                   ("hq-d3", "vacant", m + 7 * 3600))
        desks.send(("hq-d1", "occupied", m + 8 * 3600), ("hq-d2", "occupied", m + 9 * 3600))
        desks.send(("hq-d1", "vacant", m + 8 * 3600 + 1200), ("hq-d2", "vacant", m + 11 * 3600))
        desks.send(("hq-d1", "occupied", m + 8 * 3600 + 1500))  # a 5-min gap: same spell
        desks.send(("hq-d1", "vacant", m + 10 * 3600))
    refresh_rollups(store, time.time(), BIN)
    return first, first + timedelta(days=2)


def get(client: TestClient, auth: dict[str, str], path: str = "", **params: Any) -> Any:
    return client.get(f"/api/v1/utilisation{path}", params={"site": SITE, **params},
                      headers=auth)


def window(days: tuple[date, date]) -> dict[str, str]:
    return {"from": days[0].isoformat(), "to": days[1].isoformat()}


def test_the_report_has_every_metric_and_says_what_it_left_out(
    client: TestClient, auth: dict[str, str], three_days: tuple[date, date]
) -> None:
    body = get(client, auth, group="floor", **window(three_days)).json()
    assert body["spec_version"] == "1.0" and body["bin_seconds"] == BIN
    assert body["not_included"] == {}
    ReportPublic.model_validate(body)  # the route serialises directly: the model must fit
    assert body["source"] == {"stored_days": 0, "computed_days": 3}
    first = body["results"][0]
    assert first["key"] == "hq-f1" and first["desks"] == 3
    # d1 occupied 08:00-08:20 and 08:25-10:00 (6900 s), d2 09:00-11:00 (7200 s), each day.
    assert first["occupied_seconds"] == 3 * (6900 + 7200)
    assert first["dwell"] == {"count": 6, "mean_seconds": 7200.0, "median_seconds": 7200.0,
                              "longest_seconds": 7200.0, "hold_seconds": 600.0}
    assert first["used"]["days"] == 6 and first["never_used"] == {
        "desks": 1, "seen_desks": 3, "share": pytest.approx(1 / 3)}
    assert first["concurrent"]["peak"] == pytest.approx(2 / 3)
    assert first["sharing"]["peak_demand"] == 2 and first["sharing"]["headcount"] is None
    assert first["surplus"] == 1
    assert 0 < first["bands"]["from_60_to_100"] < 1
    assert 0 < body["coverage"] < 1


def test_stored_day_summaries_give_the_same_answer(
    client: TestClient, auth: dict[str, str], store: SqliteStore,
    three_days: tuple[date, date],
) -> None:
    computed = get(client, auth, group="zone", **window(three_days)).json()
    assert report_rollup.refresh_day_summaries(store, time.time(), BIN) >= 3
    stored = get(client, auth, group="zone", **window(three_days)).json()
    assert stored["source"] == {"stored_days": 3, "computed_days": 0}
    assert stored["results"] == computed["results"]


def test_a_late_event_reopens_its_day(
    client: TestClient, auth: dict[str, str], store: SqliteStore, desks: Desks,
    three_days: tuple[date, date],
) -> None:
    report_rollup.refresh_day_summaries(store, time.time(), BIN)
    before = get(client, auth, **window(three_days)).json()["results"][0]
    m = local_midnight(three_days[1])
    desks.send(("hq-d3", "occupied", m + 14 * 3600), ("hq-d3", "vacant", m + 15 * 3600))
    refresh_rollups(store, time.time(), BIN)
    after = get(client, auth, **window(three_days)).json()
    assert after["source"] == {"stored_days": 2, "computed_days": 1}
    assert after["results"][0]["occupied_seconds"] == before["occupied_seconds"] + 3600
    report_rollup.refresh_day_summaries(store, time.time(), BIN)
    again = get(client, auth, **window(three_days)).json()
    assert again["source"]["stored_days"] == 3 and again["results"] == after["results"]


def test_thresholds_are_query_parameters(
    client: TestClient, auth: dict[str, str], three_days: tuple[date, date]
) -> None:
    strict = get(client, auth, group="desk", used_day_minutes=120, hold_minutes=0,
                 **window(three_days)).json()
    ReportPublic.model_validate(strict)
    assert set(strict["not_included"]) == {"10", "11"}
    rows = {r["key"]: r for r in strict["results"]}
    assert rows["hq-d1"]["checkins"] is None and rows["hq-d1"]["zone_presence"] is None
    assert rows["hq-d1"]["used"]["days"] == 0  # 105 min < 120
    assert rows["hq-d2"]["used"]["days"] == 3
    assert rows["hq-d1"]["dwell"]["count"] == 6  # the 5-min gap no longer merges
    bad = get(client, auth, used_hour_minutes=0)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "used_hour_minutes"]


def test_sharing_ratio_uses_the_site_headcount(
    client: TestClient, auth: dict[str, str], store: SqliteStore,
    three_days: tuple[date, date],
) -> None:
    building = copy.deepcopy(BUILDING)
    building["sites"][0]["headcount"] = 4
    store.import_building(building)
    (site,) = get(client, auth, **window(three_days)).json()["results"]
    assert site["sharing"] == {"desks": 5, "headcount": 4, "desks_per_person": 1.25,
                               "peak_demand": 2, "peak_demand_per_desk": 0.4}


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_by_accept_header_or_suffix(
    client: TestClient, auth: dict[str, str], three_days: tuple[date, date]
) -> None:
    by_suffix = get(client, auth, ".csv", group="floor", **window(three_days))
    by_accept = client.get("/api/v1/utilisation", headers={**auth, "Accept": "text/csv"},
                           params={"site": SITE, "group": "floor", **window(three_days)})
    assert by_suffix.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_suffix.text == by_accept.text
    rows = rows_of(by_suffix.text)
    assert [r["key"] for r in rows] == ["hq-f1", "hq-f2"]
    assert float(rows[0]["occupied_seconds"]) == 3 * (6900 + 7200)
    assert rows[0]["spec_version"] == "1.0" and rows[0]["window.timezone"] == "Europe/Berlin"
    assert "concurrent.tue_thu.average" in rows[0] and "dwell.median_seconds" in rows[0]


def test_heatmap_json_and_csv(
    client: TestClient, auth: dict[str, str], three_days: tuple[date, date]
) -> None:
    body = get(client, auth, "/heatmap", group="floor", **window(three_days)).json()
    first = body["results"][0]
    assert len(first["mean_u"]) == 7 and all(len(row) == 24 for row in first["mean_u"])
    weekday = three_days[0].weekday()
    assert first["mean_u"][weekday][9] == pytest.approx(2 / 3)  # d1 and d2 of 3 desks
    assert first["bins"][weekday][9] == 4  # four 15-min bins
    rows = rows_of(get(client, auth, "/heatmap.csv", group="floor", **window(three_days)).text)
    assert len(rows) == 2 * 7 * 24
    assert get(client, auth, "/heatmap", group="desk").status_code == 422


def test_timeseries_json_and_csv(
    client: TestClient, auth: dict[str, str], three_days: tuple[date, date]
) -> None:
    day = three_days[0].isoformat()
    body = get(client, auth, "/timeseries", group="zone", **{"from": day, "to": day}).json()
    assert len(body["bins"]) == 96
    north = next(r for r in body["results"] if r["key"] == "hq-north")
    nine = next(i for i, b in enumerate(body["bins"]) if b.startswith(f"{day}T09:00"))
    assert north["occupied_seconds"][nine] == 1800  # d1 and d2 both occupied 09:00-09:15
    assert north["in_use"][nine] == 2 and north["with_data"][nine] == 2
    assert north["u"][nine] == 1.0
    assert sum(north["occupied_seconds"]) == 6900 + 7200
    rows = rows_of(client.get("/api/v1/utilisation/timeseries",
                              headers={**auth, "Accept": "text/csv"},
                              params={"site": SITE, "group": "zone", "from": day,
                                      "to": day}).text)
    assert len(rows) == 3 * 96 and {"bin", "occupied_seconds", "u"} <= set(rows[0])
