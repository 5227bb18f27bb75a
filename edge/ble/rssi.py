"""RSSI smoothing, distance from measured power, presence hysteresis and absence timing.

Everything here is pure: values in, values out, the time ``now`` (seconds, preferably
``time.monotonic()``) passed in by the caller. RSSI values stay in memory; nothing here
logs or returns them to anything that leaves the process (PRIVACY.md item 1).

**Smoothing: median with outlier rejection** (``RssiSmoother``). BLE RSSI noise is not
Gaussian: multipath fading and a body between phone and receiver produce short dips of
10-20 dB, and some stacks report sentinel values (+127 "not available"). A Kalman filter
assumes Gaussian noise, so every dip drags its estimate down and its two variances need
tuning per receiver and room; the 1-euro filter trades jitter for lag on smoothly moving
signals (pointing devices) and has no notion of an outlier at all. A short median ignores
up to half a window of dips outright, needs no noise model, and follows a real step (a
person sitting down) after ``window // 2 + 1`` adverts. The estimate is the mean of the
window's samples within ``reject_db`` of the median, which rejects the fades and still
averages the ordinary jitter; samples older than ``max_age_s`` are dropped so a device
that reappears is not judged on stale readings.

**Distance** uses the log-distance path-loss model with a per-receiver calibration::

    rssi = power + offset - 10 * n * log10(d)
    d    = 10 ** ((power + offset - rssi) / (10 * n))

where ``power`` is the beacon's advertised RSSI at 1 m, ``n`` the path-loss exponent
(2 in free space, 2-4 indoors) and ``offset`` the receiver's own gain error; ``calibrate``
fits both by least squares from a reference beacon held at known distances.

**Presence** (``DeviceTrack``): a device enters when its smoothed RSSI stays at or above
``enter_dbm`` for ``enter_dwell_s`` and leaves when it stays at or below ``exit_dbm``
(lower) for ``exit_dwell_s``, so a value hovering at one threshold cannot flap. A device
that stops advertising is absent after ``max(interval_factor * median gap, floor)``
(capped by a ceiling) with no advert: phones advertise every 20 ms-10 s, so one fixed
timeout would be either too slow for fast advertisers or too eager for slow ones.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

RSSI_MIN = -127.0  # the weakest value HCI can report
RSSI_MAX = 20.0  # anything above is a sentinel (BlueZ uses +127 for "not available")


class RssiSmoother:
    """Robust RSSI estimate of one device: trimmed mean around the window median."""

    __slots__ = ("_times", "_values", "max_age_s", "reject_db")

    def __init__(self, window: int = 5, max_age_s: float = 10.0, reject_db: float = 8.0) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._times: deque[float] = deque(maxlen=window)
        self._values: deque[float] = deque(maxlen=window)
        self.max_age_s = max_age_s
        self.reject_db = reject_db

    def update(self, rssi: float, now: float) -> float | None:
        """Add one reading and return the new estimate (None if there is no valid reading).

        Sentinels and out-of-range values (not within -127..20 dBm, NaN) are ignored.
        """
        if RSSI_MIN <= rssi <= RSSI_MAX:
            self._times.append(now)
            self._values.append(rssi)
        return self.value(now)

    def value(self, now: float) -> float | None:
        """The current estimate from readings no older than ``max_age_s``."""
        times, values = self._times, self._values
        horizon = now - self.max_age_s
        while times and times[0] < horizon:
            times.popleft()
            values.popleft()
        count = len(values)
        if count == 0:
            return None
        if count == 1:
            return values[0]
        ordered = sorted(values)
        half = count // 2
        median = ordered[half] if count % 2 else (ordered[half - 1] + ordered[half]) / 2
        low, high = median - self.reject_db, median + self.reject_db
        kept = [v for v in ordered if low <= v <= high]
        # Empty only when an even window's two middle samples are > 2 * reject_db apart.
        return sum(kept) / len(kept) if kept else median


@dataclass(frozen=True, slots=True)
class Calibration:
    """A receiver's path-loss exponent ``exponent`` (n) and gain ``offset`` in dB."""

    exponent: float = 2.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.exponent) and 0.5 <= self.exponent <= 10.0):
            raise ValueError(f"path-loss exponent {self.exponent} is outside 0.5-10")
        if not (math.isfinite(self.offset) and abs(self.offset) <= 130.0):
            raise ValueError(f"calibration offset {self.offset} dB is outside -130..130")


def distance_m(rssi: float, power: float, calibration: Calibration) -> float:
    """Estimated distance in metres: ``10 ** ((power + offset - rssi) / (10 * n))``."""
    exponent = (power + calibration.offset - rssi) / (10.0 * calibration.exponent)
    return 10.0 ** min(exponent, 9.0)  # > 1e9 m means "out of range"; avoids overflow


def rssi_at(distance: float, power: float, calibration: Calibration) -> float:
    """The RSSI the model expects at ``distance`` metres (inverse of ``distance_m``)."""
    if not distance > 0:
        raise ValueError("distance must be positive")
    return power + calibration.offset - 10.0 * calibration.exponent * math.log10(distance)


def calibrate(samples: Iterable[tuple[float, float]], power: float = 0.0) -> Calibration:
    """Least-squares fit of the path-loss model to ``(distance_m, rssi)`` samples.

    The samples come from a reference beacon advertising ``power`` (its RSSI at 1 m), held
    at two or more known distances. With the default ``power=0`` the offset is the
    receiver's absolute RSSI at 1 m, which is consistent with ``distance_m(rssi, 0, cal)``.
    Raises ValueError for unusable samples (an operator's mistake, not radio input).
    """
    xs: list[float] = []
    ys: list[float] = []
    for distance, rssi in samples:
        if not (math.isfinite(distance) and distance > 0 and math.isfinite(rssi)):
            raise ValueError(f"bad calibration sample ({distance!r} m, {rssi!r} dBm)")
        xs.append(-10.0 * math.log10(distance))
        ys.append(rssi)
    if len(set(xs)) < 2:
        raise ValueError("calibration needs samples at two or more different distances")
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    exponent = sxy / sxx
    at_1m = mean_y - exponent * mean_x
    try:
        return Calibration(exponent=exponent, offset=at_1m - power)
    except ValueError as err:
        raise ValueError(f"calibration fit is implausible ({err}); check the distances "
                         "and that the reference beacon was in line of sight") from None


@dataclass(frozen=True, slots=True)
class PresencePolicy:
    """Thresholds and timings for ``DeviceTrack``; see the module docstring."""

    enter_dbm: float = -75.0
    exit_dbm: float = -85.0
    enter_dwell_s: float = 3.0
    exit_dwell_s: float = 10.0
    interval_factor: float = 3.0
    absence_floor_s: float = 5.0
    absence_ceiling_s: float = 120.0
    initial_timeout_s: float = 30.0  # before two gaps are known
    window: int = 5
    max_age_s: float = 10.0
    reject_db: float = 8.0
    gap_samples: int = 9

    def __post_init__(self) -> None:
        if not self.exit_dbm < self.enter_dbm:
            raise ValueError("exit_dbm must be below enter_dbm (hysteresis)")
        if min(self.enter_dwell_s, self.exit_dwell_s) < 0:
            raise ValueError("dwell times cannot be negative")
        if not 0 < self.absence_floor_s <= self.absence_ceiling_s:
            raise ValueError("need 0 < absence_floor_s <= absence_ceiling_s")
        if self.interval_factor <= 0 or self.gap_samples < 1 or self.initial_timeout_s <= 0:
            raise ValueError("interval_factor, gap_samples and initial_timeout_s must be > 0")


class DeviceTrack:
    """One device's smoothed RSSI, advertising rhythm and presence state."""

    __slots__ = ("_gaps", "_pending_since", "_policy", "_smoother", "last_seen", "present",
                 "rssi")

    def __init__(self, policy: PresencePolicy, now: float) -> None:
        self._policy = policy
        self._smoother = RssiSmoother(policy.window, policy.max_age_s, policy.reject_db)
        self._gaps: deque[float] = deque(maxlen=policy.gap_samples)
        self._pending_since: float | None = None
        self.last_seen = now
        self.present = False
        self.rssi: float | None = None

    def observe(self, rssi: float, now: float) -> bool:
        """Record one advert; return whether the device now counts as present."""
        gap = now - self.last_seen
        if gap > 0:
            self._gaps.append(gap)
        self.last_seen = max(now, self.last_seen)
        self.rssi = estimate = self._smoother.update(rssi, now)
        if estimate is None:
            return self.present
        policy = self._policy
        if self.present:
            flipping, dwell = estimate <= policy.exit_dbm, policy.exit_dwell_s
        else:
            flipping, dwell = estimate >= policy.enter_dbm, policy.enter_dwell_s
        if not flipping:
            self._pending_since = None
        elif self._pending_since is None and dwell > 0:
            self._pending_since = now
        elif self._pending_since is None or now - self._pending_since >= dwell:
            self.present = not self.present
            self._pending_since = None
        return self.present

    def absent_after(self) -> float:
        """Seconds without an advert after which this device is gone."""
        policy = self._policy
        if len(self._gaps) < 2:
            return policy.initial_timeout_s
        ordered = sorted(self._gaps)
        median = ordered[len(ordered) // 2]
        limit = max(policy.interval_factor * median, policy.absence_floor_s)
        return min(limit, policy.absence_ceiling_s)

    def gone(self, now: float) -> bool:
        """True once the device has been silent for longer than ``absent_after``."""
        return now - self.last_seen > self.absent_after()


class PresenceTracker:
    """``DeviceTrack`` per key (a pseudonym, never a MAC), with expiry of silent devices."""

    __slots__ = ("_policy", "_tracks")

    def __init__(self, policy: PresencePolicy | None = None) -> None:
        self._policy = policy or PresencePolicy()
        self._tracks: dict[str, DeviceTrack] = {}

    def observe(self, key: str, rssi: float, now: float) -> bool:
        """Record one advert of ``key``; return whether it now counts as present."""
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = DeviceTrack(self._policy, now)
        return track.observe(rssi, now)

    def sweep(self, now: float) -> list[str]:
        """Forget devices that have gone silent; return the keys that were present."""
        gone = [key for key, track in self._tracks.items() if track.gone(now)]
        left = [key for key in gone if self._tracks[key].present]
        for key in gone:
            del self._tracks[key]
        return left

    def present(self, now: float) -> list[str]:
        """Keys present at ``now`` (silent devices excluded even before a sweep)."""
        return [key for key, track in self._tracks.items()
                if track.present and not track.gone(now)]

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, key: object) -> bool:
        return key in self._tracks
