"""The simulated advertisement stream, fed through bleak's callback path into zone counts."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge.ble.scanner import BleScanner
from edge.ble.zones import ZoneCounter, bin_start, is_beacon
from edge.protocol import ZoneCount
from firmware_sim.ble import BleWorld, SimAdvert, feed, random_address, to_bleak
from firmware_sim.building import Building, generate_building
from firmware_sim.people import PeopleModel

BIN = 900
TZ = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 17, 7, 45, tzinfo=TZ).timestamp()  # a Tuesday: people arrive
END = START + 2 * 3600


@pytest.fixture(scope="module")
def building() -> Building:
    return generate_building(seed=5, site_id="ble", desks=16, floors=1, zones_per_floor=2,
                             desks_per_agent=8)


@pytest.fixture(scope="module")
def world(building: Building) -> BleWorld:
    occupancy = PeopleModel(building, seed=5).occupancy(START, END)
    return BleWorld(building, occupancy, START, END, seed=5)


@pytest.fixture(scope="module")
def heard(world: BleWorld, building: Building) -> dict[str, list[SimAdvert]]:
    return {z.id: world.adverts(z.id) for z in building.zones}


def test_stream_is_ordered_deterministic_and_plausible(
        world: BleWorld, heard: dict[str, list[SimAdvert]], building: Building) -> None:
    zone = building.zones[0].id
    stream = heard[zone]
    assert len(stream) > 10_000
    assert all(a.at <= b.at for a, b in zip(stream, stream[1:], strict=False))
    assert all(START <= a.at < END and -100 <= a.rssi <= 0 for a in stream)
    again = BleWorld(building, world.occupancy, START, END, seed=5).adverts(zone)
    assert again[:500] == stream[:500]
    # phones rotate their random address about every 15 minutes
    phones = [d for d in world.devices if not is_beacon(d.manufacturer_data, d.service_data)]
    long_stays = [d for d in phones if d.spans[-1][1] - d.spans[0][0] > 2400]
    assert long_stays and all(len(d.spans) >= 2 for d in long_stays)
    assert all(d.spans[i][1] == d.spans[i + 1][0] for d in long_stays
               for i in range(len(d.spans) - 1))
    # fixed beacons and badges advertise too, under one static address each
    beacons = [d for d in world.devices if is_beacon(d.manufacturer_data, d.service_data)]
    assert len(beacons) >= len(building.zones) and all(len(d.spans) == 1 for d in beacons)


def test_a_receiver_hears_its_own_zone_louder(
        world: BleWorld, heard: dict[str, list[SimAdvert]], building: Building) -> None:
    zone = building.zones[0].id
    own = {a for d in world.devices if d.zone == zone for _, _, a in d.spans}
    mine = [a.rssi for a in heard[zone] if a.address in own]
    others = [a.rssi for a in heard[zone] if a.address not in own]
    assert statistics.median(mine) > statistics.median(others) + 10


def test_to_bleak_builds_bleaks_own_objects() -> None:
    advert = SimAdvert(1.0, "4A:00:00:00:00:01", -70, {76: b"\x10\x05"}, {}, "Pixel 8")
    device, data = to_bleak(advert)
    assert isinstance(device, BLEDevice) and isinstance(data, AdvertisementData)
    assert (device.address, device.name, data.rssi, data.local_name) == (
        "4A:00:00:00:00:01", "Pixel 8", -70, "Pixel 8")
    assert random_address(__import__("random").Random(1))[0] in "4567"  # RPA: bits 01


def count_through_scanner(counter: ZoneCounter,
                          stream: list[SimAdvert]) -> tuple[list[ZoneCount], BleScanner]:
    """Feed ``stream`` through the scanner's bleak callback into ``counter``."""
    clock = [START]
    rows: list[ZoneCount] = []

    def handler(address: str, rssi: int, manufacturer: Mapping[int, bytes],
                service: Mapping[str, bytes], now: float) -> None:
        rows.extend(counter.observe(address, rssi, manufacturer, service, now))

    def set_clock(t: float) -> None:
        clock[0] = t

    scanner = BleScanner(handler, clock=lambda: clock[0])
    fed = feed(scanner.detection_callback, stream, set_clock=set_clock)
    assert fed == scanner.adverts == len(stream)
    return rows, scanner


def test_zone_counts_through_the_scanner_match_the_truth(
        world: BleWorld, heard: dict[str, list[SimAdvert]], building: Building) -> None:
    errors: list[float] = []
    for zone in (z.id for z in building.zones):
        counter = ZoneCounter(zone, START, bin_seconds=BIN)
        rows, _ = count_through_scanner(counter, heard[zone])
        rows += counter.tick(END)
        got = {r.bin: r.devices for r in rows}
        truth = world.truth(zone, BIN)
        assert sorted(got) == sorted(truth) == list(range(bin_start(START, BIN), int(END),
                                                          BIN))
        assert any(truth.values())
        for b, true in truth.items():
            if true:
                errors.append(abs(got[b] - true) / true)
            else:
                assert got[b] <= 1
        # counting distinct addresses instead would over-count: the rotation matters
        distinct = {b: len({a.address for a in heard[zone]
                            if bin_start(a.at, BIN) == b and not is_beacon(
                                a.manufacturer_data, a.service_data) and a.rssi > -75})
                    for b in truth}
        assert sum(distinct.values()) > 1.3 * sum(truth.values())
    assert statistics.fmean(errors) <= 0.10, errors
