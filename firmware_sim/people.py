"""Simulated people: the ground-truth occupancy of every desk over time.

Two schedules:

- ``"office"``: hybrid knowledge workers. Each person has stable habits (home zone,
  favourite desk, 2-4 office days a week weighted to Tue-Thu, usual arrival 08:00-10:00
  and departure 16:00-18:30 local) and each day adds noise: sick days, holiday weeks,
  lunch (30-60 min), 1-3 meetings (30-90 min) and short breaks (5-15 min) away from the
  desk. Almost nobody comes in at the weekend. Hot-desking: on arrival a person takes
  their favourite desk if free, else a free desk in their home zone, else on their floor,
  else anywhere, else goes home.
- ``"shifts"``: a 24/7 operations centre with three shifts (06-14, 14-22, 22-06) every
  day, each 60-80 % staffed, with handover overlap and breaks, so a demo at any hour of
  any day shows activity.

Determinism: every day is generated from its own RNG derived from (seed, schedule,
date), so the same day yields the same ground truth whatever window is requested.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from firmware_sim.building import Building, Desk

__all__ = ["Interval", "PeopleModel", "Schedule", "merge_intervals"]

Interval = tuple[float, float]
Schedule = Literal["office", "shifts"]
SCHEDULES: tuple[Schedule, ...] = ("office", "shifts")

# Relative popularity of Monday..Friday for choosing a person's office days.
WEEKDAY_WEIGHTS = (0.7, 1.3, 1.4, 1.25, 0.45)
WEEKEND_PROBABILITY = 0.01
SICK_PROBABILITY = 0.03
HOLIDAY_WEEK_PROBABILITY = 0.07
# (start hour, length hours) of the three shifts; a shift day starts at 06:00.
SHIFTS = ((6.0, 8.0), (14.0, 8.0), (22.0, 8.0))


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals; drop empty ones."""
    out: list[list[float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def _subtract(span: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """``span`` minus the union of ``holes``."""
    out = []
    cursor, end = span
    for h_start, h_end in merge_intervals(holes):
        if h_end <= cursor or h_start >= end:
            continue
        if h_start > cursor:
            out.append((cursor, h_start))
        cursor = max(cursor, h_end)
    if cursor < end:
        out.append((cursor, end))
    return out


@dataclass(frozen=True)
class Person:
    """Stable habits of one simulated employee (never leaves the simulator)."""

    index: int
    zone: str
    floor: str
    favourite: str
    office_days: frozenset[int]
    arrival: float  # usual local hour
    departure: float


class PeopleModel:
    """Ground-truth desk occupancy for a building.

    ``headcount`` defaults to 1.25 people per desk for ``"office"`` (a typical hybrid
    sharing ratio) and is unused by ``"shifts"``, which staffs each shift at 60-80 % of
    the desks.
    """

    def __init__(
        self,
        building: Building,
        *,
        seed: int,
        headcount: int | None = None,
        schedule: Schedule = "office",
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if headcount is not None and headcount < 0:
            raise ValueError("headcount must not be negative")
        self.building = building
        self.seed = seed
        self.schedule: Schedule = schedule
        self.tz = ZoneInfo(building.site.timezone)
        self.desks: tuple[Desk, ...] = building.desks
        self.headcount = (
            headcount if headcount is not None else math.ceil(len(self.desks) * 1.25)
        )
        self.people = self._make_people()

    # -- public -------------------------------------------------------------

    def occupancy(self, start: float, end: float) -> dict[str, list[Interval]]:
        """Desk id -> sorted, non-overlapping occupied intervals within [start, end]."""
        result: dict[str, list[Interval]] = {d.id: [] for d in self.desks}
        if end <= start:
            return result
        # A day's activity can run past its midnight (night shift), so start a day early.
        first = datetime.fromtimestamp(start, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end, self.tz).date()
        raw: dict[str, list[Interval]] = {d.id: [] for d in self.desks}
        day = first
        while day <= last:
            for desk, intervals in self._day(day).items():
                raw[desk].extend(intervals)
            day += timedelta(days=1)
        for desk, intervals in raw.items():
            clipped = ((max(s, start), min(e, end)) for s, e in intervals)
            result[desk] = merge_intervals(clipped)
        return result

    def local(self, day: date, hour: float) -> float:
        """Unix time of local wall-clock ``hour`` (may exceed 24) on ``day``."""
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        return (midnight + timedelta(hours=hour)).timestamp()

    # -- people -------------------------------------------------------------

    def _make_people(self) -> list[Person]:
        rng = random.Random(f"people:{self.seed}")
        zones = self.building.zones
        sizes = [len(z.desks) for z in zones]
        people = []
        for index in range(self.headcount):
            zone = rng.choices(zones, weights=sizes)[0]
            favourite = rng.choice(zone.desks)
            n_days = rng.choice((2, 3, 3, 4))
            days: set[int] = set()
            while len(days) < n_days:
                days.add(rng.choices(range(5), weights=WEEKDAY_WEIGHTS)[0])
            people.append(Person(
                index=index,
                zone=zone.id,
                floor=favourite.floor,
                favourite=favourite.id,
                office_days=frozenset(days),
                arrival=rng.uniform(8.0, 10.0),
                departure=rng.uniform(16.0, 18.5),
            ))
        return people

    def _day(self, day: date) -> dict[str, list[Interval]]:
        rng = random.Random(f"{self.schedule}:{self.seed}:{day.isoformat()}")
        if self.schedule == "shifts":
            return self._shift_day(day, rng)
        return self._office_day(day, rng)

    # -- office -------------------------------------------------------------

    def _attends(self, person: Person, day: date, rng: random.Random) -> bool:
        weekday = day.weekday()
        roll = rng.random()  # always drawn so one person's choice never shifts another's
        if weekday >= 5:
            return roll < WEEKEND_PROBABILITY
        year, week, _ = day.isocalendar()
        holiday = random.Random(f"holiday:{self.seed}:{person.index}:{year}-{week}")
        if holiday.random() < HOLIDAY_WEEK_PROBABILITY:
            return False
        chance = 0.9 if weekday in person.office_days else 0.06
        return roll < chance * (1 - SICK_PROBABILITY)

    def _office_day(self, day: date, rng: random.Random) -> dict[str, list[Interval]]:
        visits = []
        for person in self.people:
            attends = self._attends(person, day, rng)
            arrival = min(11.0, max(7.0, rng.gauss(person.arrival, 0.3)))
            departure = max(arrival + 3.0, min(20.0, rng.gauss(person.departure, 0.4)))
            if rng.random() < 0.05:  # a half day
                departure = arrival + rng.uniform(3.0, 4.5)
            if attends:
                visits.append((arrival, departure, person))
        visits.sort(key=lambda v: v[0])
        free_at = {d.id: 0.0 for d in self.desks}  # local hour a desk's holder leaves
        by_zone = {z.id: [d.id for d in z.desks] for z in self.building.zones}
        by_floor: dict[str, list[str]] = {}
        for desk in self.desks:
            by_floor.setdefault(desk.floor, []).append(desk.id)
        everywhere = [d.id for d in self.desks]
        out: dict[str, list[Interval]] = {}
        for arrival, departure, person in visits:
            chosen = self._pick_desk(
                arrival, free_at, rng, [person.favourite], by_zone[person.zone],
                by_floor[person.floor], everywhere,
            )
            if chosen is None:
                continue  # the office is full: works from home today
            free_at[chosen] = departure
            out.setdefault(chosen, []).extend(
                self._seated(day, arrival, departure, rng, lunch=True)
            )
        return out

    @staticmethod
    def _pick_desk(
        hour: float, free_at: dict[str, float], rng: random.Random, *choices: list[str]
    ) -> str | None:
        for group in choices:
            free = [d for d in group if free_at[d] <= hour]
            if free:
                return rng.choice(free)
        return None

    def _seated(
        self, day: date, arrival: float, departure: float, rng: random.Random, *, lunch: bool
    ) -> list[Interval]:
        """Seated intervals between arrival and departure (local hours on ``day``)."""
        away: list[Interval] = []
        if lunch and rng.random() < 0.85 and arrival < 12.0 and departure > 14.0:
            start = rng.uniform(11.75, 13.5)
            away.append((start, start + rng.uniform(0.5, 1.0)))
        for _ in range(rng.randint(1, 3) if lunch else rng.randint(0, 1)):
            start = rng.uniform(arrival, departure)
            away.append((start, start + rng.uniform(0.5, 1.5)))
        for _ in range(rng.randint(2, 4)):
            start = rng.uniform(arrival, departure)
            away.append((start, start + rng.uniform(5, 15) / 60))
        return [
            (self.local(day, s), self.local(day, e))
            for s, e in _subtract((arrival, departure), away)
        ]

    # -- shifts -------------------------------------------------------------

    def _shift_day(self, day: date, rng: random.Random) -> dict[str, list[Interval]]:
        desks = [d.id for d in self.desks]
        out: dict[str, list[Interval]] = {}
        for begin, length in SHIFTS:
            staffed = round(len(desks) * rng.uniform(0.6, 0.8))
            for desk in rng.sample(desks, staffed):
                arrival = begin - rng.uniform(0, 0.25)
                departure = begin + length + rng.uniform(0, 0.25)
                seated = _subtract((arrival, departure), self._shift_breaks(begin, length, rng))
                out.setdefault(desk, []).extend(
                    (self.local(day, s), self.local(day, e)) for s, e in seated
                )
        return out

    @staticmethod
    def _shift_breaks(begin: float, length: float, rng: random.Random) -> list[Interval]:
        meal = begin + length / 2 + rng.uniform(-1.0, 1.0)
        away = [(meal, meal + rng.uniform(20, 40) / 60)]
        for _ in range(rng.randint(1, 3)):
            start = begin + rng.uniform(0.5, length - 0.5)
            away.append((start, start + rng.uniform(5, 15) / 60))
        return away
