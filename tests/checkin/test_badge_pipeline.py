"""Badge check-in end to end: enrolment -> retained config -> agent -> Mosquitto -> hub.

Adverts enter the agent through the scanner's real ``detection_callback`` with bleak's own
objects (firmware_sim.ble.to_bleak), exactly as received ones do.
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.ble.parsers import APPLE_COMPANY_ID
from edge.config import AgentConfig
from edge.protocol import Config, Feedback, topic_for
from firmware_sim.ble import SimAdvert, feed
from hub.checkin import badges, service
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor
from tests.broker import Mosquitto
from tests.edge.helpers import ScriptedSensor, Subscriber

SITE, AGENT, DESK = "hq", "hq-agent-1", "hq-d1"
BADGE = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")


def _ibeacon(minor: int) -> dict[int, bytes]:
    return {APPLE_COMPANY_ID: b"\x02\x15" + BADGE.bytes + struct.pack(">HHb", 3, minor, -59)}


def _presence(start: float, seconds: int, minor: int, address: str) -> list[SimAdvert]:
    return [SimAdvert(start + t, address, -55, _ibeacon(minor), {}, None)
            for t in range(seconds)]


def _phones(start: float, seconds: int) -> list[SimAdvert]:
    return [SimAdvert(start + t + k / 3, f"5{k}:AA:BB:CC:DD:0{k}", -50,
                      {0x004C: bytes.fromhex("1005031c1a2b3c")}, {}, "Anna's iPhone")
            for t in range(seconds) for k in range(3)]


def _until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.mark.broker
def test_an_enrolled_badge_dwelling_at_a_desk_checks_in_once_until_withdrawn(
    fresh_broker: Mosquitto, store: SqliteStore, settings: HubSettings, ann: int,
    tmp_path: Path,
) -> None:
    badge = badges.enrol(store, settings, ann, BADGE, 3, 1)
    hub_settings = settings.model_copy(update={"mqtt_port": fresh_broker.port})
    ingestor = Ingestor(hub_settings, store, client_id=f"hub-{uuid.uuid4().hex[:8]}")
    config_topic = topic_for(SITE, AGENT, "config")
    watcher = Subscriber(fresh_broker.port, config_topic)
    clock = [time.time() - 100]  # the check-in scan is made ~40 s ago: well in time
    feedback: list[Feedback] = []
    agent = Agent(AgentConfig.from_dict({
        "site": SITE, "agent": AGENT, "data_dir": str(tmp_path / "edge"),
        "mqtt": {"host": "127.0.0.1", "port": fresh_broker.port, "keepalive": 5},
        "desks": [{"id": DESK, "zone": "hq-north"}],
        "ble": {"desk": DESK, "badge_key": badges.edge_key_hex(settings)},
    }), {DESK: ScriptedSensor("present")}, clock=lambda: clock[0],
        on_feedback=feedback.append, radio=False)
    ingestor.start()
    try:
        assert ingestor.wait_connected(5)
        watcher.wait_for(lambda got: got[0] if got else None, timeout=5)  # published at start
        late = Subscriber(fresh_broker.port, config_topic)  # ... and kept by the broker
        retained = late.wait_for(lambda got: got[0] if got else None, timeout=5)
        late.close()
        config = retained.decoded()
        assert retained.retain and isinstance(config, Config)
        key = badges.derive_key(settings.ensure_secret_key())
        assert config.badges == (badges.badge_hash(key, BADGE, 3, 1),)
        agent.start()
        assert agent.wait_connected(5)
        assert _until(lambda: agent.badges == frozenset(config.badges))

        def set_clock(at: float) -> None:
            clock[0] = at

        scanner = agent.scanner
        assert scanner is not None
        start = clock[0]
        stream = sorted(_presence(start, 90, 1, "C1:00:00:00:00:01")  # enrolled, at the desk
                        + _presence(start, 90, 2, "C1:00:00:00:00:02")  # not enrolled
                        + _phones(start, 90), key=lambda a: a.at)
        feed(scanner.detection_callback, stream, set_clock)
        assert _until(lambda: len(feedback) >= 1)
        time.sleep(0.5)  # a second scan, if one were (wrongly) sent, would arrive by now
        assert [(f.desk, f.result, f.reason) for f in feedback] == [
            (DESK, "accepted", "checked in")]
        rows = store.db.execute('SELECT person_id, desk, via FROM checkins').fetchall()
        assert rows == [(ann, DESK, "beacon")]
        service.check_out(store, ann)

        badges.withdraw(store, ann, badge.id)
        assert _until(lambda: agent.badges == frozenset())  # republished within ~1 s
        seq = agent.seq
        feed(scanner.detection_callback, _presence(start + 100, 90, 1, "C1:00:00:00:00:01"),
             set_clock)
        assert agent.seq == seq  # the edge no longer forwards the badge at all
        assert store.db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 1
    finally:
        agent.stop()
        ingestor.stop()
        watcher.close()

