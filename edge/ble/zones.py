"""Anonymous zone counting: how many devices are present in this receiver's zone per bin.

Pure: values in, :class:`~edge.protocol.ZoneCount` rows out; the caller passes ``now``
(wall-clock Unix seconds, because bins are wall-clock aligned). Addresses, names and RSSI
values never leave this object: each address is turned into an HMAC pseudonym under a
:class:`~edge.ble.pseudonym.PseudonymKey` on arrival, and the key is replaced at every bin
edge, so a device cannot be followed from one bin to the next, not even in memory, and a
rotation can never split one device into two pseudonyms inside a bin (PRIVACY.md 1, 2, 4).

**What is counted.** Only devices that advertise no beacon frame (iBeacon, AltBeacon,
Eddystone): those are phones, watches and laptops that people carry. Beacon frames come
from fixed infrastructure or enrolled badges; counting them would count a wall or count a
badge holder twice. A device is present according to
:class:`~edge.ble.rssi.PresenceTracker` (smoothed RSSI with enter/exit hysteresis and an
absence timeout learnt from its own advertising interval).

**The count of a bin** is the peak number of devices present *at the same time* in it,
not the number of distinct pseudonyms: phones replace their random address every ~15
minutes, so a distinct count would count most phones twice per 15-minute bin. Each
device's presence is kept as runs ``[start, end]`` where ``start`` is backdated to when
its qualifying adverts began and ``end`` is its last advert while present (not the
moment the absence timeout fired). An old address therefore ends where it fell silent and
the new address of the same phone starts after it, so a rotation does not overlap
itself. ``devices`` is the maximum overlap of the runs inside the bin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge.ble.parsers import EDDYSTONE_SERVICE_UUID, parse_altbeacon, parse_ibeacon
from edge.ble.pseudonym import PseudonymKey
from edge.ble.rssi import PresencePolicy, PresenceTracker
from edge.protocol import ZoneCount

log = logging.getLogger(__name__)

DEFAULT_BIN_SECONDS = 900
MIN_COVERAGE = 0.9  # share of a bin that must have been watched for it to be reported
_SWEEP_SECONDS = 1.0
_BACKDATE_SLACK_S = 2.0  # the first qualifying advert precedes the dwell by about this
_IBEACON_HEAD = b"\x02\x15"
_ALTBEACON_HEAD = b"\xbe\xac"


def is_beacon(manufacturer_data: Mapping[int, bytes], service_data: Mapping[str, bytes]) -> bool:
    """True if the advert carries an iBeacon, AltBeacon or Eddystone frame."""
    if EDDYSTONE_SERVICE_UUID in service_data:
        return True
    for company, payload in manufacturer_data.items():
        head = payload[:2]  # cheap pre-check: most adverts are phones' vendor data
        if head == _IBEACON_HEAD and parse_ibeacon(company, payload) is not None:
            return True
        if head == _ALTBEACON_HEAD and parse_altbeacon(company, payload) is not None:
            return True
    return False


def peak_overlap(runs: list[tuple[float, float]]) -> int:
    """The largest number of ``[start, end]`` runs that cover one instant."""
    edges = sorted([(s, 0) for s, _ in runs] + [(e, 1) for _, e in runs])
    current = peak = 0
    for _, is_end in edges:  # at a tie a start sorts before an end: touching runs overlap
        current += -1 if is_end else 1
        peak = max(peak, current)
    return peak


def bin_start(now: float, bin_seconds: int) -> int:
    """The start of the bin holding ``now``: a multiple of ``bin_seconds``."""
    return int(now // bin_seconds) * bin_seconds


@dataclass
class _BinState:
    """Everything known about the open bin; dropped whole when it closes."""

    start: int
    key: PseudonymKey
    tracker: PresenceTracker
    first: dict[str, float] = field(default_factory=dict)  # pseudonym -> streak start
    open_runs: dict[str, list[float]] = field(default_factory=dict)  # pseudonym -> [s, e]
    closed: list[tuple[float, float]] = field(default_factory=list)
    adverts: int = 0


class ZoneCounter:
    """Counts present devices of one zone per bin; emits a row when a bin closes."""

    def __init__(
        self,
        zone: str,
        now: float,
        *,
        bin_seconds: int = DEFAULT_BIN_SECONDS,
        policy: PresencePolicy | None = None,
    ) -> None:
        if not 60 <= bin_seconds <= 86_400 or 86_400 % bin_seconds:
            raise ValueError("bin_seconds must divide a day and be between 60 and 86400")
        self.zone = zone
        self.bin_seconds = bin_seconds
        self.policy = policy or PresencePolicy()
        self.adverts = 0  # every advert handed to observe(), beacons included
        self.beacons = 0
        self._epochs = 0
        self._state = self._new_state(bin_start(now, bin_seconds))
        self._bin_end = self._state.start + bin_seconds
        self._watched_from = now  # a bin watched for less than MIN_COVERAGE is not reported
        self._last_now = now
        self._next_sweep = now + _SWEEP_SECONDS

    def _new_state(self, start: int) -> _BinState:
        # A fresh key per bin: pseudonyms never outlive the bin they are counted in.
        key = PseudonymKey(now=float(start), rotate_seconds=float(self.bin_seconds))
        return _BinState(start, key, PresenceTracker(self.policy))

    @property
    def current_bin(self) -> int:
        return self._state.start

    @property
    def key_epoch(self) -> int:
        """How many times the key was replaced (once per closed bin)."""
        return self._epochs

    def observe(
        self,
        address: str,
        rssi: float,
        manufacturer_data: Mapping[int, bytes],
        service_data: Mapping[str, bytes],
        now: float,
    ) -> list[ZoneCount]:
        """Take one advert; return the rows of any bins that ``now`` closed."""
        closed = self.tick(now) if now >= self._bin_end else []
        self._last_now = now
        self.adverts += 1
        if is_beacon(manufacturer_data, service_data):
            self.beacons += 1
            return closed
        state = self._state
        if now < state.start:
            now = float(state.start)  # a small backward clock step: keep it in this bin
        state.adverts += 1
        pseudonym = state.key.pseudonym(address, now)
        if pseudonym not in state.first:
            state.first[pseudonym] = now
        run = state.open_runs.get(pseudonym)
        if state.tracker.observe(pseudonym, rssi, now):
            if run is None:
                began = max(state.first[pseudonym], now - self.policy.enter_dwell_s
                            - _BACKDATE_SLACK_S, float(state.start))
                state.open_runs[pseudonym] = [began, now]
            else:
                run[1] = now
        elif run is not None:  # left by hysteresis: the run ended at its last strong advert
            state.closed.append((run[0], run[1]))
            del state.open_runs[pseudonym]
            state.first[pseudonym] = now
        if now >= self._next_sweep:
            self._sweep(now)
        return closed

    def _sweep(self, now: float) -> None:
        state = self._state
        for pseudonym in state.tracker.sweep(now):
            run = state.open_runs.pop(pseudonym, None)
            if run is not None:
                state.closed.append((run[0], run[1]))
            state.first.pop(pseudonym, None)
        self._next_sweep = now + _SWEEP_SECONDS

    def tick(self, now: float) -> list[ZoneCount]:
        """Close every bin that ended by ``now``; call it even when no adverts arrive."""
        state = self._state
        end = state.start + self.bin_seconds
        if now < state.start - self.bin_seconds:
            log.warning("clock stepped back by more than a bin; zone %s restarts its bin",
                        self.zone)
            self._open(bin_start(now, self.bin_seconds))
            self._watched_from = self._last_now = now
            return []
        if now < end:
            self._last_now = max(self._last_now, now)
            return []
        watched = min(self._last_now, end) - max(self._watched_from, state.start)
        rows = []
        if watched >= MIN_COVERAGE * self.bin_seconds:
            rows.append(ZoneCount(self.zone, state.start, self._count(state, float(end))))
            log.debug("zone %s bin %d closed from %d advert(s)", self.zone, state.start,
                      state.adverts)
        else:  # started late, stalled, or the clock jumped: a partial peak would be low
            log.info("zone %s: bin %d was watched for %.0f s only; not reported",
                     self.zone, state.start, max(watched, 0.0))
        skipped = (bin_start(now, self.bin_seconds) - end) // self.bin_seconds
        if skipped:
            log.warning("zone %s: %d bin(s) passed unwatched (stall or clock jump); "
                        "not reported", self.zone, skipped)
        self._open(bin_start(now, self.bin_seconds))
        self._watched_from = self._last_now = now
        self._next_sweep = now + _SWEEP_SECONDS
        return rows

    def _open(self, start: int) -> None:
        self._state = self._new_state(start)
        self._bin_end = start + self.bin_seconds
        self._epochs += 1

    def _count(self, state: _BinState, end: float) -> int:
        runs = list(state.closed)
        runs.extend((s, min(e, end)) for s, e in state.open_runs.values())
        return peak_overlap(runs)

    def present(self, now: float) -> int:
        """Devices present right now (for health and tests; a count, never a device)."""
        return len(self._state.tracker.present(now))

    def __repr__(self) -> str:
        return f"ZoneCounter(zone={self.zone!r}, bin={self._state.start})"
