"""HubSettings: sources in order, validation messages, the generated secret key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.config import HubSettings
from hub.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DESKPULSE_"):
            monkeypatch.delenv(name)


def test_defaults_then_toml_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "etc" / "hub.toml"
    config.parent.mkdir()
    config.write_text('data_dir = "data"\nbin_seconds = 300\nmqtt_port = 1884\nhttp_port = 9000\n')
    monkeypatch.setenv("DESKPULSE_MQTT_PORT", "1885")
    monkeypatch.setenv("DESKPULSE_HTTP_PORT", "9001")
    settings = HubSettings.from_toml(config, http_port=9002)
    assert settings.data_dir == tmp_path / "etc" / "data"  # relative to the file
    assert settings.database_path == tmp_path / "etc" / "data" / "deskpulse.db"
    assert (settings.bin_seconds, settings.mqtt_port, settings.http_port) == (300, 1885, 9002)
    assert settings.mqtt_host == "127.0.0.1" and settings.ingest_batch_max == 500


def test_a_hub_table_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndata_dir = "{tmp_path}"\ndatabase = "/var/x.db"\n')
    settings = HubSettings.from_toml(config)
    assert settings.database_path == Path("/var/x.db")


@pytest.mark.parametrize(("values", "message"), [
    ({"bin_seconds": 700},
     "bin_seconds must be between 60 and 3600 and divide 3600 (got 700); use e.g. 300, 900 "
     "or 3600"),
    ({"secret_key": "changeme"},
     "secret_key is a placeholder; remove it to have one generated in data_dir/secret.key, or "
     "set a random value of at least 16 characters"),
    ({"secret_key": "short-key"},
     "secret_key is shorter than 16 characters; remove it to have one generated in "
     "data_dir/secret.key"),
    ({"mqtt_port": 0}, "invalid hub settings: mqtt_port: Input should be greater than or equal "
                       "to 1"),
    ({"mqtt_prot": 1}, "invalid hub settings: mqtt_prot: unknown setting"),
])
def test_invalid_settings_are_one_clear_config_error(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        HubSettings.from_toml(None, data_dir=tmp_path, **values)
    assert str(info.value) == message


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("bin_seconds = \n")
    with pytest.raises(ConfigError, match=f"config file {config} is not valid TOML"):
        HubSettings.from_toml(config)
    with pytest.raises(ConfigError, match="cannot read config file"):
        HubSettings.from_toml(tmp_path / "missing.toml")


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path / "data")
    first = settings.ensure_secret_key()
    assert len(first) >= 32
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert HubSettings(data_dir=tmp_path / "data").ensure_secret_key() == first
    configured = HubSettings(data_dir=tmp_path, secret_key="x" * 20)
    assert configured.ensure_secret_key() == "x" * 20
    assert "x" * 20 not in repr(configured)
