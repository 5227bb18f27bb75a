"""Scenario 3: an agent process is ``kill -9``ed mid-publish and restarted (a new boot)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from edge.protocol import decode, parse_topic
from firmware_sim.building import Building
from tests.broker import Mosquitto
from tests.faults.harness import (
    FULL,
    HOLD,
    MISS_RATE,
    ROOT,
    STEP,
    HubProcess,
    install_journal,
    journal_payloads,
    outbox_depth,
    outboxes,
    wait_for_exact,
    wait_until,
)

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("faults")]

KILLS = 5 if FULL else 2


class AgentProcess:
    def __init__(self, building: Path, port: int, data: Path, seed: int) -> None:
        self.args = ["--building", str(building), "--port", str(port), "--data", str(data),
                     "--seed", str(seed), "--step", str(STEP), "--hold", str(HOLD),
                     "--miss-rate", str(MISS_RATE)]
        self.log = data.parent / "agents.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, at: float) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (our own module)
                [sys.executable, "-m", "tests.faults.agent_process", *self.args,
                 "--start", str(at)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"agent died; see {self.log}"
        self.proc.send_signal(sig)
        self.proc.wait(30)


def resume_after(paths: list[Path]) -> float:
    """A rebooted Pi goes on in time: one step after the newest message it committed."""
    newest = 0.0
    for path in paths:
        for topic, payload in journal_payloads(path):
            message = decode(parse_topic(topic), payload, now=time.time())
            newest = max(newest, float(getattr(message, "sent", 0.0)))
    return newest + STEP


def journaled(paths: list[Path]) -> int:
    return sum(len(journal_payloads(p)) for p in paths)


def grew(paths: list[Path], beyond: int) -> bool:
    return journaled(paths) > beyond


def boots(path: Path) -> int:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()
    db.close()
    return int(row[0])


def test_agent_killed_mid_publish_loses_and_doubles_nothing(
    tmp_path: Path,
    fresh_broker: Mosquitto,
    hub: HubProcess,
    building: Building,
    sim_start: float,
    rng: random.Random,
    seed: int,
) -> None:
    data = tmp_path / "agents"
    paths = outboxes(data, building)
    for path in paths:
        install_journal(path)
    spec = tmp_path / "building.json"
    spec.write_text(json.dumps(building.to_dict()))
    agents = AgentProcess(spec, fresh_broker.port, data, seed)

    left_behind = []
    start = sim_start
    for _ in range(KILLS):
        agents.start(start)
        committed = journaled(paths)
        assert wait_until(partial(grew, paths, committed + 20), 30), "nothing produced"
        time.sleep(rng.uniform(0.0, 1.0))
        wait_until(lambda: sum(outbox_depth(p) for p in paths) > 0, 5, 0.005)
        agents.signal(signal.SIGKILL)
        left_behind.append(sum(outbox_depth(p) for p in paths))
        start = resume_after(paths)

    agents.start(start)  # the last boot runs a moment, then stops cleanly (drains)
    time.sleep(1.0)
    agents.signal(signal.SIGTERM)

    assert all(boots(p) == KILLS + 1 for p in paths)
    assert sum(left_behind) > 0, "no kill caught a message between outbox and PUBACK"
    result = wait_for_exact(paths, hub.database, 30)
    assert result.exact, str(result)
    assert all(outbox_depth(p) == 0 for p in paths)
    print(f"agents killed {KILLS} times with {left_behind} message(s) unacknowledged: "
          f"{result.expected} events stored exactly once")
