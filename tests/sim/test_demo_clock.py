"""The demo's office-hours clock and live truth: pure mapping of wall time to schedule."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from firmware_sim.building import generate_building
from firmware_sim.clock import OfficeHoursClock, RealClock, replay_days
from firmware_sim.live import FaultPlan, LiveTruth
from firmware_sim.people import PeopleModel

TZ = "Europe/Berlin"


def local(day: date, hour: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ)).timestamp() + hour * 3600


def test_replay_days_are_the_last_tuesdays_to_thursdays_before_today() -> None:
    # Monday 7 Dec 2026: the previous Tue 1, Wed 2, Thu 3 Dec, oldest first.
    assert replay_days(date(2026, 12, 7)) == (date(2026, 12, 1), date(2026, 12, 2),
                                              date(2026, 12, 3))
    # A Wednesday never replays itself: Thu, then Tue of this week.
    assert replay_days(date(2026, 12, 9), 2) == (date(2026, 12, 3), date(2026, 12, 8))


def test_office_hours_clock_replays_days_at_speed_and_cycles() -> None:
    days = (date(2026, 12, 1), date(2026, 12, 2))
    go = 1_800_000_000.0
    clock = OfficeHoursClock(go_live=go, days=days, timezone=TZ, speed=20.0,
                             start_hour=8.5, end_hour=17.0)
    assert clock.day_seconds == pytest.approx(8.5 * 3600 / 20)
    assert clock.schedule_time(go) == local(days[0], 8.5)
    assert clock.schedule_time(go + 60) == pytest.approx(local(days[0], 8.5) + 1200)
    # The warm-up before go-live runs at real speed up to 08:30.
    assert clock.segment(go - 600) == -1
    assert clock.schedule_time(go - 600) == pytest.approx(local(days[0], 8.5) - 600)
    # After one day's worth of wall time the next day starts at 08:30, then it cycles.
    assert clock.schedule_time(go + clock.day_seconds) == pytest.approx(local(days[1], 8.5))
    assert clock.schedule_time(go + 2 * clock.day_seconds + 30) == pytest.approx(
        local(days[0], 8.5) + 600)
    for wall in (go - 100.0, go + 5.0, go + clock.day_seconds + 77.0):
        segment = clock.segment(wall)
        assert clock.wall_time(clock.schedule_time(wall), segment) == pytest.approx(wall)
    assert "replayed at 20x" in clock.describe(go)


def test_clock_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="speed"):
        OfficeHoursClock(go_live=0, days=(date(2026, 12, 1),), timezone=TZ, speed=0.5)
    with pytest.raises(ValueError, match="day"):
        OfficeHoursClock(go_live=0, days=(), timezone=TZ)


def test_live_truth_reads_the_replayed_day_with_wall_stamps_and_planned_faults() -> None:
    building = generate_building(seed=3, desks=20, floors=1)
    people = PeopleModel(building, seed=3, schedule="office")
    days = (date(2026, 12, 1),)
    go = local(date(2026, 12, 6), 3.0)  # a Sunday night: nobody is in the real office
    clock = OfficeHoursClock(go_live=go, days=days, timezone=TZ, speed=20.0)
    desk = building.desks[0].id
    truth = LiveTruth(people, clock, origin=go - 900, seed=3,
                      faults=FaultPlan(since=go, faults={desk: (10.0, 20.0)}))
    real = people.occupancy(local(days[0], 8.5), local(days[0], 17.0))
    for offset in range(0, 1500, 7):
        wall = go + offset
        shown = clock.schedule_time(wall)
        for d in building.desks:
            reading = truth.read(d.id, wall)
            assert reading.at == wall  # stamped with the wall clock
            if d.id == desk and 10 <= offset % 600 < 30:
                assert reading.presence == "fault"
                continue
            expected = any(s <= shown < e for s, e in real[d.id])
            assert reading.presence == ("present" if expected else "absent")
    # Stays begin in wall time and end within their replayed day.
    stays = [s for d in building.desks for s in truth.stays_starting(d.id, go, go + 1500)]
    assert stays and all(go < s.start <= go + 1500 and s.end > s.start for s in stays)
    occupancy = truth.occupancy(go, go + 60)
    assert any(occupancy.values())
    assert all(go <= s < e <= go + 60 for v in occupancy.values() for s, e in v)


def test_real_clock_is_the_wall_clock() -> None:
    building = generate_building(seed=3, desks=10, floors=1)
    people = PeopleModel(building, seed=3, schedule="office")
    t = local(date(2026, 12, 1), 10.0)
    truth = LiveTruth(people, RealClock(), origin=t - 3600, seed=3)
    real = people.occupancy(t - 3600, t + 3600)
    for d in building.desks:
        expected = any(s <= t < e for s, e in real[d.id])
        assert truth.read(d.id, t).presence == ("present" if expected else "absent")
