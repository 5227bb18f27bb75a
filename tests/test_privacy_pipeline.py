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
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor
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


# -- wireless desk sensors (issue 22) ---------------------------------------------------

WL_SITE, WL_AGENT, WL_ZONE = "privacy-wl", "privacy-wl-agent", "privacy-wl-z1"
WL_BUILDING = {"sites": [{"id": WL_SITE, "name": "Wireless", "timezone": "UTC", "floors": [
    {"id": "privacy-wl-f1", "name": "First", "level": 1, "zones": [
        {"id": WL_ZONE, "name": "Zone", "desks": [
            {"id": f"{WL_ZONE}-d{i}", "name": f"W.{i}", "agent": WL_AGENT,
             "x": 0.2 * i, "y": 0.5} for i in range(1, 5)]}]}]}]}
BTHOME_PLAIN, BTHOME_KEYED = "A4:C1:38:5E:91:0D", "54:48:E6:8F:80:A5"
BIND_KEY = "231d39c1d7cc1ab1aee224cd096db932"
IEEE = "0x00158d0001a2b3c4"
RADAR_FORBIDDEN = {"distance", "target_distance", "energy", "moving_cm", "still_cm",
                   "ieee", "ieeeaddr", "ieee_address", "linkquality", "friendly_name"}


def test_no_sensor_address_ieee_or_radar_reading_leaves_the_pi(
    tmp_path: Path, fresh_broker: Mosquitto, caplog: pytest.LogCaptureFixture,
) -> None:
    """BTHome adverts through the scanner callback, zigbee2mqtt payloads (with the IEEE
    address zigbee2mqtt adds to them) on the Pi's own device broker, LD2410 frames through
    a pty: desk states reach the hub; none of the inputs' identifiers or readings do."""
    import os
    import tty

    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData
    from paho.mqtt import client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from edge.sensor_factory import build_sensors
    from edge.wireless.bthome import BTHOME_UUID
    from edge.wireless.inputs import WirelessInputs
    from edge.wireless.ld2410 import RadarFrame, encode_frame
    from firmware_sim.wireless import Z2M_FIXTURES, bthome_objects, bthome_service_data

    caplog.set_level(logging.DEBUG)
    local = Mosquitto(tmp_path / "device-broker")  # the Pi's own broker for zigbee2mqtt
    local.workdir.mkdir()
    local.start()
    settings = HubSettings(data_dir=tmp_path / "hub", mqtt_port=fresh_broker.port)
    store = SqliteStore(settings.database_path)
    store.import_building(WL_BUILDING)
    ingestor = Ingestor(settings, store)
    ingestor.start()
    assert ingestor.wait_connected(10)
    capture = Capture(fresh_broker.port)
    master, slave = os.openpty()
    tty.setraw(slave)
    desks = [f"{WL_ZONE}-d{i}" for i in range(1, 5)]
    config = AgentConfig.from_dict({
        "site": WL_SITE, "agent": WL_AGENT, "data_dir": str(tmp_path / "edge-wl"),
        "mqtt": {"port": fresh_broker.port, "keepalive": 5},
        "device_mqtt": {"port": local.port},
        "desks": [
            {"id": desks[0], "zone": WL_ZONE, "sensors": [
                {"type": "bthome", "address": BTHOME_KEYED, "bind_key": BIND_KEY,
                 "measure": "occupancy"}]},
            {"id": desks[1], "zone": WL_ZONE, "sensors": [
                {"type": "bthome", "address": BTHOME_PLAIN, "measure": "presence"}]},
            {"id": desks[2], "zone": WL_ZONE, "sensors": [
                {"type": "zigbee", "device": "desk-03", "field": "presence"}]},
            {"id": desks[3], "zone": WL_ZONE, "sensors": [
                {"type": "radar", "port": os.ttyname(slave), "max_cm": 120}]},
        ],
    })
    wireless = WirelessInputs(config.device_mqtt, client_id="privacy-wl")
    agent = Agent(config, build_sensors(config, tmp_path, "edge.toml", wireless=wireless),
                  wireless=wireless, radio=True)
    frame = RadarFrame(state=3, moving_cm=77, moving_energy=43, still_cm=0x4B, still_energy=61,
                       detection_cm=0x4D)
    z2m = paho.Client(CallbackAPIVersion.VERSION2, client_id="fake-z2m")
    try:
        assert agent.scanner is not None
        agent.start()
        assert agent.wait_connected(10)
        assert wireless.devices is not None and wireless.devices.connected.wait(10)
        z2m.connect("127.0.0.1", local.port)
        z2m.loop_start()
        payload = {**Z2M_FIXTURES["aqara_fp1e"],
                   "device": {"ieeeAddr": IEEE, "friendlyName": "desk-03", "type": "EndDevice"}}
        z2m.publish("zigbee2mqtt/desk-03", json.dumps(payload), 1).wait_for_publish(5)
        key = bytes.fromhex(BIND_KEY)
        for n in range(20):
            for address, data in (
                (BTHOME_KEYED, bthome_service_data(bthome_objects(packet_id=n, occupancy=True,
                                                                  battery=80),
                                                   mac=BTHOME_KEYED, bind_key=key,
                                                   counter=500 + n)),
                (BTHOME_PLAIN, bthome_service_data(bthome_objects(packet_id=n, presence=True))),
            ):
                agent.scanner.detection_callback(BLEDevice(address, "Shelly BLU", None),
                                                 AdvertisementData(
                    local_name="SBMO-003Z", manufacturer_data={},
                    service_data={BTHOME_UUID: data}, service_uuids=[BTHOME_UUID],
                    tx_power=None, rssi=-61, platform_data=()))
            os.write(master, encode_frame(frame))
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while True:
            agent.step(time.time())
            states = dict(store.db.execute("SELECT desk, state FROM desk_state").fetchall())
            if states == dict.fromkeys(desks, "occupied"):
                break
            assert time.monotonic() < deadline, f"hub has {states}"
            time.sleep(0.1)
        assert wireless.radars[0].parser.frames >= 1 and wireless.bthome is not None
        assert wireless.bthome.values >= 2 and wireless.bthome.faults == 0
        agent._publish_health(time.time())
        assert agent.wait_drained(10)
        time.sleep(0.3)
    finally:
        z2m.loop_stop()
        z2m.disconnect()
        agent.stop(drain_seconds=1)
        os.close(master)
        os.close(slave)
        capture.close()
        ingestor.stop()
        local.kill()

    addresses = {BTHOME_KEYED, BTHOME_PLAIN}
    ieee_forms = [IEEE.encode(), IEEE[2:].encode(), bytes.fromhex(IEEE[2:]),
                  bytes.fromhex(IEEE[2:])[::-1]]
    frame_bytes = encode_frame(frame)
    readings = [frame_bytes, frame_bytes[8:17]]  # the whole frame, and its target block

    def scan(blob: bytes) -> list[str]:
        found = leaks(blob, addresses, {"SBMO-003Z", "Shelly BLU"})
        found += [f"IEEE address form {f!r}" for f in ieee_forms if f in blob.lower()
                  or f in blob]
        found += [f"radar bytes {r.hex()}" for r in readings if r in blob]
        return found

    problems: dict[str, list[str]] = {}
    problems["hub database dump"] = scan("\n".join(store.db.conn.iterdump()).encode())
    store.close()
    for path in sorted((tmp_path / "hub").rglob("*")) + sorted((tmp_path / "edge-wl").rglob("*")):
        if path.is_file():
            problems[str(path.relative_to(tmp_path))] = scan(path.read_bytes())
    log_text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    problems["logs"] = scan(log_text.encode())
    kinds = {topic.rsplit("/", 1)[-1] for topic, _ in capture.messages}
    assert {"status", "desks", "health"} <= kinds
    for topic, body in capture.messages:
        found = scan(topic.encode() + b"\n" + body)
        decoded = json.loads(body)
        found += sorted(forbidden_keys(decoded))
        found += sorted(_keys(decoded) & RADAR_FORBIDDEN)
        if found:
            problems[f"mqtt {topic}"] = found
    assert {k: v for k, v in problems.items() if v} == {}
    health = [json.loads(b) for t, b in capture.messages if t.endswith("/health")]
    assert any(h.get("radio") for h in health)  # levels did travel, as levels

    # the scan can fail: each planted identifier or reading is caught
    for planted in (IEEE.encode(), frame_bytes, BTHOME_PLAIN.lower().encode()):
        assert scan(b"x" + planted + b"y"), planted
    assert _keys({"a": [{"target_distance": 1}]}) & RADAR_FORBIDDEN


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(k).lower() for k in value}.union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()
