"""`deskpulse demo` as a new user runs it: one process, four lines, a live dashboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

LINES = {
    "dashboard": re.compile(r"^Dashboard: (http://127\.0\.0\.1:\d+/)$"),
    "broker": re.compile(r"^MQTT broker: mqtt://127\.0\.0\.1:(\d+)$"),
    "admin": re.compile(r"^Admin login: admin / (\S+)$"),
    "token": re.compile(r"^API token: (\S+)$"),
}


def run_demo(data: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    env = dict(os.environ, COLUMNS="200", TERM="dumb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--data", str(data), "--port", "0",
         "--mqtt-port", "0", "--desks", "30", "--history-days", "0.5", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    found: dict[str, str] = {}
    output: list[str] = []
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip("\n"))
            for name, pattern in LINES.items():
                match = pattern.match(line.strip())
                if match:
                    found[name] = match.group(1)
            if len(found) == len(LINES):
                ready.set()

    threading.Thread(target=reader, daemon=True).start()
    ready.wait(60)
    return proc, found, output


def live_states(base: str, token: str, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.monotonic() < deadline:
            body = client.get("/api/v1/desks", params={"site": "demo"}).json()
            counts = {}
            for desk in body["desks"]:
                counts[desk["state"]] = counts.get(desk["state"], 0) + 1
            if counts.get("occupied", 0) + counts.get("vacant", 0) == len(body["desks"]):
                return counts
            time.sleep(0.5)
    return counts


@pytest.mark.parametrize("broker_flag", [(), ("--embedded-broker",)],
                         ids=["mosquitto", "embedded-amqtt"])
def test_demo_shows_live_desks_within_30_seconds_and_stops_cleanly(
        tmp_path: Path, broker_flag: tuple[str, ...]) -> None:
    started = time.monotonic()
    proc, found, output = run_demo(tmp_path / "demo", *broker_flag)
    try:
        assert set(found) == set(LINES), "\n".join(output)
        counts = live_states(found["dashboard"], found["token"], 30)
        assert time.monotonic() - started < 30 + 5, counts
        assert counts.get("occupied", 0) > 0 and counts.get("vacant", 0) > 0, counts
        assert counts.get("unknown", 0) == 0, counts
        with httpx.Client(base_url=found["dashboard"]) as anonymous:
            assert anonymous.get("/api/v1/desks", params={"site": "demo"}).status_code == 401
            login = anonymous.get("/", follow_redirects=False)
            assert login.status_code == 303 and login.headers["location"].startswith("/login")
            assert anonymous.get("/healthz").json()["broker"] == "connected"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0, "\n".join(output)
    assert any(line.startswith("Stopping") for line in output)


def test_second_demo_run_resumes_and_keeps_history(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    for _ in range(2):
        proc, found, output = run_demo(data)
        try:
            assert set(found) == set(LINES), "\n".join(output)
            assert live_states(found["dashboard"], found["token"], 30).get("occupied", 0) > 0
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 0, "\n".join(output)
    assert (data / "deskpulse.db").exists()
