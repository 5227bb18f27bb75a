"""The example configuration files an installer copies must load as they are."""

from __future__ import annotations

from pathlib import Path

from edge.config import AgentConfig
from hub.config import HubSettings

EXAMPLES = Path(__file__).resolve().parents[1] / "deploy" / "examples"


def test_example_edge_toml_loads_with_mixed_sensor_types() -> None:
    config = AgentConfig.from_toml(EXAMPLES / "edge.toml")
    types = {s.type for desk in config.desks for s in desk.sensors}
    assert types == {"pir", "pressure", "thermopile"}
    assert config.mqtt.password is None


def test_example_hub_toml_loads() -> None:
    settings = HubSettings.from_toml(EXAMPLES / "hub.toml")
    assert settings.bin_seconds == 900
    assert settings.http_host == "127.0.0.1"
