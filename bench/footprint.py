"""Edge agent footprint: one agent, 16 desks sampled at 1 Hz for 5 minutes.

Measures the CPU share of one core (process CPU time / wall time while the agent runs)
and the peak RSS (VmHWM) of a child process that runs nothing but the agent, so the
figures are the agent's own, not this harness's. bench/edge_install.py measures the agent
installed alone ('.[edge]' in a fresh venv).

The child builds its sensors from an edge.toml through ``edge.sensor_factory`` with the
real drivers and detectors: desks take turns being PIR, pressure-mat and thermopile desks.
GPIO pins are gpiozero MockFactory pins and each thermopile is a small simulated Grid-EYE
answering on the I2C boundary with noisy 8x8 frames (room at ~22 degC, a 3x3 warm blob
while occupied). One helper thread in the child plays the people (once a second: arrive,
leave, PIR pulses), so the figures are a slight over-estimate. The agent publishes to a
real Mosquitto.

    python -m bench.footprint                     # 16 desks, 300 s, 1 Hz
    python -m bench.footprint --seconds 20        # a quick look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.rss import peak_rss_kib

REPO = Path(__file__).resolve().parents[1]
KINDS = ("pir", "pressure", "thermopile")
FIRST_PIN = 4


def bench_footprint(desks: int = 16, seconds: float = 300.0, hz: float = 1.0) -> dict[str, Any]:
    """Run the agent in a child process against a real Mosquitto; return its figures."""
    from tests.broker import Mosquitto

    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp)).start()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.footprint", "--child", "--port", str(broker.port),
                 "--desks", str(desks), "--seconds", str(seconds), "--hz", str(hz),
                 "--data-dir", tmp],
                cwd=REPO, capture_output=True, text=True, timeout=seconds + 120, check=False,
            )
        finally:
            broker.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"footprint child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the child: nothing but the agent (and the people playing it) -----------------------------


class GridEyeBus:
    """The I2C side of simulated AMG8833s: register writes accepted, pixel reads answered
    with a fresh noisy frame per read (22 degC room, a 3x3 ~30 degC blob while occupied)."""

    def __init__(self, number: int, occupied: dict[tuple[int, int], bool]) -> None:
        self.number = number
        self.occupied = occupied  # (bus, address) -> someone at that desk; set by the people
        self.rng = np.random.default_rng(number)
        self._raw: dict[int, bytes] = {}

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        return None

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        if register == 0x80 or i2c_addr not in self._raw:
            here = self.occupied.get((self.number, i2c_addr), False)
            self._raw[i2c_addr] = self._frame(here)
        start = register - 0x80
        return list(self._raw[i2c_addr][start:start + length])

    def close(self) -> None:
        return None

    def _frame(self, occupied: bool) -> bytes:
        celsius = 22.0 + self.rng.normal(0.0, 0.3, (8, 8))
        if occupied:
            celsius[3:6, 2:5] += 8.0
        counts = np.round(celsius / 0.25).astype(np.int32) & 0x0FFF
        return counts.astype("<u2").tobytes()


def _config(desks: int, hz: float, port: int, data_dir: Path) -> str:
    lines = [
        'site = "bench"', 'agent = "footprint"', f'data_dir = "{data_dir}"',
        f"poll_seconds = {1.0 / hz}", "hold_seconds = 60", "health_seconds = 60",
        f"[mqtt]\nport = {port}",
    ]
    for i in range(desks):
        kind = KINDS[i % len(KINDS)]
        lines.append(f'[[desks]]\nid = "d{i}"\nzone = "z{i // 8}"\n[[desks.sensors]]')
        if kind == "thermopile":
            n = i // len(KINDS)
            lines.append(f'type = "thermopile"\nbus = {n // 2}\naddress = {0x68 + n % 2}')
        else:
            lines.append(f'type = "{kind}"\npin = {FIRST_PIN + i}')
    return "\n".join(lines) + "\n"


def _play_people(pins: Any, config: Any, occupied: dict[tuple[int, int], bool],
                 stop: threading.Event) -> None:
    """Once a second: desks flip between occupied and vacant every 30..120 s; an occupied
    PIR desk pulses its output for 3 s every 20 s; a pressure mat closes to ground."""
    rng = np.random.default_rng(7)
    next_flip = {d.id: time.monotonic() + rng.uniform(5, 60) for d in config.desks}
    here = dict.fromkeys(next_flip, False)
    while not stop.wait(1.0):
        now = time.monotonic()
        for desk in config.desks:
            if now >= next_flip[desk.id]:
                here[desk.id] = not here[desk.id]
                next_flip[desk.id] = now + rng.uniform(30, 120)
            sensor = desk.sensors[0]
            if sensor.type == "thermopile":
                occupied[(sensor.bus, sensor.address)] = here[desk.id]
            elif sensor.type == "pressure":
                pin = pins.pin(sensor.pin)
                (pin.drive_low if here[desk.id] else pin.drive_high)()
            else:
                pin = pins.pin(sensor.pin)
                (pin.drive_high if here[desk.id] and int(now) % 20 < 3 else pin.drive_low)()


def _child(desks: int, seconds: float, hz: float, port: int, data_dir: Path) -> dict[str, Any]:
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    from edge.agent import Agent
    from edge.config import AgentConfig
    from edge.sensor_factory import Hardware, build_sensors

    path = data_dir / "edge.toml"
    path.write_text(_config(desks, hz, port, data_dir / "agent"))
    config = AgentConfig.from_toml(path)
    Device.pin_factory = pins = MockFactory()
    occupied: dict[tuple[int, int], bool] = {}
    buses: dict[int, GridEyeBus] = {}

    def open_bus(number: int) -> GridEyeBus:
        return buses.setdefault(number, GridEyeBus(number, occupied))

    agent = Agent(config, build_sensors(config, data_dir, str(path),
                                        hardware=Hardware(pins, open_bus)))
    stop = threading.Event()
    people = threading.Thread(target=_play_people, args=(pins, config, occupied, stop),
                              daemon=True)
    agent.start()
    try:
        if not agent.wait_connected(10.0):
            raise RuntimeError("agent did not connect to the broker")
        people.start()
        timer = threading.Timer(seconds, stop.set)
        cpu0, wall0 = time.process_time(), time.monotonic()
        timer.start()
        agent.run(stop)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        drained = agent.wait_drained(5.0)
        messages = agent.seq
        states = dict(agent.states)
    finally:
        stop.set()
        agent.stop()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from a
    # large parent would report the parent's peak (407.5 MB here before issue 21).
    peak_kib = peak_rss_kib()
    return {
        "desks": desks, "hz": hz, "seconds": round(wall, 1),
        "sensors": {kind: sum(1 for i in range(desks) if KINDS[i % 3] == kind) for kind in KINDS},
        "cpu_seconds": round(cpu, 3),
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 2),
        "peak_rss_mb": round(peak_kib / 1024.0, 1),
        "desk_messages": messages, "outbox_drained": drained,
        "occupied_at_end": sum(1 for s in states.values() if s == "occupied"),
        "unknown_at_end": sum(1 for s in states.values() if s == "unknown"),
    }



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Edge agent CPU and memory footprint.")
    parser.add_argument("--desks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--hz", type=float, default=1.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = _child(args.desks, args.seconds, args.hz, args.port, args.data_dir)
    else:
        result = bench_footprint(args.desks, args.seconds, args.hz)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
