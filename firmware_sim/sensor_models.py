"""Simulated sensor drivers: realistic RAW samples from ground-truth occupancy.

Each driver offers ``sample(now)`` like a real one (``edge.sensors.pipeline.Driver``), so
the real detectors can be measured against the people model's ground truth:

- :class:`SimPirDriver` -> ``bool`` motion: a seated person moves in bursts, with quiet
  and very still spells that a PIR misses; passers-by trigger it now and then;
- :class:`SimContactDriver` -> ``bool`` pressed: the mat bounces for a few seconds at
  every sit-down and get-up, opens when someone shifts their weight, and stays open while
  they stand at their desk for a few minutes;
- :class:`SimThermopileDriver` -> (8, 8) °C frames: ambient with a fixed pixel pattern, an
  HVAC day cycle, a person blob that moves a little, a laptop left on the desk during
  breaks, a coffee cup cooling down, a sun patch under passing clouds, and pixel noise.

All of them fail like hardware does: single failed reads (``glitch_rate`` per sample) and
outages of a whole 10-minute slot (``outage_rate`` per slot) raise
:class:`~edge.sensors.pipeline.SensorFault`; a thermopile outage may instead return the
same frozen frame again and again, as a wedged I2C device does.

Determinism: everything slow (moods, outages, clouds, passers-by) is a pure function of
(seed, time slot); per-sample noise comes from an RNG seeded with ``seed``. So a driver
gives the same samples for the same seed and the same sequence of ``now`` values.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from edge.sensors.pipeline import SensorFault
from firmware_sim.people import Interval, merge_intervals
from firmware_sim.sensors import _uniform

__all__ = ["SimContactDriver", "SimPirDriver", "SimThermopileDriver"]

OUTAGE_SLOT_SECONDS = 600.0
MOOD_SLOT_SECONDS = 600.0
SHAPE = (8, 8)
NOISE_FRAMES = 256  # per-frame noise is drawn from a bank made once per driver (speed)
Frame = npt.NDArray[np.float64]

# Channels of _uniform(seed, channel, slot), one per slow random process.
_OUTAGE, _MOOD, _PASSER, _STAND, _SUN, _CLOUD, _FREEZE, _LAPTOP, _CUP, _POSE = range(10)


class _Truth:
    """Ground truth plus the failure modes every simulated driver shares."""

    def __init__(
        self,
        intervals: Iterable[Interval],
        *,
        seed: int,
        glitch_rate: float,
        outage_rate: float,
        tz_offset_seconds: float,
    ) -> None:
        if not (0.0 <= glitch_rate <= 1.0 and 0.0 <= outage_rate <= 1.0):
            raise ValueError("glitch_rate and outage_rate must be between 0 and 1")
        self.intervals = merge_intervals(intervals)
        self._starts = [s for s, _ in self.intervals]
        self._ends = [e for _, e in self.intervals]
        self.seed = seed
        self.glitch_rate = glitch_rate
        self.outage_rate = outage_rate
        self.tz_offset_seconds = tz_offset_seconds
        self.rng = random.Random(f"sensor-model:{seed}")
        self._slots: dict[tuple[int, float], tuple[int, float]] = {}  # last slot per process

    def where(self, now: float) -> tuple[bool, float]:
        """(occupied at ``now``, seconds since the last ground-truth transition)."""
        i = bisect.bisect_right(self._starts, now) - 1
        if i < 0:
            return False, math.inf
        if now < self._ends[i]:
            return True, now - self._starts[i]
        return False, now - self._ends[i]

    def local_hour(self, now: float) -> float:
        return ((now + self.tz_offset_seconds) % 86400.0) / 3600.0

    def slot(self, channel: int, now: float, seconds: float) -> float:
        """A uniform number in [0, 1) fixed for the time slot of ``now``."""
        index = int(now // seconds)
        cached = self._slots.get((channel, seconds))
        if cached is not None and cached[0] == index:
            return cached[1]
        value = _uniform(self.seed, channel, index)
        self._slots[(channel, seconds)] = (index, value)
        return value

    def in_outage(self, now: float) -> bool:
        return bool(self.outage_rate) and (
            self.slot(_OUTAGE, now, OUTAGE_SLOT_SECONDS) < self.outage_rate
        )

    def check(self, now: float) -> None:
        """Raise SensorFault when this read fails."""
        if self.in_outage(now):
            raise SensorFault("no answer from the device")
        if self.glitch_rate and self.rng.random() < self.glitch_rate:
            raise SensorFault("read failed")


class SimPirDriver:
    """PIR motion, latched like ``edge.sensors.gpio.PirDriver``: True when there was motion
    since the previous sample (or within the last 10 s for the first one).

    While someone is seated, each 10-minute slot has a mood: active (motion within any
    10 s with probability ``p_active``), quiet (``p_quiet``) or very still (no motion at
    all, share ``still_share``): the spells that make a PIR miss a person. The first minute
    after arriving is busy (0.9). Motion is a Poisson process, so these odds do not depend
    on the poll interval. Passers-by give ``false_per_day`` pulses of up to 10 s per day at
    a vacant desk, during office hours (07-19 local), at most one an hour.
    """

    def __init__(
        self,
        intervals: Iterable[Interval],
        *,
        seed: int = 0,
        p_active: float = 0.5,
        p_quiet: float = 0.06,
        quiet_share: float = 0.25,
        still_share: float = 0.05,
        false_per_day: float = 0.2,
        glitch_rate: float = 0.01,
        outage_rate: float = 0.0005,
        tz_offset_seconds: float = 0.0,
    ) -> None:
        if not (0.0 <= p_active < 1.0 and 0.0 <= p_quiet < 1.0):
            raise ValueError("p_active and p_quiet must be in [0, 1)")
        self.truth = _Truth(intervals, seed=seed, glitch_rate=glitch_rate,
                            outage_rate=outage_rate, tz_offset_seconds=tz_offset_seconds)
        # events per second, from "at least one event in 10 s" odds
        self.rate_active = -math.log1p(-p_active) / 10.0
        self.rate_quiet = -math.log1p(-p_quiet) / 10.0
        self.rate_busy = -math.log1p(-0.9) / 10.0
        self.quiet_share, self.still_share = quiet_share, still_share
        self.false_per_hour = false_per_day / 12.0  # over 12 office hours
        self._previous: float | None = None

    def sample(self, now: float) -> bool:
        truth = self.truth
        previous = self._previous
        self._previous = now
        since_previous = 10.0 if previous is None else min(60.0, max(0.0, now - previous))
        truth.check(now)
        occupied, since = truth.where(now)
        if not occupied:
            if not 7.0 <= truth.local_hour(now) < 19.0:
                return False
            # at most one 10-s passer-by pulse per hour, placed by the hour's own number
            u = truth.slot(_PASSER, now, 3600.0)
            if u >= self.false_per_hour:
                return False
            pulse = now // 3600.0 * 3600.0 + 3590.0 * u / self.false_per_hour
            # high now, or rose since the previous sample (what the latched driver reports)
            return pulse <= now and (now < pulse + 10.0 or pulse > now - since_previous)
        if since < 60.0:
            rate = self.rate_busy
        else:
            mood = truth.slot(_MOOD, now, MOOD_SLOT_SECONDS)
            if mood < self.still_share:
                return False
            quiet = mood < self.still_share + self.quiet_share
            rate = self.rate_quiet if quiet else self.rate_active
        return truth.rng.random() < -math.expm1(-rate * max(since_previous, 1.0))


class SimContactDriver:
    """Seat mat / contact switch sampled at ``now``.

    Closed while someone is seated, except: for ``bounce_seconds`` after every sit-down
    and get-up it reads at random; a single read is open with probability
    ``shift_probability`` (shifting weight); and a share ``stand_share`` of 10-minute
    slots has the person standing at the desk for the slot's first 2-6 minutes.
    """

    def __init__(
        self,
        intervals: Iterable[Interval],
        *,
        seed: int = 0,
        bounce_seconds: float = 3.0,
        shift_probability: float = 0.02,
        stand_share: float = 0.02,
        glitch_rate: float = 0.01,
        outage_rate: float = 0.0005,
        tz_offset_seconds: float = 0.0,
    ) -> None:
        self.truth = _Truth(intervals, seed=seed, glitch_rate=glitch_rate,
                            outage_rate=outage_rate, tz_offset_seconds=tz_offset_seconds)
        self.bounce_seconds = bounce_seconds
        self.shift_probability = shift_probability
        self.stand_share = stand_share

    def sample(self, now: float) -> bool:
        truth = self.truth
        truth.check(now)
        occupied, since = truth.where(now)
        if since < self.bounce_seconds:
            return truth.rng.random() < 0.5
        if not occupied:
            return False
        stand = truth.slot(_STAND, now, MOOD_SLOT_SECONDS)
        if stand < self.stand_share:
            standing_for = 120.0 + 240.0 * stand / self.stand_share
            if now % MOOD_SLOT_SECONDS < standing_for:
                return False
        return truth.rng.random() >= self.shift_probability


def _blob(rows: float, cols: float, sigma: float) -> Frame:
    r, c = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    return np.exp(-((r - rows) ** 2 + (c - cols) ** 2) / (2.0 * sigma**2))


class SimThermopileDriver:
    """Grid-EYE-like (8, 8) frames in °C.

    Layout per desk (fixed by ``seed``): the chair in the lower middle of the view, a
    laptop spot and a cup spot on the desk in the upper part, and on a share of desks a
    window sun patch along one side edge. The person is a soft blob 4-8 °C above ambient
    that shifts by up to a pixel every minute; the laptop (2x2 pixels, up to +9 °C) stays
    on the desk through breaks shorter than 90 minutes and leaves with its owner; a cup
    (1 pixel, +10 °C) cools with a 20-minute time constant; the sun patch rises and falls
    over the afternoon with slowly passing clouds; HVAC warms the room by ~1.5 °C during
    office hours; each pixel has a fixed offset and ``noise`` °C of noise per frame.
    """

    def __init__(
        self,
        intervals: Iterable[Interval],
        *,
        seed: int = 0,
        noise: float = 0.25,
        sun_share: float = 0.4,
        glitch_rate: float = 0.01,
        outage_rate: float = 0.0005,
        tz_offset_seconds: float = 0.0,
    ) -> None:
        self.truth = _Truth(intervals, seed=seed, glitch_rate=glitch_rate,
                            outage_rate=outage_rate, tz_offset_seconds=tz_offset_seconds)
        layout = random.Random(f"thermopile-layout:{seed}")
        np_rng = np.random.default_rng(abs(seed))
        self.noise = noise
        # two bank frames are summed per sample: 65536 patterns, so consecutive frames are
        # (almost) never identical by chance, as with a real sensor's noise
        self._noise_bank = np_rng.normal(0.0, noise / math.sqrt(2.0), (NOISE_FRAMES, *SHAPE))
        self.ambient = layout.uniform(20.0, 24.0) + np_rng.normal(0.0, 0.3, SHAPE)
        self.hvac = layout.uniform(0.5, 2.0)
        row, col, sigma = layout.uniform(4.5, 5.5), layout.uniform(3.0, 4.0), layout.uniform(
            1.1, 1.5)
        amplitude = layout.uniform(4.0, 8.0)
        self.poses = [amplitude * layout.uniform(0.85, 1.1) * _blob(row + dr, col + dc, sigma)
                      for dr in (-0.6, 0.0, 0.6) for dc in (-0.6, 0.0, 0.6)]
        self.laptop = np.zeros(SHAPE)
        lr, lc = layout.randrange(0, 2), layout.randrange(0, 7)
        self.laptop[lr : lr + 2, lc : lc + 2] = layout.uniform(4.0, 9.0) * np.array(
            [[1.0, 0.7], [0.8, 0.5]])
        self.cup = np.zeros(SHAPE)
        self.cup[layout.randrange(0, 3), layout.randrange(0, 8)] = 10.0
        self.sun = np.zeros(SHAPE)
        if layout.random() < sun_share:
            edge = layout.choice((0, 6))
            top = layout.randrange(0, 3)
            self.sun[top : top + layout.randint(4, 6), edge : edge + 2] = layout.uniform(2.0, 5.0)
        self.sun_on = bool(self.sun.any())
        self.sessions = [
            (s, e) for s, e in merge_intervals(
                (s, e + 5400.0) for s, e in self.truth.intervals)
        ]  # a laptop stays through gaps < 90 min (sessions end 90 min late: trimmed below)
        self.laptop_until = [self._last_end_in(s, e - 5400.0) for s, e in self.sessions]
        self.cups = sorted(s + 1800.0 * self.truth.slot(_CUP, s, 1.0)
                           for s, _ in self.truth.intervals
                           if _uniform(seed, _CUP + 100, int(s)) < 0.3)
        self._frozen: Frame | None = None
        self._clouds = (-1, 0.0, 0.0)  # (hour index, clouds at its start, at its end)

    def _last_end_in(self, start: float, end: float) -> float:
        ends = [e for s, e in self.truth.intervals if start <= s and e <= end + 1e-6]
        return max(ends) if ends else end

    def sample(self, now: float) -> Frame:
        truth = self.truth
        if truth.in_outage(now) and truth.slot(_FREEZE, now, OUTAGE_SLOT_SECONDS) < 0.5:
            if self._frozen is None:
                raise SensorFault("no answer from the device")
            return self._frozen.copy()  # a wedged device repeats its last frame
        truth.check(now)
        frame = self.ambient + self._room(now)
        occupied, _ = truth.where(now)
        if occupied:
            frame += self.poses[int(truth.slot(_POSE, now, 60.0) * len(self.poses))]
        if self._laptop_on(now):
            frame += self.laptop
        i = bisect.bisect_right(self.cups, now) - 1
        if i >= 0 and now - self.cups[i] < 3 * 3600.0:
            frame += self.cup * math.exp(-(now - self.cups[i]) / 1200.0)
        if self.sun_on:
            frame += self.sun * self._sunshine(now)
        frame += self._noise_bank[truth.rng.randrange(NOISE_FRAMES)]
        frame += self._noise_bank[truth.rng.randrange(NOISE_FRAMES)]
        frame *= 4.0  # the Grid-EYE's 0.25 °C resolution
        np.rint(frame, out=frame)
        frame /= 4.0
        self._frozen = frame
        return frame

    def _room(self, now: float) -> float:
        """HVAC: the room warms by ``hvac`` °C between 07 and 19 local, over an hour."""
        hour = self.truth.local_hour(now)
        ramp = min(1.0, max(0.0, hour - 7.0)) - min(1.0, max(0.0, hour - 19.0))
        return self.hvac * ramp

    def _sunshine(self, now: float) -> float:
        """0..1: an afternoon sine (11-18 local) times clouds interpolated hourly."""
        hour = self.truth.local_hour(now)
        if not 11.0 <= hour < 18.0:
            return 0.0
        day = math.sin(math.pi * (hour - 11.0) / 7.0)
        here = now / 3600.0
        k, frac = int(here // 1), here % 1.0
        if self._clouds[0] != k:
            seed = self.truth.seed
            self._clouds = (k, _uniform(seed, _CLOUD, k), _uniform(seed, _CLOUD, k + 1))
        _, a, b = self._clouds
        return day * (0.4 + 0.6 * (a + (b - a) * frac))

    def _laptop_on(self, now: float) -> bool:
        i = bisect.bisect_right(self.sessions, (now, math.inf)) - 1
        if i < 0 or now >= self.laptop_until[i]:
            return False
        start = self.sessions[i][0]
        return _uniform(self.truth.seed, _LAPTOP, int(start)) < 0.6
