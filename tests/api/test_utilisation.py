"""GET /api/v1/utilisation: window parsing, validation 422s and hand-computed figures."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from hub.api.routes.utilisation import parse_instant, resolve_window
from hub.db.sqlite.store import SqliteStore
from hub.reports.rollup import refresh_rollups
from tests.support.building import BERLIN, BIN, SITE, Desks, local_midnight

# --- parsing the window (pure) --------------------------------------------------------------

def test_parse_instant_accepts_dates_datetimes_and_unix_seconds() -> None:
    may6 = local_midnight(date(2024, 5, 6))
    assert parse_instant("2024-05-06", BERLIN, end=False) == may6
    assert parse_instant("2024-05-06", BERLIN, end=True) == may6 + 86_400  # inclusive day
    assert parse_instant("2024-05-06T09:30", BERLIN, end=False) == may6 + 9.5 * 3600
    assert parse_instant("2024-05-06T07:30:00+00:00", BERLIN, end=False) == may6 + 9.5 * 3600
    assert parse_instant("2024-05-06T07:30:00Z", BERLIN, end=False) == may6 + 9.5 * 3600
    assert parse_instant("1715000000", BERLIN, end=False) == 1715000000.0
    assert parse_instant(" 1715000000.5 ", BERLIN, end=True) == 1715000000.5


def test_a_whole_dst_day_has_23_hours() -> None:
    start = parse_instant("2024-03-31", BERLIN, end=False)
    assert parse_instant("2024-03-31", BERLIN, end=True) - start == 23 * 3600


@pytest.mark.parametrize("text, reason", [
    ("", "empty; expected an ISO date, ISO datetime or Unix seconds"),
    ("yesterday", "'yesterday' is not an ISO date, ISO datetime or Unix seconds"),
    ("2024-13-01", "'2024-13-01' is not an ISO date, ISO datetime or Unix seconds"),
    ("-5", "Unix seconds -5 are before the earliest time allowed, 1970-01-01 00:00 UTC"),
    ("1e400", "'1e400' is not an ISO date, ISO datetime or Unix seconds"),
    ("99999999999999999999", "Unix seconds 99999999999999999999 are not before the end of "
     "the range allowed, 3000-01-01 00:00 UTC"),
    ("0001-01-01", "'0001-01-01' is before the earliest time allowed, 1970-01-01 00:00 UTC"),
    # Issue 24, item 9: this used to say "'1970-01-01' is outside 1970-01-01 .. 2999-12-31".
    ("1970-01-01", "'1970-01-01' begins at 1969-12-31 23:00 UTC, before the earliest time "
     "allowed, 1970-01-01 00:00 UTC"),
    ("9999-12-31T23:59:59-23:59", "'9999-12-31T23:59:59-23:59' is not before the end of the "
     "range allowed, 3000-01-01 00:00 UTC"),
    ("3000-01-01T00:30+00:00", "'3000-01-01T00:30+00:00' is 3000-01-01 00:30 UTC, not before "
     "the end of the range allowed, 3000-01-01 00:00 UTC"),
])
def test_parse_instant_refuses_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_instant(text, BERLIN, end=False)
    assert str(info.value) == reason


def test_default_window_is_today_so_far() -> None:
    now = local_midnight(date(2024, 5, 7)) + 10 * 3600
    assert resolve_window(BERLIN, None, None, now=now) == (now - 10 * 3600, now)


def test_window_from_only_runs_to_now() -> None:
    now = local_midnight(date(2024, 5, 7)) + 3600
    lo, hi = resolve_window(BERLIN, "2024-05-01", None, now=now)
    assert (lo, hi) == (local_midnight(date(2024, 5, 1)), now)


def test_window_validation_problems_have_fastapi_shape() -> None:
    with pytest.raises(RequestValidationError) as info:
        resolve_window(BERLIN, "2024-05-02", "2024-05-01", now=time.time())
    assert info.value.errors() == [{
        "type": "value_error", "loc": ["query", "to"], "msg": "'to' must be after 'from'",
        "input": "2024-05-01"}]


# --- over HTTP ----------------------------------------------------------------------------

def get(client: TestClient, auth: dict[str, str], **params: Any) -> Any:
    return client.get("/api/v1/utilisation", params={"site": SITE, **params}, headers=auth)


@pytest.mark.parametrize("params, loc, msg", [
    ({"from": "2024-05-02", "to": "2024-05-01"}, "to", "'to' must be after 'from'"),
    ({"from": "1715000000", "to": "1715000000"}, "to", "'to' must be after 'from'"),
    ({"from": "2023-01-01", "to": "2024-01-02"}, "to", "the window may span at most 366 days"),
    ({"from": "soon"}, "from", "'soon' is not an ISO date, ISO datetime or Unix seconds"),
    ({"to": "2024-02-30"}, "to", "'2024-02-30' is not an ISO date, ISO datetime or Unix seconds"),
])
def test_bad_windows_are_422_with_detail(
    client: TestClient, auth: dict[str, str], params: dict[str, str], loc: str, msg: str
) -> None:
    response = get(client, auth, **params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["query", loc]
    assert detail[0]["msg"] == msg


NASTY = ["0001-01-01", "9999-12-31", "0", "253402300799", "1e5", "2024-05-06T25:00",
         "2024-05-06T10:00+23:59", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00+14:00",
         "nan", "inf", "-0", "\u0663", "2024-W01", "20240506", "2024-05-06 10:00", " ", "\x00",
         "2999-12-31", "1970-01-01"]


@pytest.mark.parametrize("start", [*NASTY, None])
def test_odd_windows_never_cause_a_server_error(
    client: TestClient, auth: dict[str, str], start: str | None
) -> None:
    for end in [*NASTY, None]:
        params = {k: v for k, v in (("from", start), ("to", end)) if v is not None}
        response = get(client, auth, group="desk", **params)
        assert response.status_code in (200, 422), (params, response.text)


def test_366_days_is_allowed(client: TestClient, auth: dict[str, str]) -> None:
    assert get(client, auth, **{"from": "2023-01-01", "to": "2023-12-31"}).status_code == 200


def test_unknown_group_keeps_fastapis_422(client: TestClient, auth: dict[str, str]) -> None:
    response = get(client, auth, group="building")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "group"]
    assert response.json()["detail"][0]["type"] == "literal_error"


@pytest.fixture
def two_days_ago(store: SqliteStore, desks: Desks) -> date:
    """Desk 1 occupied 08:00-10:00 and desk 2 vacant from 08:00, two days ago (local)."""
    day = datetime.now(BERLIN).date() - timedelta(days=2)
    start = local_midnight(day)
    desks.send(("hq-d1", "occupied", start + 8 * 3600), ("hq-d2", "vacant", start + 8 * 3600))
    desks.send(("hq-d1", "vacant", start + 10 * 3600))
    refresh_rollups(store, time.time(), BIN)
    return day


def test_figures_per_desk_match_hand_computation(
    client: TestClient, auth: dict[str, str], two_days_ago: date
) -> None:
    day = two_days_ago
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    body = get(client, auth, group="desk", **{"from": day.isoformat(),
                                             "to": day.isoformat()}).json()
    assert body["site"] == SITE and body["group"] == "desk"
    assert body["bin_seconds"] == BIN and body["spec_version"] == "1.0"
    assert body["window"]["from"] == datetime.fromtimestamp(start, BERLIN).isoformat()
    assert body["window"]["until"] == datetime.fromtimestamp(end, BERLIN).isoformat()
    assert body["window"]["timezone"] == "Europe/Berlin"
    rows = {r["key"]: r for r in body["results"]}
    assert list(rows) == ["hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"]
    d1 = rows["hq-d1"]
    valid = end - (start + 8 * 3600)  # unknown before its first event, then known all day
    assert d1["name"] == "Desk 1" and d1["desks"] == 1
    assert d1["occupied_seconds"] == 7200
    assert d1["valid_seconds"] == valid
    assert d1["window_seconds"] == end - start
    assert d1["time_utilisation"] == pytest.approx(7200 / valid)
    assert d1["coverage"] == pytest.approx(valid / (end - start))
    valid_bins = valid / BIN
    assert d1["concurrent"]["average"] == pytest.approx(8 / valid_bins)
    assert d1["concurrent"]["peak"] == 1.0
    assert d1["concurrent"]["daily_peaks"] == [{"date": day.isoformat(), "peak": 1.0}]
    assert rows["hq-d2"]["time_utilisation"] == 0.0
    never = rows["hq-d4"]
    assert never["time_utilisation"] is None and never["coverage"] == 0.0
    assert never["concurrent"]["average"] is None


def test_figures_per_floor_in_level_order_with_names(
    client: TestClient, auth: dict[str, str], two_days_ago: date
) -> None:
    day = two_days_ago.isoformat()
    body = get(client, auth, group="floor", **{"from": day, "to": day}).json()
    assert [(r["key"], r["name"], r["desks"]) for r in body["results"]] == [
        ("hq-f1", "First floor", 3), ("hq-f2", "Second floor", 2)]
    first = body["results"][0]
    assert first["occupied_seconds"] == 7200
    # Two desks with data out of three: desk 3 counts in the window but never in "valid".
    assert first["coverage"] == pytest.approx(
        first["valid_seconds"] / first["window_seconds"])
    assert first["window_seconds"] == 3 * (first["valid_seconds"] / 2 + 8 * 3600)
    assert first["concurrent"]["peak"] == 0.5  # 1 of the 2 desks with data


def test_default_is_today_in_the_site_time_zone(
    client: TestClient, auth: dict[str, str], desks: Desks, store: SqliteStore
) -> None:
    now = time.time()
    desks.send(("hq-d4", "occupied", now - 5))
    refresh_rollups(store, time.time(), BIN)
    body = get(client, auth, group="site").json()
    today = datetime.now(BERLIN).date()
    assert body["window"]["from"] == datetime.fromtimestamp(
        local_midnight(today), BERLIN).isoformat()
    assert body["window"]["days"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    (site,) = body["results"]
    assert site["key"] == SITE and site["name"] == "Head office" and site["desks"] == 5
    assert site["occupied_seconds"] == pytest.approx(5, abs=2)


def test_zone_grouping_uses_zone_names(client: TestClient, auth: dict[str, str]) -> None:
    body = get(client, auth, group="zone").json()
    assert {(r["key"], r["name"]) for r in body["results"]} == {
        ("hq-north", "North"), ("hq-south", "South"), ("hq-east", "East")}
