"""BLE throughput: advertisements/s through parse, pseudonym and RSSI smoothing on one core.

The stream imitates what bleak's detection callback delivers on a busy floor: phones with
other Apple/vendor manufacturer data (the majority), iBeacons, AltBeacons, Eddystone
UID/TLM beacons and some malformed frames. Three figures are measured on the same stream:
parsing alone, parsing plus per-device smoothing and presence, and the full per-advert path
(parse, HMAC pseudonym, smoothing, a sweep every simulated second). ``python -m bench.ble``.
"""

from __future__ import annotations

import json
import random
import struct
import time
from collections.abc import Callable
from typing import Any

from edge.ble.parsers import (
    APPLE_COMPANY_ID,
    EDDYSTONE_SERVICE_UUID,
    parse_altbeacon,
    parse_eddystone,
    parse_ibeacon,
)
from edge.ble.pseudonym import PseudonymKey
from edge.ble.rssi import PresenceTracker

Advert = tuple[str, int, dict[int, bytes], dict[str, bytes], float]


def _device_frames(rng: random.Random, kind: str) -> tuple[dict[int, bytes], dict[str, bytes]]:
    if kind == "ibeacon":
        payload = b"\x02\x15" + rng.randbytes(16) + struct.pack(
            ">HHb", rng.randrange(65536), rng.randrange(65536), -59)
        return {APPLE_COMPANY_ID: payload}, {}
    if kind == "altbeacon":
        return {0x0118: b"\xbe\xac" + rng.randbytes(20) + b"\xc5\x00"}, {}
    if kind == "eddystone":
        uid = b"\x00\xee" + rng.randbytes(16) + b"\x00\x00"
        return {}, {EDDYSTONE_SERVICE_UUID: uid}
    if kind == "tlm":
        tlm = struct.pack(">BBHhII", 0x20, 0, 3000, 23 * 256, rng.randrange(2**20), 1000)
        return {}, {EDDYSTONE_SERVICE_UUID: tlm}
    if kind == "garbage":
        return {APPLE_COMPANY_ID: rng.randbytes(rng.randint(0, 30))}, {
            EDDYSTONE_SERVICE_UUID: rng.randbytes(rng.randint(0, 22))}
    # a phone: Apple "Nearby Info" or a vendor's manufacturer data, no beacon
    company = rng.choice((APPLE_COMPANY_ID, 0x0006, 0x0075))
    return {company: bytes([0x10, 0x05]) + rng.randbytes(5)}, {}


def make_stream(n: int, seed: int = 1) -> list[Advert]:
    """``n`` adverts from 400 devices, 500 adverts per simulated second."""
    rng = random.Random(seed)
    kinds = ["phone"] * 300 + ["ibeacon"] * 50 + ["altbeacon"] * 10 + ["eddystone"] * 15 + [
        "tlm"] * 5 + ["garbage"] * 20
    devices = []
    for kind in kinds:
        address = ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
        devices.append((address, *_device_frames(rng, kind), rng.uniform(-95, -50)))
    stream: list[Advert] = []
    for i in range(n):
        address, manufacturer, service, level = rng.choice(devices)
        rssi = int(level + rng.gauss(0, 3)) if rng.random() > 0.1 else int(level - 20)
        stream.append((address, rssi, manufacturer, service, i * 0.002))
    return stream


def _parse(manufacturer: dict[int, bytes], service: dict[str, bytes]) -> object:
    found: object = None
    for company, payload in manufacturer.items():
        found = parse_ibeacon(company, payload) or parse_altbeacon(company, payload) or found
    data = service.get(EDDYSTONE_SERVICE_UUID)
    if data is not None:
        found = parse_eddystone(data) or found
    return found


def run_parse(stream: list[Advert]) -> int:
    return sum(_parse(m, s) is not None for _, _, m, s, _ in stream)


def run_parse_smooth(stream: list[Advert]) -> int:
    tracker = PresenceTracker()
    for address, rssi, manufacturer, service, now in stream:
        _parse(manufacturer, service)
        tracker.observe(address, rssi, now)
    return len(tracker)


def run_full(stream: list[Advert]) -> int:
    key = PseudonymKey(now=0.0, rotate_seconds=3600)
    tracker = PresenceTracker()
    next_sweep = 1.0
    for address, rssi, manufacturer, service, now in stream:
        _parse(manufacturer, service)
        tracker.observe(key.pseudonym(address, now), rssi, now)
        if now >= next_sweep:
            tracker.sweep(now)
            next_sweep = now + 1.0
    return len(tracker.present(stream[-1][4]))


def _best(fn: Callable[[list[Advert]], int], stream: list[Advert], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn(stream)
        times.append(time.perf_counter() - began)
    return min(times)


def bench_ble_parse(n: int = 200_000, runs: int = 3) -> dict[str, Any]:
    stream = make_stream(n)
    run_full(stream[:2000])  # warm up
    parse_s = _best(run_parse, stream, runs)
    smooth_s = _best(run_parse_smooth, stream, runs)
    full_s = _best(run_full, stream, runs)
    return {
        "advertisements": n,
        "devices": 400,
        "beacon_frames_decoded": run_parse(stream),
        "parse_per_second": round(n / parse_s),
        "parse_smooth_per_second": round(n / smooth_s),
        "parse_pseudonym_smooth_per_second": round(n / full_s),
        "best_seconds": round(full_s, 4),
    }


if __name__ == "__main__":
    print(json.dumps(bench_ble_parse(), indent=2))
