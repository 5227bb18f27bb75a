"""Parsers of untrusted input never raise anything but their own refusal (PRIVACY.md 17).

Each harness feeds a parser both arbitrary input and valid input with one part replaced,
which reaches much deeper than random bytes. Budgets: tests/fuzz/budget.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.ble.parsers import parse_altbeacon, parse_eddystone, parse_ibeacon
from edge.ble.zones import is_beacon
from edge.errors import ProtocolError
from edge.protocol import (
    KINDS,
    CheckinsMessage,
    DeskEvent,
    DesksMessage,
    Health,
    Scan,
    Status,
    ZoneCount,
    ZonesMessage,
    decode,
    encode,
    parse_topic,
    to_dict,
    topic_for,
)
from hub.building.model import validate_building
from hub.checkin import tokens
from hub.db.sqlite.store import SqliteStore
from hub.errors import ConfigError
from tests.fuzz.budget import budget

NOW = 1_700_000_000.0
BIN = 1_699_999_200

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def replace_somewhere(data: Any, path_choice: st.DataObject, value: Any) -> Any:
    """``data`` with one nested value (chosen by ``path_choice``) replaced by ``value``."""
    if isinstance(data, dict) and data:
        key = path_choice.draw(st.sampled_from(sorted(data)))
        if path_choice.draw(st.booleans()):
            return {**data, key: value}
        return {**data, key: replace_somewhere(data[key], path_choice, value)}
    if isinstance(data, list) and data:
        index = path_choice.draw(st.integers(0, len(data) - 1))
        copy = list(data)
        copy[index] = (value if path_choice.draw(st.booleans())
                       else replace_somewhere(data[index], path_choice, value))
        return copy
    return value


# -- MQTT payload decoder -----------------------------------------------------------------------

VALID_MESSAGES = [
    Status(online=True, boot=3),
    DesksMessage(agent="a1", boot=3, seq=7, sent=NOW,
                 events=(DeskEvent("d1", "occupied", NOW - 5), DeskEvent("d2", "vacant", NOW))),
    ZonesMessage(agent="a1", boot=3, seq=8, sent=NOW, counts=(ZoneCount("z1", BIN, 4),)),
    CheckinsMessage(agent="a1", boot=3, seq=9, sent=NOW,
                    scans=(Scan("d1", "dp1.abc.def", "qr", NOW),)),
    Health(agent="a1", boot=3, sent=NOW, uptime=12.5, outbox_depth=0, dropped=1,
           sensor_faults=("d2",)),
]


@budget(short=300, long=20_000)
@given(kind=st.sampled_from(KINDS), payload=st.binary(max_size=400))
def test_the_decoder_refuses_arbitrary_bytes_with_a_protocol_error(
    kind: str, payload: bytes
) -> None:
    try:
        decode(topic_for("s1", "a1", kind), payload, now=NOW)  # type: ignore[arg-type]
    except ProtocolError:
        pass


@budget(short=300, long=20_000)
@given(kind=st.sampled_from(KINDS), body=json_values)
def test_the_decoder_refuses_arbitrary_json_with_a_protocol_error(kind: str, body: Any) -> None:
    try:
        decode(topic_for("s1", "a1", kind), json.dumps(body).encode(), now=NOW)  # type: ignore[arg-type]
    except ProtocolError:
        pass


@budget(short=400, long=30_000)
@given(message=st.sampled_from(VALID_MESSAGES), value=json_values, choice=st.data())
def test_the_decoder_refuses_valid_messages_with_one_part_replaced(
    message: Any, value: Any, choice: st.DataObject
) -> None:
    assert decode(topic_for("s1", "a1", message.KIND), encode(message), now=NOW) == message
    mutated = replace_somewhere(to_dict(message), choice, value)
    try:
        decode(topic_for("s1", "a1", message.KIND), json.dumps(mutated).encode(), now=NOW)
    except ProtocolError:
        pass


@budget(short=200, long=10_000)
@given(topic=st.text(max_size=80) | st.lists(st.text(max_size=12), max_size=7).map("/".join))
def test_topics_are_parsed_or_refused_with_a_protocol_error(topic: str) -> None:
    try:
        parse_topic(topic)
    except ProtocolError:
        pass


# -- BLE advertisements ------------------------------------------------------------------------

IBEACON = bytes.fromhex("0215") + bytes(range(16)) + bytes.fromhex("00010002c5")
ALTBEACON = bytes.fromhex("beac") + bytes(range(20)) + bytes.fromhex("c500")
EDDYSTONE_UID = bytes.fromhex("00e7") + bytes(range(16)) + b"\x00\x00"


def mutated_frames(valid: bytes) -> st.SearchStrategy[bytes]:
    """The frame cut, extended, or with one byte changed: the near misses that matter."""
    return st.one_of(
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.binary(max_size=8).map(lambda extra: valid + extra),
        st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
            lambda c: valid[:c[0]] + bytes([c[1]]) + valid[c[0] + 1:]),
        st.binary(max_size=64),
    )


@budget(short=300, long=20_000)
@given(company=st.integers(-1, 0x1_0000), ibeacon=mutated_frames(IBEACON),
       altbeacon=mutated_frames(ALTBEACON), eddystone=mutated_frames(EDDYSTONE_UID))
def test_ble_parsers_return_a_value_or_none_and_never_raise(
    company: int, ibeacon: bytes, altbeacon: bytes, eddystone: bytes
) -> None:
    parse_ibeacon(company, ibeacon)
    parse_ibeacon(0x004C, ibeacon)
    parse_altbeacon(company, altbeacon)
    parse_eddystone(eddystone)
    parse_eddystone(ibeacon)
    is_beacon({company: ibeacon, 0x004C: altbeacon},
              {"0000feaa-0000-1000-8000-00805f9b34fb": eddystone})


def test_the_ble_seeds_are_valid_frames() -> None:
    """The mutation harness above starts from frames the parsers accept."""
    assert parse_ibeacon(0x004C, IBEACON) is not None
    assert parse_altbeacon(0x0118, ALTBEACON) is not None
    assert parse_eddystone(EDDYSTONE_UID) is not None


# -- QR token verifier ---------------------------------------------------------------------------

KEY = tokens.derive_key("fuzz-secret-0123456789abcdef")
GENUINE = tokens.sign(KEY, "pseudonym-1234", now=NOW, desk="d1", token_id="token-id-1")


@budget(short=300, long=20_000)
@given(token=st.text(max_size=600) | st.from_regex(r"dp1\.[A-Za-z0-9_.=-]{0,200}",
                                                   fullmatch=True),
       desk=st.none() | st.text(max_size=70), now=st.floats(0, 2e10))
def test_the_token_verifier_refuses_arbitrary_text_with_a_token_error(
    token: str, desk: str | None, now: float
) -> None:
    try:
        tokens.verify(KEY, token, now=now, desk=desk)
    except tokens.TokenError:
        pass


@budget(short=300, long=20_000)
@given(index=st.integers(0, len(GENUINE) - 1), char=st.characters(), now=st.floats(NOW - 100,
                                                                                  NOW + 100))
def test_a_token_with_any_character_changed_is_refused(index: int, char: str, now: float) -> None:
    forged = GENUINE[:index] + char + GENUINE[index + 1:]
    try:
        claims = tokens.verify(KEY, forged, now=now, desk="d1")
    except tokens.TokenError:
        return
    # Only a change that leaves the same bytes (or the same base64 value) may pass.
    assert claims == tokens.verify(KEY, GENUINE, now=now, desk="d1")


@budget(short=100, long=5_000)
@given(value=json_values)
def test_a_token_that_is_not_text_is_refused(value: Any) -> None:
    try:
        tokens.verify(KEY, value, now=NOW)
    except tokens.TokenError:
        pass


# -- building JSON import ------------------------------------------------------------------------

BUILDING: dict[str, Any] = {"sites": [
    {"id": "hq", "name": "HQ", "timezone": "Europe/Berlin", "headcount": 40,
     "core_hours": {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"},
     "floors": [{"id": "f1", "name": "One", "level": 1, "zones": [
         {"id": "z1", "name": "North", "desks": [
             {"id": "d1", "name": "Desk 1", "agent": "a1", "x": 0.5, "y": 0.5},
             {"id": "d2", "name": "Desk 2"}]},
         {"id": "z2", "name": "South", "desks": []}]}]},
]}


def import_into_fresh_store(data: Any) -> None:
    """What `deskpulse hub import-building` does: validate, then write in one transaction."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "hub.db")
        try:
            store.import_building(data)
        finally:
            store.close()


@budget(short=150, long=10_000)
@given(data=json_values)
def test_building_validation_refuses_arbitrary_json_with_a_config_error(data: Any) -> None:
    try:
        validate_building(data)
    except ConfigError:
        pass


@budget(short=60, long=3_000)
@given(value=json_values, choice=st.data())
def test_a_building_with_one_part_replaced_is_imported_or_refused_with_a_reason(
    value: Any, choice: st.DataObject
) -> None:
    """If validation accepts it, the database accepts it too (no constraint surprises)."""
    mutated = replace_somewhere(BUILDING, choice, value)
    try:
        validate_building(mutated)
    except ConfigError:
        return
    import_into_fresh_store(mutated)
