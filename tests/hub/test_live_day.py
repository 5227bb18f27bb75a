"""Today's live summary (hub/reports/live_day.py) in a real store (SQLite and PostgreSQL): after
every rollup refresh it holds exactly the figures a report would compute from the bin
rollups and transitions at that moment, late events included."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from edge.protocol import DeskEvent, DesksMessage, parse_topic, topic_for
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming
from hub.metrics.days import DaySummary, Thresholds
from hub.reports import day_store as report_rollup
from hub.reports.live_day import LiveSummaries
from hub.reports.rollup import Rollupper, refresh_rollups
from tests.support.stores import StoreFactory

TZ = ZoneInfo("Europe/Berlin")
DESKS = [f"l{i}" for i in range(8)]
DAY = datetime(2024, 3, 12, tzinfo=TZ)  # a Tuesday
START, END = DAY.timestamp(), DAY.replace(day=13).timestamp()


def building() -> dict[str, Any]:
    zones = [{"id": f"z{z}", "name": f"Z{z}", "desks": [
        {"id": d, "name": d, "agent": "la"} for d in DESKS[z::2]]} for z in range(2)]
    return {"sites": [{"id": "l", "name": "L", "timezone": "Europe/Berlin",
                       "floors": [{"id": "f", "name": "F", "level": 0, "zones": zones}]}]}


class Feed:
    """Delivers desk events to the store the way the ingest path does."""

    def __init__(self, store: Store) -> None:
        self.store, self.seq = store, 0
        self.topic = parse_topic(topic_for("l", "la", "desks"))

    def send(self, events: list[tuple[str, str, float]], received: float) -> None:
        self.seq += 1
        batch = tuple(DeskEvent(d, s, at) for d, s, at in sorted(events, key=lambda e: e[2]))
        msg = DesksMessage(agent="la", boot=1, seq=self.seq, sent=received, events=batch)
        self.store.apply([Incoming(self.topic, msg, received)])


def recomputed_today(store: Store, now: float) -> DaySummary:
    """The figures the report's slow path gives: rollups plus transitions, read now."""
    layout = report_rollup.site_layout(store, store.site("l"), 900, Thresholds())
    (summary,) = report_rollup.compute(store, layout, START, END, now)
    return summary


def live_today(store: Store) -> DaySummary:
    layout = report_rollup.site_layout(store, store.site("l"), 900, Thresholds())
    found = report_rollup.stored(store, layout, ["2024-03-12"], report_rollup.live_key(layout))
    return found["2024-03-12"]


def assert_same(live: DaySummary, slow: DaySummary) -> None:
    for f in fields(DaySummary):
        a, b = getattr(live, f.name), getattr(slow, f.name)
        assert np.array_equal(a, b), f.name
        assert np.asarray(a).dtype == np.asarray(b).dtype, f.name


def tick(store: Store, live: LiveSummaries, now: float) -> None:
    """What one Rollupper tick does for rollups and today's summary."""
    changed: set[str] = set()
    refresh_rollups(store, now, 900, recomputed=changed)
    live.refresh(store, now, changed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_summary_equals_the_recomputed_day_on_random_events(
    open_test_store: StoreFactory, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    store = open_test_store()
    store.import_building(building())
    feed = Feed(store)
    feed.send([(d, "vacant", START + 60) for d in DESKS], START + 60)
    live = LiveSummaries(900)
    ticks = np.sort(rng.uniform(START + 7 * 3600, START + 19 * 3600, 12))
    previous = START + 120
    tick(store, live, previous)
    for now in ticks.tolist():
        # Events since the previous tick, and now and then a late one from hours before.
        events = []
        for _ in range(int(rng.integers(0, 6))):
            at = float(rng.uniform(previous, now))
            events.append((str(rng.choice(DESKS)), str(rng.choice(
                ["occupied", "vacant", "unknown"], p=[0.5, 0.4, 0.1])), at))
        if rng.random() < 0.4:
            events.append((str(rng.choice(DESKS)), "occupied",
                           float(rng.uniform(START + 3600, previous))))
        if events:
            feed.send(events, now)
        tick(store, live, now)
        assert_same(live_today(store), recomputed_today(store, now))
        previous = now
    assert live_today(store).occupied.sum() > 0  # the figures are not trivially empty


def test_a_late_event_updates_todays_figures(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.import_building(building())
    feed = Feed(store)
    feed.send([(d, "vacant", START + 60) for d in DESKS], START + 60)
    live = LiveSummaries(900)
    tick(store, live, START + 8 * 3600)
    tick(store, live, START + 14 * 3600)
    assert live_today(store).occupied.sum() == 0.0
    # At 14:05 the agent's queued events of 09:00-10:00 arrive (it was offline).
    feed.send([("l3", "occupied", START + 9 * 3600), ("l3", "vacant", START + 10 * 3600)],
              START + 14 * 3600 + 300)
    tick(store, live, START + 14 * 3600 + 300)
    today = live_today(store)
    layout = report_rollup.site_layout(store, store.site("l"), 900, Thresholds())
    l3 = [d["id"] for d in layout.desks].index("l3")
    assert today.occupied[l3] == 3600.0 and today.occupied.sum() == 3600.0
    assert today.spell_seconds.tolist() == [3600.0]
    assert_same(today, recomputed_today(store, START + 14 * 3600 + 300))


def test_a_report_reads_the_live_summary_instead_of_recomputing(
    open_test_store: StoreFactory,
) -> None:
    store = open_test_store()
    store.import_building(building())
    feed = Feed(store)
    feed.send([(d, "vacant", START + 60) for d in DESKS], START + 60)
    feed.send([("l1", "occupied", START + 9 * 3600)], START + 9 * 3600)
    live = LiveSummaries(900)
    now = START + 11 * 3600
    tick(store, live, now)
    layout = report_rollup.site_layout(store, store.site("l"), 900, Thresholds())
    days, source = report_rollup.window_summaries(store, layout, START, END, now + 30)
    assert source == {"stored_days": 1, "computed_days": 0}
    assert_same(days[0], recomputed_today(store, now))
    # A `to` before the live summary's time, or a stale one: summarised on the fly.
    _, cut = report_rollup.window_summaries(store, layout, START, now - 3600, now + 30)
    assert cut == {"stored_days": 0, "computed_days": 1}
    stale = now + report_rollup.LIVE_MAX_AGE + 1
    assert report_rollup.window_summaries(store, layout, START, END, stale)[1] == {
        "stored_days": 0, "computed_days": 1}


def test_the_rollupper_keeps_todays_live_summary(
    open_test_store: StoreFactory, tmp_path: Path
) -> None:
    store = open_test_store()
    store.import_building(building())
    feed = Feed(store)
    feed.send([(d, "vacant", START + 60) for d in DESKS], START + 60)
    clock = [START + 9 * 3600]
    rollupper = Rollupper(HubSettings(data_dir=tmp_path), store, clock=lambda: clock[0])
    rollupper.tick()
    feed.send([("l2", "occupied", START + 9 * 3600 + 60)], START + 9 * 3600 + 60)
    clock[0] = START + 10 * 3600
    rollupper.tick()
    today = live_today(store)
    assert today.occupied.sum() == 3600.0 - 60.0
    assert_same(today, recomputed_today(store, clock[0]))
