"""Office-day behaviour profiles: ground truth and PIR motion built from behaviour, not
from any detector.

Why a second generator: ``firmware_sim.sensor_models.SimPirDriver`` was written beside the
PIR detector and is kinder than offices are. This module describes what people and
passers-by DO (sit down, type, read, stay still for half an hour, walk past) as timed
motion events, and a PIR output that follows them (high for ``HIGH_SECONDS`` after each
event, retriggered while motion goes on, like an HC-SR501 in H mode). It knows nothing
of holds, thresholds or confirmation rules; its parameters and their sources are in
docs/sensors.md ("Behaviour profiles"). Change a profile only for a reason that is about
offices, never to make a detector look better.

One unit is a *desk-day*: :func:`desk_day` gives the seated intervals (the ground truth)
and the motion event times of one desk on one weekday, deterministic in
(profile, seed, desk, day). Times are seconds; ``day_start`` is local midnight.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from edge.sensors.pipeline import SensorFault
from firmware_sim.people import Interval, merge_intervals

__all__ = ["PROFILES", "DeskDay", "Profile", "TracePirDriver", "desk_day"]

HIGH_SECONDS = 3.0  # HC-SR501 with the delay pot fully anticlockwise: about 3 s high
HOUR = 3600.0
MINUTE = 60.0


@dataclass(frozen=True)
class Profile:
    """How one kind of office day goes. Ranges are (low, high) for uniform draws."""

    name: str
    summary: str
    # who sits at the desk
    attend: float  # chance that the desk is used on a weekday
    visitors: tuple[int, int]  # people using the desk one after another that day
    arrival_hour: tuple[float, float]  # mean, sd of the first arrival (local hours)
    departure_hour: tuple[float, float]  # mean, sd of the last departure
    visit_hours: tuple[float, float] | None  # hot desks: length of each visit
    lunch: float  # chance of a lunch away (30-60 min) for a stay over midday
    meetings: tuple[int, int]  # meetings away per full day
    meeting_minutes: tuple[float, float]
    breaks: tuple[int, int]  # short breaks away per full day
    break_minutes: tuple[float, float]
    # how a seated person moves
    weights: tuple[float, float, float]  # share of spells: active, still, deep focus
    active_gap: float  # mean seconds between motion events while active (typing, ...)
    active_minutes: float  # mean length of an active spell
    still_gap: float  # mean seconds between motion events while still (reading)
    still_minutes: float  # mean length of a still spell
    deep_minutes: tuple[float, float]  # deep focus: no motion at all for this long
    fidgets_per_hour: float  # gross movements (stretching, reaching) while not deep
    fidget_seconds: tuple[float, float]
    arrival_seconds: tuple[float, float]  # settling in: near-continuous motion
    departure_seconds: tuple[float, float]  # packing up before leaving
    # people walking past the desk (any time 07-20, occupied or not)
    passers_per_hour: float
    linger_share: float  # passers-by who stop for 10-40 s (2-4 motion events)


PROFILES: dict[str, Profile] = {
    "focused": Profile(
        name="focused",
        summary="focused readers: long still spells, 15-30 min deep focus now and then",
        attend=0.85, visitors=(1, 1), arrival_hour=(8.75, 0.5), departure_hour=(17.25, 0.5),
        visit_hours=None, lunch=0.85, meetings=(1, 2), meeting_minutes=(30.0, 60.0),
        breaks=(2, 4), break_minutes=(5.0, 15.0),
        weights=(0.30, 0.55, 0.15), active_gap=25.0, active_minutes=5.0,
        still_gap=150.0, still_minutes=15.0, deep_minutes=(15.0, 30.0),
        fidgets_per_hour=1.5, fidget_seconds=(5.0, 40.0),
        arrival_seconds=(30.0, 120.0), departure_seconds=(20.0, 90.0),
        passers_per_hour=3.0, linger_share=0.10,
    ),
    "meetings": Profile(
        name="meetings",
        summary="meeting-heavy: 3-6 meetings away a day, mostly active at the desk",
        attend=0.85, visitors=(1, 1), arrival_hour=(8.75, 0.5), departure_hour=(17.25, 0.5),
        visit_hours=None, lunch=0.85, meetings=(3, 6), meeting_minutes=(30.0, 75.0),
        breaks=(2, 4), break_minutes=(5.0, 15.0),
        weights=(0.50, 0.45, 0.05), active_gap=20.0, active_minutes=8.0,
        still_gap=120.0, still_minutes=10.0, deep_minutes=(15.0, 30.0),
        fidgets_per_hour=2.0, fidget_seconds=(5.0, 40.0),
        arrival_seconds=(30.0, 120.0), departure_seconds=(20.0, 90.0),
        passers_per_hour=3.0, linger_share=0.10,
    ),
    "hotdesk": Profile(
        name="hotdesk",
        summary="hot desks: 1-3 short visits a day, busy aisle (6 passers-by an hour)",
        attend=0.75, visitors=(1, 3), arrival_hour=(9.0, 0.75), departure_hour=(17.0, 0.75),
        visit_hours=(1.0, 3.5), lunch=0.85, meetings=(0, 1), meeting_minutes=(30.0, 60.0),
        breaks=(0, 2), break_minutes=(5.0, 15.0),
        weights=(0.50, 0.45, 0.05), active_gap=20.0, active_minutes=8.0,
        still_gap=120.0, still_minutes=10.0, deep_minutes=(15.0, 30.0),
        fidgets_per_hour=2.0, fidget_seconds=(5.0, 40.0),
        arrival_seconds=(30.0, 120.0), departure_seconds=(20.0, 90.0),
        passers_per_hour=6.0, linger_share=0.20,
    ),
}


@dataclass(frozen=True)
class DeskDay:
    """One desk on one day: who sat there (truth) and every motion event in view."""

    intervals: list[Interval]
    motion: list[float]  # sorted motion event times (seated person and passers-by)
    passers: list[float]  # the passers-by's first events (for diagnostics only)


def desk_day(profile: Profile, seed: int, desk: int, day: int, day_start: float) -> DeskDay:
    """The desk-day ``day`` (0 = the first) of desk number ``desk``; see the module doc."""
    rng = random.Random(f"profile:{profile.name}:{seed}:{desk}:{day}")
    seated = _seated(profile, rng) if rng.random() < profile.attend else []
    intervals = [(day_start + s, day_start + e) for s, e in seated]
    motion: list[float] = []
    for start, end in intervals:
        motion.extend(_seated_motion(profile, rng, start, end))
    passers = _passers(profile, rng, day_start)
    for first in passers:
        motion.append(first)
        if rng.random() < profile.linger_share:
            stay = rng.uniform(10.0, 40.0)
            motion.extend(first + rng.uniform(0.0, stay) for _ in range(rng.randint(1, 3)))
    return DeskDay(intervals, sorted(motion), passers)


def _seated(profile: Profile, rng: random.Random) -> list[Interval]:
    """Seated intervals in seconds after midnight: visits minus the spells away."""
    first = min(11.0, max(7.0, rng.gauss(*profile.arrival_hour)))
    last = max(first + 2.0, min(19.5, rng.gauss(*profile.departure_hour)))
    visits: list[Interval] = []
    if profile.visit_hours is None:
        visits.append((first, last))
    else:
        cursor = first
        for _ in range(rng.randint(*profile.visitors)):
            length = rng.uniform(*profile.visit_hours)
            if cursor + length > last:
                break
            visits.append((cursor, cursor + length))
            cursor += length + rng.uniform(0.25, 2.0)  # the desk stands empty a while
    away: list[Interval] = []
    for begin, end in visits:
        share = (end - begin) / 8.5  # a full day is about 8.5 h
        if rng.random() < profile.lunch and begin < 12.0 and end > 14.0:
            lunch = rng.uniform(11.75, 13.5)
            away.append((lunch, lunch + rng.uniform(0.5, 1.0)))
        for count, minutes in ((profile.meetings, profile.meeting_minutes),
                               (profile.breaks, profile.break_minutes)):
            n = rng.randint(*count)
            for _ in range(round(n * min(1.0, share))):
                at = rng.uniform(begin, end)
                away.append((at, at + rng.uniform(*minutes) / 60.0))
    out: list[Interval] = []
    for begin, end in visits:
        cursor = begin
        for a, b in merge_intervals(away):
            if b <= cursor or a >= end:
                continue
            if a > cursor:
                out.append((cursor, a))
            cursor = max(cursor, b)
        if cursor < end:
            out.append((cursor, end))
    # a stay shorter than 5 minutes is not a desk use (standing at the desk is not away)
    return [(s * HOUR, e * HOUR) for s, e in merge_intervals(out) if e - s >= 5.0 / 60.0]


def _burst(rng: random.Random, start: float, end: float) -> list[float]:
    """Near-continuous motion from ``start`` to ``end``: events every 1.5-4 s."""
    out, t = [], start
    while t < end:
        out.append(t)
        t += rng.uniform(1.5, 4.0)
    return out


def _seated_motion(profile: Profile, rng: random.Random, start: float, end: float) -> list[float]:
    """Motion of one seated interval: settling in, spells of work, packing up."""
    settle = min(end - start, rng.uniform(*profile.arrival_seconds))
    pack = min(max(0.0, end - start - settle), rng.uniform(*profile.departure_seconds))
    out = _burst(rng, start, start + settle)
    t, stop = start + settle, end - pack
    while t < stop:
        kind = rng.choices(("active", "still", "deep"), weights=profile.weights)[0]
        if kind == "deep":
            t += rng.uniform(*profile.deep_minutes) * MINUTE
            continue
        gap, minutes = ((profile.active_gap, profile.active_minutes) if kind == "active"
                        else (profile.still_gap, profile.still_minutes))
        spell_end = min(stop, t + rng.expovariate(1.0 / (minutes * MINUTE)))
        while True:
            wait = min(rng.expovariate(1.0 / gap),
                       rng.expovariate(profile.fidgets_per_hour / HOUR) if
                       profile.fidgets_per_hour else math.inf)
            t += wait
            if t >= spell_end:
                t = spell_end
                break
            if rng.random() < _fidget_share(profile, gap):
                length = rng.uniform(*profile.fidget_seconds)
                out.extend(_burst(rng, t, min(spell_end, t + length)))
                t = min(spell_end, t + length)
            else:
                out.append(t)
    out.extend(_burst(rng, stop, end))
    return out


def _fidget_share(profile: Profile, gap: float) -> float:
    """Of the competing next events, the share that is a fidget (rate ratio)."""
    fidget = profile.fidgets_per_hour / HOUR
    return fidget / (fidget + 1.0 / gap) if fidget else 0.0


def _passers(profile: Profile, rng: random.Random, day_start: float) -> list[float]:
    """Passers-by: a Poisson process between 07:00 and 20:00 local."""
    out, t = [], 7.0 * HOUR
    rate = profile.passers_per_hour / HOUR
    while rate:
        t += rng.expovariate(rate)
        if t >= 20.0 * HOUR:
            break
        out.append(day_start + t)
    return out


class TracePirDriver:
    """A PIR output replaying motion events, latched like ``edge.sensors.gpio.PirDriver``:
    ``sample(now)`` is True when the output was high at any time since the previous
    sample. Failures as on hardware: single failed reads with ``glitch_rate``."""

    def __init__(self, motion: Sequence[float], *, seed: int = 0,
                 glitch_rate: float = 0.01, high_seconds: float = HIGH_SECONDS) -> None:
        if not 0.0 <= glitch_rate <= 1.0:
            raise ValueError("glitch_rate must be between 0 and 1")
        self.motion = sorted(motion)
        self.high_seconds = high_seconds
        self.glitch_rate = glitch_rate
        self._rng = random.Random(f"trace-pir:{seed}")
        self._previous: float | None = None

    def sample(self, now: float) -> bool:
        if self.glitch_rate and self._rng.random() < self.glitch_rate:
            raise SensorFault("read failed")  # the latch keeps what it saw for the next read
        previous = now - 1.0 if self._previous is None else self._previous
        self._previous = now
        # the first event whose high period ends after the previous sample
        i = bisect.bisect_right(self.motion, previous - self.high_seconds)
        return i < len(self.motion) and self.motion[i] <= now
