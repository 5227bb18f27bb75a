"""The agent as a real process: ``python -m edge run``, birth, last will, clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import __version__
from edge.cli import main
from edge.protocol import DesksMessage, Health, Status
from edge.sensors.file import FileSensor
from tests.broker import Mosquitto
from tests.edge.helpers import REPO, Subscriber, unique_id, write_config


@pytest.fixture
def agent_process(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[Path, Subscriber, str]]:
    """Yields (presence file, subscriber on the agent's topics, config path); the test
    starts the process itself via ``spawn``."""
    site, agent = unique_id("site"), unique_id("agent")
    presence = tmp_path / "d1.presence"
    presence.write_text("present\n")
    config = write_config(tmp_path, broker.port, site, agent, "file:d1.presence")
    sub = Subscriber(broker.port, f"deskpulse/v1/{site}/{agent}/+")
    yield presence, sub, str(config)
    sub.close()


def spawn(config: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", config],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def statuses(sub: Subscriber) -> list[Status]:
    return [m for m in sub.of_kind("status") if isinstance(m, Status)]


@pytest.mark.broker
def test_killed_agent_process_leaves_its_last_will(
    agent_process: tuple[Path, Subscriber, str],
) -> None:
    presence, sub, config = agent_process
    proc = spawn(config)
    try:
        sub.wait_for(lambda ms: [s for s in statuses(sub) if s.online])
        assert statuses(sub)[0] == Status(online=True, boot=1, version=__version__)
        first = sub.wait_for(lambda ms: sub.of_kind("desks"))[0]
        assert isinstance(first, DesksMessage)
        assert [(e.desk, e.state) for e in first.events] == [("d1", "occupied")]

        presence.write_text("absent\n")
        vacant = sub.wait_for(lambda ms: [
            m for m in sub.of_kind("desks")
            if isinstance(m, DesksMessage) and m.events[0].state == "vacant"
        ])
        # seq 2 may be the snapshot sent on connecting, if the first poll came earlier.
        assert [m.seq for m in vacant] in ([2], [3])

        proc.kill()  # SIGKILL: no chance to say goodbye; the broker speaks for it
        proc.wait(5)
        started = time.monotonic()
        will = sub.wait_for(lambda ms: [s for s in statuses(sub) if not s.online], timeout=8)
        assert will == [Status(online=False, boot=1)]
        assert time.monotonic() - started < 4  # keepalive 1 s -> the will fires in ~1.5 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.broker
def test_sigterm_stops_cleanly_with_an_offline_status(
    agent_process: tuple[Path, Subscriber, str],
) -> None:
    _, sub, config = agent_process
    proc = spawn(config)
    try:
        sub.wait_for(lambda ms: sub.of_kind("desks"))
        # Health goes out as soon as the agent is connected (QoS 0, not via the outbox).
        health = sub.wait_for(lambda ms: sub.of_kind("health"))[0]
        assert isinstance(health, Health)
        assert (health.boot, health.dropped, health.sensor_faults) == (1, 0, ())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        offline = sub.wait_for(lambda ms: [s for s in statuses(sub) if not s.online])
        assert offline == [Status(online=False, boot=1)]
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert "stopped; 0 message(s) left in the outbox" in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_config_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, 1883, "HQ", "a", "file:x")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {path}: site 'HQ' is not a valid id: use lowercase letters, digits and '-'\n"
    )


def test_unavailable_sensor_type_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, 1883, "s", "a", "simulated")
    assert main(["run", "--config", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}: desks[0].sensor: sensor type 'simulated' is not available on this "
        'agent yet: use "file:<path>"\n'
    )


def test_python_dash_m_edge_reports_config_errors_too(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(missing)],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )
    assert (proc.returncode, proc.stderr) == (
        2, f"error: {missing}: file not found: check the --config path\n"
    )


@pytest.mark.parametrize(
    ("content", "presence"),
    [(b"present\n", "present"), (b"  ABSENT ", "absent"), (b"maybe", "fault"),
     (b"present" + b" " * 100, "fault"), (b"\xff\xfe", "fault"), (None, "fault")],
)
def test_file_sensor(tmp_path: Path, content: bytes | None, presence: str) -> None:
    path = tmp_path / "desk"
    if content is not None:
        path.write_bytes(content)
    reading = FileSensor(path).read(42.0)
    assert (reading.at, reading.presence) == (42.0, presence)
