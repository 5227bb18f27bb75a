"""Metrics on small examples whose answers were worked out by hand (see the comments)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from edge.protocol import DeskEvent, DesksMessage, parse_topic, topic_for
from hub.db.sqlite.store import Incoming
from hub.metrics.calendar import SPEC_VERSION, window_description, window_mask
from hub.metrics.days import Thresholds, summarise
from hub.metrics.kernel import RollupFrame
from hub.metrics.report import Grouping, report
from hub.reports.rollup import refresh_rollups
from tests.support.stores import StoreFactory

BS = 1800
CORE = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "10:00"}


def utilisation(
    frame: RollupFrame,
    *,
    groups: dict[str, str],
    timezone: str,
    core_hours: dict[str, Any] | None,
    bin_seconds: int,
) -> list[dict[str, Any]]:
    """Metrics 2, 4 and 12 per group of desks, through the reports' own path: day
    summaries (each desk its own zone, so any grouping is a union of zones), then report."""
    assert not frame.bin_starts.size or bin_seconds == frame.bin_seconds
    keys = sorted({groups[d] for d in frame.desks if d in groups})
    position = {key: i for i, key in enumerate(keys)}
    desk_group = np.array([position[groups[d]] if d in groups else -1 for d in frame.desks],
                          dtype=np.int64)
    n = len(frame.desks)
    days = summarise(frame, desk_zone=np.arange(n), n_zones=n, timezone=timezone,
                     core_hours=core_hours, thresholds=Thresholds())
    rows = report(days, Grouping(keys, desk_group, desk_group), n_desks=n,
                  thresholds=Thresholds())
    wanted = ("key", "desks", "occupied_seconds", "valid_seconds", "window_seconds",
              "time_utilisation", "coverage", "concurrent", "spec_version")
    return [{k: row[k] for k in wanted} for row in rows]


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def hand_frame() -> RollupFrame:
    """Desks A, B (group z1) and C (z2); Monday 2024-01-08 and Tuesday 2024-01-09, UTC,
    30-min bins 07:30..10:00 each day. (occupied, unknown, span) per bin; 07:30 and 10:00
    lie outside the 08:00-10:00 window and must not count."""
    bins = [utc(f"2024-01-0{day}T{hm}") for day in (8, 9)
            for hm in ("07:30", "08:00", "08:30", "09:00", "09:30", "10:00")]
    full = (0.0, 0.0, 1800.0)
    cells = {
        #       07:30            08:00           08:30            09:00           09:30        10:00
        "A": [(1800, 0, 1800), (1800, 0, 1800), (900, 0, 1800), full, (300, 0, 1800),
              (1800, 0, 1800),
              full, (1800, 0, 1800), (899, 0, 1800), full, full, (1800, 0, 1800)],
        "B": [full, full, (600, 0, 1800), (1800, 0, 1800), (1200, 600, 1800),
              (1800, 0, 1800),
              full, (1800, 0, 1800), (900, 0, 1800), full, full, (1800, 0, 1800)],
        "C": [full, (900, 0, 1800), (0, 1800, 1800), (0, 900, 1800), (1800, 0, 1800),
              (1800, 0, 1800),
              full, (0, 0, 0), (0, 0, 0), full, full, (1800, 0, 1800)],
    }
    table = np.array([cells[d] for d in ("A", "B", "C")], dtype=np.float64)
    return RollupFrame(["A", "B", "C"], np.array(bins, dtype=np.int64), table[:, :, 0],
                       table[:, :, 1], table[:, :, 2], BS, bins[0], utc("2024-01-09T10:30"))


def test_utilisation_matches_the_hand_computed_example() -> None:
    z1, z2 = utilisation(hand_frame(), groups={"A": "z1", "B": "z1", "C": "z2"},
                         timezone="UTC", core_hours=CORE, bin_seconds=BS)
    # z1: 2 desks x 8 window bins x 1800 s = 28800 s of window.
    # Occupied: A 1800+900+0+300 + 1800+899+0+0 = 5699; B 0+600+1800+1200 + 1800+900 = 6300.
    # Valid: everything except B's 600 unknown s = 28800 - 600 = 28200.
    assert z1["key"] == "z1" and z1["desks"] == 2
    assert z1["occupied_seconds"] == 11999
    assert z1["valid_seconds"] == 28200
    assert z1["window_seconds"] == 28800
    assert z1["time_utilisation"] == pytest.approx(11999 / 28200)
    assert z1["coverage"] == pytest.approx(28200 / 28800)
    # U(b): Mon 1/2 in every bin (A 1800, A 900 >= half, B 1800, B 1200 with unknown 600 <
    # half); Tue 2/2, 1/2 (A 899 < 900, B 900), 0/2, 0/2.
    c = z1["concurrent"]
    assert c["average"] == pytest.approx(3.5 / 8)
    assert c["peak"] == 1.0
    assert c["daily_peaks"] == [{"date": "2024-01-08", "peak": 0.5},
                                {"date": "2024-01-09", "peak": 1.0}]
    assert c["average_peak"] == pytest.approx(0.75)
    assert c["tue_thu"] == {"average": pytest.approx(1.5 / 4), "peak": 1.0, "average_peak": 1.0}
    # z2 (C): window 8 x 1800 = 14400. Occupied 900 + 1800 = 2700. Valid Mon 1800 + 0 + 900
    # + 1800, Tue 0 + 0 (no data) + 1800 + 1800 = 8100. U: Mon 08:00 1/1, 08:30 none (all
    # unknown), 09:00 none (unknown = half is not < half), 09:30 1/1; Tue 08:00/08:30 none
    # (no data), 09:00 0/1, 09:30 0/1.
    assert (z2["occupied_seconds"], z2["valid_seconds"], z2["window_seconds"]) == (
        2700, 8100, 14400)
    assert z2["time_utilisation"] == pytest.approx(1 / 3)
    assert z2["coverage"] == pytest.approx(8100 / 14400)
    assert z2["concurrent"]["average"] == pytest.approx(0.5)
    assert z2["concurrent"]["daily_peaks"] == [{"date": "2024-01-08", "peak": 1.0},
                                               {"date": "2024-01-09", "peak": 0.0}]
    assert z2["concurrent"]["average_peak"] == pytest.approx(0.5)
    assert z2["concurrent"]["tue_thu"] == {"average": 0.0, "peak": 0.0, "average_peak": 0.0}
    assert z2["spec_version"] == SPEC_VERSION


def test_site_roll_up_and_undefined_ratios() -> None:
    frame = hand_frame()
    (site,) = utilisation(frame, groups=dict.fromkeys(frame.desks, "s"), timezone="UTC",
                          core_hours=CORE, bin_seconds=BS)
    assert site["desks"] == 3
    assert site["time_utilisation"] == pytest.approx((11999 + 2700) / (28200 + 8100))
    # Saturday only: the window holds no bins at all.
    (empty,) = utilisation(frame, groups={"A": "z"}, timezone="UTC",
                           core_hours={"days": [5], "start": "08:00", "end": "10:00"},
                           bin_seconds=BS)
    assert empty["window_seconds"] == 0
    assert empty["time_utilisation"] is None and empty["coverage"] is None
    assert empty["concurrent"] == {"average": None, "peak": None, "average_peak": None,
                                   "daily_peaks": [],
                                   "tue_thu": {"average": None, "peak": None,
                                               "average_peak": None}}


def test_closed_dates_leave_the_window() -> None:
    (z1,) = utilisation(hand_frame(), groups={"A": "z1", "B": "z1"}, timezone="UTC",
                        core_hours={**CORE, "closed": ["2024-01-09"]}, bin_seconds=BS)
    assert z1["window_seconds"] == 2 * 4 * 1800
    assert z1["occupied_seconds"] == 3000 + 3600


def _one_desk_all_occupied(start: str, hours: int) -> RollupFrame:
    bins = utc(start) + 3600 * np.arange(hours, dtype=np.int64)
    ones = np.full((1, hours), 3600.0)
    return RollupFrame(["d"], bins, ones, np.zeros((1, hours)), ones.copy(), 3600,
                       float(bins[0]), float(bins[-1] + 3600))


@pytest.mark.parametrize(("start", "local_hours", "date"), [
    # Spring forward: 02:00-03:00 local does not exist, so 00:00-04:00 holds 3 hours
    # (23Z, 00Z, 01Z = 00:00 CET, 01:00 CET, 03:00 CEST). A fixed UTC+1 would say 4.
    ("2024-03-30T20:00", 3, "2024-03-31"),
    # Fall back: 02:00-03:00 local happens twice, so 00:00-04:00 holds 5 hours.
    ("2024-10-26T20:00", 5, "2024-10-27"),
])
def test_core_hours_follow_local_time_on_a_dst_day_in_berlin(
    start: str, local_hours: int, date: str
) -> None:
    frame = _one_desk_all_occupied(start, 10)
    core = {"days": [6], "start": "00:00", "end": "04:00"}
    assert int(window_mask(frame.bin_starts, "Europe/Berlin", core).sum()) == local_hours
    (result,) = utilisation(frame, groups={"d": "site"}, timezone="Europe/Berlin",
                            core_hours=core, bin_seconds=3600)
    assert result["window_seconds"] == local_hours * 3600
    assert result["occupied_seconds"] == local_hours * 3600
    assert result["time_utilisation"] == 1.0 and result["coverage"] == 1.0
    assert result["concurrent"]["daily_peaks"] == [{"date": date, "peak": 1.0}]


def test_default_window_is_weekdays_eight_to_six_local() -> None:
    # Monday 2024-07-01 in Berlin (UTC+2): 08:00 local = 06:00Z, 18:00 local = 16:00Z.
    bins = utc("2024-07-01T00:00") + 3600 * np.arange(24, dtype=np.int64)
    mask = window_mask(bins, "Europe/Berlin", None)
    assert np.flatnonzero(mask).tolist() == list(range(6, 16))


def test_window_description_states_the_window() -> None:
    described = window_description("Europe/Berlin", None, utc("2024-03-30T23:00"),
                                   utc("2024-03-31T02:00"))
    assert described == {
        "spec_version": "1.0", "timezone": "Europe/Berlin",
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "08:00", "end": "18:00",
        "closed": [], "from": "2024-03-31T00:00:00+01:00", "until": "2024-03-31T04:00:00+02:00",
        "rule": "bins whose local start time lies in [start, end) on the listed days, "
                "except closed dates; unknown time is excluded from every denominator",
    }


def test_from_transitions_to_metrics_through_the_store(open_test_store: StoreFactory) -> None:
    """Desk m1 occupied 08:15-09:45 UTC on Wednesday 2024-01-10, agent offline from 10:30.

    Window 08:00-12:00 (8 bins of 30 min). Occupied: 08:00 bin 900 s, 08:30 1800, 09:00
    1800, 09:30 900 = 5400 s. Before 08:15 nothing is known: unknown 900 s. From 10:30
    (last-will) unknown: 3 bins = 5400 s. Valid = 14400 - 900 - 5400 = 8100.
    U(b): 08:00 occupied 900 >= 900 but unknown 900 is not < 900 -> no data; 08:30 1,
    09:00 1, 09:30 1 (900 >= 900), 10:00 0, then no data -> average 3/4, peak 1.
    """
    store = open_test_store()
    store.import_building({"sites": [{
        "id": "m", "name": "M", "timezone": "UTC",
        "core_hours": {"days": [2], "start": "08:00", "end": "12:00"},
        "floors": [{"id": "f", "name": "F", "level": 0, "zones": [
            {"id": "z", "name": "Z", "desks": [{"id": "m1", "name": "M1", "agent": "ma"}]}]}],
    }]})
    topic = parse_topic(topic_for("m", "ma", "desks"))
    events = (DeskEvent("m1", "occupied", utc("2024-01-10T08:15")),
              DeskEvent("m1", "vacant", utc("2024-01-10T09:45")))
    msg = DesksMessage(agent="ma", boot=1, seq=1, sent=events[1].at, events=events)
    store.apply([Incoming(topic, msg, events[1].at)])
    refresh_rollups(store, utc("2024-01-10T10:00"), BS)
    store.expire_agents(utc("2024-01-10T10:30"), utc("2024-01-10T10:30"))
    end = utc("2024-01-10T12:00")
    refresh_rollups(store, end, BS)
    site = store.site("m")
    frame = store.rollups("m", utc("2024-01-10T08:00"), end)
    (result,) = utilisation(frame, groups={"m1": "m"}, timezone=site["timezone"],
                            core_hours=site["core_hours"], bin_seconds=BS)
    assert (result["occupied_seconds"], result["valid_seconds"], result["window_seconds"]) == (
        5400, 8100, 14400)
    assert result["time_utilisation"] == pytest.approx(5400 / 8100)
    assert result["coverage"] == pytest.approx(8100 / 14400)
    assert result["concurrent"]["average"] == pytest.approx(0.75)
    assert result["concurrent"]["peak"] == 1.0
    store.close()
