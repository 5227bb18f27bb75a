"""Check-in and check-out rules over a real SQLite store, and automatic check-out."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hub.checkin import service
from hub.checkin.jobs import CheckinJobs, checkout_core_end, checkout_vacant, core_end_after
from hub.checkin.service import DeskTaken
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.errors import NotFound
from tests.support.building import Desks

BERLIN = ZoneInfo("Europe/Berlin")
CORE = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}


def test_one_open_checkin_per_desk_and_per_person(store: SqliteStore, ann: int, bob: int) -> None:
    first = service.check_in(store, ann, "hq-d1", via="phone", now=1000.0)
    assert service.check_in(store, ann, "hq-d1", via="qr", now=1100.0) == first  # no change
    with pytest.raises(DeskTaken, match="someone else"):
        service.check_in(store, bob, "hq-d1", via="phone", now=1200.0)
    assert service.occupant(store, "hq-d1", bob) == "taken"
    assert service.occupant(store, "hq-d1", ann) == "mine"
    moved = service.check_in(store, ann, "hq-d2", via="phone", now=1300.0)
    ended = service.own(store, ann, first.id)
    assert (ended.end, ended.end_reason, ended.duration) == (1300.0, "moved", 300.0)
    assert service.current(store, ann) == moved
    assert service.occupant(store, "hq-d1", bob) == "free"
    with pytest.raises(NotFound):
        service.check_in(store, bob, "no-such-desk", via="phone")


def test_database_refuses_a_second_open_checkin_even_past_the_service(
    store: SqliteStore, ann: int, bob: int,
) -> None:
    service.check_in(store, ann, "hq-d1", via="phone", now=1000.0)
    with pytest.raises(Exception, match="(?i)unique"):
        store.db.execute(
            "INSERT INTO checkins (person_id, desk, site, via, start) "
            "VALUES (?, 'hq-d1', 'hq', 'phone', 1.0)", [bob])


def test_check_out_is_exact_and_only_mine(store: SqliteStore, ann: int, bob: int) -> None:
    mine = service.check_in(store, ann, "hq-d1", via="phone", now=1000.0)
    with pytest.raises(NotFound):
        service.check_out(store, bob, checkin_id=mine.id, now=1500.0)
    done = service.check_out(store, ann, now=1750.5)
    assert done is not None and done.duration == 750.5 and done.end_reason == "checkout"
    assert service.check_out(store, ann, now=1800.0) is None


def test_vacant_for_the_configured_time_checks_out_at_when_the_desk_emptied(
    store: SqliteStore, ann: int, bob: int,
) -> None:
    desks = Desks(store)
    now = time.time()
    service.check_in(store, ann, "hq-d1", via="phone", now=now - 3000)
    service.check_in(store, bob, "hq-d2", via="phone", now=now - 3000)
    desks.send(("hq-d1", "occupied", now - 2900), ("hq-d2", "occupied", now - 2900))
    desks.send(("hq-d1", "vacant", now - 1300), ("hq-d2", "vacant", now - 1100))
    assert checkout_vacant(store, now, after=1200) == 1
    ann_stay = service.history(store, ann)[0]
    assert ann_stay.end == pytest.approx(now - 1300) and ann_stay.end_reason == "vacant"
    assert service.current(store, bob) is not None  # vacant only 1100 s
    # A check-in made while the desk already looked vacant counts from the check-in.
    service.check_in(store, ann, "hq-d3", via="phone", now=now - 100)
    desks.send(("hq-d3", "vacant", now - 5000))
    assert checkout_vacant(store, now, after=1200) == 0
    assert checkout_vacant(store, now + 1200, after=1200) == 2


def test_core_end_is_local_and_dst_aware() -> None:
    def at(*fields: int) -> float:
        return datetime(*fields, tzinfo=BERLIN).timestamp()  # type: ignore[misc, arg-type]

    assert core_end_after(at(2026, 3, 27, 9, 0), "Europe/Berlin", CORE) == at(2026, 3, 27, 18)
    # The day clocks go forward (23 hours) and a check-in after the core end: midnight.
    assert core_end_after(at(2026, 3, 29, 19, 0), "Europe/Berlin", CORE) == at(2026, 3, 30)
    assert at(2026, 3, 30) - at(2026, 3, 29) == 23 * 3600
    assert core_end_after(at(2026, 10, 25, 9), "Europe/Berlin", None) == at(2026, 10, 25, 18)
    late = {**CORE, "end": "24:00"}
    assert core_end_after(at(2026, 6, 1, 23), "Europe/Berlin", late) == at(2026, 6, 2)


def test_the_end_of_core_hours_closes_what_is_open(store: SqliteStore, ann: int, bob: int) -> None:
    # Site "lab" is UTC with default core hours (08:00-18:00).
    service.check_in(store, ann, "lab-d1", via="phone",
                     now=datetime(2026, 6, 1, 9, 30, tzinfo=ZoneInfo("UTC")).timestamp())
    end = datetime(2026, 6, 1, 18, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert checkout_core_end(store, end - 1) == 0
    assert checkout_core_end(store, end + 5) == 1
    stay = service.history(store, ann)[0]
    assert (stay.end, stay.end_reason) == (end, "core_hours_end")


def test_jobs_tick_runs_all_three(settings: HubSettings, store: SqliteStore, ann: int) -> None:
    now = time.time()
    service.check_in(store, ann, "hq-d1", via="phone", now=now - 5000)
    Desks(store).send(("hq-d1", "vacant", now - 4000))
    store.db.execute("INSERT INTO used_tokens (token_id, used_at) VALUES ('old-token', ?)",
                     [now - 7200])
    store.db.execute("INSERT INTO used_tokens (token_id, used_at) VALUES ('new-token', ?)",
                     [now - 600])
    jobs = CheckinJobs(settings, store, interval=0.05, clock=lambda: now)
    jobs.start()
    deadline = time.monotonic() + 5
    while service.current(store, ann) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    jobs.stop()
    assert service.current(store, ann) is None
    assert [r[0] for r in store.db.execute("SELECT token_id FROM used_tokens")] == ["new-token"]
