"""Command line of the simulator (wired as ``deskpulse sim ...``).

``building`` writes a generated building in the hub's import shape; ``fleet`` runs one
real edge agent per agent id of a building file, fed by simulated people, until
interrupted. Every error a user can cause ends as one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import unquote, urlsplit

from edge.config import MqttConfig
from edge.errors import DeskpulseError
from firmware_sim.building import Building, generate_building
from firmware_sim.people import SCHEDULES, PeopleModel

log = logging.getLogger(__name__)

PASSWORD_ENV = "DESKPULSE_MQTT_PASSWORD"  # noqa: S105 - the variable's name, not a secret


class UsageError(DeskpulseError):
    """A command-line value is wrong; the text says which."""


def parse_mqtt_url(url: str) -> MqttConfig:
    """``mqtt://[user[:password]@]host[:port]`` (``mqtts://`` for TLS) -> MqttConfig.

    The password may instead come from the environment variable DESKPULSE_MQTT_PASSWORD,
    which keeps it out of the process list.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise UsageError("--mqtt must look like mqtt://host:port or mqtts://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError("--mqtt takes no path or query: use mqtt://host:port")
    try:
        port = parts.port
    except ValueError:
        raise UsageError("--mqtt port must be a number between 1 and 65535") from None
    tls = parts.scheme == "mqtts"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else os.environ.get(PASSWORD_ENV)
    if password and not username:
        raise UsageError("an MQTT password needs a user name: mqtt://user@host:port")
    return MqttConfig(
        host=parts.hostname, port=port or (8883 if tls else 1883),
        username=username, password=password or None, tls=tls,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deskpulse sim", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("building", help="generate a building as hub import JSON")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--desks", type=int, default=100)
    b.add_argument("--floors", type=int, default=2)
    b.add_argument("--zones-per-floor", type=int, default=None)
    b.add_argument("--desks-per-agent", type=int, default=10)
    b.add_argument("--site", default="demo", help="site id (lowercase, digits, '-')")
    b.add_argument("--name", default="Demo office", help="site name")
    b.add_argument("--timezone", default="Europe/Berlin")
    b.add_argument("--out", required=True, help="output file, or - for stdout")

    f = sub.add_parser("fleet", help="run simulated edge agents against a broker")
    f.add_argument("--building", required=True, type=Path, help="building JSON file")
    f.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker URL")
    f.add_argument("--data", required=True, type=Path, help="directory for agent outboxes")
    f.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    f.add_argument("--since", type=float, default=None, metavar="HOURS",
                   help="start simulated time this many hours ago: backfilled at once at "
                        "--speed 1, replayed at --speed otherwise (default 0, or 1 if fast)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--schedule", choices=SCHEDULES, default="office")
    f.add_argument("--headcount", type=int, default=None)
    f.add_argument("--hold", type=float, default=600.0, help="agent hold time in seconds")
    f.add_argument("--miss-rate", type=float, default=0.0)
    f.add_argument("--dropout-rate", type=float, default=0.0)
    f.add_argument("--wireless-share", type=float, default=0.0,
                   help="share of desks read through a zigbee presence or LD2410 radar "
                        "model and the agent's detector (docs/sensors.md)")
    return parser


def _building(args: argparse.Namespace) -> int:
    try:
        building = generate_building(
            seed=args.seed, site_id=args.site, site_name=args.name, floors=args.floors,
            zones_per_floor=args.zones_per_floor, desks=args.desks,
            desks_per_agent=args.desks_per_agent, timezone=args.timezone,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    text = json.dumps(building.to_dict(), indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
        print(f"wrote {len(building.desks)} desks, {len(building.agents())} agents to {args.out}")
    return 0


def load_building(path: Path) -> Building:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{path}: not valid JSON") from None
    return Building.from_dict(data)


def _fleet(args: argparse.Namespace) -> int:
    from firmware_sim.fleet import FleetRunner  # imports the agent only when needed

    if not 1.0 <= args.speed <= 1e6:
        raise UsageError("--speed must be between 1 and 1000000")
    if args.since is not None and args.since < 0:
        raise UsageError("--since must not be negative")
    mqtt = parse_mqtt_url(args.mqtt)
    building = load_building(args.building)
    try:
        people = PeopleModel(
            building, seed=args.seed, headcount=args.headcount, schedule=args.schedule
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    fleet = FleetRunner(
        building, people, mqtt=mqtt, data_dir=args.data, hold_seconds=args.hold,
        seed=args.seed, miss_rate=args.miss_rate, dropout_rate=args.dropout_rate,
        wireless_share=args.wireless_share,
    )
    with fleet:
        now = time.time()
        start = None if args.since is None else now - args.since * 3600
        if start is not None and args.speed == 1.0:
            steps = fleet.backfill(start, now)
            log.info("backfilled %d steps (%.1f h)", steps, args.since)
            start = None
        fleet.start()
        print(f"running {len(fleet.agents)} agents for {len(building.desks)} desks "
              f"against {mqtt.host}:{mqtt.port}; Ctrl-C stops", flush=True)
        fleet.run_live(stop, args.speed, start=start)
        drained = fleet.wait_drained(5.0)
        if not drained:
            log.warning("%d message(s) stay in the outboxes for the next run",
                        fleet.outbox_depth())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "building":
            return _building(args)
        return _fleet(args)
    except DeskpulseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
