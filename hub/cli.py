"""The `deskpulse` command: `demo`, `hub ...`, `edge ...`, `sim ...`.

Heavy imports happen inside each command so `deskpulse edge run` on a Pi loads only the
edge package. DeskpulseError becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from edge.errors import DeskpulseError
from edge.private_files import write_private

CONFIG_HELP = "hub.toml (default: $DESKPULSE_CONFIG, else /etc/deskpulse/hub.toml)"


def _demo(args: argparse.Namespace) -> int:
    if not 1.0 <= args.speed <= 120.0:
        raise DeskpulseError("--speed must be between 1 and 120 (default 20)")
    # Loading the hub takes seconds (more on a busy machine): say so, in a log too.
    print(f"Starting the demo: a broker, a hub and {args.desks} simulated desks…", flush=True)
    loaded = threading.Event()

    def still_loading() -> None:
        while not loaded.wait(5.0):
            print("Starting the demo: still loading…", flush=True)

    threading.Thread(target=still_loading, name="demo-loading", daemon=True).start()
    try:
        from hub.demo.run import DemoOptions, run_demo
    finally:
        loaded.set()

    return run_demo(DemoOptions(
        data_dir=args.data, http_port=args.port, mqtt_port=args.mqtt_port,
        desks=args.desks, history_days=args.history_days,
        embedded_broker=args.embedded_broker, seed=args.seed, clock=args.clock,
        speed=args.speed,
    ))


def _hub_config(args: argparse.Namespace) -> Path | None:
    """The hub.toml of this command (hub/config_discovery.py), said on stderr unless it was
    given with --config."""
    from hub import config_discovery

    path, source = config_discovery.find(args.config)
    if source != "--config":
        print(f"deskpulse: using {path or 'no hub.toml'} (from {source})", file=sys.stderr)
    return path


def _hub_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hub.config import HubSettings

    return HubSettings.from_toml(_hub_config(args))


def _hub_serve(args: argparse.Namespace) -> int:
    """`hub serve [--role R] [--worker NAME]`: the parts of the hub that R asks for."""
    import signal
    import threading

    from hub.auth.accounts import ensure_admin
    from hub.config import HubSettings
    from hub.server import HubServer

    overrides = {} if args.worker is None else {"worker_name": args.worker}
    settings = HubSettings.from_toml(_hub_config(args), **overrides)
    server = HubServer(settings, role=args.role)
    password = ensure_admin(server.store.db) if server.serves_http else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(f"Hub role {args.role}: " + (f"API on {server.url}" if server.serves_http else
          "no HTTP") + "  (Ctrl-C stops)", flush=True)
    if password is not None:
        print(f"Admin login: admin / {password}  (one-time: the first sign-in sets a new one)",
              flush=True)
    announced = False
    try:
        while not stop.wait(0.5):
            if not announced and server.ingestor is not None and server.ingestor.connected:
                group = settings.mqtt_shared_group
                print(f"Ingest subscribed as {server.ingestor.client_id}"
                      + (f" in shared group {group}" if group else ""), flush=True)
                announced = True
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if server.ingestor is not None:  # what this worker did, for logs and tests
            print("Ingest stopped: " + ", ".join(
                f"{name} {value}" for name, value in server.ingestor.stats.items()), flush=True)
    return 0


def _hub_import(args: argparse.Namespace) -> int:
    import json

    from hub.db.engines import open_store

    settings = _hub_settings(args)
    try:
        building = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as exc:
        raise DeskpulseError(f"cannot read building file {args.file}: {exc}") from None
    store = open_store(settings.store_url)  # SQLite file or database_url (PostgreSQL)
    store.import_building(building)
    store.close()
    print(f"Imported {args.file}")
    return 0


def _hub_token(args: argparse.Namespace) -> int:
    from hub.auth.accounts import create_api_token
    from hub.db.engines import open_store

    settings = _hub_settings(args)
    store = open_store(settings.store_url)
    token = create_api_token(store.db, args.name, role=args.role)
    store.close()
    print(f"API token ({args.role}) for {args.name}: {token}")
    print("It is shown once; send it as 'Authorization: Bearer <token>'.")
    return 0


def _hub_badge_key(args: argparse.Namespace) -> int:
    """The key agents hash iBeacons with, to match enrolled badges (docs/ble.md)."""
    from hub.checkin.badges import edge_key_hex

    print(f'badge_key = "{edge_key_hex(_hub_settings(args))}"  # [ble] of edge.toml; keep secret')
    return 0


def _hub_labels(args: argparse.Namespace) -> int:
    from hub.admin import provision
    from hub.checkin import labels
    from hub.db.engines import open_store

    settings = _hub_settings(args)
    base = args.base_url or settings.public_url or (
        f"http://{settings.http_host}:{settings.http_port}")
    store = open_store(settings.store_url)
    try:
        provision.check_site(store.db, args.site)
        sheet = labels.site_labels(store, args.site, base)
    finally:
        store.close()
    args.out.write_bytes(labels.sheet_pdf(sheet))
    if args.per_desk is not None:
        args.per_desk.mkdir(parents=True, exist_ok=True)
        for label in sheet:
            (args.per_desk / f"{label.desk}.png").write_bytes(labels.qr_png(label.url))
            (args.per_desk / f"{label.desk}.svg").write_bytes(labels.qr_svg(label.url))
    print(f"Wrote {len(sheet)} desk labels to {args.out} (codes point to {base}/d/...)")
    warning = labels.loopback_warning(base)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _hub_agents_add(args: argparse.Namespace) -> int:
    from hub.admin import provision
    from hub.building import desk_sensors
    from hub.db.engines import open_store

    settings = _hub_settings(args)
    store = open_store(settings.store_url)
    try:
        provision.check_name(args.name, args.site)
        provision.check_site(store.db, args.site)
        desks = provision.agent_desks(store.db, args.name, args.site)
        password, text = provision.add_agent(
            args.name, args.site, passwd_file=args.passwd_file, acl_file=args.acl_file,
            broker_host=args.broker_host, broker_port=args.broker_port, tls=not args.no_tls,
            ca_file=args.ca_file, desks=desks,
            sensors=dict(desk_sensors.agent_sensors(store.db, args.name)))
        with store.transaction() as db:
            provision.record_added(db, args.name, args.site)
    finally:
        store.close()
    if args.out is not None:  # owner-only from the start: the file holds the password
        write_private(args.out, text)
        print(f"Wrote {args.out}: copy it to the agent as its edge.toml (mode 600).")
        print(f"MQTT password for {args.name}: {password}")
    else:
        print(text, end="")
    _said_broker_files(args)
    print("The password is shown once and stored only as a hash: reload the broker (SIGHUP).",
          file=sys.stderr)
    return 0


def _said_broker_files(args: argparse.Namespace) -> None:
    """The broker's files live outside the hub's data_dir: say which ones were changed."""
    print(f"Broker files updated: {args.passwd_file} and {args.acl_file} "
          "(--passwd-file/--acl-file to use others).", file=sys.stderr)


def _hub_agents_revoke(args: argparse.Namespace) -> int:
    from hub.admin import provision
    from hub.db.engines import open_store

    known = provision.revoke_agent(args.name, passwd_file=args.passwd_file,
                                   acl_file=args.acl_file)
    _said_broker_files(args)
    store = open_store(_hub_settings(args).store_url)
    try:
        with store.transaction() as db:
            provision.record_revoked(db, args.name)
    finally:
        store.close()
    print(f"Revoked {args.name}; reload the broker (SIGHUP) to refuse it."
          if known else f"{args.name} had no broker credentials; nothing to revoke.")
    return 0


def _hub_agents_edge_config(args: argparse.Namespace) -> int:
    """The agent's edge.toml from the building, with its desks' sensors (no secret)."""
    from hub.admin import edge_config
    from hub.db.engines import open_store

    store = open_store(_hub_settings(args).store_url)
    try:
        text = edge_config.agent_edge_toml(
            store.db, args.name, broker_host=args.broker_host, broker_port=args.broker_port,
            tls=not args.no_tls, ca_file=args.ca_file)
    finally:
        store.close()
    if args.out is None:
        print(text, end="")
    else:
        write_private(args.out, text)  # it will hold the agent's MQTT password
        print(f"Wrote {args.out}: copy it to the agent as its edge.toml, then add the MQTT "
              "password.")
    return 0


def _hub_agents_hub_account(args: argparse.Namespace) -> int:
    from hub.admin import provision

    password = provision.ensure_hub_account(passwd_file=args.passwd_file,
                                            acl_file=args.acl_file)
    _said_broker_files(args)
    if password is None:
        print(f"{provision.HUB_ACCOUNT} already exists; its password is unchanged.")
        return 0
    print(f"MQTT account {provision.HUB_ACCOUNT}, password: {password}")
    print("Shown once: set mqtt_username and DESKPULSE_MQTT_PASSWORD for `hub serve`, "
          "then reload the broker.")
    return 0


def _hub_privacy(args: argparse.Namespace) -> int:
    """`deskpulse hub privacy docs|reapply-deletions|verify-audit` (hub/privacy)."""
    if args.privacy_command == "docs":
        from hub.privacy import docs

        print(f"Wrote {docs.write(args.out or docs.DOC_PATH)}")
        return 0
    from hub.db.engines import open_store
    from hub.privacy import audit, rights

    settings = _hub_settings(args)
    store = open_store(settings.store_url)
    try:
        if args.privacy_command == "verify-audit":
            verdict = audit.verify(store.db)
            print(f"audit trail: {verdict.entries} entries, "
                  + ("intact" if verdict.ok else f"BROKEN: {verdict.problem}"))
            return 0 if verdict.ok else 1
        with store.transaction() as db:
            count = rights.reapply_deletions(db, settings.ensure_secret_key(),
                                             rights.deletion_log_path(settings.database_path))
    finally:
        store.close()
    print(f"Re-applied {count} logged deletions.")
    return 0


def _add_privacy_parser(hub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    privacy = hub.add_parser("privacy", help="privacy inventory docs, deletions, audit trail")
    sub = privacy.add_subparsers(dest="privacy_command", required=True)
    doc = sub.add_parser("docs", help="generate docs/privacy.md from the data inventory")
    doc.add_argument("--out", type=Path, default=None, help="file to write")
    again = sub.add_parser("reapply-deletions",
                           help="delete again the accounts in the deletion log (after a restore)")
    check = sub.add_parser("verify-audit", help="check the audit trail's hash chain")
    for cmd in (doc, again, check):
        cmd.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)
        cmd.set_defaults(func=_hub_privacy)


def _add_agents_parser(hub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`deskpulse hub agents add|revoke|hub-account|edge-config` (hub/admin/provision.py,
    hub/admin/edge_config.py)."""
    from hub.admin.edge_config import PLACEHOLDER_HOST

    agents = hub.add_parser("agents", help="per-agent MQTT credentials and broker ACL")
    sub = agents.add_subparsers(dest="agents_command", required=True)
    add = sub.add_parser("add", help="create an agent's credentials and its edge.toml")
    add.add_argument("name", help="agent id")
    add.add_argument("--site", required=True, help="site id the agent reports for")
    add.add_argument("--out", type=Path, default=None, help="write edge.toml here (mode 600)")
    add.add_argument("--broker-host", default=PLACEHOLDER_HOST,
                     help="broker name the agent connects to (in the server certificate; "
                          "default: a placeholder to replace)")
    add.add_argument("--broker-port", type=int, default=8883)
    add.add_argument("--no-tls", action="store_true", help="plain MQTT (not recommended)")
    add.add_argument("--ca-file", default="/etc/deskpulse/ca.crt",
                     help="path of the private CA certificate on the agent")
    add.set_defaults(func=_hub_agents_add)
    rev = sub.add_parser("revoke", help="remove an agent's credentials and ACL")
    rev.add_argument("name")
    rev.set_defaults(func=_hub_agents_revoke)
    acc = sub.add_parser("hub-account", help="create the hub's own broker account once")
    acc.set_defaults(func=_hub_agents_hub_account)
    cfg = sub.add_parser("edge-config", help="print an agent's edge.toml from the building "
                                             "(desks, zones, sensors; no password)")
    cfg.add_argument("name", help="agent id")
    cfg.add_argument("--out", type=Path, default=None, help="write edge.toml here")
    cfg.add_argument("--broker-host", default=PLACEHOLDER_HOST,
                     help="broker name the agent connects to (default: a placeholder)")
    cfg.add_argument("--broker-port", type=int, default=8883)
    cfg.add_argument("--no-tls", action="store_true", help="plain MQTT (not recommended)")
    cfg.add_argument("--ca-file", default="/etc/deskpulse/ca.crt",
                     help="path of the private CA certificate on the agent")
    cfg.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)
    cfg.set_defaults(func=_hub_agents_edge_config)
    for cmd in (add, rev, acc):
        cmd.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)
        cmd.add_argument("--passwd-file", type=Path,
                         default=Path("/etc/mosquitto/deskpulse.passwd"))
        cmd.add_argument("--acl-file", type=Path, default=Path("/etc/mosquitto/deskpulse.acl"))


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
    demo.add_argument("--history-days", type=float, default=28.0,
                      help="days of simulated history to fill in first (default 28)")
    demo.add_argument("--clock", choices=("office-hours", "real"), default="office-hours",
                      help="office-hours (default): the live part replays busy working "
                           "days at --speed, at any hour; real: follow the wall clock")
    demo.add_argument("--speed", type=float, default=20.0,
                      help="replay speed of --clock office-hours (default 20)")
    demo.add_argument("--embedded-broker", action="store_true",
                      help="use the in-process amqtt broker even if mosquitto is installed")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    demo.set_defaults(func=_demo)

    hub = commands.add_parser("hub", help="hub commands").add_subparsers(
        dest="hub_command", required=True)
    serve = hub.add_parser("serve", help="run ingest, rollups and the API (or one role)")
    serve.add_argument("--role", choices=["all", "ingest", "aggregate", "api"], default="all",
                       help="ingest: MQTT ingest + agent liveness; aggregate: rollups and "
                            "periodic jobs (run one); api: HTTP only; all: everything "
                            "(default; see docs/scale.md)")
    serve.add_argument("--worker", default=None, metavar="NAME",
                       help="this worker's name (overrides worker_name): its MQTT client id "
                            "is deskpulse-hub-NAME")
    serve.set_defaults(func=_hub_serve)
    imp = hub.add_parser("import-building", help="import sites/floors/zones/desks (JSON)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=_hub_import)
    tok = hub.add_parser("create-token", help="create an API token for scripts")
    tok.add_argument("name")
    tok.add_argument("--role", choices=["manager", "admin"], default="manager")
    tok.set_defaults(func=_hub_token)
    bkey = hub.add_parser("badge-key", help="print the [ble] badge_key for badge check-in")
    bkey.set_defaults(func=_hub_badge_key)
    lab = hub.add_parser("labels", help="print desk QR labels (A4 PDF, PNG/SVG per desk)")
    lab.add_argument("--site", required=True, help="site id")
    lab.add_argument("--out", type=Path, default=Path("labels.pdf"), help="PDF to write")
    lab.add_argument("--base-url", default=None,
                     help="hub URL phones open (default: public_url, else http_host:port)")
    lab.add_argument("--per-desk", type=Path, default=None, metavar="DIR",
                     help="also write <desk>.png and <desk>.svg into DIR")
    lab.set_defaults(func=_hub_labels)
    _add_agents_parser(hub)
    _add_privacy_parser(hub)
    for sub in (serve, imp, tok, lab, bkey):
        sub.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)

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
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in ("edge", "sim"):  # their own parsers, --help included
        return _delegate("edge.cli" if words[0] == "edge" else "firmware_sim.cli", words[1:])
    args = build_parser().parse_args(words)
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
