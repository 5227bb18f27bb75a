"""Beacon parsers on real captured frames, edge cases, and hypothesis properties."""

from __future__ import annotations

import logging
import struct
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.ble.parsers import (
    APPLE_COMPANY_ID,
    EDDYSTONE_SERVICE_UUID,
    AltBeacon,
    EddystoneTLM,
    EddystoneUID,
    IBeacon,
    parse_altbeacon,
    parse_eddystone,
    parse_ibeacon,
)
from tests.ble import (
    Frame,
    check_eddystone,
    check_manufacturer,
    load_frames,
    split_advertisement,
)

FRAMES = load_frames()
IBEACON = bytes.fromhex("0215426c7565436861726d426561636f6e730efe1355c5")
ALTBEACON = bytes.fromhex("beac2f234454cf6d4a0fadf2f4911ba9ffa600010002c509")
UID = bytes.fromhex("00ee626c7565636861726d310000000000010000")
TLM = bytes.fromhex("20000bf017000008874803fb9354")


def decode_all(frame: Frame) -> dict[str, dict[str, Any]]:
    """Run every parser over every field of the advertisement, as the scanner will."""
    found: dict[str, dict[str, Any]] = {}
    for company_id, payload in frame.manufacturer_data.items():
        if (ib := parse_ibeacon(company_id, payload)) is not None:
            found["ibeacon"] = {"uuid": str(ib.uuid), "major": ib.major, "minor": ib.minor,
                                "power": ib.power}
        if (alt := parse_altbeacon(company_id, payload)) is not None:
            found["altbeacon"] = {
                "company_id": alt.company_id, "beacon_id": alt.beacon_id.hex(),
                "power": alt.power, "reserved": alt.reserved, "id1": str(alt.id1),
                "id2": alt.id2, "id3": alt.id3}
    for service_uuid, data in frame.service_data.items():
        if service_uuid != EDDYSTONE_SERVICE_UUID:
            continue
        ed = parse_eddystone(data)
        if isinstance(ed, EddystoneUID):
            found["eddystone_uid"] = {"power": ed.power, "namespace": ed.namespace.hex(),
                                      "instance": ed.instance.hex()}
        elif isinstance(ed, EddystoneTLM):
            found["eddystone_tlm"] = {"battery_mv": ed.battery_mv,
                                      "temperature_c": ed.temperature_c,
                                      "adv_count": ed.adv_count, "uptime_s": ed.uptime_s}
    return found


def test_every_beacon_kind_has_a_real_fixture() -> None:
    kinds = {kind for frame in FRAMES for kind in frame.expected}
    assert kinds == {"ibeacon", "altbeacon", "eddystone_uid", "eddystone_tlm"}


@pytest.mark.parametrize("frame", FRAMES, ids=[f.name for f in FRAMES])
def test_real_frames_decode_to_the_published_values(frame: Frame) -> None:
    assert decode_all(frame) == frame.expected


def test_split_advertisement_matches_what_bleak_delivers() -> None:
    raw = bytes.fromhex("0201061AFF4C000215426C7565436861726D426561636F6E730EFE1355C5")
    manufacturer, service = split_advertisement(raw)
    assert manufacturer == {APPLE_COMPANY_ID: IBEACON} and service == {}


def test_ibeacon_only_for_apple_and_exact_length() -> None:
    assert parse_ibeacon(0x0118, IBEACON) is None
    assert parse_ibeacon(APPLE_COMPANY_ID, IBEACON[:-1]) is None
    assert parse_ibeacon(APPLE_COMPANY_ID, IBEACON + b"\x00") is None
    assert parse_ibeacon(APPLE_COMPANY_ID, b"") is None
    nearby_info = bytes.fromhex("1005031c2c7a9b")  # another Apple frame type
    assert parse_ibeacon(APPLE_COMPANY_ID, nearby_info) is None
    same_length_other_type = b"\x12\x15" + IBEACON[2:]
    assert parse_ibeacon(APPLE_COMPANY_ID, same_length_other_type) is None


def test_ibeacon_fields_are_big_endian_and_power_is_signed() -> None:
    payload = b"\x02\x15" + bytes(range(16)) + b"\xff\xfe\x00\x01\x80"
    assert parse_ibeacon(APPLE_COMPANY_ID, payload) == IBeacon(
        uuid.UUID(bytes=bytes(range(16))), 0xFFFE, 1, -128)


def test_ibeacon_is_a_frozen_value() -> None:
    beacon = parse_ibeacon(APPLE_COMPANY_ID, IBEACON)
    assert beacon is not None
    with pytest.raises(AttributeError):
        beacon.major = 1  # type: ignore[misc]
    assert hash(beacon) == hash(parse_ibeacon(APPLE_COMPANY_ID, bytes.fromhex(IBEACON.hex())))


def test_altbeacon_needs_the_beacon_code_and_exact_length() -> None:
    assert parse_altbeacon(0x0118, ALTBEACON) == AltBeacon(
        0x0118, ALTBEACON[2:22], -59, 9)
    assert parse_altbeacon(0x0118, b"\xbe\xad" + ALTBEACON[2:]) is None
    assert parse_altbeacon(0x0118, ALTBEACON[:-1]) is None
    assert parse_altbeacon(0x0118, ALTBEACON + b"\x00") is None
    assert parse_altbeacon(-1, ALTBEACON) is None
    assert parse_altbeacon(0x10000, ALTBEACON) is None
    assert parse_altbeacon(APPLE_COMPANY_ID, IBEACON) is None


def test_eddystone_uid_with_and_without_the_reserved_bytes() -> None:
    full = parse_eddystone(UID)
    assert full == EddystoneUID(-18, b"bluecharm1", b"\x00\x00\x00\x00\x00\x01")
    assert parse_eddystone(UID[:18]) == full  # older beacons truncate the RFU bytes
    assert parse_eddystone(UID[:19]) is None
    assert parse_eddystone(UID[:17]) is None
    assert parse_eddystone(UID + b"\x00") is None


def test_eddystone_tlm_edge_values() -> None:
    assert parse_eddystone(TLM) == EddystoneTLM(3056, 23.0, 558920, 6681890.0)
    no_sensor = parse_eddystone(b"\x20\x00\x00\x00\x80\x00" + TLM[6:])
    assert no_sensor is not None and no_sensor == EddystoneTLM(0, None, 558920, 6681890.0)
    freezing = parse_eddystone(b"\x20\x00\x0b\xb8\xff\x80" + TLM[6:])
    assert isinstance(freezing, EddystoneTLM) and freezing.temperature_c == -0.5
    top = parse_eddystone(b"\x20\x00" + b"\xff" * 2 + b"\x7f\xff" + b"\xff" * 8)
    assert top == EddystoneTLM(65535, 127 + 255 / 256, 2**32 - 1, (2**32 - 1) / 10)
    assert parse_eddystone(TLM[:-1]) is None
    assert parse_eddystone(TLM + b"\x00") is None
    assert parse_eddystone(b"\x20\x01" + TLM[2:]) is None  # unknown version
    encrypted = b"\x20\x01" + bytes(16)  # eTLM: 12 bytes ciphertext, salt, MIC
    assert parse_eddystone(encrypted) is None


def test_eddystone_other_frames_and_empty_input() -> None:
    assert parse_eddystone(b"") is None
    assert parse_eddystone(b"\x10\xee\x01bluecharmbeacons\x00") is None  # URL
    assert parse_eddystone(b"\x30\xee" + bytes(8)) is None  # EID
    assert parse_eddystone(b"\x40" + bytes(17)) is None


def test_malformed_frames_are_logged_at_debug_without_their_bytes(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edge.ble.parsers")
    truncated = IBEACON[:-3]
    assert parse_ibeacon(APPLE_COMPANY_ID, truncated) is None
    assert parse_eddystone(TLM[:-2]) is None
    assert parse_altbeacon(0x0118, ALTBEACON[:-1]) is None
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * 3
    text = caplog.text.lower()
    assert truncated.hex() not in text and "426c7565" not in text and "2f234454" not in text


ints16 = st.integers(0, 0xFFFF)
int8 = st.integers(-128, 127)


@given(st.binary(min_size=16, max_size=16), ints16, ints16, int8)
def test_ibeacon_round_trip(raw_uuid: bytes, major: int, minor: int, power: int) -> None:
    payload = b"\x02\x15" + raw_uuid + struct.pack(">HHb", major, minor, power)
    assert parse_ibeacon(APPLE_COMPANY_ID, payload) == IBeacon(
        uuid.UUID(bytes=raw_uuid), major, minor, power)


@given(ints16, st.binary(min_size=20, max_size=20), int8, st.integers(0, 255))
def test_altbeacon_round_trip(company: int, beacon_id: bytes, power: int, reserved: int) -> None:
    payload = b"\xbe\xac" + beacon_id + struct.pack(">bB", power, reserved)
    assert parse_altbeacon(company, payload) == AltBeacon(company, beacon_id, power, reserved)


@given(int8, st.binary(min_size=10, max_size=10), st.binary(min_size=6, max_size=6))
def test_eddystone_uid_round_trip(power: int, namespace: bytes, instance: bytes) -> None:
    data = struct.pack(">Bb", 0, power) + namespace + instance + b"\x00\x00"
    assert parse_eddystone(data) == EddystoneUID(power, namespace, instance)


@given(ints16, st.integers(-0x7FFF, 0x7FFF), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1))
def test_eddystone_tlm_round_trip(mv: int, temp: int, adv: int, ds: int) -> None:
    data = struct.pack(">BBHhII", 0x20, 0, mv, temp, adv, ds)
    assert parse_eddystone(data) == EddystoneTLM(mv, temp / 256, adv, ds / 10)


@given(st.integers(-(2**70), 2**70), st.binary(max_size=64))
def test_manufacturer_parsers_never_raise(company_id: int, payload: bytes) -> None:
    check_manufacturer(company_id, payload)


@given(st.binary(max_size=64))
def test_eddystone_never_raises(data: bytes) -> None:
    check_eddystone(data)


@given(st.sampled_from([IBEACON, ALTBEACON, UID, TLM]), st.integers(0, 26),
       st.binary(max_size=4), st.sampled_from([APPLE_COMPANY_ID, 0x0118]))
def test_truncated_or_padded_frames_never_raise(
        frame: bytes, cut: int, tail: bytes, company_id: int) -> None:
    mutated = frame[:cut] + tail
    check_manufacturer(company_id, mutated)
    check_eddystone(mutated)
