"""Helpers for the BLE tests: named frame fixtures, delivered the way bleak delivers them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.ble.parsers import (
    APPLE_COMPANY_ID,
    EddystoneTLM,
    EddystoneUID,
    parse_altbeacon,
    parse_eddystone,
    parse_ibeacon,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "ble"
_BASE_UUID = "0000{:04x}-0000-1000-8000-00805f9b34fb"
_AD_SERVICE_DATA_16 = 0x16
_AD_MANUFACTURER = 0xFF


@dataclass(frozen=True)
class Frame:
    """One fixture: bleak's ``manufacturer_data`` and ``service_data`` plus what to expect."""

    name: str
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    expected: dict[str, dict[str, Any]]


def split_advertisement(raw: bytes) -> tuple[dict[int, bytes], dict[str, bytes]]:
    """Walk the AD structures of a raw advertisement as BlueZ does for bleak.

    Manufacturer data is keyed by the little-endian company id and keeps the bytes after
    it; 16-bit service data is keyed by the full 128-bit UUID string. A zero length ends
    the data (the padding in captured frames).
    """
    manufacturer: dict[int, bytes] = {}
    service: dict[str, bytes] = {}
    at = 0
    while at < len(raw) and raw[at]:
        length = raw[at]
        kind, body = raw[at + 1], raw[at + 2 : at + 1 + length]
        if kind == _AD_MANUFACTURER:
            manufacturer[int.from_bytes(body[:2], "little")] = body[2:]
        elif kind == _AD_SERVICE_DATA_16:
            service[_BASE_UUID.format(int.from_bytes(body[:2], "little"))] = body[2:]
        at += 1 + length
    return manufacturer, service


def load_frames() -> list[Frame]:
    """Every fixture in tests/data/ble, sorted by name."""
    frames = []
    for path in sorted(DATA.glob("*.json")):
        doc = json.loads(path.read_text())
        if "advertisement_hex" in doc:
            manufacturer, service = split_advertisement(bytes.fromhex(doc["advertisement_hex"]))
        else:
            manufacturer = {int(k): bytes.fromhex(v)
                            for k, v in doc["bleak"]["manufacturer_data"].items()}
            service = {k: bytes.fromhex(v) for k, v in doc["bleak"]["service_data"].items()}
        frames.append(Frame(doc["name"], manufacturer, service, doc["expected"]))
    return frames


def check_manufacturer(company_id: int, payload: bytes) -> bool:
    """Parse untrusted manufacturer data and assert the parsers accepted exactly the frames
    the specs define, each decoded back to its own bytes; True if one was accepted."""
    ib = parse_ibeacon(company_id, payload)
    is_ibeacon = (company_id == APPLE_COMPANY_ID and len(payload) == 23
                  and payload[:2] == b"\x02\x15")
    assert (ib is not None) == is_ibeacon, (company_id, payload.hex())
    if ib is not None:
        rebuilt = (b"\x02\x15" + ib.uuid.bytes + ib.major.to_bytes(2, "big")
                   + ib.minor.to_bytes(2, "big") + ib.power.to_bytes(1, "big", signed=True))
        assert rebuilt == payload
    alt = parse_altbeacon(company_id, payload)
    is_alt = 0 <= company_id <= 0xFFFF and len(payload) == 24 and payload[:2] == b"\xbe\xac"
    assert (alt is not None) == is_alt, (company_id, payload.hex())
    if alt is not None:
        rebuilt = (b"\xbe\xac" + alt.beacon_id + alt.power.to_bytes(1, "big", signed=True)
                   + bytes([alt.reserved]))
        assert rebuilt == payload and alt.company_id == company_id
    return is_ibeacon or is_alt


def check_eddystone(data: bytes) -> bool:
    """Parse untrusted 0xFEAA service data; assert only well-formed UID/TLM frames pass."""
    result = parse_eddystone(data)
    is_uid = len(data) in (18, 20) and data[0] == 0x00
    is_tlm = len(data) == 14 and data[:2] == b"\x20\x00"
    assert isinstance(result, EddystoneUID) == is_uid, data.hex()
    assert isinstance(result, EddystoneTLM) == is_tlm, data.hex()
    assert result is None or is_uid or is_tlm
    if isinstance(result, EddystoneUID):
        assert data[2:18] == result.namespace + result.instance
        assert result.power == int.from_bytes(data[1:2], "big", signed=True)
    return result is not None
