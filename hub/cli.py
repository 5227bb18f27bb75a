"""The `deskpulse` command: `demo`, `hub ...`, `edge ...`, `sim ...`.

Heavy imports happen inside each command so `deskpulse edge run` on a Pi loads only the
edge package. DeskpulseError becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from edge.errors import DeskpulseError


def _demo(args: argparse.Namespace) -> int:
    from hub.demo import DemoOptions, run_demo

    return run_demo(DemoOptions(
        data_dir=args.data, http_port=args.port, mqtt_port=args.mqtt_port,
        desks=args.desks, history_days=args.history_days,
        embedded_broker=args.embedded_broker, seed=args.seed,
    ))


def _hub_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hub.config import HubSettings

    return HubSettings.from_toml(args.config)


def _hub_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from hub.accounts import ensure_admin
    from hub.server import HubServer

    settings = _hub_settings(args)
    server = HubServer(settings)
    password = ensure_admin(server.store.db)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(f"Hub API: {server.url}  (Ctrl-C stops)", flush=True)
    if password is not None:
        print(f"Admin login: admin / {password}  (one-time: the first sign-in sets a new one)",
              flush=True)
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _hub_import(args: argparse.Namespace) -> int:
    import json

    from hub.store import SqliteStore

    settings = _hub_settings(args)
    try:
        building = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as exc:
        raise DeskpulseError(f"cannot read building file {args.file}: {exc}") from None
    store = SqliteStore(settings.database_path)
    store.import_building(building)
    store.close()
    print(f"Imported {args.file}")
    return 0


def _hub_token(args: argparse.Namespace) -> int:
    from hub.accounts import create_api_token
    from hub.store import SqliteStore

    settings = _hub_settings(args)
    store = SqliteStore(settings.database_path)
    token = create_api_token(store.db, args.name, role=args.role)
    store.close()
    print(f"API token ({args.role}) for {args.name}: {token}")
    print("It is shown once; send it as 'Authorization: Bearer <token>'.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskpulse", description="Anonymous workplace occupancy and check-in."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run broker, hub and a simulated building")
    demo.add_argument("--data", type=Path, default=None,
                      help="directory for the demo database (default: per-user data dir)")
    demo.add_argument("--port", type=int, default=8000, help="dashboard port (default 8000)")
    demo.add_argument("--mqtt-port", type=int, default=1883, help="broker port (default 1883)")
    demo.add_argument("--desks", type=int, default=100, help="desks in the simulated building")
    demo.add_argument("--history-days", type=float, default=7.0,
                      help="days of simulated history to fill in first (default 7)")
    demo.add_argument("--embedded-broker", action="store_true",
                      help="use the in-process amqtt broker even if mosquitto is installed")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    demo.set_defaults(func=_demo)

    hub = commands.add_parser("hub", help="hub commands").add_subparsers(
        dest="hub_command", required=True)
    serve = hub.add_parser("serve", help="run ingest, rollups and the API")
    serve.set_defaults(func=_hub_serve)
    imp = hub.add_parser("import-building", help="import sites/floors/zones/desks (JSON)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=_hub_import)
    tok = hub.add_parser("create-token", help="create an API token for scripts")
    tok.add_argument("name")
    tok.add_argument("--role", choices=["manager", "admin"], default="manager")
    tok.set_defaults(func=_hub_token)
    for sub in (serve, imp, tok):
        sub.add_argument("--config", type=Path, default=None, help="hub.toml")

    edge = commands.add_parser("edge", help="edge agent commands (run on the Pi)",
                               add_help=False)
    edge.add_argument("rest", nargs=argparse.REMAINDER)
    edge.set_defaults(func=lambda a: _delegate("edge.cli", a.rest))
    sim = commands.add_parser("sim", help="simulated buildings and fleets", add_help=False)
    sim.add_argument("rest", nargs=argparse.REMAINDER)
    sim.set_defaults(func=lambda a: _delegate("firmware_sim.cli", a.rest))
    return parser


def _delegate(module: str, argv: list[str]) -> int:
    import importlib

    result: int = importlib.import_module(module).main(argv)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in ("edge", "sim"):
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    try:
        code: int = args.func(args)
    except DeskpulseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
