"""Command line of the edge agent: ``python -m edge run --config edge.toml``.

The only place that configures logging and turns a DeskpulseError into one line on
stderr: exit 2 for a configuration mistake, 1 for anything else the agent refuses.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
import threading
import uuid
from pathlib import Path
from types import FrameType

from edge import sensor_factory as factory
from edge.agent import Agent
from edge.config import AgentConfig
from edge.errors import ConfigError, DeskpulseError
from edge.sdnotify import Notifier
from edge.sensors.base import Sensor

log = logging.getLogger(__name__)


def build_sensors(config: AgentConfig, base_dir: Path, source: str) -> dict[str, Sensor]:
    """One Sensor per desk (see :mod:`edge.sensor_factory`); relative paths are relative
    to ``base_dir`` (the config file's folder)."""
    return factory.build_sensors(config, base_dir, source)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskpulse edge",
        description="Deskpulse edge agent: desk sensors -> anonymous occupancy over MQTT.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent until SIGINT or SIGTERM")
    run.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    run.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    status = sub.add_parser("status", help="the outbox's figures (and, with --broker, "
                            "whether the broker accepts this agent): for installers on site")
    status.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    status.add_argument("--broker", action="store_true",
                        help="also connect to the broker with the agent's credentials")
    cal = sub.add_parser("calibrate", help="fit [ble] path_loss_exponent and rssi_at_1m "
                         "from a reference beacon (docs/ble.md)")
    cal.add_argument("--samples", type=Path, help="file of 'distance_m,rssi' lines")
    cal.add_argument("--live", action="store_true", help="measure with the scanner instead")
    cal.add_argument("--uuid", type=uuid.UUID, help="--live: the reference iBeacon's UUID")
    cal.add_argument("--major", type=int, help="--live: its major (default: any)")
    cal.add_argument("--minor", type=int, help="--live: its minor (default: any)")
    cal.add_argument("--distances", default="1,2,4,8", help="--live: metres (default 1,2,4,8)")
    cal.add_argument("--seconds", type=float, default=30.0, help="--live: per distance")
    cal.add_argument("--adapter", help="--live: BlueZ adapter, e.g. hci0")
    cal.add_argument("--power", type=float, default=0.0,
                     help="the beacon's advertised 1 m power to subtract (default 0)")
    return parser


def _calibrate(args: argparse.Namespace) -> int:
    """Print the fitted [ble] lines; exit 2 with one line for unusable input."""
    from edge.ble import calibration

    try:
        if args.live == (args.samples is not None):
            raise ConfigError("give either --samples FILE or --live --uuid UUID")
        if args.live:
            if args.uuid is None:
                raise ConfigError("--live needs --uuid of the reference beacon")
            try:
                distances = [float(d) for d in args.distances.split(",")]
            except ValueError:
                raise ConfigError("--distances must be metres separated by commas") from None
            samples = calibration.live_samples(
                args.uuid, distances, seconds=args.seconds, major=args.major,
                minor=args.minor, adapter=args.adapter)
        else:
            try:
                text = args.samples.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {args.samples}: {exc}") from None
            samples = calibration.read_samples(text.splitlines(), str(args.samples))
        fitted = calibration.fit(samples, args.power)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(calibration.as_toml(fitted, samples), end="")
    return 0


def _status(args: argparse.Namespace) -> int:
    """Print the report; exit 0 when all is well, 1 with a warning, 2 for a bad config."""
    from edge import status

    try:
        config = AgentConfig.from_toml(args.config)
        text, code = status.report(config, broker=args.broker)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"error: cannot read the outbox ({exc}): run as the agent's user or root",
              file=sys.stderr)
        return 1
    print(text, end="")
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "status":
        return _status(args)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = AgentConfig.from_toml(args.config)
        from edge.wireless.inputs import WirelessInputs

        wireless = WirelessInputs(config.device_mqtt, client_id=f"deskpulse-{config.site}-"
                                  f"{config.agent}")
        sensors = factory.build_sensors(config, args.config.parent, str(args.config),
                                        wireless=wireless)
        agent = Agent(config, sensors, wireless=wireless if wireless.channels else None)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DeskpulseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    notifier = Notifier()  # systemd Type=notify + WatchdogSec (deploy/systemd); else no-op
    try:
        agent.start()
        notifier.ready()
        agent.run(stop, on_tick=notifier.watchdog)
    except DeskpulseError as exc:  # e.g. the outbox's disk is full: let systemd restart us
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        notifier.stopping()
        agent.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
