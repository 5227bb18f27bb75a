"""Day summaries in a real store (SQLite and PostgreSQL): written by the Rollupper, stale when
settings change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.protocol import DeskEvent, DesksMessage, parse_topic, topic_for
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming
from hub.errors import ConfigError
from hub.metrics.days import Thresholds, pack, unpack
from hub.reports import day_store as report_rollup
from hub.reports.rollup import Rollupper, refresh_rollups
from tests.support.stores import StoreFactory


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def building(core: dict[str, Any] | None = None, zone: str = "z1") -> dict[str, Any]:
    site: dict[str, Any] = {"id": "m", "name": "M", "timezone": "UTC", "headcount": 3,
                            "floors": [{"id": "f", "name": "F", "level": 0, "zones": [
                                {"id": "z1", "name": "Z1", "desks": [
                                    {"id": "m1", "name": "M1", "agent": "ma"}]},
                                {"id": "z2", "name": "Z2", "desks": [
                                    {"id": "m2", "name": "M2", "agent": "ma"}]}]}]}
    if zone == "z2":
        site["floors"][0]["zones"][0]["desks"].append(
            site["floors"][0]["zones"][1]["desks"].pop())
    if core is not None:
        site["core_hours"] = core
    return {"sites": [site]}


@pytest.fixture
def store(open_test_store: StoreFactory) -> Any:
    s = open_test_store()
    s.import_building(building())
    # Friday 2024-01-12 08:00-10:00 occupied; the weekend follows.
    topic = parse_topic(topic_for("m", "ma", "desks"))
    events = (DeskEvent("m1", "occupied", utc("2024-01-12T08:00")),
              DeskEvent("m2", "vacant", utc("2024-01-12T08:00")),
              DeskEvent("m1", "vacant", utc("2024-01-12T10:00")))
    msg = DesksMessage(agent="ma", boot=1, seq=1, sent=events[-1].at, events=events)
    s.apply([Incoming(topic, msg, events[-1].at)])
    yield s


def layout(store: Store) -> report_rollup.SiteLayout:
    return report_rollup.site_layout(store, store.site("m"), 900, Thresholds())


def test_the_rollupper_summarises_finished_days_and_stores_weekends_empty(
    store: Store, tmp_path: Path
) -> None:
    now = utc("2024-01-15T06:00")  # Monday morning: Fri, Sat, Sun are finished
    rollupper = Rollupper(HubSettings(data_dir=tmp_path), store,
                          clock=lambda: now)
    rollupper.tick()
    days = [r[0] for r in store.db.execute(  # the live row of today (Monday) apart
        "SELECT day FROM day_summaries WHERE key NOT LIKE 'live:%' ORDER BY day")]
    assert days == ["2024-01-12", "2024-01-13", "2024-01-14"]
    found = report_rollup.stored(store, layout(store), days)
    assert found["2024-01-12"].occupied.tolist() == [7200.0, 0.0]
    assert found["2024-01-13"].elapsed == 0.0 and found["2024-01-13"].bins.size == 0
    assert report_rollup.refresh_day_summaries(store, now, 900) == 0  # nothing left to do


def test_changed_core_hours_or_zones_make_summaries_stale(store: Store) -> None:
    now = utc("2024-01-15T06:00")
    refresh_rollups(store, now, 900)
    report_rollup.refresh_day_summaries(store, now, 900)
    lo, hi = utc("2024-01-12T00:00"), utc("2024-01-13T00:00")
    _, source = report_rollup.window_summaries(store, layout(store), lo, hi, now)
    assert source == {"stored_days": 1, "computed_days": 0}
    store.import_building(building({"days": [4], "start": "09:00", "end": "10:00"}))
    summaries, source = report_rollup.window_summaries(store, layout(store), lo, hi, now)
    assert source == {"stored_days": 0, "computed_days": 1}
    assert summaries[0].occupied.tolist() == [3600.0, 0.0]
    store.import_building(building(zone="z2"))
    assert report_rollup.window_summaries(store, layout(store), lo, hi, now)[1] == {
        "stored_days": 0, "computed_days": 1}


def test_pack_round_trip_keeps_dtypes_and_values(store: Store) -> None:
    day = report_rollup.empty_summary(date(2024, 1, 13), 2, 2)
    back = unpack(pack(day))
    for name in ("occupied", "used_bins", "zone_used", "spell_desk", "bins"):
        assert getattr(back, name).dtype == getattr(day, name).dtype
        np.testing.assert_array_equal(getattr(back, name), getattr(day, name))
    assert (back.day, back.weekday, back.elapsed) == (day.day, 5, 0.0)
    assert store.site("m")["headcount"] == 3


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_headcount_must_be_a_positive_whole_number(store: Store, value: object) -> None:
    bad = building()
    bad["sites"][0]["headcount"] = value
    with pytest.raises(ConfigError, match=r"sites\[0\]\.headcount must be a whole number"):
        store.import_building(bad)


def test_window_rollups_read_what_store_rollups_reads_in_the_window(
    store: Store,
) -> None:
    """The two-part reader (vacant bins as text, others as rows) against the plain one."""
    refresh_rollups(store, utc("2024-01-12T12:00"), 900)
    store.write_rollups([
        ("m2", int(utc("2024-01-12T11:00")), 0.0, 0.0, 300.0),  # partly elapsed
        ("m2", int(utc("2024-01-12T11:15")), 0.0, 900.0, 900.0),  # unknown
        ("m1", int(utc("2024-01-12T11:20")), 900.0, 0.0, 900.0),  # unaligned: ignored
    ])
    store.db.execute("DELETE FROM rollups WHERE desk = 'm2' AND bin_start = ?",
                     [int(utc("2024-01-12T09:00"))])  # missing: no data
    lo, hi, now = utc("2024-01-12T00:00"), utc("2024-01-13T00:00"), utc("2024-01-12T12:00")
    frame = report_rollup.window_rollups(store, layout(store), lo, hi, now)
    plain = store.rollups("m", lo, hi, bin_seconds=900, now=now)
    inside = (plain.bin_starts >= utc("2024-01-12T08:00")) & (
        plain.bin_starts < utc("2024-01-12T18:00"))
    assert frame.bin_starts.tolist() == plain.bin_starts[inside].tolist()
    for name in ("occupied", "unknown", "span"):
        assert np.array_equal(getattr(frame, name), getattr(plain, name)[:, inside]), name
    assert frame.span.sum() > 0 and frame.occupied.sum() == 7200.0
    assert (frame.start, frame.end) == (lo, now)
