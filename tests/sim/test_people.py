"""The people model: plausible weeks, well-formed intervals, per-day determinism, speed."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from firmware_sim.building import generate_building
from firmware_sim.people import Interval, PeopleModel, merge_intervals

TZ = ZoneInfo("Europe/Berlin")
MONDAY = date(2025, 3, 10)  # a week without public holidays or DST changes
BUILDING = generate_building(seed=11, desks=100)


def local(day: date, hour: float = 0.0) -> float:
    return (datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)).timestamp()


def occupied_seconds(intervals: dict[str, list[Interval]], start: float, end: float) -> float:
    return sum(min(e, end) - max(s, start)
               for iv in intervals.values() for s, e in iv if e > start and s < end)


def concurrent(intervals: dict[str, list[Interval]], at: float) -> int:
    return sum(any(s <= at < e for s, e in iv) for iv in intervals.values())


def assert_well_formed(occ: dict[str, list[Interval]], start: float, end: float) -> None:
    assert set(occ) == {d.id for d in BUILDING.desks}
    for intervals in occ.values():
        for s, e in intervals:
            assert start <= s < e <= end
        for (_, e1), (s2, _) in zip(intervals, intervals[1:], strict=False):
            assert e1 < s2  # sorted, non-overlapping, touching ones merged


@pytest.mark.parametrize("schedule", ["office", "shifts"])
def test_intervals_are_sorted_disjoint_and_inside_the_window(schedule: str) -> None:
    model = PeopleModel(BUILDING, seed=1, schedule=schedule)  # type: ignore[arg-type]
    start, end = local(MONDAY, 9.3), local(MONDAY + timedelta(days=3), 14.1)
    occ = model.occupancy(start, end)
    assert_well_formed(occ, start, end)
    assert occupied_seconds(occ, start, end) > 0
    assert model.occupancy(end, start) == {d.id: [] for d in BUILDING.desks}


def test_office_weeks_are_busy_midweek_and_empty_at_weekends() -> None:
    model = PeopleModel(BUILDING, seed=2)
    occ = model.occupancy(local(MONDAY), local(MONDAY + timedelta(days=7)))
    per_day = [
        occupied_seconds(occ, local(MONDAY + timedelta(days=i)),
                         local(MONDAY + timedelta(days=i + 1))) / 3600
        for i in range(7)
    ]
    mon, tue, wed, thu, fri, sat, sun = per_day
    assert min(tue, wed, thu) > max(mon, fri)  # hybrid work: Tue-Thu busiest
    assert fri > 0 and mon > 0
    assert sat + sun < 0.05 * wed
    # Peak concurrent use on Wednesday: busy but hot-desking never exceeds the desks.
    peak = max(concurrent(occ, local(MONDAY + timedelta(days=2), h / 4)) for h in range(96))
    assert 40 <= peak <= 100
    # Office hours: nobody at 05:00 or 21:30 on a weekday; people at 11:00.
    for day in range(5):
        d = MONDAY + timedelta(days=day)
        assert concurrent(occ, local(d, 5.0)) == 0
        assert concurrent(occ, local(d, 21.5)) == 0
        assert concurrent(occ, local(d, 11.0)) > 10


def test_office_days_have_breaks_lunch_and_realistic_hours() -> None:
    model = PeopleModel(BUILDING, seed=3)
    wed = MONDAY + timedelta(days=2)
    occ = model.occupancy(local(wed), local(wed + timedelta(days=1)))
    used = {desk: iv for desk, iv in occ.items() if iv}
    assert len(used) > 40
    first = [iv[0][0] for iv in used.values()]
    last = [iv[-1][1] for iv in used.values()]
    assert local(wed, 7.0) <= min(first) and max(first) <= local(wed, 12.0)
    assert max(last) <= local(wed, 20.5)
    # Most desks are left at least once during the day (lunch, meetings, breaks).
    assert sum(len(iv) > 1 for iv in used.values()) > 0.8 * len(used)
    gaps = [s2 - e1 for iv in used.values() for (_, e1), (s2, _) in zip(iv, iv[1:], strict=False)]
    assert min(gaps) < 15 * 60 and max(gaps) > 30 * 60


def test_same_day_same_truth_whatever_the_window() -> None:
    model = PeopleModel(BUILDING, seed=4)
    thu = MONDAY + timedelta(days=3)
    day = model.occupancy(local(thu), local(thu + timedelta(days=1)))
    week = model.occupancy(local(MONDAY), local(MONDAY + timedelta(days=7)))
    again = PeopleModel(BUILDING, seed=4).occupancy(local(thu, 0), local(thu, 24))
    for desk in day:
        clipped = [(max(s, local(thu)), min(e, local(thu, 24))) for s, e in week[desk]
                   if e > local(thu) and s < local(thu, 24)]
        assert day[desk] == clipped == again[desk]
    # Two adjacent windows glue back into one.
    cut = local(thu, 12.37)
    left, right = model.occupancy(local(thu), cut), model.occupancy(cut, local(thu, 24))
    for desk in day:
        assert merge_intervals(left[desk] + right[desk]) == day[desk]
    other = PeopleModel(BUILDING, seed=5).occupancy(local(thu), local(thu, 24))
    assert other != day


def test_shifts_are_busy_at_every_hour_of_every_day() -> None:
    model = PeopleModel(BUILDING, seed=6, schedule="shifts")
    sat = MONDAY + timedelta(days=5)
    start = local(sat)
    occ = model.occupancy(start, start + 3 * 86400)
    for quarter in range(3 * 96):
        assert concurrent(occ, start + quarter * 900 + 450) >= 30
    # Staffing 60-80 % at mid-shift (minus people on a break).
    assert 40 <= concurrent(occ, local(sat, 10.0)) <= 80


def test_dst_change_keeps_local_office_hours() -> None:
    model = PeopleModel(BUILDING, seed=7)
    monday = date(2025, 3, 31)  # the day after clocks went forward in Berlin
    occ = model.occupancy(local(monday), local(monday + timedelta(days=1)))
    starts = [iv[0][0] for iv in occ.values() if iv]
    ends = [iv[-1][1] for iv in occ.values() if iv]
    assert starts and min(starts) >= local(monday, 7.0) and max(ends) <= local(monday, 20.5)
    assert local(monday, 7.0) - local(monday) == 7 * 3600  # CEST all day
    # The night the clocks change, the operations centre is still staffed every quarter.
    shifts = PeopleModel(BUILDING, seed=7, schedule="shifts")
    start, end = local(date(2025, 3, 29), 18.0), local(date(2025, 3, 30), 12.0)
    night = shifts.occupancy(start, end)
    assert end - start == 17 * 3600  # one wall-clock hour is missing
    assert all(concurrent(night, t) >= 30 for t in range(int(start), int(end), 900))


@pytest.mark.xdist_group("timing")  # measures time: never next to another such test
@pytest.mark.parametrize("schedule", ["office", "shifts"])
def test_a_week_of_100_desks_takes_under_a_second(schedule: str) -> None:
    model = PeopleModel(BUILDING, seed=8, schedule=schedule)  # type: ignore[arg-type]
    began = time.perf_counter()
    model.occupancy(local(MONDAY), local(MONDAY + timedelta(days=7)))
    assert time.perf_counter() - began < 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="schedule must be one of office, shifts"):
        PeopleModel(BUILDING, seed=0, schedule="night")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="headcount"):
        PeopleModel(BUILDING, seed=0, headcount=-1)
    assert PeopleModel(BUILDING, seed=0, headcount=0).occupancy(
        local(MONDAY), local(MONDAY, 24)) == {d.id: [] for d in BUILDING.desks}
