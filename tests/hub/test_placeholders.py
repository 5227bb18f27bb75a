"""One placeholder list (edge/placeholders.py): every example value the agent refuses as
its MQTT password the hub refuses as its secret key and MQTT password, and the reverse."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import AgentConfig
from edge.errors import ConfigError as EdgeConfigError
from edge.placeholders import PLACEHOLDER_SECRETS
from hub.config import HubSettings
from hub.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DESKPULSE_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("word", sorted(PLACEHOLDER_SECRETS - {""}))
def test_both_machines_refuse_the_same_placeholders(tmp_path: Path, word: str) -> None:
    value = f" {word.upper()} "  # trimmed and case-folded on both sides
    with pytest.raises(ConfigError, match="mqtt_password is a placeholder"):
        HubSettings.from_toml(None, data_dir=tmp_path, mqtt_password=value)
    with pytest.raises(ConfigError, match="secret_key is a placeholder"):
        HubSettings.from_toml(None, data_dir=tmp_path, secret_key=value)
    agent = {"site": "s", "agent": "a", "data_dir": str(tmp_path),
             "desks": [{"id": "d1", "zone": "z", "sensor": "file:x"}],
             "mqtt": {"username": "a1", "password": value}}
    with pytest.raises(EdgeConfigError, match="mqtt.password is a placeholder"):
        AgentConfig.from_dict(agent, source="edge.toml")


def test_a_real_password_passes_both(tmp_path: Path) -> None:
    value = "k3-random-enough-value"
    assert HubSettings.from_toml(None, data_dir=tmp_path, mqtt_password=value).mqtt_password
    agent = {"site": "s", "agent": "a", "data_dir": str(tmp_path),
             "desks": [{"id": "d1", "zone": "z", "sensor": "file:x"}],
             "mqtt": {"username": "a1", "password": value}}
    assert AgentConfig.from_dict(agent, source="edge.toml").mqtt.password == value
