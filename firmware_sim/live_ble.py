"""Simulated BLE for a demo's live part: what each zone's receiver agent hears, fed to it.

Every ``chunk_seconds`` of wall time a :class:`~firmware_sim.ble.BleWorld` is built from
the live occupancy (one phone per seated person, with a random address that changes
with every chunk and at every new sitting, vendor data, sometimes a personal name) and
the zones' fixed beacons (the same devices for the whole run); every receiver agent
hears its zone's adverts. An enrolled badge lying on a receiver's badge desk (the desk
the Pi stands on) is heard by that receiver alone, strongly. Each step, the adverts
heard up to the fleet's time go to the receiver agent's real scanner callback as
bleak's own objects; only counts and badge check-ins leave the agents (docs/ble.md).
"""

from __future__ import annotations

import bisect
import random
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from edge.agent import Agent
from edge.ble.parsers import APPLE_COMPANY_ID
from firmware_sim.ble import (
    BleWorld,
    RadioModel,
    SimAdvert,
    _Device,
    random_address,
    to_bleak,
)
from firmware_sim.building import Building
from firmware_sim.live import LiveTruth

__all__ = ["BadgeVisit", "LiveRadio"]

DEMO_RADIO = RadioModel(sensitivity_dbm=-92.0)  # the other floor is (mostly) not heard


@dataclass(frozen=True)
class BadgeVisit:
    """An enrolled badge lying on ``agent``'s badge desk from ``start`` to ``end``."""

    agent: str
    start: float
    end: float
    beacon_uuid: uuid.UUID
    major: int
    minor: int


class LiveRadio:
    """Generates and feeds the adverts of the demo's receivers (agent id -> zone)."""

    def __init__(
        self,
        building: Building,
        live: LiveTruth,
        receivers: Mapping[str, str],
        *,
        start: float,
        seed: int = 0,
        chunk_seconds: float = 60.0,
        radio: RadioModel = DEMO_RADIO,
    ) -> None:
        self.building = building
        self.live = live
        self.receivers = dict(receivers)
        self.seed = seed
        self.chunk_seconds = chunk_seconds
        self.radio = radio
        self._rng = random.Random(f"live-ble:{seed}")
        self._generated_until = start
        self._chunk = 0
        self._beacons: list[_Device] | None = None  # the zones' fixed beacons
        self._pending: dict[str, list[SimAdvert]] = {agent: [] for agent in self.receivers}
        self._badges: list[BadgeVisit] = []
        self._badge_addresses: dict[tuple[uuid.UUID, int, int], str] = {}
        self.fed = 0  # adverts handed to scanners (a count, for the demo's status line)

    def badge_visit(self, visit: BadgeVisit) -> None:
        """Make an enrolled badge advertise at its zone's badge desk."""
        if visit.agent not in self.receivers:
            return
        self._badges.append(visit)
        if visit.start < self._generated_until:  # that chunk is out already: add to it
            pending = self._pending[visit.agent]
            pending.extend(self._badge_adverts(visit, visit.start, self._generated_until))
            pending.sort(key=lambda a: a.at)

    def _badge_adverts(self, visit: BadgeVisit, start: float, end: float) -> list[SimAdvert]:
        key = (visit.beacon_uuid, visit.major, visit.minor)
        address = self._badge_addresses.setdefault(key, random_address(self._rng, "static"))
        frame = b"\x02\x15" + visit.beacon_uuid.bytes + struct.pack(
            ">HHb", visit.major, visit.minor, -59)
        out = []
        t = max(start, visit.start) + self._rng.uniform(0, 1.0)
        while t < min(end, visit.end):
            rssi = round(-55 + self._rng.gauss(0, 2))
            out.append(SimAdvert(t, address, rssi, {APPLE_COMPANY_ID: frame}, {}, None))
            t += 1.0 + self._rng.uniform(0, 0.01)
        return out

    def _generate(self) -> None:
        start = self._generated_until
        end = start + self.chunk_seconds
        world = BleWorld(self.building, self.live.occupancy(start, end), start, end,
                         seed=self.seed * 100_003 + self._chunk, radio=self.radio)
        zones = len(world.receivers)
        if self._beacons is None:
            self._beacons = list(world.devices[:zones])  # fixed for the whole run
        world.devices[:zones] = [
            replace(b, spans=((start, end, b.spans[0][2]),))
            for b in self._beacons
        ]
        by_zone = {zone: world.adverts(zone) for zone in set(self.receivers.values())}
        for agent, zone in self.receivers.items():
            heard = list(by_zone[zone])
            for visit in self._badges:
                if visit.agent == agent and visit.end > start and visit.start < end:
                    heard.extend(self._badge_adverts(visit, start, end))
            heard.sort(key=lambda a: a.at)
            self._pending[agent].extend(heard)
        self._badges = [v for v in self._badges if v.end > end]
        self._generated_until = end
        self._chunk += 1

    def feed(self, until: float, agents: Mapping[str, Agent]) -> int:
        """Hand every advert heard up to ``until`` to its receiver's scanner (adverts of
        a receiver that is offline are lost, as on air); returns how many were fed."""
        while self._generated_until <= until:
            self._generate()
        count = 0
        for agent_id in self.receivers:
            pending = self._pending[agent_id]
            n = bisect.bisect_right(pending, until, key=lambda a: a.at)
            due, self._pending[agent_id] = pending[:n], pending[n:]
            agent = agents.get(agent_id)
            if agent is None or agent.scanner is None:
                continue
            callback = agent.scanner.detection_callback
            for advert in due:
                callback(*to_bleak(advert))
            count += len(due)
        self.fed += count
        return count
