"""Issue 22's wireless desk sensors: accuracy per kind, and one agent's footprint.

**Accuracy** (``bench.accuracy`` with the wireless kinds): 200 desks, five weekdays, every
behaviour profile; each kind's simulated channel (``firmware_sim.wireless``: BTHome
motion with its blind time and lost adverts, an mmWave presence sensor behind
zigbee2mqtt that drops off the network, an LD2410 that also sees the next desk's person)
read by the agent's own detector for that kind (``edge.sensor_factory.wireless_detector``)
and state machine. ``targets`` judges the ``stored`` estimator (what the hub keeps and
reports: vacancies back-dated to the first absent reading), the worst profile of each
kind, against >= 97 % minute accuracy and <= 0.5 false flips (false vacancies + false
occupancies) per desk-day; ``live`` (what the map shows while it happens) is reported too.

**Footprint**: a child process runs nothing but an agent with 64 wireless desks (32
BTHome, 28 zigbee2mqtt, 4 LD2410 radars on pseudo-terminals) against a real Mosquitto,
polling at 1 Hz. A player thread in the child feeds BTHome adverts through the scanner's
callback (one per desk every 10 s) and writes 10 radar frames a second per radar; the
parent publishes zigbee2mqtt payloads (one per device every 20 s). The player's work is
counted in the child's CPU, so the figure is a slight over-estimate.

    python -m bench.wireless                        # both, as in bench/results.json
    python -m bench.wireless --desks 20 --days 1 --seconds 20   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path
from typing import Any

from bench.rss import peak_rss_kib

REPO = Path(__file__).resolve().parents[1]
ACCURACY_TARGET, FLIPS_TARGET = 0.97, 0.5
CPU_TARGET, RSS_TARGET = 5.0, 80.0
N_BTHOME, N_ZIGBEE, N_RADAR = 32, 28, 4


def bench_wireless(desks: int = 200, days: int = 5, seconds: float = 120.0) -> dict[str, Any]:
    """Accuracy per wireless kind and the 64-desk footprint, with the targets judged."""
    from bench.accuracy import WIRELESS_KINDS, bench_accuracy

    accuracy = bench_accuracy(desks=desks, days=days, kinds=WIRELESS_KINDS)
    targets: dict[str, Any] = {}
    for kind in WIRELESS_KINDS:
        worst_accuracy = min(p["stored"]["accuracy"] for p in accuracy[kind].values())
        worst_flips = max(p["stored"]["false_vacancies_per_desk_day"]
                          + p["stored"]["false_occupancies_per_desk_day"]
                          for p in accuracy[kind].values())
        targets[kind] = {
            "worst_profile_accuracy": worst_accuracy,
            "worst_profile_false_flips_per_desk_day": round(worst_flips, 3),
            "met": worst_accuracy >= ACCURACY_TARGET and worst_flips <= FLIPS_TARGET,
        }
    footprint = bench_footprint(seconds)
    targets["footprint_64_desks"] = {
        "cpu_percent_of_one_core": footprint["cpu_percent_of_one_core"],
        "peak_rss_mb": footprint["peak_rss_mb"],
        "met": footprint["cpu_percent_of_one_core"] < CPU_TARGET
        and footprint["peak_rss_mb"] < RSS_TARGET,
    }
    return {"targets": targets, "accuracy": accuracy, "footprint": footprint,
            "note": "stored estimator judged; noisy shared 2-core machine for the footprint"}


def bench_footprint(seconds: float = 120.0) -> dict[str, Any]:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from firmware_sim.wireless import Z2M_FIXTURES
    from tests.broker import Mosquitto

    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp)).start()
        stop = threading.Event()
        publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-z2m")
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()

        def publish() -> None:
            rng = random.Random(22)
            fixture = dict(Z2M_FIXTURES["aqara_fp1e"])
            while not stop.wait(20.0 / N_ZIGBEE):
                n = rng.randrange(N_ZIGBEE)
                fixture["presence"] = rng.random() < 0.6
                publisher.publish(f"zigbee2mqtt/desk-{n:02d}", json.dumps(fixture), 1)

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.wireless", "--child", "--port", str(broker.port),
                 "--seconds", str(seconds), "--data-dir", tmp],
                cwd=REPO, capture_output=True, text=True, timeout=seconds + 120, check=False)
        finally:
            stop.set()
            thread.join(5)
            publisher.loop_stop()
            publisher.disconnect()
            broker.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"wireless footprint child failed ({proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _mac(n: int) -> str:
    return f"A4:C1:38:00:{n // 256:02X}:{n % 256:02X}"


def _child(seconds: float, port: int, data_dir: Path) -> dict[str, Any]:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from edge.agent import Agent
    from edge.config import AgentConfig
    from edge.sensor_factory import build_sensors
    from edge.wireless.bthome import BTHOME_UUID
    from edge.wireless.inputs import WirelessInputs
    from edge.wireless.ld2410 import RadarFrame, encode_frame
    from firmware_sim.wireless import bthome_objects, bthome_service_data

    ptys = []
    for _ in range(N_RADAR):
        master, slave = os.openpty()
        tty.setraw(slave)
        ptys.append((master, slave))
    desks: list[dict[str, Any]] = []
    for n in range(N_BTHOME):
        desks.append({"id": f"w-d{len(desks):02d}", "zone": "w-z1", "sensors": [
            {"type": "bthome", "address": _mac(n),
             "measure": "motion" if n % 2 else "occupancy"}]})
    for n in range(N_ZIGBEE):
        desks.append({"id": f"w-d{len(desks):02d}", "zone": "w-z1", "sensors": [
            {"type": "zigbee", "device": f"desk-{n:02d}", "field": "presence"}]})
    for _master, slave in ptys:
        desks.append({"id": f"w-d{len(desks):02d}", "zone": "w-z1", "sensors": [
            {"type": "radar", "port": os.ttyname(slave)}]})
    config = AgentConfig.from_dict({
        "site": "bench", "agent": "wireless", "data_dir": str(data_dir / "agent"),
        "mqtt": {"port": port}, "device_mqtt": {"port": port}, "desks": desks})
    wireless = WirelessInputs(config.device_mqtt, client_id="bench-wireless")
    agent = Agent(config, build_sensors(config, data_dir, "edge.toml", wireless=wireless),
                  wireless=wireless)
    stop = threading.Event()

    def play() -> None:
        rng = random.Random(7)
        packet = [0] * N_BTHOME
        assert agent.scanner is not None
        callback = agent.scanner.detection_callback
        tick = 0
        while not stop.wait(0.1):
            tick += 1
            for master, _slave in ptys:  # 10 frames a second per radar
                still = 70 + rng.randrange(20)
                os.write(master, encode_frame(RadarFrame(2, 0, 0, still, 50, still)))
            if tick % 10 == 0:  # one advert per desk every 10 s, spread over the second
                for n in rng.sample(range(N_BTHOME), N_BTHOME // 10 + 1):
                    packet[n] = (packet[n] + 1) % 256
                    key = "motion" if n % 2 else "occupancy"
                    data = bthome_service_data(bthome_objects(
                        packet_id=packet[n], battery=90, **{key: rng.random() < 0.5}))
                    callback(BLEDevice(_mac(n), None, None), AdvertisementData(
                        local_name=None, manufacturer_data={},
                        service_data={BTHOME_UUID: data}, service_uuids=[BTHOME_UUID],
                        tx_power=None, rssi=-70, platform_data=()))

    agent.start()
    try:
        if not agent.wait_connected(10.0):
            raise RuntimeError("agent did not connect to the broker")
        player = threading.Thread(target=play, daemon=True)
        player.start()
        timer = threading.Timer(seconds, stop.set)
        cpu0, wall0 = time.process_time(), time.monotonic()
        timer.start()
        agent.run(stop)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        states = dict(agent.states)
        messages = agent.seq
        radar_frames = sum(r.parser.frames for r in wireless.radars)
        bthome_values = wireless.bthome.values if wireless.bthome else 0
        mqtt_messages = wireless.devices.messages if wireless.devices else 0
    finally:
        stop.set()
        agent.stop()
        for master, slave in ptys:
            os.close(master)
            os.close(slave)
    peak_kib = peak_rss_kib()
    return {
        "desks": len(desks), "sensors": {"bthome": N_BTHOME, "zigbee": N_ZIGBEE,
                                         "radar": N_RADAR},
        "seconds": round(wall, 1), "cpu_seconds": round(cpu, 3),
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 2),
        "peak_rss_mb": round(peak_kib / 1024.0, 1),
        "radar_frames": radar_frames, "bthome_values": bthome_values,
        "mqtt_messages": mqtt_messages, "desk_messages": messages,
        "unknown_at_end": sum(1 for s in states.values() if s == "unknown"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--desks", type=int, default=200)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = _child(args.seconds, args.port, args.data_dir)
    else:
        result = bench_wireless(args.desks, args.days, args.seconds)
    print(json.dumps(result, indent=None if args.child else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
