"""The agent's optional ``[ble]`` table: defaults, calibration, and one clear error each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.ble.rssi import distance_m
from edge.config import AgentConfig
from edge.errors import ConfigError


def agent(tmp_path: Path, ble: Any = None, zones: tuple[str, ...] = ("z1", "z1")) -> AgentConfig:
    data: dict[str, Any] = {
        "site": "s1", "agent": "a1", "data_dir": str(tmp_path),
        "desks": [{"id": f"d{i}", "zone": z} for i, z in enumerate(zones)],
    }
    if ble is not None:
        data["ble"] = ble
    return AgentConfig.from_dict(data, source="agent.toml")


def test_no_ble_table_means_no_counting(tmp_path: Path) -> None:
    assert agent(tmp_path).ble is None


def test_an_empty_table_counts_the_desks_zone_with_defaults(tmp_path: Path) -> None:
    ble = agent(tmp_path, {}).ble
    assert ble is not None
    assert (ble.zone, ble.enabled, ble.bin_seconds, ble.adapter) == ("z1", True, 900, None)
    assert (ble.policy.enter_dbm, ble.policy.exit_dbm) == (-75.0, -85.0)


def test_thresholds_in_metres_use_the_calibration(tmp_path: Path) -> None:
    ble = agent(tmp_path, {"zone": "z9", "enter_metres": 5, "exit_metres": 8,
                           "path_loss_exponent": 2.5, "rssi_at_1m": -62, "adapter": "hci1",
                           "enter_dwell_seconds": 1, "bin_seconds": 1800}).ble
    assert ble is not None and ble.zone == "z9" and ble.adapter == "hci1"
    assert distance_m(ble.policy.enter_dbm, 0, ble.calibration) == pytest.approx(5)
    assert distance_m(ble.policy.exit_dbm, 0, ble.calibration) == pytest.approx(8)
    assert ble.policy.enter_dwell_s == 1 and ble.bin_seconds == 1800


@pytest.mark.parametrize(("ble", "message"), [
    ("yes", "agent.toml: ble must be a table"),
    ({"zones": "z1"}, "agent.toml: unknown key 'ble.zones'"),
    ({"zone": "Zone 1"}, "ble.zone 'Zone 1' is not a valid id"),
    ({"bin_seconds": 700}, "ble.bin_seconds must be a whole number of seconds that divides"),
    ({"enter_dbm": -90, "exit_dbm": -80}, "exit threshold must be weaker"),
    ({"enter_metres": 5}, "ble.enter_metres and ble.exit_metres go together"),
    ({"enter_metres": 5, "exit_metres": 8, "enter_dbm": -70}, "either in metres or in dBm"),
    ({"path_loss_exponent": 20}, "ble.path_loss_exponent must be between 0.5 and 10"),
    ({"enabled": "no"}, "ble.enabled must be true or false"),
    ({"adapter": "../hci0"}, "ble.adapter must be an adapter name"),
])
def test_mistakes_are_one_readable_line(tmp_path: Path, ble: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        agent(tmp_path, ble)


def test_desks_in_two_zones_need_an_explicit_zone(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"desks are in 2 zones \(z1, z2\): set ble\.zone"):
        agent(tmp_path, {}, zones=("z1", "z2"))
    ble = agent(tmp_path, {"zone": "z2"}, zones=("z1", "z2")).ble
    assert ble is not None and ble.zone == "z2"
