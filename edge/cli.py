"""Command line of the edge agent: ``python -m edge run --config edge.toml``.

The only place that configures logging and turns a DeskpulseError into one line on
stderr: exit 2 for a configuration mistake, 1 for anything else the agent refuses.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from edge.agent import Agent
from edge.config import AgentConfig
from edge.errors import ConfigError, DeskpulseError
from edge.sensors import factory
from edge.sensors.base import Sensor

log = logging.getLogger(__name__)


def build_sensors(config: AgentConfig, base_dir: Path, source: str) -> dict[str, Sensor]:
    """One Sensor per desk (see :mod:`edge.sensors.factory`); relative paths are relative
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = AgentConfig.from_toml(args.config)
        sensors = build_sensors(config, args.config.parent, str(args.config))
        agent = Agent(config, sensors)
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
    try:
        agent.start()
        agent.run(stop)
    except DeskpulseError as exc:  # e.g. the outbox's disk is full: let systemd restart us
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        agent.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
