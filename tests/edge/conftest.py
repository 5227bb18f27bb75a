"""Fixtures for the edge tests: configs on real ports and real data directories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import AgentConfig
from tests.edge.helpers import ConfigFactory, unique_id


@pytest.fixture
def make_config(tmp_path: Path) -> Iterator[ConfigFactory]:
    """``make_config(port, desks=2, **overrides)``: a fresh site/agent id per call."""

    def make(port: int, desks: int = 2, **overrides: Any) -> AgentConfig:
        data: dict[str, Any] = {
            "site": unique_id("site"),
            "agent": unique_id("agent"),
            "data_dir": str(tmp_path / "data"),
            "mqtt": {"port": port, "keepalive": 5},
            "hold_seconds": 5,
            "desks": [{"id": f"d{i}", "zone": "z1"} for i in range(1, desks + 1)],
        }
        data.update(overrides)
        return AgentConfig.from_dict(data)

    yield make
