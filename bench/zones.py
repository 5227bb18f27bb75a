"""Zone presence: accuracy against the simulator's truth, and counting throughput.

Accuracy: a 40-desk floor in two zones, one receiver each, the office schedule of a
Tuesday 08:00-12:00 (people arriving, meetings, breaks). Every advert goes through the
scanner's bleak callback path into the agent's :class:`~edge.ble.zones.ZoneCounter`; each
closed bin's count is compared with the true peak number of people seated in the zone in
that bin. ``mape`` is the mean absolute percentage error over bins with people (target
<= 10 %); ``wape`` is sum |error| / sum truth. ``naive_distinct_mape`` shows what counting
distinct addresses per bin would give (phones rotate their address every ~15 min).
``open_plan_*`` repeat the first two hours with no wall between the zones and noisier
radio: the receivers then hear the neighbouring zone almost as well as their own.

Throughput: ``ZoneCounter.observe`` (beacon filter = parse, HMAC pseudonym, smoothing,
presence, runs) over a recorded stream, best of three, one core (target >= 100,000/s).
``python -m bench.zones``.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.ble.scanner import BleScanner
from edge.ble.zones import ZoneCounter, bin_start, is_beacon
from edge.protocol import ZoneCount
from firmware_sim.ble import BleWorld, RadioModel, SimAdvert, feed
from firmware_sim.building import generate_building
from firmware_sim.people import PeopleModel

BIN = 900


def _count(zone: str, stream: list[SimAdvert], start: float, end: float) -> dict[int, int]:
    clock = [start]
    counter = ZoneCounter(zone, start, bin_seconds=BIN)
    rows: list[ZoneCount] = []

    def handler(address: str, rssi: int, manufacturer: Any, service: Any, now: float) -> None:
        rows.extend(counter.observe(address, rssi, manufacturer, service, now))

    scanner = BleScanner(handler, clock=lambda: clock[0])
    feed(scanner.detection_callback, stream, set_clock=lambda t: clock.__setitem__(0, t))
    rows.extend(counter.tick(end))
    return {r.bin: r.devices for r in rows}


def _naive(stream: list[SimAdvert], bins: list[int], enter_dbm: float = -75.0) -> dict[int, int]:
    seen: dict[int, set[str]] = {b: set() for b in bins}
    for a in stream:
        if a.rssi >= enter_dbm and not is_beacon(a.manufacturer_data, a.service_data):
            seen.setdefault(bin_start(a.at, BIN), set()).add(a.address)
    return {b: len(s) for b, s in seen.items()}


def _accuracy(hours: float, seed: int, radio: RadioModel) -> tuple[dict[str, Any],
                                                                     list[SimAdvert]]:
    tz = ZoneInfo("Europe/Berlin")
    building = generate_building(seed=seed, site_id="bench", desks=40, floors=1,
                                 zones_per_floor=2, desks_per_agent=20)
    start = datetime(2026, 11, 17, 8, 0, tzinfo=tz).timestamp()
    end = start + hours * 3600
    world = BleWorld(building, PeopleModel(building, seed=seed).occupancy(start, end),
                     start, end, seed=seed, radio=radio)
    errors: list[float] = []
    naive_errors: list[float] = []
    abs_sum = truth_sum = 0
    false_in_empty = empty = 0
    adverts = 0
    biggest: list[SimAdvert] = []
    for zone in building.zones:
        stream = world.adverts(zone.id)
        adverts += len(stream)
        biggest = max(biggest, stream, key=len)
        got = _count(zone.id, stream, start, end)
        truth = world.truth(zone.id, BIN)
        naive = _naive(stream, sorted(truth))
        for b, true in truth.items():
            if true == 0:
                empty += 1
                false_in_empty += got.get(b, 0) > 0
                continue
            error = abs(got.get(b, 0) - true)
            errors.append(error / true)
            naive_errors.append(abs(naive.get(b, 0) - true) / true)
            abs_sum += error
            truth_sum += true
    return {
        "bins_with_people": len(errors),
        "empty_bins": empty,
        "empty_bins_with_a_count": false_in_empty,
        "adverts": adverts,
        "mape": round(statistics.fmean(errors), 4),
        "wape": round(abs_sum / truth_sum, 4),
        "max_bin_error": round(max(errors), 4),
        "naive_distinct_mape": round(statistics.fmean(naive_errors), 4),
    }, biggest


def bench_zone_accuracy(hours: float = 4.0, seed: int = 11) -> dict[str, Any]:
    """Accuracy with zones separated by partitions (12 dB, the default radio model), the
    same in an open plan with noisier radio (no wall loss, 5 dB noise) as a stress
    figure, and counting throughput."""
    result, stream = _accuracy(hours, seed, RadioModel())
    stress, _ = _accuracy(hours / 2, seed, RadioModel(wall_db=0.0, noise_db=5.0))
    result["open_plan_mape"] = stress["mape"]
    result["open_plan_wape"] = stress["wape"]
    result["count_per_second"] = bench_count_throughput(stream)
    return result


def bench_count_throughput(stream: list[SimAdvert], runs: int = 3) -> int:
    """Adverts/s through ``ZoneCounter.observe`` alone (no simulator, no bleak objects)."""
    best = float("inf")
    for _ in range(runs):
        counter = ZoneCounter("z", stream[0].at, bin_seconds=BIN)
        observe = counter.observe
        began = time.perf_counter()
        for a in stream:
            observe(a.address, a.rssi, a.manufacturer_data, a.service_data, a.at)
        best = min(best, time.perf_counter() - began)
    return round(len(stream) / best)


if __name__ == "__main__":
    print(json.dumps(bench_zone_accuracy(), indent=2))
