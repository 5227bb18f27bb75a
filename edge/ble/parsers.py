"""Pure parsers for beacon advertisements: iBeacon, AltBeacon, Eddystone-UID and -TLM.

Every parser takes the bytes exactly as ``bleak`` hands them over
(``AdvertisementData.manufacturer_data[company_id]`` without the company id, or
``service_data[<0xFEAA uuid>]``) and returns a frozen value or ``None``. Advertisements
are untrusted radio input: a frame that is too short, too long or of another kind is
skipped with a debug log and never raises (PRIVACY.md item 17). Lengths are checked
before any indexing; fixed layouts are decoded with one module-level ``struct.Struct``.

Layouts (all multi-byte fields big-endian):

- iBeacon (Apple, company 0x004C): ``02 15 | uuid[16] | major u16 | minor u16 | power i8``
  (power = calibrated RSSI at 1 m).
- AltBeacon (any company): ``BE AC | beacon id[20] | reference rssi i8 | reserved u8``.
- Eddystone (service 0xFEAA), google/eddystone spec:
  UID ``00 | tx power at 0 m i8 | namespace[10] | instance[6] | RFU[2]`` (the two RFU bytes
  are omitted by older beacons, so 18 and 20 bytes are accepted);
  TLM ``20 | version 00 | battery mV u16 | temp 8.8 signed | adv count u32 |
  uptime u32 in 0.1 s`` (14 bytes exactly).

Log lines never include the frame bytes: they could carry an identifier.
"""

from __future__ import annotations

import logging
import struct
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

APPLE_COMPANY_ID = 0x004C
EDDYSTONE_SERVICE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"

_IBEACON_PREFIX = b"\x02\x15"
_IBEACON = struct.Struct(">2s16sHHb")  # prefix, uuid, major, minor, power: 23 bytes
_ALTBEACON = struct.Struct(">2s20sbB")  # code, id, reference rssi, reserved: 24 bytes
_ALTBEACON_CODE = b"\xbe\xac"
_EDDYSTONE_UID = struct.Struct(">Bb10s6s")  # frame type, tx power, namespace, instance: 18
_EDDYSTONE_UID_RFU = _EDDYSTONE_UID.size + 2
_EDDYSTONE_TLM = struct.Struct(">BBHhII")  # type, version, mV, temp, adv count, 0.1 s: 14

_FRAME_UID = 0x00
_FRAME_TLM = 0x20
_TLM_VERSION_PLAIN = 0x00
_TLM_NO_TEMPERATURE = -0x8000  # 0x8000: "not supported" per the TLM spec


@dataclass(frozen=True, slots=True)
class IBeacon:
    """An iBeacon frame; ``power`` is the calibrated RSSI at 1 m in dBm."""

    uuid: uuid.UUID
    major: int
    minor: int
    power: int


@dataclass(frozen=True, slots=True)
class AltBeacon:
    """An AltBeacon frame. ``beacon_id`` is the opaque 20-byte id; by convention it is
    read as a 16-byte id1 plus two 16-bit ids (see the properties)."""

    company_id: int
    beacon_id: bytes
    power: int
    reserved: int

    @property
    def id1(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.beacon_id[:16])

    @property
    def id2(self) -> int:
        return int.from_bytes(self.beacon_id[16:18], "big")

    @property
    def id3(self) -> int:
        return int.from_bytes(self.beacon_id[18:20], "big")


@dataclass(frozen=True, slots=True)
class EddystoneUID:
    """An Eddystone-UID frame; ``power`` is the tx power at 0 m (not 1 m) in dBm."""

    power: int
    namespace: bytes
    instance: bytes


@dataclass(frozen=True, slots=True)
class EddystoneTLM:
    """An unencrypted Eddystone-TLM (version 0) frame.

    ``battery_mv`` is 0 when the beacon has no battery sensor; ``temperature_c`` is None
    when the beacon reports 0x8000 ("not supported").
    """

    battery_mv: int
    temperature_c: float | None
    adv_count: int
    uptime_s: float


def parse_ibeacon(company_id: int, payload: bytes) -> IBeacon | None:
    """Decode bleak's manufacturer data for ``company_id``; None unless a valid iBeacon."""
    if company_id != APPLE_COMPANY_ID:
        return None
    if len(payload) != _IBEACON.size:
        if payload[:2] == _IBEACON_PREFIX:
            log.debug("iBeacon frame skipped: length %d, want %d", len(payload), _IBEACON.size)
        return None
    prefix, raw_uuid, major, minor, power = _IBEACON.unpack(payload)
    if prefix != _IBEACON_PREFIX:
        return None  # another Apple frame type (Nearby, Find My, ...), not an error
    return IBeacon(uuid.UUID(bytes=raw_uuid), major, minor, power)


def parse_altbeacon(company_id: int, payload: bytes) -> AltBeacon | None:
    """Decode bleak's manufacturer data as an AltBeacon; any company id may send one."""
    if not 0 <= company_id <= 0xFFFF:
        return None
    if len(payload) != _ALTBEACON.size:
        if payload[:2] == _ALTBEACON_CODE:
            log.debug("AltBeacon frame skipped: length %d, want %d",
                      len(payload), _ALTBEACON.size)
        return None
    code, beacon_id, power, reserved = _ALTBEACON.unpack(payload)
    if code != _ALTBEACON_CODE:
        return None
    return AltBeacon(company_id, beacon_id, power, reserved)


def parse_eddystone(service_data: bytes) -> EddystoneUID | EddystoneTLM | None:
    """Decode service data for UUID 0xFEAA; None for URL/EID/encrypted TLM or malformed."""
    if not service_data:
        log.debug("Eddystone frame skipped: empty")
        return None
    frame_type = service_data[0]
    if frame_type == _FRAME_UID:
        return _parse_uid(service_data)
    if frame_type == _FRAME_TLM:
        return _parse_tlm(service_data)
    return None  # URL (0x10), EID (0x30) and unknown types are not used here


def _parse_uid(data: bytes) -> EddystoneUID | None:
    if len(data) not in (_EDDYSTONE_UID.size, _EDDYSTONE_UID_RFU):
        log.debug("Eddystone-UID frame skipped: length %d", len(data))
        return None
    _, power, namespace, instance = _EDDYSTONE_UID.unpack_from(data)
    return EddystoneUID(power, namespace, instance)


def _parse_tlm(data: bytes) -> EddystoneTLM | None:
    if len(data) != _EDDYSTONE_TLM.size:
        log.debug("Eddystone-TLM frame skipped: length %d", len(data))
        return None
    _, version, battery_mv, raw_temp, adv_count, uptime_ds = _EDDYSTONE_TLM.unpack(data)
    if version != _TLM_VERSION_PLAIN:
        log.debug("Eddystone-TLM frame skipped: version %d", version)
        return None
    temperature = None if raw_temp == _TLM_NO_TEMPERATURE else raw_temp / 256.0
    return EddystoneTLM(battery_mv, temperature, adv_count, uptime_ds / 10.0)
