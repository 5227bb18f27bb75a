"""Simulated desk sensors that replay ground-truth occupancy to a real edge agent.

A :class:`SimulatedSensor` implements ``edge.sensors.base.Sensor``. By default it is a
perfect sensor: ``present`` exactly while ``now`` lies in an occupied interval
(half-open ``[start, end)``). Two knobs add realism, each a pure function of
(seed, time slot) so a replay gives the same readings whatever the read schedule:

- ``miss_rate``: share of 10-s slots in which a seated person is not detected (a PIR
  sensor misses someone sitting still); the agent's hold time should hide these.
- ``dropout_rate``: share of 60-s slots in which the sensor reports ``fault``.

:class:`GroundTruth` owns one sensor per desk and fills them from a PeopleModel a day
at a time, so a live run can go on for as long as it likes.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from edge.sensors.base import Reading
from firmware_sim.people import Interval, PeopleModel, merge_intervals

if TYPE_CHECKING:
    from firmware_sim.wireless import WirelessDeskSensor

__all__ = ["GroundTruth", "SimulatedSensor"]

MISS_SLOT_SECONDS = 10.0
DROPOUT_SLOT_SECONDS = 60.0
_PACK = struct.Struct(">qqq")


def _uniform(seed: int, channel: int, slot: int) -> float:
    """A deterministic number in [0, 1) for (seed, channel, slot)."""
    digest = hashlib.blake2b(
        _PACK.pack(seed & 0x7FFFFFFFFFFFFFFF, channel, slot), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") / 2**64


class SimulatedSensor:
    """Replays occupied intervals as sensor readings (perfect unless knobs are set)."""

    def __init__(
        self,
        intervals: Iterable[Interval],
        *,
        seed: int = 0,
        miss_rate: float = 0.0,
        dropout_rate: float = 0.0,
    ) -> None:
        if not 0.0 <= miss_rate <= 1.0 or not 0.0 <= dropout_rate <= 1.0:
            raise ValueError("miss_rate and dropout_rate must be between 0 and 1")
        self.seed = seed
        self.miss_rate = miss_rate
        self.dropout_rate = dropout_rate
        self._starts: list[float] = []
        self._ends: list[float] = []
        self.extend(intervals)

    @property
    def intervals(self) -> list[Interval]:
        return list(zip(self._starts, self._ends, strict=True))

    def extend(self, intervals: Iterable[Interval]) -> None:
        """Add intervals; they are merged with the ones already held."""
        merged = merge_intervals([*self.intervals, *intervals])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def occupied(self, now: float) -> bool:
        """Ground truth at ``now`` (binary search over interval starts)."""
        i = bisect.bisect_right(self._starts, now) - 1
        return i >= 0 and now < self._ends[i]

    def read(self, now: float) -> Reading:
        if self.dropout_rate and (
            _uniform(self.seed, 2, int(now // DROPOUT_SLOT_SECONDS)) < self.dropout_rate
        ):
            return Reading(now, "fault")
        if not self.occupied(now):
            return Reading(now, "absent")
        if self.miss_rate and (
            _uniform(self.seed, 1, int(now // MISS_SLOT_SECONDS)) < self.miss_rate
        ):
            return Reading(now, "absent")
        return Reading(now, "present")


class GroundTruth:
    """One SimulatedSensor per desk, filled from a PeopleModel whole local days at a time.

    ``ensure(until)`` makes sure every sensor knows the truth up to ``until``; readings
    before ``origin`` are ``absent``. Occupancy is computed lazily, so a live run that
    lasts a month costs one day's computation per day.
    """

    def __init__(
        self,
        people: PeopleModel,
        *,
        origin: float,
        seed: int = 0,
        miss_rate: float = 0.0,
        dropout_rate: float = 0.0,
        wireless_share: float = 0.0,
    ) -> None:
        """``wireless_share``: the share of desks (picked by seed) read through a wireless
        model and the agent's detector (``firmware_sim.wireless.WirelessDeskSensor``:
        zigbee presence and LD2410 radar desks in turn) instead of the replay."""
        if not 0.0 <= wireless_share <= 1.0:
            raise ValueError("wireless_share must be between 0 and 1")
        self.people = people
        self.origin = origin
        self.covered_until = origin
        self.sensors: dict[str, SimulatedSensor | WirelessDeskSensor] = {}
        wireless = 0
        for n, desk in enumerate(people.desks):
            desk_seed = seed * 1_000_003 + n
            if wireless_share and _uniform(seed, 9, n) < wireless_share:
                from firmware_sim.wireless import WirelessDeskSensor

                kind = ("zigbee", "radar")[wireless % 2]
                wireless += 1
                self.sensors[desk.id] = WirelessDeskSensor(kind, seed=desk_seed)
            else:
                self.sensors[desk.id] = SimulatedSensor(
                    (), seed=desk_seed, miss_rate=miss_rate, dropout_rate=dropout_rate)

    def ensure(self, until: float) -> None:
        """Extend the known truth to at least ``until`` (up to the next local midnight)."""
        if until < self.covered_until:
            return
        tz = self.people.tz
        day = datetime.fromtimestamp(until, tz).date() + timedelta(days=1)
        end = self.people.local(day, 0.0)
        for desk, intervals in self.people.occupancy(self.covered_until, end).items():
            self.sensors[desk].extend(intervals)
        self.covered_until = end

    def intervals(self, start: float, end: float) -> Mapping[str, list[Interval]]:
        """The ground truth the sensors replay, clipped to [start, end]."""
        self.ensure(end)
        return {
            desk: [(max(s, start), min(e, end)) for s, e in sensor.intervals
                   if e > start and s < end]
            for desk, sensor in self.sensors.items()
        }
