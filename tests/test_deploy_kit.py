"""The deploy kit (deploy/) is what installers copy: its units, compose file and commands
must work as written, not only read well."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import _parser as edge_parser
from edge.config import AgentConfig
from hub.cli import build_parser
from hub.config import HubSettings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted(
    (DEPLOY / "systemd").glob("*.target"))
INSTALLED = "/opt/deskpulse/bin/deskpulse"
HARDENING = {"NoNewPrivileges": "true", "ProtectSystem": "strict", "PrivateTmp": "true",
             "ProtectHome": "true", "CapabilityBoundingSet": ""}


def deskpulse_binary() -> str:
    script = Path(sys.executable).parent / "deskpulse"
    found = str(script) if script.exists() else shutil.which("deskpulse")
    assert found, "the deskpulse console script is not installed (pip install -e .)"
    return found


def parse_command(argv: list[str]) -> None:
    """Parse ``deskpulse ARGV`` with the real parsers; a wrong command fails the test."""
    try:
        if argv and argv[0] == "edge":
            edge_parser().parse_args(argv[1:])
        else:
            build_parser().parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, f"`deskpulse {shlex.join(argv)}` is not a valid command"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are CamelCase
    parser.read(path)
    return parser


def exec_args(path: Path, instance: str = "1") -> list[str]:
    words = shlex.split(unit(path)["Service"]["ExecStart"].replace("%i", instance))
    assert words[0] == INSTALLED, f"{path.name} does not start {INSTALLED}"
    return words[1:]


# -- systemd units -----------------------------------------------------------------------------

def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed; the parser checks below still run")
    copies = []
    for path in UNITS:  # the installed path does not exist here: point at this checkout's
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace(INSTALLED, deskpulse_binary()))
        copies.append(str(copy))
    result = subprocess.run([tool, "verify", "--man=no", *copies], capture_output=True,
                            text=True, timeout=60)
    problems = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not problems, problems


@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".service"],
                         ids=lambda p: p.name)
def test_unit_starts_a_real_deskpulse_command_and_is_hardened(path: Path) -> None:
    args = exec_args(path, "8000" if "api@" in path.name else "1")
    parse_command(args)
    service = unit(path)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{path.name}: {key}={value} missing"
    assert service.get("User") == "deskpulse"


def test_role_units_run_the_role_their_name_says() -> None:
    systemd = DEPLOY / "systemd"
    roles = {"deskpulse-hub.service": ["--role", "all"],
             "deskpulse-hub-ingest@.service": ["--role", "ingest", "--worker", "w7"],
             "deskpulse-hub-aggregate.service": ["--role", "aggregate"],
             "deskpulse-hub-api@.service": ["--role", "api"]}
    for name, expected in roles.items():
        args = exec_args(systemd / name, "w7")
        assert args[:2] == ["hub", "serve"], name
        assert all(word in args for word in expected), (name, args)
    ingest = unit(systemd / "deskpulse-hub-ingest@.service")["Service"]
    assert ingest["Restart"] == "always", "a dead worker's share waits in its broker session"
    api = unit(systemd / "deskpulse-hub-api@.service")["Service"]
    assert "DESKPULSE_HTTP_PORT=%i" in api["Environment"]


def test_edge_unit_has_watchdog_restart_and_a_writable_outbox() -> None:
    service = unit(DEPLOY / "systemd" / "deskpulse-edge.service")["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert set(service["SupplementaryGroups"].split()) == {"gpio", "i2c", "video", "bluetooth"}
    assert "PrivateDevices" not in service, "it would hide /dev/gpiochip*, /dev/i2c-*, /dev/video*"
    example = AgentConfig.from_toml(DEPLOY / "examples" / "edge.toml")
    writable = [Path(p) for p in service["ReadWritePaths"].split()]
    writable.append(Path("/var/lib") / service["StateDirectory"])
    assert any(example.data_dir == p or p in example.data_dir.parents for p in writable), (
        f"the outbox in {example.data_dir} would be read-only under ProtectSystem=strict")
    assert 2 * example.poll_seconds < int(service["WatchdogSec"]) / 2


def test_units_help_runs_for_real() -> None:
    """The installed command itself answers for the subcommands the units start."""
    for words in (["hub", "serve"], ["edge", "run"]):
        result = subprocess.run([deskpulse_binary(), *words, "--help"], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "--config" in result.stdout
    result = subprocess.run([deskpulse_binary(), "hub", "serve", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert "{all,ingest,aggregate,api}" in result.stdout


# -- compose -------------------------------------------------------------------------------------

def compose() -> dict[str, object]:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads compose.yaml")
    data: dict[str, object] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def hub_services(data: dict[str, object]) -> dict[str, dict[str, object]]:
    services = data["services"]
    assert isinstance(services, dict)
    return {name: svc for name, svc in services.items()
            if isinstance(svc, dict) and svc.get("image") == "deskpulse:latest"}


def test_compose_has_broker_database_three_workers_and_an_aggregator() -> None:
    data = compose()
    services = data["services"]
    assert isinstance(services, dict)
    assert str(services["mosquitto"]["image"]).startswith("eclipse-mosquitto:2")
    assert services["postgres"]["image"] == "postgres:15"
    hubs = hub_services(data)
    commands = {name: svc["command"] for name, svc in hubs.items() if "profiles" not in svc}
    roles = {name: cmd[cmd.index("--role") + 1] for name, cmd in commands.items()}
    ingest = [name for name, role in roles.items() if role == "ingest"]
    assert len(ingest) == 3 and list(roles.values()).count("aggregate") == 1
    assert set(roles.values()) == {"ingest", "aggregate", "api"}, roles
    workers = [commands[name][commands[name].index("--worker") + 1] for name in ingest]
    assert len(set(workers)) == 3, "two workers with one name would share one broker session"
    for name, svc in hubs.items():
        assert svc["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        entry = svc.get("entrypoint", ["deskpulse"])
        assert entry == ["deskpulse"], name
        parse_command([str(w) for w in svc["command"]])
        env = svc["environment"]
        assert isinstance(env, dict)
        assert env["DESKPULSE_MQTT_SHARED_GROUP"] == "deskpulse", name
        assert "DESKPULSE_SECRET_KEY" in env, f"{name}: every process needs the same secret"
        HubSettings(mqtt_url=env["DESKPULSE_MQTT_URL"])  # a URL the hub accepts


def test_compose_settings_are_real_hub_settings() -> None:
    fields = set(HubSettings.model_fields)
    for name, svc in hub_services(compose()).items():
        env = svc["environment"]
        assert isinstance(env, dict)
        unknown = {key for key in env if key.startswith("DESKPULSE_")
                   and key.removeprefix("DESKPULSE_").lower() not in fields}
        assert unknown <= {"DESKPULSE_DATABASE_URL"}, (name, unknown)


def test_compose_database_url_is_a_real_setting() -> None:
    if "database_url" not in HubSettings.model_fields:
        pytest.skip("this build has no PostgreSQL store (database_url), which compose needs")
    for svc in hub_services(compose()).values():
        env = svc["environment"]
        assert isinstance(env, dict)
        assert str(env["DESKPULSE_DATABASE_URL"]).startswith("postgresql://")


def test_compose_files_it_mounts_and_copies_exist() -> None:
    data = compose()
    services = data["services"]
    assert isinstance(services, dict)
    for volume in services["mosquitto"]["volumes"]:
        source = str(volume).split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), source
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), f"Dockerfile copies a missing {source}"
    assert re.search(r"^FROM python:3\.1[1-9]", dockerfile, re.MULTILINE)
    assert "pip install --no-cache-dir '.[hub,postgres]'" in dockerfile  # the hub's extras


# -- commands in the guides -----------------------------------------------------------------------

def shell_lines(markdown: str) -> list[str]:
    """The command lines of the ```sh blocks, continuation lines joined, comments cut."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.DOTALL):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(shlex.join(words))
    return lines


def deskpulse_argv(line: str) -> list[str] | None:
    """The deskpulse arguments of a line: direct, under sudo, or `docker compose run admin`."""
    words = shlex.split(line)
    while words and words[0] == "sudo":
        words = words[3:] if words[1:2] == ["-u"] else words[1:]
    if words and (words[0] == "deskpulse" or words[0].endswith("/bin/deskpulse")):
        return words[1:]
    if words[:2] == ["docker", "compose"] and "admin" in words and "run" in words:
        return words[words.index("admin") + 1:]
    return None


@pytest.mark.parametrize("guide", ["README.md", "mosquitto/README.md"])
def test_every_deskpulse_command_in_the_guides_is_real(guide: str) -> None:
    checked = 0
    for line in shell_lines((DEPLOY / guide).read_text()):
        argv = deskpulse_argv(line)
        if argv is not None:
            parse_command(argv)
            checked += 1
    assert checked >= (8 if guide == "README.md" else 3), f"only {checked} commands found"


def test_command_check_catches_a_wrong_command() -> None:
    with pytest.raises(AssertionError):
        parse_command(["hub", "serve", "--role", "everything"])
    with pytest.raises(AssertionError):
        parse_command(["hub", "privacy", "reapply"])
    assert deskpulse_argv("sudo -u deskpulse /opt/deskpulse/bin/deskpulse hub serve") == [
        "hub", "serve"]
