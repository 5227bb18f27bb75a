"""``deskpulse edge calibrate``: fit a receiver's path-loss model from a reference beacon.

Samples are ``(distance_m, rssi)`` pairs, from a file (one ``distance_m,rssi`` per line)
or measured live: the operator holds a reference iBeacon at each distance and the scanner
collects its RSSI for a while. The fit is :func:`edge.ble.rssi.calibrate`; the output is
two lines to paste into the agent's ``[ble]`` table. RSSI values are printed to the
operator's terminal only, never logged or sent.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Mapping

from edge.ble.parsers import parse_ibeacon
from edge.ble.rssi import Calibration, calibrate
from edge.errors import ConfigError

Sample = tuple[float, float]


def read_samples(lines: Iterable[str], source: str) -> list[Sample]:
    """Parse ``distance_m,rssi`` lines; blank lines, ``#`` comments and a header are skipped.

    ConfigError names the file and line of the first bad one."""
    samples: list[Sample] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or (number == 1 and line.replace(" ", "").lower() == "distance_m,rssi"):
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            if len(parts) != 2:
                raise ValueError
            distance, rssi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError(f"{source} line {number}: expected 'distance_m,rssi', "
                              f"e.g. '2.0,-65'") from None
        if not (math.isfinite(distance) and distance > 0 and math.isfinite(rssi)):
            raise ConfigError(f"{source} line {number}: the distance must be positive and "
                              "both numbers finite")
        samples.append((distance, rssi))
    return samples


def fit(samples: list[Sample], power: float = 0.0) -> Calibration:
    """The calibration, or ConfigError with the reason the samples are unusable."""
    try:
        return calibrate(samples, power)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def as_toml(calibration: Calibration, samples: list[Sample]) -> str:
    """The lines to paste into ``[ble]``, with a comment saying what they came from."""
    distances = len({d for d, _ in samples})
    return (f"# fitted from {len(samples)} sample(s) at {distances} distance(s)\n"
            f"path_loss_exponent = {calibration.exponent:.2f}\n"
            f"rssi_at_1m = {calibration.offset:.1f}\n")


class _Collector:
    """Scanner handler keeping the RSSI of one reference iBeacon (memory only)."""

    def __init__(self, beacon_uuid: uuid.UUID, major: int | None, minor: int | None) -> None:
        self.beacon_uuid, self.major, self.minor = beacon_uuid, major, minor
        self.values: list[float] = []
        self.active = False

    def __call__(self, address: str, rssi: int, manufacturer_data: Mapping[int, bytes],
                 service_data: Mapping[str, bytes], now: float) -> None:
        if not self.active:
            return
        for company, payload in manufacturer_data.items():
            beacon = parse_ibeacon(company, payload)
            if (beacon is not None and beacon.uuid == self.beacon_uuid
                    and self.major in (None, beacon.major)
                    and self.minor in (None, beacon.minor)):
                self.values.append(float(rssi))


def live_samples(
    beacon_uuid: uuid.UUID,
    distances: list[float],
    *,
    seconds: float = 30.0,
    major: int | None = None,
    minor: int | None = None,
    adapter: str | None = None,
    prompt: Callable[[str], str] = input,
) -> list[Sample]:
    """Median RSSI of the reference beacon at each distance, measured with the scanner."""
    from edge.ble.scanner import BleScanner

    collector = _Collector(beacon_uuid, major, minor)
    scanner = BleScanner(collector, adapter=adapter)
    scanner.start()
    samples: list[Sample] = []
    try:
        for distance in distances:
            prompt(f"hold the reference beacon at {distance:g} m, then press Enter ")
            collector.values = []
            collector.active = True
            time.sleep(seconds)
            collector.active = False
            if not collector.values:
                raise ConfigError(f"the reference beacon was not heard at {distance:g} m")
            samples.append((distance, statistics.median(collector.values)))
    finally:
        scanner.stop()
    return samples
