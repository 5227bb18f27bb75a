"""Opt-in badge check-in: an enrolled iBeacon badge that stays close to this desk.

The hub publishes, on the agent's retained ``config`` topic, the hashes of the badges
people enrolled themselves: ``HMAC-SHA256(badge key, uuid(16) || major u16 || minor u16)``
truncated to 16 bytes, as hex. The agent holds the same badge key (``[ble] badge_key``,
from ``deskpulse hub badge-key``), so it hashes every iBeacon it hears and compares. The
key and the identifiers stay in memory; what leaves is the scan token ``bcn1.<hash>``,
which the hub alone can resolve to an enrolment. A badge that is not enrolled, and every
other device, is not tracked here at all.

A match becomes a ``checkins`` scan (``via: beacon``) once per presence: when the badge's
smoothed RSSI has stayed at or above the enter threshold for the dwell (default 60 s, see
:class:`~edge.ble.rssi.DeviceTrack`). It can check in again only after it has left
(exit threshold with hysteresis, or silence judged from its own advertising interval).
"""

from __future__ import annotations

import hmac
import struct
import uuid
from collections.abc import Collection, Mapping

from edge.ble.parsers import parse_ibeacon
from edge.ble.rssi import PresencePolicy, PresenceTracker
from edge.protocol import Scan

SCAN_PREFIX = "bcn1."
HASH_BYTES = 16
KEY_BYTES = 32
DEFAULT_BADGE_POLICY = PresencePolicy(enter_dbm=-65.0, exit_dbm=-75.0, enter_dwell_s=60.0,
                                      exit_dwell_s=10.0)
_IDS = struct.Struct(">16sHH")
_IBEACON_HEAD = b"\x02\x15"
_CACHE_LIMIT = 4096
_SWEEP_SECONDS = 1.0


def badge_hash(key: bytes, beacon_uuid: uuid.UUID, major: int, minor: int) -> str:
    """The hub's badge hash (hub/checkin/badges.py computes the very same value)."""
    message = _IDS.pack(beacon_uuid.bytes, major, minor)
    return hmac.digest(key, message, "sha256")[:HASH_BYTES].hex()


class BadgeWatcher:
    """Turns adverts of enrolled badges near ``desk`` into one check-in scan per presence."""

    __slots__ = ("__key", "_cache", "_next_sweep", "_reported", "_tracker", "desk", "matches")

    def __init__(self, desk: str, key: bytes, policy: PresencePolicy | None = None) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the badge key must be {KEY_BYTES} bytes")
        self.desk = desk
        self.__key = key
        self._tracker = PresenceTracker(policy or DEFAULT_BADGE_POLICY)
        self._cache: dict[bytes, str] = {}  # iBeacon frame -> hash (memory only)
        self._reported: set[str] = set()  # hashes checked in during their current presence
        self._next_sweep = 0.0
        self.matches = 0  # adverts of enrolled badges (a count, for tests and health)

    def _hash(self, company: int, payload: bytes) -> str | None:
        if payload[:2] != _IBEACON_HEAD:
            return None
        frame = payload[:22]  # prefix, uuid, major, minor: the power byte may vary
        cached = self._cache.get(frame)
        if cached is not None:
            return cached
        beacon = parse_ibeacon(company, payload)
        if beacon is None:
            return None
        value = badge_hash(self.__key, beacon.uuid, beacon.major, beacon.minor)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache = {}
        self._cache[frame] = value
        return value

    def observe(
        self,
        rssi: float,
        manufacturer_data: Mapping[int, bytes],
        enrolled: Collection[str],
        now: float,
    ) -> list[Scan]:
        """One advert; returns the scan to publish when an enrolled badge has dwelt."""
        if now >= self._next_sweep:
            self.sweep(now)
        if not enrolled:
            return []
        scans: list[Scan] = []
        for company, payload in manufacturer_data.items():
            value = self._hash(company, payload)
            if value is None or value not in enrolled:
                continue
            self.matches += 1
            if self._tracker.observe(value, rssi, now):
                if value not in self._reported:
                    self._reported.add(value)
                    scans.append(Scan(desk=self.desk, token=SCAN_PREFIX + value,
                                      via="beacon", at=now))
            else:
                self._reported.discard(value)  # left by hysteresis: a new presence may come
        return scans

    def sweep(self, now: float) -> None:
        """Forget badges that fell silent, so their next presence checks in again."""
        for value in self._tracker.sweep(now):
            self._reported.discard(value)
        self._next_sweep = now + _SWEEP_SECONDS

    def __repr__(self) -> str:
        return f"BadgeWatcher(desk={self.desk!r}, tracked={len(self._tracker)})"
