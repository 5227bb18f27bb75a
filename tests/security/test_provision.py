"""`deskpulse hub agents add|revoke|hub-account`: credentials shown once, hashed at rest,
a ready edge.toml, and the broker's ACL and the hub's record kept in step."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from edge.config import AgentConfig
from hub.admin import provision
from hub.cli import main
from hub.db.sqlite.store import SqliteStore

BUILDING = {"sites": [{"id": "hq", "name": "HQ", "timezone": "Europe/Berlin",
                       "floors": [{"id": "hq-f1", "name": "F1", "zones": [
                           {"id": "hq-z1", "name": "North", "desks": [
                               {"id": "hq-d1", "name": "D1", "agent": "pi-1"},
                               {"id": "hq-d2", "name": "D2", "agent": "pi-1"},
                               {"id": "hq-d3", "name": "D3", "agent": "pi-2"}]}]}]}]}


@pytest.fixture
def hub_dir(tmp_path: Path) -> Path:
    (tmp_path / "hub.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n')
    store = SqliteStore(tmp_path / "data" / "deskpulse.db")
    store.import_building(BUILDING)
    store.close()
    return tmp_path


def agents(hub_dir: Path, *argv: str) -> int:
    return main(["hub", "agents", *argv, "--config", str(hub_dir / "hub.toml"),
                 "--passwd-file", str(hub_dir / "passwd"), "--acl-file", str(hub_dir / "acl")])


def provisioned(hub_dir: Path) -> dict[str, tuple[str, float | None]]:
    store = SqliteStore(hub_dir / "data" / "deskpulse.db")
    rows = store.db.execute("SELECT name, site, revoked FROM provisioned_agents").fetchall()
    store.close()
    return {name: (site, revoked) for name, site, revoked in rows}


def test_add_shows_the_password_once_and_writes_a_loadable_edge_toml(
    hub_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = hub_dir / "edge.toml"
    assert agents(hub_dir, "add", "pi-1", "--site", "hq", "--out", str(out),
                  "--broker-host", "broker.office.lan", "--ca-file", "ca.crt") == 0
    printed = capsys.readouterr().out
    config = AgentConfig.from_toml(out)
    password = config.mqtt.password
    assert password is not None and len(password) >= 32
    assert printed.count(password) == 1  # shown once, on the terminal
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert (config.site, config.agent, config.mqtt.username) == ("hq", "pi-1", "pi-1")
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("broker.office.lan",
                                                                     8883, True)
    assert config.mqtt.ca_file == hub_dir / "ca.crt"
    assert [(d.id, d.zone) for d in config.desks] == [("hq-d1", "hq-z1"), ("hq-d2", "hq-z1")]
    assert tomllib.loads(out.read_text())["outbox"]["max_messages"] == config.outbox.max_messages

    stored = (hub_dir / "passwd").read_text()
    assert stored.startswith("pi-1:$7$")  # mosquitto's salted PBKDF2-SHA512 hash
    assert password not in stored
    for path in (hub_dir / "acl", hub_dir / "data" / "deskpulse.db"):
        assert password.encode() not in path.read_bytes()
    assert "topic write deskpulse/v1/hq/pi-1/desks" in (hub_dir / "acl").read_text()
    assert provisioned(hub_dir) == {"pi-1": ("hq", None)}


def test_two_agents_get_different_passwords_and_a_taken_name_is_refused(
    hub_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passwords = []
    for name in ("pi-1", "pi-2"):  # without --out: edge.toml on stdout, password once in it
        assert agents(hub_dir, "add", name, "--site", "hq") == 0
        printed = capsys.readouterr().out
        password = tomllib.loads(printed)["mqtt"]["password"]
        assert printed.count(password) == 1
        passwords.append(password)
    assert passwords[0] != passwords[1]
    assert agents(hub_dir, "add", "pi-1", "--site", "hq") == 2  # taken, whatever the site
    assert "already has broker credentials" in capsys.readouterr().err
    assert agents(hub_dir, "add", provision.HUB_ACCOUNT, "--site", "hq") == 2
    assert agents(hub_dir, "add", "Bad_Name", "--site", "hq") == 2


def test_revoke_removes_the_hash_and_the_acl_block_and_records_it(
    hub_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert agents(hub_dir, "add", "pi-1", "--site", "hq") == 0
    assert agents(hub_dir, "add", "pi-2", "--site", "hq") == 0
    assert agents(hub_dir, "revoke", "pi-1") == 0
    assert "Revoked pi-1" in capsys.readouterr().out
    assert provision.passwd_users(hub_dir / "passwd") == {"pi-2"}
    _, blocks = provision.split_acl((hub_dir / "acl").read_text())
    assert set(blocks) == {provision.HUB_ACCOUNT, "pi-2"}
    site, revoked = provisioned(hub_dir)["pi-1"]
    assert site == "hq" and revoked is not None
    assert provisioned(hub_dir)["pi-2"] == ("hq", None)
    assert agents(hub_dir, "revoke", "pi-1") == 0
    assert "nothing to revoke" in capsys.readouterr().out
    assert agents(hub_dir, "add", "pi-1", "--site", "hq") == 0  # re-issued after a revoke
    assert provisioned(hub_dir)["pi-1"] == ("hq", None)


def test_hub_account_is_created_once(hub_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert agents(hub_dir, "hub-account") == 0
    password = capsys.readouterr().out.split("password: ")[1].split()[0]
    assert password not in (hub_dir / "passwd").read_text()
    assert agents(hub_dir, "hub-account") == 0
    assert "already exists" in capsys.readouterr().out
    acl = (hub_dir / "acl").read_text()
    assert "topic read deskpulse/v1/+/+/desks" in acl
    assert "topic write deskpulse/v1/+/+/config" in acl


def test_an_existing_out_file_becomes_owner_only(hub_dir: Path) -> None:
    out = hub_dir / "edge.toml"
    out.write_text("old")
    out.chmod(0o644)
    assert agents(hub_dir, "add", "pi-1", "--site", "hq", "--out", str(out)) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_failed_acl_write_leaves_no_password_behind(tmp_path: Path) -> None:
    (tmp_path / "acl").mkdir()  # cannot be read or replaced as a file
    with pytest.raises(OSError):
        provision.add_agent("pi-1", "hq", passwd_file=tmp_path / "passwd",
                            acl_file=tmp_path / "acl", broker_host="h")
    assert provision.passwd_users(tmp_path / "passwd") == set()


def test_edit_acl_keeps_other_users_and_the_header() -> None:
    text = "# header\n\nuser monitor\ntopic read $SYS/#\n\nuser old\ntopic read x\n"
    edited = provision.edit_acl(text, add=("pi-9", "hq"), remove="old")
    preamble, blocks = provision.split_acl(edited)
    assert preamble.startswith("# header")
    assert list(blocks) == ["monitor", provision.HUB_ACCOUNT, "pi-9"]
    assert blocks["monitor"].strip() == "user monitor\ntopic read $SYS/#"
    assert provision.edit_acl(edited) == edited  # idempotent


def test_a_placeholder_edge_toml_loads_when_no_desk_is_assigned() -> None:
    text = provision.edge_toml("pi-7", "hq", "p" * 32 + '"\\', broker_host="h", broker_port=1,
                               tls=False, ca_file=None)
    config = AgentConfig.from_dict(tomllib.loads(text))
    assert config.mqtt.password == "p" * 32 + '"\\'  # quoting survives any character
    assert [d.id for d in config.desks] == ["desk-1"]
    assert config.mqtt.tls is False and config.mqtt.ca_file is None


def test_an_unknown_site_is_refused_with_the_known_ones(
    hub_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert agents(hub_dir, "add", "pi-bad", "--site", "nosuchsite") == 2
    err = capsys.readouterr().err
    assert err == ("error: unknown site 'nosuchsite' (known sites: hq): import the building "
                   "first (`deskpulse hub import-building`) or pick a known site\n")
    assert provisioned(hub_dir) == {}
    assert not (hub_dir / "passwd").exists()  # nothing written for it


def test_without_a_config_the_command_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run as the README once showed, without --config: no silent new per-user database."""
    from hub import config_discovery

    for name in (config_discovery.ENV_VAR, *config_discovery.STORE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    missing = tmp_path / "etc" / "hub.toml"
    monkeypatch.setattr(config_discovery, "DEFAULT_CONFIG", missing)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    assert main(["hub", "agents", "add", "pi-1", "--site", "hq",
                 "--passwd-file", str(tmp_path / "passwd"),
                 "--acl-file", str(tmp_path / "acl")]) == 2
    assert capsys.readouterr().err == (
        "error: no hub configuration found: pass --config FILE, set DESKPULSE_CONFIG=FILE, "
        f"or install one at {missing} (example: deploy/examples/hub.toml)\n")
    assert not (tmp_path / "home").exists() and not (tmp_path / "passwd").exists()

    assert main(["hub", "create-token", "x", "--config", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err == (
        f"error: config file {tmp_path / 'nope.toml'} (from --config) does not exist: check "
        "the path, or copy deploy/examples/hub.toml there\n")


def test_the_environment_variable_and_the_default_location_are_said(
    hub_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub import config_discovery

    monkeypatch.setenv(config_discovery.ENV_VAR, str(hub_dir / "hub.toml"))
    assert main(["hub", "create-token", "ci"]) == 0
    err = capsys.readouterr().err
    assert f"deskpulse: using {hub_dir / 'hub.toml'} (from DESKPULSE_CONFIG)" in err
    monkeypatch.delenv(config_discovery.ENV_VAR)
    monkeypatch.setattr(config_discovery, "DEFAULT_CONFIG", hub_dir / "hub.toml")
    assert main(["hub", "create-token", "ci2"]) == 0
    assert f"using {hub_dir / 'hub.toml'} (from the default location)" in capsys.readouterr().err


def test_every_generated_edge_toml_has_the_same_placeholder_host_and_comment(
    hub_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.admin.edge_config import PLACEHOLDER_COMMENT, PLACEHOLDER_HOST

    added = hub_dir / "added.toml"
    assert agents(hub_dir, "add", "pi-1", "--site", "hq", "--out", str(added)) == 0
    assert main(["hub", "agents", "edge-config", "pi-1", "--config",
                 str(hub_dir / "hub.toml")]) == 0
    printed = capsys.readouterr().out
    wanted = f'{PLACEHOLDER_COMMENT}\nhost = "{PLACEHOLDER_HOST}"\n'
    assert wanted in added.read_text() and wanted in printed
