"""BTHome v2 adverts through the agent's real scanner callback (bleak's own objects)."""

from __future__ import annotations

import binascii
from pathlib import Path

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bthome_ble.bthome_v2_encryption import encrypt_payload

from edge.agent import Agent
from edge.config import AgentConfig
from edge.sensor_factory import build_sensors
from edge.wireless.bthome import BTHOME_UUID
from edge.wireless.inputs import WirelessInputs
from firmware_sim.wireless import bthome_objects, bthome_service_data

# The BTHome specification's encryption example (also bthome-ble's own example script).
SPEC_MAC = "54:48:E6:8F:80:A5"
SPEC_KEY = "231d39c1d7cc1ab1aee224cd096db932"
PLAIN_MAC = "A4:C1:38:8D:18:B2"
T0 = 1_780_000_000.0


def advert(mac: str, service_data: bytes, rssi: int = -62) -> tuple[BLEDevice, AdvertisementData]:
    device = BLEDevice(mac, None, None)
    data = AdvertisementData(local_name=None, manufacturer_data={},
                             service_data={BTHOME_UUID: service_data},
                             service_uuids=[BTHOME_UUID], tx_power=None, rssi=rssi,
                             platform_data=())
    return device, data


def make_agent(tmp_path: Path, key: str | None = SPEC_KEY, measure: str = "occupancy"
               ) -> tuple[Agent, list[float]]:
    encrypted = {"type": "bthome", "address": SPEC_MAC, "measure": measure}
    if key is not None:
        encrypted["bind_key"] = key
    config = AgentConfig.from_dict({
        "site": "hq", "agent": "a1", "data_dir": str(tmp_path / "edge"),
        "desks": [
            {"id": "d1", "zone": "z1", "sensors": [encrypted]},
            {"id": "d2", "zone": "z1", "sensors": [
                {"type": "bthome", "address": PLAIN_MAC.lower(), "measure": "presence"}]},
        ],
    })
    clock = [T0]
    wireless = WirelessInputs(config.device_mqtt, clock=lambda: clock[0])
    sensors = build_sensors(config, tmp_path, "edge.toml", wireless=wireless)
    return Agent(config, sensors, clock=lambda: clock[0], radio=False,
                 wireless=wireless), clock


def test_our_encoder_matches_bthome_bles_reference_encryption() -> None:
    data = bytes.fromhex("02CA0903BF13")  # the spec's temperature + humidity example
    count = 1122867
    reference = encrypt_payload(data=data, mac=binascii.unhexlify(SPEC_MAC.replace(":", "")),
                                uuid16=b"\xd2\xfc", sw_version=b"\x41",
                                count_id=count.to_bytes(4, "little"),
                                key=bytes.fromhex(SPEC_KEY))
    ours = bthome_service_data(data, mac=SPEC_MAC, bind_key=bytes.fromhex(SPEC_KEY),
                               counter=count)
    assert reference == b"\xd2\xfc" + ours


def test_plain_and_encrypted_adverts_become_desk_states(tmp_path: Path) -> None:
    agent, clock = make_agent(tmp_path)
    try:
        assert agent.scanner is not None  # BTHome sensors alone start the scanner path
        callback = agent.scanner.detection_callback
        assert agent.states == {"d1": "unknown", "d2": "unknown"}
        key = bytes.fromhex(SPEC_KEY)
        callback(*advert(SPEC_MAC, bthome_service_data(
            bthome_objects(packet_id=1, battery=73, occupancy=True), mac=SPEC_MAC,
            bind_key=key, counter=100)))
        callback(*advert(PLAIN_MAC, bthome_service_data(
            bthome_objects(packet_id=9, presence=False)), rssi=-90))
        clock[0] = T0 + 1
        agent.step(clock[0])
        assert agent.states == {"d1": "occupied", "d2": "vacant"}
        health = {h.desk: h for h in agent.health(clock[0]).radio}
        assert health["d1"].battery == 70 and health["d1"].signal == "good"
        assert health["d2"].signal == "weak" and health["d2"].faults == 0
        assert agent.scanner.handler_errors == 0
    finally:
        agent.stop(drain_seconds=0)


def test_duplicate_packet_ids_are_dropped(tmp_path: Path) -> None:
    agent, clock = make_agent(tmp_path)
    try:
        assert agent.scanner is not None and agent.wireless is not None
        callback = agent.scanner.detection_callback
        first = bthome_service_data(bthome_objects(packet_id=5, presence=True))
        repeat = bthome_service_data(bthome_objects(packet_id=5, presence=False))
        callback(*advert(PLAIN_MAC, first))
        callback(*advert(PLAIN_MAC, repeat))  # same packet id: a repeat, not news
        receiver = agent.wireless.bthome
        assert receiver is not None
        assert receiver.values == 1 and receiver.duplicates == 1
        clock[0] = T0 + 1
        agent.step(clock[0])
        assert agent.states["d2"] == "occupied"
        callback(*advert(PLAIN_MAC, bthome_service_data(
            bthome_objects(packet_id=6, presence=False))))
        assert receiver.values == 2
    finally:
        agent.stop(drain_seconds=0)


def test_a_wrong_bind_key_is_a_counted_fault_not_a_state(tmp_path: Path) -> None:
    agent, clock = make_agent(tmp_path, key="00" * 16)
    try:
        assert agent.scanner is not None
        callback = agent.scanner.detection_callback
        for n in range(3):
            callback(*advert(SPEC_MAC, bthome_service_data(
                bthome_objects(packet_id=n, occupancy=True), mac=SPEC_MAC,
                bind_key=bytes.fromhex(SPEC_KEY), counter=200 + n)))
        clock[0] = T0 + 1
        agent.step(clock[0])
        assert agent.states["d1"] == "unknown"  # never "occupied" from an unreadable advert
        health = {h.desk: h for h in agent.health(clock[0]).radio}
        assert health["d1"].faults == 3
        assert "d1" in agent.health(clock[0]).sensor_faults
    finally:
        agent.stop(drain_seconds=0)


def test_plaintext_from_a_keyed_device_and_encrypted_without_key_are_faults(
        tmp_path: Path) -> None:
    agent, clock = make_agent(tmp_path)
    try:
        assert agent.scanner is not None and agent.wireless is not None
        callback = agent.scanner.detection_callback
        callback(*advert(SPEC_MAC, bthome_service_data(  # a downgrade: plaintext
            bthome_objects(packet_id=1, occupancy=True))))
        callback(*advert(PLAIN_MAC, bthome_service_data(  # encrypted, but no key held
            bthome_objects(packet_id=1, presence=True), mac=PLAIN_MAC,
            bind_key=bytes(range(16)), counter=1)))
        callback(*advert(PLAIN_MAC, b"\x40\x00"))  # truncated: counted, never raised
        agent.step(T0 + 1)
        assert agent.states == {"d1": "unknown", "d2": "unknown"}
        receiver = agent.wireless.bthome
        assert receiver is not None and receiver.faults >= 2
        assert agent.scanner.handler_errors == 0
    finally:
        agent.stop(drain_seconds=0)


def test_other_adverts_still_reach_nothing_else(tmp_path: Path) -> None:
    agent, _ = make_agent(tmp_path)
    try:
        assert agent.scanner is not None and agent.wireless is not None
        agent.scanner.detection_callback(*advert("11:22:33:44:55:66", b"\x40\x23\x01"))
        receiver = agent.wireless.bthome
        assert receiver is not None and receiver.adverts == 0
    finally:
        agent.stop(drain_seconds=0)


def test_a_battery_only_advert_is_not_a_motion_pulse(tmp_path: Path) -> None:
    config_motion = AgentConfig.from_dict({
        "site": "hq", "agent": "a1", "data_dir": str(tmp_path / "m"),
        "desks": [{"id": "d1", "zone": "z1", "sensors": [
            {"type": "bthome", "address": PLAIN_MAC, "measure": "motion"}]}]})
    wireless = WirelessInputs(config_motion.device_mqtt)
    sensor = build_sensors(config_motion, tmp_path, "edge.toml", wireless=wireless)["d1"]
    assert wireless.bthome is not None
    channel = wireless.channels[0][1]
    wireless.observe_advert(PLAIN_MAC, -60, {BTHOME_UUID: bthome_service_data(
        bthome_objects(packet_id=1, motion=True))}, T0)
    assert channel.sample(T0 + 1) is True and channel.sample(T0 + 2) is False
    wireless.observe_advert(PLAIN_MAC, -60, {BTHOME_UUID: bthome_service_data(
        bthome_objects(packet_id=2, battery=50))}, T0 + 3)
    assert channel.sample(T0 + 4) is False  # heard (fresh), but no motion in it
    assert channel.health(T0 + 4).battery == 50
    assert sensor.read(T0 + 5).presence in ("present", "absent")
