"""Simulated BLE advertisements heard by one receiver per zone, from the people model.

Who is where comes from ground truth (desk occupancy intervals, e.g.
``PeopleModel.occupancy``): each seated interval is a person whose phone lies on that desk.
Three kinds of device advertise:

- **phones**: one per seated person, with a resolvable-private-looking random address
  replaced about every 15 minutes (random phase, +-10 %) and at every new seating, vendor
  manufacturer data (Apple "Nearby", Microsoft, Samsung) and sometimes a personal local
  name; advertising interval 0.2-1.2 s per phone;
- **fixed beacons**: one per zone near its receiver (iBeacon or Eddystone-UID), static
  address, 0.1-1 s;
- **badges**: a share of people also carry an iBeacon badge (static address, 1 s).

RSSI follows the log-distance path-loss model (``rssi_at_1m - 10 n log10 d``) with
Gaussian noise, occasional body-shadow fades, a wall loss between zones and a floor loss
between floors; adverts are lost at random and anything below the receiver's sensitivity
is never heard. Geometry: a floor is ``floor_width_m`` x ``floor_depth_m``, desk positions
are the building's unit-square x/y scaled to it, a zone's receiver hangs above the centre
of its desks. ``to_bleak`` builds bleak's own ``BLEDevice`` and ``AdvertisementData`` so a
simulated advert enters the agent through the scanner's real ``detection_callback``.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge.ble.parsers import APPLE_COMPANY_ID, EDDYSTONE_SERVICE_UUID
from edge.ble.zones import bin_start, peak_overlap
from firmware_sim.building import Building
from firmware_sim.people import Interval

_NAMES = ("Anna's iPhone", "Galaxy S23 (Ben)", "Pixel 8", "Chris's Watch", None, None, None)
PHONE_NAMES = tuple(n for n in _NAMES if n)  # what a privacy scan must never find
_VENDORS = (APPLE_COMPANY_ID, APPLE_COMPANY_ID, 0x0006, 0x0075)
BADGE_UUID = bytes.fromhex("d3b5f1a0c6e24a5e9f0b7c1e2d3a4b5c")


@dataclass(frozen=True)
class RadioModel:
    """Geometry and radio parameters of the simulated floor."""

    floor_width_m: float = 24.0
    floor_depth_m: float = 16.0
    floor_height_m: float = 4.0
    receiver_height_m: float = 1.5  # above the desk top
    rssi_at_1m: float = -59.0
    exponent: float = 2.2
    noise_db: float = 3.0
    fade_probability: float = 0.08
    fade_db: float = 15.0
    wall_db: float = 12.0  # between zones of one floor
    floor_db: float = 20.0
    sensitivity_dbm: float = -100.0
    loss: float = 0.1
    rotate_seconds: float = 900.0
    badge_share: float = 0.2


class SimAdvert(NamedTuple):
    """One advert as a receiver hears it (values only; ``to_bleak`` wraps them)."""

    at: float
    address: str
    rssi: int
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    local_name: str | None


@dataclass(frozen=True)
class _Device:
    """One advertiser: where it is, when, under which addresses, how often."""

    position: tuple[float, float, int]  # x m, y m, floor level
    zone: str
    spans: tuple[tuple[float, float, str], ...]  # (from, to, address)
    interval: float
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    local_name: str | None


def random_address(rng: random.Random, kind: str = "private") -> str:
    """A random device address; "private" sets the RPA bits 01, "static" the bits 11."""
    raw = bytearray(rng.randbytes(6))
    raw[0] = (raw[0] & 0x3F) | (0x40 if kind == "private" else 0xC0)
    return ":".join(f"{b:02X}" for b in raw)


class BleWorld:
    """The devices of a building over a window, and what each zone's receiver hears."""

    def __init__(
        self,
        building: Building,
        occupancy: Mapping[str, list[Interval]],
        start: float,
        end: float,
        *,
        seed: int = 1,
        radio: RadioModel | None = None,
    ) -> None:
        self.building = building
        self.radio = radio or RadioModel()
        self.start, self.end = start, end
        self.seed = seed
        self.occupancy = {d: list(v) for d, v in occupancy.items()}
        self._level = {f.id: f.level for f in building.site.floors}
        self._desks = {d.id: d for d in building.desks}
        self.receivers = {z.id: self._centre(z.id) for z in building.zones}
        self.devices = self._make_devices()

    def _place(self, x: float, y: float, floor: str) -> tuple[float, float, int]:
        return (x * self.radio.floor_width_m, y * self.radio.floor_depth_m, self._level[floor])

    def _centre(self, zone: str) -> tuple[float, float, int]:
        desks = [d for d in self.building.desks if d.zone == zone]
        return self._place(sum(d.x for d in desks) / len(desks),
                           sum(d.y for d in desks) / len(desks), desks[0].floor)

    def _make_devices(self) -> list[_Device]:
        rng = random.Random(f"ble:{self.seed}")
        radio = self.radio
        devices: list[_Device] = []
        for zone, (x, y, level) in self.receivers.items():
            beacon_at = (x + 1.0, y + 1.0, level)
            if rng.random() < 0.5:
                frame = {APPLE_COMPANY_ID: b"\x02\x15" + rng.randbytes(16)
                         + struct.pack(">HHb", 1, rng.randrange(65536), -59)}
                devices.append(_Device(beacon_at, zone, ((self.start, self.end,
                               random_address(rng, "static")),), rng.uniform(0.1, 1.0),
                               frame, {}, None))
            else:
                uid = b"\x00\xee" + rng.randbytes(16) + b"\x00\x00"
                devices.append(_Device(beacon_at, zone, ((self.start, self.end,
                               random_address(rng, "static")),), rng.uniform(0.1, 1.0),
                               {}, {EDDYSTONE_SERVICE_UUID: uid}, None))
        for desk_id in sorted(self.occupancy):
            desk = self._desks[desk_id]
            where = self._place(desk.x, desk.y, desk.floor)
            for s, e in self.occupancy[desk_id]:
                s, e = max(s, self.start), min(e, self.end)
                if e <= s:
                    continue
                spans = []
                t = s
                nxt = s + rng.uniform(0, radio.rotate_seconds)  # phase of the rotation
                while t < e:
                    stop = min(nxt, e)
                    spans.append((t, stop, random_address(rng)))
                    t, nxt = stop, stop + radio.rotate_seconds * rng.uniform(0.9, 1.1)
                company = rng.choice(_VENDORS)
                devices.append(_Device(where, desk.zone, tuple(spans), rng.uniform(0.2, 1.2),
                                       {company: bytes([0x10, 0x05]) + rng.randbytes(5)}, {},
                                       rng.choice(_NAMES)))
                if rng.random() < radio.badge_share:
                    badge = b"\x02\x15" + BADGE_UUID + struct.pack(
                        ">HHb", 7, rng.randrange(65536), -59)
                    devices.append(_Device(where, desk.zone, ((s, e, random_address(
                        rng, "static")),), 1.0, {APPLE_COMPANY_ID: badge}, {}, None))
        return devices

    def _mean_rssi(self, device: _Device, zone: str) -> float:
        radio = self.radio
        rx, ry, rlevel = self.receivers[zone]
        x, y, level = device.position
        height = radio.receiver_height_m + abs(level - rlevel) * radio.floor_height_m
        distance = max(math.sqrt((x - rx) ** 2 + (y - ry) ** 2 + height ** 2), 0.5)
        loss = abs(level - rlevel) * radio.floor_db
        if device.zone != zone and level == rlevel:
            loss += radio.wall_db
        return radio.rssi_at_1m - 10 * radio.exponent * math.log10(distance) - loss

    def adverts(self, zone: str) -> list[SimAdvert]:
        """Everything the receiver of ``zone`` hears in the window, in time order."""
        rng = random.Random(f"ble-rx:{self.seed}:{zone}")
        radio = self.radio
        out: list[SimAdvert] = []
        for device in self.devices:
            mean = self._mean_rssi(device, zone)
            if mean + 3 * radio.noise_db < radio.sensitivity_dbm:
                continue  # never heard: skip the work
            for s, e, address in device.spans:
                t = s + rng.uniform(0, device.interval)
                while t < e:
                    if rng.random() >= radio.loss:
                        level = mean + rng.gauss(0, radio.noise_db)
                        if rng.random() < radio.fade_probability:
                            level -= radio.fade_db
                        if level >= radio.sensitivity_dbm:
                            out.append(SimAdvert(t, address, round(level),
                                                 device.manufacturer_data,
                                                 device.service_data, device.local_name))
                    t += device.interval + rng.uniform(0, 0.01)  # advDelay 0-10 ms
        out.sort(key=lambda a: a.at)
        return out

    def truth(self, zone: str, bin_seconds: int) -> dict[int, int]:
        """Bin start -> peak number of people seated in ``zone`` at the same time."""
        runs_by_bin: dict[int, list[tuple[float, float]]] = {
            b: [] for b in range(bin_start(self.start, bin_seconds), int(self.end),
                                 bin_seconds)}
        for desk_id, intervals in self.occupancy.items():
            if self._desks[desk_id].zone != zone:
                continue
            for s, e in intervals:
                s, e = max(s, self.start), min(e, self.end)
                b = bin_start(s, bin_seconds)
                while b < e:
                    if b in runs_by_bin:
                        runs_by_bin[b].append((max(s, b), min(e, b + bin_seconds)))
                    b += bin_seconds
        return {b: peak_overlap(runs) for b, runs in runs_by_bin.items()}

    @property
    def addresses(self) -> set[str]:
        """Every address any device uses (for privacy tests: none may leak)."""
        return {address for d in self.devices for _, _, address in d.spans}

    @property
    def names(self) -> set[str]:
        return {d.local_name for d in self.devices if d.local_name}


def to_bleak(advert: SimAdvert) -> tuple[BLEDevice, AdvertisementData]:
    """bleak's own objects for one simulated advert, as its BlueZ backend builds them."""
    device = BLEDevice(advert.address, advert.local_name, details=None)
    data = AdvertisementData(
        local_name=advert.local_name,
        manufacturer_data=advert.manufacturer_data,
        service_data=advert.service_data,
        service_uuids=list(advert.service_data),
        tx_power=None,
        rssi=advert.rssi,
        platform_data=(),
    )
    return device, data


def feed(
    callback: Callable[[BLEDevice, AdvertisementData], None],
    adverts: Iterable[SimAdvert],
    set_clock: Callable[[float], None] | None = None,
) -> int:
    """Call bleak's ``detection_callback`` with each advert; return how many were fed.

    ``set_clock`` moves the receiver's simulated clock to the advert's time first, so the
    scanner stamps the advert with the time it was "heard"."""
    count = 0
    for advert in adverts:
        if set_clock is not None:
            set_clock(advert.at)
        callback(*to_bleak(advert))
        count += 1
    return count
