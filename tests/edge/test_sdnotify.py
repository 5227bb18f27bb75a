"""The agent speaks systemd's notify protocol (deploy/systemd/deskpulse-edge.service).

A real datagram socket stands in for systemd: the agent process must say READY=1 after
starting, ping WATCHDOG=1 from its main loop at least every half period, and say
STOPPING=1 on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.sdnotify import Notifier
from tests.broker import Mosquitto
from tests.edge.helpers import REPO, unique_id, write_config


def listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    return sock


def received_until_ready(sock: socket.socket, until: float) -> list[str]:
    out: list[str] = []
    while time.monotonic() < until and "READY=1" not in out:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def received(sock: socket.socket, until: float) -> list[str]:
    out: list[str] = []
    while time.monotonic() < until:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_watchdog_pings_at_most_every_half_period(tmp_path: Path) -> None:
    sock = listen(tmp_path / "notify")
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
        assert notifier.ready()
        assert notifier.watchdog()
        assert not notifier.watchdog()  # within half of 0.4 s: rate-limited
        time.sleep(0.25)
        assert notifier.watchdog()
        assert received(sock, time.monotonic() + 0.3) == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]
    finally:
        sock.close()


def test_watchdog_meant_for_another_process_is_ignored(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "1000000",
                         "WATCHDOG_PID": str(os.getpid() + 1)})
    assert notifier.watchdog_seconds is None


def test_unreachable_socket_is_logged_not_fatal(tmp_path: Path) -> None:
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "missing")}).ready() is False


@pytest.mark.broker
def test_agent_process_reports_ready_watchdog_and_stopping(
    tmp_path: Path, broker: Mosquitto
) -> None:
    (tmp_path / "d1.presence").write_text("present\n")
    config = write_config(tmp_path, broker.port, unique_id("site"), unique_id("agent"),
                          "file:d1.presence")
    sock = listen(tmp_path / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "500000"}
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(config)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        first = received_until_ready(sock, time.monotonic() + 20.0)  # startup may be slow
        assert first[-1] == "READY=1", first
        # poll_seconds is 0.1, the period 0.5 s: a ping every 0.25 s or so once running;
        # 2 s of running must bring at least 4 (half of that, for a loaded machine).
        after = received(sock, time.monotonic() + 2.0)
        assert after.count("WATCHDOG=1") >= 4, after
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert "STOPPING=1" in received(sock, time.monotonic() + 0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        sock.close()
