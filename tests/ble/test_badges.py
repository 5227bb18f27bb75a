"""Badge matching on the edge: only enrolled badges that dwell close to the desk check in."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge.agent import Agent
from edge.ble.badges import BadgeWatcher, badge_hash
from edge.ble.parsers import APPLE_COMPANY_ID
from edge.config import AgentConfig
from edge.errors import ConfigError
from edge.protocol import Scan
from tests.edge.helpers import ScriptedSensor

KEY = bytes(range(32))
BADGE = uuid.UUID("d3b5f1a0-c6e2-4a5e-9f0b-7c1e2d3a4b5c")
ENROLLED = frozenset({badge_hash(KEY, BADGE, 7, 1)})
PHONE = {0x004C: bytes.fromhex("1005031c1a2b3c")}


def frame(minor: int, major: int = 7) -> dict[int, bytes]:
    return {APPLE_COMPANY_ID: b"\x02\x15" + BADGE.bytes + struct.pack(">HHb", major, minor, -59)}


def run(watcher: BadgeWatcher, adverts: dict[int, bytes], rssi: float, start: float,
        seconds: int, enrolled: frozenset[str] = ENROLLED) -> list[Scan]:
    scans: list[Scan] = []
    for t in range(seconds):
        scans += watcher.observe(rssi, adverts, enrolled, start + t)
    return scans


def test_an_enrolled_badge_close_for_the_dwell_checks_in_once() -> None:
    watcher = BadgeWatcher("d1", KEY)
    scans = run(watcher, frame(1), -55, 1000.0, 300)
    assert len(scans) == 1
    (scan,) = scans
    assert (scan.desk, scan.via, scan.token) == ("d1", "beacon", "bcn1." + next(iter(ENROLLED)))
    assert 1060.0 <= scan.at <= 1063.0  # default dwell: 60 s


def test_everything_else_is_ignored() -> None:
    watcher = BadgeWatcher("d1", KEY)
    assert run(watcher, frame(2), -50, 0.0, 200) == []  # not enrolled
    assert run(watcher, PHONE, -40, 200.0, 200) == []  # a phone
    assert run(watcher, frame(1), -85, 400.0, 200) == []  # enrolled, but across the room
    assert run(watcher, frame(1), -55, 600.0, 45) == []  # enrolled, but passing by
    assert run(watcher, frame(1), -55, 700.0, 200, frozenset()) == []  # nothing enrolled
    for broken in (b"\x02\x15", b"\x02\x15" + b"\x00" * 30, b""):  # never raises
        assert watcher.observe(-50, {APPLE_COMPANY_ID: broken}, ENROLLED, 900.0) == []


def test_a_new_presence_after_leaving_checks_in_again() -> None:
    watcher = BadgeWatcher("d1", KEY)
    assert len(run(watcher, frame(1), -55, 0.0, 100)) == 1
    assert run(watcher, PHONE, -55, 100.0, 60) == []  # the badge is silent: it left
    assert len(run(watcher, frame(1), -55, 160.0, 100)) == 1
    assert len(run(watcher, frame(1), -90, 260.0, 30)) == 0  # walks away (hysteresis) ...
    assert len(run(watcher, frame(1), -55, 290.0, 100)) == 1  # ... and sits down again


def badge_config(tmp_path: Path, ble: dict[str, Any]) -> AgentConfig:
    return AgentConfig.from_dict({
        "site": "s1", "agent": "a1", "data_dir": str(tmp_path),
        "desks": [{"id": "d1", "zone": "z1"}], "ble": ble}, source="agent.toml")


def test_the_ble_table_names_the_badge_desk_and_key(tmp_path: Path) -> None:
    ble = badge_config(tmp_path, {"desk": "d1", "badge_key": KEY.hex(),
                                  "badge_dwell_seconds": 30, "badge_enter_dbm": -60}).ble
    assert ble is not None and (ble.desk, ble.badge_key) == ("d1", KEY)
    assert (ble.badge_policy.enter_dwell_s, ble.badge_policy.enter_dbm,
            ble.badge_policy.exit_dbm) == (30.0, -60.0, -75.0)
    assert KEY.hex() not in repr(ble) and str(KEY) not in repr(ble)
    plain = badge_config(tmp_path, {}).ble
    assert plain is not None and plain.desk is None and plain.badge_key is None


@pytest.mark.parametrize(("ble", "message"), [
    ({"desk": "d1"}, "ble.desk and ble.badge_key go together: set both for badge check-in"),
    ({"desk": "d1", "badge_key": "abc"},
     "ble.badge_key must be 64 hex characters (from `deskpulse hub badge-key`)"),
    ({"desk": "D 1", "badge_key": KEY.hex()}, "ble.desk 'D 1' is not a valid desk id"),
    ({"desk": "d1", "badge_key": KEY.hex(), "badge_exit_dbm": -50},
     "ble.badge_exit_dbm must be weaker than ble.badge_enter_dbm"),
])
def test_bad_badge_settings_are_refused_with_one_clear_line(
    tmp_path: Path, ble: dict[str, Any], message: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        badge_config(tmp_path, ble)
    assert str(caught.value) == f"agent.toml: {message}"


def test_the_badge_desk_must_be_one_of_the_agents_desks(tmp_path: Path) -> None:
    config = badge_config(tmp_path, {"desk": "d9", "badge_key": KEY.hex()})
    with pytest.raises(ConfigError, match="ble.desk 'd9' is not one of this agent's desks"):
        Agent(config, {"d1": ScriptedSensor()}, radio=False)
