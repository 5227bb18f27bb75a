"""The demo's office-hours clock: which moment of a working day the live building shows.

A real office is empty at 02:00 and on Sundays, and even at 10:00 on a Tuesday a desk
changes state only a few times a day: a new user watching the dashboard for three
minutes would see almost nothing move. The office-hours clock therefore replays working
days of the ``office`` schedule, fast: from ``go_live`` on, wall time ``w`` shows the
schedule at ``start_hour + (w - go_live) * speed`` local time on ``days[0]``, and when a
day reaches ``end_hour`` the next of ``days`` begins at ``start_hour`` (cycling). Before
``go_live`` (the short warm-up that fills the last bins before the live part) the
schedule runs at real speed up to ``start_hour``.

Only the ground truth is replayed: every message is still stamped with the wall clock,
so the hub sees an ordinary, live (if very busy) office. Pure: no clock is read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = ["OfficeHoursClock", "RealClock", "ScheduleClock", "replay_days"]

PEAK_WEEKDAYS = (1, 2, 3)  # Tuesday..Thursday: the office schedule's busiest days


def replay_days(today: date, count: int = 3) -> tuple[date, ...]:
    """The ``count`` most recent Tuesdays-Thursdays strictly before ``today``, oldest
    first: busy days that already lie in the filled history."""
    out: list[date] = []
    day = today - timedelta(days=1)
    while len(out) < count:
        if day.weekday() in PEAK_WEEKDAYS:
            out.append(day)
        day -= timedelta(days=1)
    return tuple(reversed(out))


class ScheduleClock(Protocol):
    """Wall time -> the moment of the schedule the building shows, piece by piece."""

    @property
    def speed(self) -> float: ...

    def segment(self, wall: float) -> int: ...

    def segment_bounds(self, segment: int) -> tuple[float, float]: ...

    def schedule_time(self, wall: float) -> float: ...

    def wall_time(self, schedule: float, segment: int) -> float: ...


@dataclass(frozen=True)
class RealClock:
    """The schedule at the wall clock (``--clock real``): one endless segment."""

    speed: float = 1.0

    def segment(self, wall: float) -> int:
        return 0

    def segment_bounds(self, segment: int) -> tuple[float, float]:
        return (-math.inf, math.inf)

    def schedule_time(self, wall: float) -> float:
        return wall

    def wall_time(self, schedule: float, segment: int) -> float:
        return schedule


@dataclass(frozen=True)
class OfficeHoursClock:
    """Wall time -> schedule time (both Unix seconds); see the module docstring."""

    go_live: float
    days: tuple[date, ...]
    timezone: str
    speed: float = 20.0
    start_hour: float = 8.5
    end_hour: float = 17.0

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("the clock needs at least one day to replay")
        if not (math.isfinite(self.speed) and self.speed >= 1.0):
            raise ValueError("speed must be a finite number >= 1")
        if not 0.0 <= self.start_hour < self.end_hour <= 24.0:
            raise ValueError("need 0 <= start_hour < end_hour <= 24")

    @property
    def day_seconds(self) -> float:
        """Wall seconds one replayed day lasts."""
        return (self.end_hour - self.start_hour) * 3600.0 / self.speed

    def _local(self, day: date, hour: float) -> float:
        midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.timezone))
        return (midnight + timedelta(hours=hour)).timestamp()

    def segment(self, wall: float) -> int:
        """Which replayed day ``wall`` falls in: -1 for the warm-up, then 0, 1, 2, ..."""
        if wall < self.go_live:
            return -1
        return int((wall - self.go_live) // self.day_seconds)

    def day_of(self, segment: int) -> date:
        return self.days[max(segment, 0) % len(self.days)]

    def schedule_time(self, wall: float) -> float:
        """The moment of the schedule the building shows at ``wall``."""
        k = self.segment(wall)
        day_start = self._local(self.day_of(k), self.start_hour)
        if k < 0:
            return day_start + (wall - self.go_live)
        return day_start + (wall - self.go_live - k * self.day_seconds) * self.speed

    def wall_time(self, schedule: float, segment: int) -> float:
        """The wall time at which ``segment`` shows ``schedule`` (the inverse map)."""
        day_start = self._local(self.day_of(segment), self.start_hour)
        if segment < 0:
            return self.go_live + (schedule - day_start)
        return self.go_live + segment * self.day_seconds + (schedule - day_start) / self.speed

    def segment_bounds(self, segment: int) -> tuple[float, float]:
        """Wall interval ``[start, end)`` of a replayed day (the warm-up ends at go_live)."""
        if segment < 0:
            return (-math.inf, self.go_live)
        start = self.go_live + segment * self.day_seconds
        return (start, start + self.day_seconds)

    def describe(self, wall: float) -> str:
        """What the screen says, e.g. ``Tue 01 Dec 10:42 (replayed at 20x)``."""
        shown = datetime.fromtimestamp(self.schedule_time(wall), ZoneInfo(self.timezone))
        return f"{shown:%a %d %b %H:%M} (replayed at {self.speed:g}x)"
