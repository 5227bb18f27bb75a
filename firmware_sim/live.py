"""What the desks show during a demo's live part: replayed office days plus sensor faults.

:class:`LiveTruth` answers, for wall time ``now``: is this desk occupied (the office-hours
clock's moment of the ``office`` schedule), is its sensor broken right now (a few desks
fail for a few minutes now and then, as real sensors do), which seated stays begin in a
wall interval (a stay is one person's sitting: gaps up to ``stay_gap_seconds`` of
schedule time are the same person back from a short break), and the occupancy mapped to
wall time (what the simulated phones are placed by). Pure apart from caching.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edge.sensors.base import Reading
from firmware_sim.clock import ScheduleClock
from firmware_sim.fleet import expected_occupancy
from firmware_sim.people import Interval, PeopleModel
from firmware_sim.sensors import GroundTruth

__all__ = ["FaultPlan", "LiveTruth", "Stay"]


@dataclass(frozen=True)
class FaultPlan:
    """Desk -> (offset, length): its sensor reports faults for ``length`` seconds from
    ``offset`` seconds into every ``period`` seconds after ``since`` (wall time)."""

    since: float
    faults: Mapping[str, tuple[float, float]]
    period: float = 600.0

    def faulty(self, desk: str, now: float) -> bool:
        plan = self.faults.get(desk)
        if plan is None or now < self.since:
            return False
        offset, length = plan
        return offset <= (now - self.since) % self.period < offset + length


@dataclass(frozen=True)
class Stay:
    """One person's sitting at a desk, in wall time."""

    desk: str
    start: float
    end: float


class LiveTruth:
    """Ground truth for wall times ``>= origin``, replayed through ``clock``."""

    def __init__(
        self,
        people: PeopleModel,
        clock: ScheduleClock,
        *,
        origin: float,
        seed: int = 0,
        faults: FaultPlan | None = None,
        stay_gap_seconds: float = 600.0,
    ) -> None:
        self.clock = clock
        self.origin = origin
        self.faults = faults
        self.stay_gap_seconds = stay_gap_seconds
        self.truth = GroundTruth(people, origin=clock.schedule_time(origin), seed=seed)
        self._stays: dict[str, list[Interval]] = {}
        self._stay_starts: dict[str, list[float]] = {}
        days = getattr(clock, "days", ())
        self._cover(people.local(max(days), 23.99) if days else clock.schedule_time(origin))

    def _cover(self, schedule: float) -> None:
        """Know the truth (and its stays) up to ``schedule``: whole local days at a time."""
        if schedule < self.truth.covered_until and self._stays:
            return
        self.truth.ensure(schedule)
        self._stays = {
            desk: expected_occupancy(sensor.intervals, self.stay_gap_seconds)
            for desk, sensor in self.truth.sensors.items()
        }
        self._stay_starts = {d: [s for s, _ in v] for d, v in self._stays.items()}

    @property
    def desks(self) -> Iterable[str]:
        return self.truth.sensors.keys()

    def read(self, desk: str, now: float) -> Reading:
        """The desk sensor's reading at wall time ``now``."""
        if self.faults is not None and self.faults.faulty(desk, now):
            return Reading(now, "fault")
        schedule = self.clock.schedule_time(now)
        self._cover(schedule)
        shown = self.truth.sensors[desk].read(schedule)
        return Reading(now, shown.presence)

    def _pieces(self, start: float, end: float) -> Iterable[tuple[int, float, float]]:
        """(segment, schedule from, schedule to) of the wall interval, day by day."""
        clock = self.clock
        for segment in range(clock.segment(start), clock.segment(end) + 1):
            lo, hi = clock.segment_bounds(segment)
            a, b = max(start, lo), min(end, hi)
            if b > a:
                sa = clock.schedule_time(a)
                self._cover(sa + (b - a) * clock.speed)
                yield segment, sa, sa + (b - a) * (1.0 if segment < 0 else clock.speed)

    def stays_starting(self, desk: str, after: float, until: float) -> list[Stay]:
        """Stays at ``desk`` that begin in wall time ``(after, until]``, each ending at
        the latest where its replayed day ends."""
        out: list[Stay] = []
        starts, stays = self._stay_starts[desk], self._stays[desk]
        for segment, sa, sb in self._pieces(after, until):
            hi = self.clock.segment_bounds(segment)[1]
            for i in range(bisect.bisect_right(starts, sa), bisect.bisect_right(starts, sb)):
                s, e = stays[i]
                out.append(Stay(desk, self.clock.wall_time(s, segment),
                                min(self.clock.wall_time(e, segment), hi)))
        return out

    def occupancy(self, start: float, end: float) -> dict[str, list[Interval]]:
        """Desk -> occupied intervals in wall time within ``[start, end)`` (one replayed
        day at a time), for placing simulated phones."""
        out: dict[str, list[Interval]] = {desk: [] for desk in self.desks}
        for segment, sa, sb in self._pieces(start, end):
            for desk, sensor in self.truth.sensors.items():
                for s, e in sensor.intervals:
                    if e > sa and s < sb:
                        out[desk].append((self.clock.wall_time(max(s, sa), segment),
                                          self.clock.wall_time(min(e, sb), segment)))
        return out
