"""Everything Deskpulse creates on disk is owner-only (issue 24, item 8).

``deskpulse hub import-building`` on a fresh data_dir created the directory 0755 and the
database 0644 (``hub serve`` made 0700). The commands run here with a permissive umask,
so only the code's own modes can keep others out.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.outbox import Outbox
from hub.cli import main
from tests.support.building import BUILDING


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def hub_toml(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "fresh" / "hub-data"
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{data_dir}"\nsecret_key = "{"k" * 40}"\n')
    return config, data_dir


def test_import_building_on_a_fresh_data_dir_is_owner_only(tmp_path: Path) -> None:
    config, data_dir = hub_toml(tmp_path)
    building = tmp_path / "building.json"
    building.write_text(json.dumps(BUILDING))
    assert main(["hub", "import-building", str(building), "--config", str(config)]) == 0
    assert mode(data_dir) == 0o700
    assert mode(data_dir.parent) == 0o700  # a parent it had to create, too
    databases = sorted(data_dir.glob("*.db*"))
    assert databases, "no database was created"
    for path in databases:
        assert mode(path) == 0o600, path


def test_an_agents_edge_config_written_to_a_file_is_owner_only(tmp_path: Path) -> None:
    config, data_dir = hub_toml(tmp_path)
    building = tmp_path / "building.json"
    building.write_text(json.dumps(BUILDING))
    assert main(["hub", "import-building", str(building), "--config", str(config)]) == 0
    out = tmp_path / "edge.toml"
    assert main(["hub", "agents", "edge-config", "hq-agent-1", "--config", str(config),
                 "--out", str(out)]) == 0
    assert mode(out) == 0o600  # the MQTT password goes in next


def test_a_new_outbox_and_its_directory_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "edge-data" / "state" / "outbox.db"
    outbox = Outbox(path)
    try:
        outbox.enqueue("deskpulse/v1/s/a/desks", b"{}", 1)
    finally:
        outbox.close()
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    for file in sorted(path.parent.glob("outbox.db*")):
        assert mode(file) == 0o600, file
