"""Fault-injection harness: a hub in its own process, journaled outboxes, exact comparison.

Ground truth is what the agents committed to their outboxes. A trigger installed in each
outbox file before the agent opens it copies every inserted row into a ``journal`` table
in the same transaction, so a row is in the journal exactly when it was acknowledged to
the outbox, whatever happens to the agent afterwards (``kill -9`` included). The hub's
``transitions`` rows that came from edge messages (``seq`` not null) must then equal the
desk events of the journaled messages: same rows, none missing, none twice.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.outbox import Outbox
from edge.protocol import DesksMessage, decode, parse_topic
from firmware_sim.building import Building
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.broker import free_port

FULL = os.environ.get("DESKPULSE_FAULTS", "") == "full"
ROOT = Path(__file__).resolve().parents[2]

# (agent, boot, seq, desk, state, at): one desk event of one edge message.
Event = tuple[str, int, int, str, str, float]

_JOURNAL = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS journal_outbox AFTER INSERT ON outbox BEGIN
    INSERT INTO journal (topic, payload) VALUES (new.topic, new.payload);
END;
"""


def fault_seed() -> int:
    """The seed of this run: DESKPULSE_FAULT_SEED, else a fresh one (printed to replay)."""
    raw = os.environ.get("DESKPULSE_FAULT_SEED")
    seed = int(raw) if raw else random.SystemRandom().randrange(1, 2**31)
    print(f"fault injection seed: DESKPULSE_FAULT_SEED={seed}")
    return seed


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


# -- ground truth: journaled outboxes --------------------------------------------------------

def install_journal(outbox_path: Path) -> None:
    """Create the outbox file (the agent's own schema) with the journal trigger in it."""
    Outbox(outbox_path).close()
    with sqlite3.connect(outbox_path) as db:
        db.executescript(_JOURNAL)
    db.close()


def journal_payloads(outbox_path: Path) -> list[tuple[str, bytes]]:
    """Every (topic, payload) the agent committed to this outbox, oldest first."""
    db = sqlite3.connect(f"file:{outbox_path}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = db.execute("SELECT topic, payload FROM journal ORDER BY id").fetchall()
    finally:
        db.close()
    return [(str(topic), bytes(payload)) for topic, payload in rows]


def outbox_depth(outbox_path: Path) -> int:
    db = sqlite3.connect(f"file:{outbox_path}?mode=ro", uri=True, timeout=5.0)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        db.close()


def desk_events(payloads: Iterable[tuple[str, bytes]]) -> list[Event]:
    """The desk events of every desks message among ``payloads``."""
    out: list[Event] = []
    for topic_text, payload in payloads:
        topic = parse_topic(topic_text)
        if topic.kind != "desks":
            continue
        message = decode(topic, payload, now=time.time())
        assert isinstance(message, DesksMessage)
        out += [(message.agent, message.boot, message.seq, e.desk, e.state, e.at)
                for e in message.events]
    return out


def expected_events(outboxes: Iterable[Path]) -> list[Event]:
    return [e for path in outboxes for e in desk_events(journal_payloads(path))]


# -- the hub's side ----------------------------------------------------------------------------

def stored_events(database: Path) -> list[Event]:
    """Transitions the hub stored from edge messages (hub-made ``unknown`` rows excluded)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10.0)
    try:
        rows = db.execute(
            "SELECT agent, boot, seq, desk, state, at FROM transitions WHERE seq IS NOT NULL"
        ).fetchall()
    finally:
        db.close()
    return [(str(a), int(b), int(s), str(d), str(st), float(at)) for a, b, s, d, st, at in rows]


def counters(database: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10.0)
    try:
        return {str(n): int(v) for n, v in db.execute("SELECT name, value FROM counters")}
    finally:
        db.close()


@dataclass(frozen=True)
class Comparison:
    expected: int
    stored: int
    missing: list[Event]
    extra: list[Event]
    twice: list[Event]

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.twice)

    def __str__(self) -> str:
        return (f"expected {self.expected} events, hub stored {self.stored}: "
                f"{len(self.missing)} missing {self.missing[:3]}, "
                f"{len(self.extra)} not sent {self.extra[:3]}, "
                f"{len(self.twice)} stored twice {self.twice[:3]}")


def compare(expected: list[Event], stored: list[Event]) -> Comparison:
    want, got = Counter(expected), Counter(stored)
    return Comparison(
        expected=len(expected), stored=len(stored),
        missing=sorted((want - got).elements()),
        extra=sorted((got - want).elements()),
        twice=sorted(e for e, n in got.items() if n > 1),
    )


def wait_for_exact(
    outboxes: list[Path], database: Path, timeout: float
) -> Comparison:
    """Poll until the hub holds exactly the journaled events (or ``timeout``); the last
    comparison either way. Duplicates never heal, so they are reported at once."""
    result = compare(expected_events(outboxes), stored_events(database))
    deadline = time.monotonic() + timeout
    while not result.exact and not result.twice and time.monotonic() < deadline:
        time.sleep(0.1)
        result = compare(expected_events(outboxes), stored_events(database))
    return result


class HubProcess:
    """``python -m tests.faults.hub_process``: a whole HubServer that can be ``kill -9``ed."""

    def __init__(self, data_dir: Path, mqtt_port: int, building: dict[str, object]) -> None:
        self.data_dir = data_dir
        self.mqtt_port = mqtt_port
        self.http_port = free_port()
        self.settings = HubSettings(data_dir=data_dir, mqtt_port=mqtt_port)
        self.database = self.settings.database_path
        store = SqliteStore(self.database)
        store.import_building(building)
        store.close()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "hub.log"
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until its ingest is subscribed."""
        self._spawn({})
        if not wait_until(self.ready, timeout, 0.1):
            raise RuntimeError(f"hub did not get ready; see {self.log}")

    def run_until_crash(self, after_commits: int, timeout: float = 30.0) -> None:
        """Start a hub that SIGKILLs itself between a commit and its acks; wait for that."""
        self._spawn({"FAULT_CRASH_AFTER_COMMITS": str(after_commits)})
        assert self.proc is not None
        code = self.proc.wait(timeout)
        assert code == -signal.SIGKILL, f"the hub exited with {code}, not by SIGKILL"
        self.proc = None

    def _spawn(self, extra: dict[str, str]) -> None:
        env = {**os.environ, "DESKPULSE_DATA_DIR": str(self.data_dir),
               "DESKPULSE_MQTT_PORT": str(self.mqtt_port),
               "DESKPULSE_HTTP_PORT": str(self.http_port),
               "DESKPULSE_ROLLUP_INTERVAL": "0.5", **extra}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (our own module)
                [sys.executable, "-m", "tests.faults.hub_process"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"hub process exited; see {self.log}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and answer.json().get("broker") == "connected"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last batch, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


STEP = 30.0  # simulated seconds between agent steps


HOLD = 30.0  # short hold time and missed detections: many transitions per simulated hour


MISS_RATE = 0.1


def outboxes(data_dir: Path, building: Building) -> list[Path]:
    return [data_dir / agent / "outbox.sqlite" for agent in building.agents()]


class Plain:
    """A plain paho client, as third-party firmware or an attacker would use (QoS 1)."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"plain-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(100)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._pending: list[mqtt.MQTTMessageInfo] = []

    def send(self, topic: str, payload: bytes) -> None:
        self._pending.append(self.client.publish(topic, payload, qos=1))

    def flush(self, timeout: float = 20.0) -> None:
        """Wait until the broker acknowledged everything sent so far."""
        deadline = time.monotonic() + timeout
        for info in self._pending:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.1))
            assert info.is_published(), "the broker did not acknowledge a publish"
        self._pending = []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
