"""BTHome v2 desk sensors (Shelly BLU Motion / Door-Window, ESPHome, ...) over BLE.

Adverts arrive through the agent's own bleak scanner (``Agent.observe_advert``); the ones
carrying BTHome service data (UUID 0xFCD2) from a configured address are decoded with
``bthome-ble`` (Home Assistant's Bluetooth-Devices parser: plain and AES-CCM encrypted
payloads, packet-id and encryption-counter replay checks) and the configured binary
measurement becomes the desk sensor's value in its :class:`Channel`.

Outcomes per advert, each counted: a new value; a duplicate (same packet id, which BTHome
devices repeat on purpose) ignored; an advert that cannot be decrypted with the bind key
from edge.toml, a plaintext advert from a device whose key is configured (a downgrade), or
an encrypted one without a key: a *fault* (counted, never a state). Adverts from other
addresses are not ours and are left to the zone counter.

The address is the key of an in-memory map and is handed to bthome-ble (the nonce of an
encrypted advert contains it); bthome-ble's own logger names devices, so it is silenced
here: nothing this module logs or returns carries an address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from edge.wireless.channel import Channel, signal_level

__all__ = ["BTHOME_UUID", "MEASUREMENTS", "BthomeReceiver", "BthomeSensor"]

log = logging.getLogger(__name__)

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
# bthome-ble's binary sensor keys that say something about a person at a desk.
MEASUREMENTS = ("motion", "occupancy", "presence", "opening", "door", "window")


@dataclass
class BthomeSensor:
    """One configured device: its address (upper case), bind key and measurement."""

    address: str
    measure: str
    channel: Channel
    bind_key: bytes | None = None
    invert: bool = False


class _Device:
    def __init__(self, sensor: BthomeSensor) -> None:
        from bthome_ble import BTHomeBluetoothDeviceData

        self.sensor = sensor
        self.parser = BTHomeBluetoothDeviceData(bindkey=sensor.bind_key)


class BthomeReceiver:
    """Address -> device; :meth:`observe` is called from the scanner thread."""

    def __init__(self, sensors: list[BthomeSensor]) -> None:
        # bthome-ble logs device titles (derived from the address) and payload bytes.
        logging.getLogger("bthome_ble").setLevel(logging.CRITICAL + 1)
        self._devices = {s.address.upper(): _Device(s) for s in sensors}
        self.adverts = 0  # BTHome adverts from our devices
        self.values = 0
        self.duplicates = 0
        self.faults = 0

    def __len__(self) -> int:
        return len(self._devices)

    def observe(self, address: str, rssi: int, service_data: Mapping[str, bytes],
                now: float) -> bool:
        """Handle one advert; True if it came from one of our BTHome devices (then it is
        a desk sensor, not a person's phone, and is not counted in the zone)."""
        device = self._devices.get(address.upper()) if isinstance(address, str) else None
        if device is None:
            return False
        data = service_data.get(BTHOME_UUID)
        if not isinstance(data, bytes | bytearray) or not data:
            return True  # our device, but no BTHome payload in this advert (scan response)
        self.adverts += 1
        sensor = device.sensor
        try:
            outcome = self._decode(device, address, rssi, bytes(data), now)
        except Exception as exc:  # a parser bug or a hostile advert: counted, never raised
            log.debug("BTHome advert of %s not decoded: %s", sensor.channel.what,
                      type(exc).__name__)
            outcome = "fault"
        if outcome == "fault":
            self.faults += 1
            sensor.channel.fault()
        elif outcome == "duplicate":
            self.duplicates += 1
            sensor.channel.duplicates += 1
            sensor.channel.heard(now)
        return True

    def _decode(self, device: _Device, address: str, rssi: int, data: bytes,
                now: float) -> str:
        from bleak.backends.device import BLEDevice
        from habluetooth.models import BluetoothServiceInfoBleak

        parser, sensor = device.parser, device.sensor
        info = BluetoothServiceInfoBleak(
            name="", address=address, rssi=rssi, manufacturer_data={},
            service_data={BTHOME_UUID: data}, service_uuids=[BTHOME_UUID], source="local",
            device=BLEDevice(address, None, None), advertisement=None, connectable=False,
            time=now, tx_power=None)
        # sensor_state_data returns every value it ever parsed, not this advert's: clear
        # its per-update maps first, or a battery-only advert would repeat the last
        # motion flag (a false pulse). tests/wireless/test_bthome.py holds this to account.
        for name in ("_binary_sensor_values_updates", "_sensor_values_updates"):
            values = getattr(parser, name, None)
            if isinstance(values, dict):
                values.clear()
        update = parser.update(info)
        encrypted = bool(data[0] & 0x01)
        if parser.downgrade_detected:
            return "fault"  # plaintext from a device whose bind key we hold
        if encrypted and (sensor.bind_key is None or parser.decryption_failed):
            return "fault"  # no key, or the wrong one
        if parser.last_service_info is not info:
            return "duplicate"  # packet id seen already (or a replayed counter)
        values = {key.key: value.native_value
                  for key, value in update.binary_entity_values.items()}
        numbers = {key.key: value.native_value for key, value in update.entity_values.items()}
        battery = numbers.get("battery")
        sensor.channel.levels(
            battery=float(battery) if isinstance(battery, int | float) else None,
            signal=signal_level(rssi))
        value = values.get(sensor.measure)
        if not isinstance(value, bool):
            sensor.channel.heard(now)  # e.g. a battery-only or button advert
            return "heard"
        sensor.channel.update(value != sensor.invert, now)
        self.values += 1
        return "value"
