"""Entry point of the agent process the fault tests kill: ``python -m tests.faults.agent_process``.

Runs a firmware_sim fleet (real agents, one outbox each under ``--data``) stepping through
simulated time from ``--start`` as fast as the outboxes allow, with a short pause between
chunks so that publishing is always under way. SIGTERM stops cleanly (drain, "offline").
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path

from edge.config import MqttConfig
from firmware_sim.building import Building
from firmware_sim.fleet import FleetRunner
from firmware_sim.people import PeopleModel

CHUNK = 300.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--building", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--start", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step", type=float, default=30.0)
    parser.add_argument("--hold", type=float, default=30.0)
    parser.add_argument("--miss-rate", type=float, default=0.1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    building = Building.from_dict(json.loads(args.building.read_text()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fleet = FleetRunner(
        building, PeopleModel(building, seed=args.seed, schedule="shifts"),
        mqtt=MqttConfig(host="127.0.0.1", port=args.port), data_dir=args.data,
        hold_seconds=args.hold, poll_seconds=args.step, miss_rate=args.miss_rate,
        seed=args.seed,
    )
    with fleet:
        fleet.start()
        print("agents running", flush=True)
        t = args.start
        while not stop.is_set():
            fleet.backfill(t, t + CHUNK - args.step, args.step)
            t += CHUNK
            stop.wait(0.02)
        fleet.wait_drained(10.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
