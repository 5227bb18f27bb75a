"""PRIVACY.md item 1, edge half: simulated BLE through the real agent, Mosquitto and hub.

Two receivers (one agent per zone) hear the simulated phones, badges and beacons through
the scanner's real ``detection_callback`` with bleak's own objects; the agents publish
through their SQLite outboxes to a real Mosquitto; the real hub ingestor writes SQLite.
Then every place data could land is searched for the addresses, their raw bytes, anything
shaped like a MAC, the devices' names and the forbidden field names:

- the hub database (``iterdump``) and the raw database files,
- every file the agents left in their data directories (outbox, WAL),
- every log record at DEBUG (message and arguments),
- every MQTT message on ``#`` seen by a plain paho subscriber (topic and payload).

The test proves it can fail: the scanners must have seen the addresses in memory, and
the same search must flag a planted leak of each kind.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.ble.zones import bin_start
from edge.config import AgentConfig
from firmware_sim.ble import BleWorld, feed
from firmware_sim.building import Building
from firmware_sim.people import PeopleModel
from hub.config import HubSettings
from hub.ingest import Ingestor
from hub.store import SqliteStore
from tests.broker import Mosquitto
from tests.edge.helpers import ScriptedSensor
from tests.privacy_scan import FORBIDDEN_COLUMNS, Capture, forbidden_keys, leaks

pytestmark = pytest.mark.broker

SITE = "privacy"
BIN = 900
ZONES = ("privacy-z1", "privacy-z2")
BUILDING = {"sites": [{"id": SITE, "name": "Privacy", "timezone": "Europe/Berlin", "floors": [
    {"id": "privacy-f1", "name": "First", "level": 1, "zones": [
        {"id": zone, "name": f"Zone {z}", "desks": [
            {"id": f"{zone}-d{i}", "name": f"{z}.{i}", "agent": f"privacy-agent-{z}",
             "x": 0.1 + 0.1 * i + 0.5 * (z - 1), "y": 0.3 + 0.2 * (i % 2)}
            for i in range(1, 5)]}
        for z, zone in enumerate(ZONES, start=1)]}]}]}
@pytest.fixture
def hub(tmp_path: Path, fresh_broker: Mosquitto) -> Iterator[tuple[Ingestor, SqliteStore]]:
    settings = HubSettings(data_dir=tmp_path / "hub", mqtt_port=fresh_broker.port,
                           bin_seconds=BIN)
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    ingestor = Ingestor(settings, store)
    ingestor.start()
    assert ingestor.wait_connected(10)
    yield ingestor, store
    ingestor.stop()
    store.close()


def test_no_mac_name_or_rssi_leaves_memory(
    tmp_path: Path, fresh_broker: Mosquitto, hub: tuple[Ingestor, SqliteStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ingestor, store = hub
    caplog.set_level(logging.DEBUG)
    capture = Capture(fresh_broker.port)
    building = Building.from_dict(BUILDING)
    start = float(bin_start(time.time(), BIN) - 4 * BIN)  # two whole bins, in the past
    end = start + 2 * BIN
    world = BleWorld(building, PeopleModel(building, seed=7, schedule="shifts")
                     .occupancy(start, end), start, end, seed=7)
    clock = [start]
    agents: list[Agent] = []
    try:
        for z, zone in enumerate(ZONES, start=1):
            desks = [d for d in building.desks if d.zone == zone]
            config = AgentConfig.from_dict({
                "site": SITE, "agent": f"privacy-agent-{z}",
                "data_dir": str(tmp_path / f"edge-{z}"),
                "mqtt": {"port": fresh_broker.port, "keepalive": 5},
                "desks": [{"id": d.id, "zone": zone} for d in desks],
                "ble": {"zone": zone},
            })
            sensors = {d.id: ScriptedSensor("present") for d in desks}
            agent = Agent(config, sensors, clock=lambda: clock[0], radio=False)
            agents.append(agent)
            agent.start()
        for agent in agents:
            assert agent.wait_connected(10)
        seen: set[str] = set()
        for agent, zone in zip(agents, ZONES, strict=True):
            assert agent.scanner is not None and agent.zone_counter is not None
            heard = world.adverts(zone)
            seen |= {a.address for a in heard}
            agent.step(start)
            feed(agent.scanner.detection_callback, heard,
                 set_clock=lambda t: clock.__setitem__(0, t))
            agent.step(end + 1)  # closes the second bin
            # The scanner really held the addresses: there was something to leak.
            assert agent.scanner.adverts == len(heard) > 5_000
            assert agent.zone_counter.adverts == len(heard)
        assert world.addresses <= seen and len(seen) > 10
        for agent in agents:
            assert agent.wait_drained(10)
        deadline = time.monotonic() + 10
        while len(store.db.execute("SELECT * FROM zone_counts").fetchall()) < 4:
            assert time.monotonic() < deadline, "zone counts did not reach the hub"
            time.sleep(0.05)
    finally:
        for agent in agents:
            agent.stop(drain_seconds=1)
    time.sleep(0.2)  # the capture's last deliveries
    capture.close()

    counts = store.db.execute(
        "SELECT zone, bin, devices FROM zone_counts ORDER BY zone, bin").fetchall()
    assert [(z, b) for z, b, _ in counts] == [(z, b) for z in ZONES for b in (start, start + BIN)]
    assert any(devices > 0 for _, _, devices in counts)
    assert store.counters()["dead_letters"] == 0

    addresses, names = world.addresses, world.names
    assert names, "the simulation must give some phones a personal name"
    problems: dict[str, list[str]] = {}

    dump = "\n".join(store.db.conn.iterdump()).encode()
    problems["hub database dump"] = leaks(dump, addresses, names)
    columns = {row[1].lower() for table in store.db.table_names()
               for row in store.db.execute(f"PRAGMA table_info([{table}])").fetchall()}
    problems["hub database columns"] = sorted(columns & FORBIDDEN_COLUMNS)
    for path in sorted((tmp_path / "hub").rglob("*")) + sorted(tmp_path.glob("edge-*/**/*")):
        if path.is_file():
            problems[str(path.relative_to(tmp_path))] = leaks(path.read_bytes(), addresses,
                                                              names)
    assert any(p.name == "outbox.sqlite" for p in tmp_path.glob("edge-*/**/*"))

    log_text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    problems["logs"] = leaks(log_text.encode(), addresses, names)
    problems["log words"] = re.findall(r"(?i)\b(?:rssi|mac)\b[^\n]{0,40}", log_text)
    assert len(caplog.records) > 10

    kinds = {topic.rsplit("/", 1)[-1] for topic, _ in capture.messages}
    assert {"status", "desks", "zones"} <= kinds
    for topic, payload in capture.messages:
        found = leaks(topic.encode() + b"\n" + payload, addresses, names)
        found += sorted(forbidden_keys(json.loads(payload)))
        if found:
            problems[f"mqtt {topic}"] = found
    assert {k: v for k, v in problems.items() if v} == {}

    # The search itself can fail: a planted leak of each kind is caught.
    some = sorted(addresses)[0]
    for planted in (some, some.lower(), some.replace(":", "-"), some.replace(":", "_"),
                    some.replace(":", ""), sorted(names)[0]):
        assert leaks(b'{"x": "' + planted.encode() + b'"}', addresses, names), planted
    assert leaks(b"\x00" + bytes.fromhex(some.replace(":", ""))[::-1], addresses, names)
    assert forbidden_keys({"counts": [{"zone": "z", "rssi": -60}]}) == {"rssi"}
