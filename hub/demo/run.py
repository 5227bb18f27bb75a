"""`deskpulse demo`: broker + hub + a simulated office of real edge agents, one command.

The building runs the ``office`` schedule (hybrid workers, Tue-Thu peaks, lunch,
meetings) in the site's time zone (Europe/Berlin). Four weeks of history are filled in
first: real agents stepped through simulated time up to a few minutes ago, at the speed
the CPU allows. Then the live part starts. With the default ``--clock office-hours`` it
replays busy working days from 08:30 at 20x speed, whatever the hour, so a new user sees
desks change state, zones fill and people check in at 02:00 on a Sunday too; every
message still carries the wall clock. ``--clock real`` follows the wall clock instead (a
quiet screen outside office hours, as in a real office).

Everything flows through the real code paths: desk sensors into the agents' state
machines; BLE phones, beacons and enrolled badges into the agents' scanner callback
(only anonymous zone counts and badge check-ins leave); personal QR codes drawn into
camera frames that the agents decode; label check-ins through the hub's check-in
service; a few sensor faults and one agent that reboots. See README "Demo".
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from platformdirs import user_data_dir
from rich.console import Console

from edge.ble.zones import bin_start
from edge.config import MqttConfig
from edge.private_files import private_dir
from firmware_sim.building import Building, generate_building
from firmware_sim.clock import OfficeHoursClock, RealClock, ScheduleClock, replay_days
from firmware_sim.fleet import FleetRunner
from firmware_sim.live import FaultPlan, LiveTruth
from firmware_sim.live_ble import LiveRadio
from firmware_sim.people import PeopleModel
from hub.auth.accounts import create_api_token, reset_admin_password
from hub.checkin.badges import edge_key_hex
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.demo.broker import LocalBroker, pick_port, start_local_broker
from hub.demo.checkins import DemoCheckins, PersonPool, backfill_labels
from hub.demo.output import HistoryProgress, Ticker
from hub.demo.setup import DemoLayout, DemoPeople, configure_agent, demo_people, layout_for
from hub.server import HubServer

log = logging.getLogger(__name__)

Clock = Literal["office-hours", "real"]
CLOCKS: tuple[Clock, ...] = ("office-hours", "real")
BACKFILL_STEP = 120.0  # the agents' hold time (600 s) hides shorter absences anyway
CHECKIN_DELAY = 300.0  # schedule seconds between sitting down and checking in
BIN = 900
BLE_WARMUP_SECONDS = 120.0  # adverts fed before the first bin closes (its peak count)
REBOOT_EVERY, REBOOT_AT, REBOOT_FOR = 1200.0, 45.0, 60.0  # wall seconds
TIMEZONE = "Europe/Berlin"


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path | None = None
    http_port: int = 8000
    mqtt_port: int = 1883
    desks: int = 100
    history_days: float = 28.0
    embedded_broker: bool = False
    seed: int = 7
    clock: Clock = "office-hours"
    speed: float = 20.0


def _marker_time(marker: Path) -> float | None:
    try:
        return float(json.loads(marker.read_text())["simulated_until"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _backfill_from(marker: Path, now: float, history_days: float) -> float:
    """Resume simulated history where an earlier demo run in this data dir stopped."""
    earliest = now - history_days * 86_400
    done = _marker_time(marker)
    return earliest if done is None else max(earliest, min(done, now))


def _building(options: DemoOptions) -> Building:
    per_floor = max(1, options.desks // 2)
    return generate_building(
        seed=options.seed, site_id="demo", site_name="Deskpulse Demo Office",
        desks=options.desks, zones_per_floor=max(1, min(4, per_floor // 12)),
        desks_per_agent=5, timezone=TIMEZONE,
    )


@dataclass
class _Run:
    """Everything one demo run started, so that the stop order is in one place."""

    broker: LocalBroker
    server: HubServer | None = None
    fleet: FleetRunner | None = None
    checkins: DemoCheckins | None = None
    live: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def close(self, console: Console) -> None:
        """Agents say goodbye while the broker still runs; then the hub, then the broker."""
        self.stop.set()
        console.print("Stopping…")
        if self.live is not None:
            self.live.join(10)
        if self.checkins is not None:
            self.checkins.stop()
        if self.fleet is not None:
            self.fleet.stop()
        if self.server is not None:
            self.server.stop()
        self.broker.stop()


class _QuietPlannedFaults(logging.Filter):
    """The demo's own planned sensor faults are shown on the dashboard, not logged."""

    def __init__(self, desks: tuple[str, ...]) -> None:
        super().__init__()
        self.desks = set(desks)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (args and args[0] in self.desks and "sensor of desk" in str(record.msg))


def run_demo(options: DemoOptions) -> int:
    if options.clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}")
    console = Console(highlight=False, soft_wrap=True)
    data_dir = (options.data_dir or Path(user_data_dir("deskpulse")) / "demo").resolve()
    private_dir(data_dir)  # owner-only, like every data directory the hub creates
    broker = start_local_broker(
        data_dir / "broker", options.mqtt_port, prefer_mosquitto=not options.embedded_broker
    )
    console.print(f"Preparing the hub, the building and the demo accounts in {data_dir}…")
    run = _Run(broker)
    signal.signal(signal.SIGTERM, lambda *_: run.stop.set())
    # Ctrl-C stops the demo even if it was started with SIGINT ignored (a shell's
    # background job): KeyboardInterrupt unwinds into run.close().
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _run(options, console, data_dir, run)
    except KeyboardInterrupt:
        pass
    finally:
        run.close(console)
    return 0


def _run(options: DemoOptions, console: Console, data_dir: Path, run: _Run) -> None:
    fast = options.clock == "office-hours"
    speed = options.speed if fast else 1.0
    settings = HubSettings(
        data_dir=data_dir, mqtt_port=run.broker.port, http_port=pick_port(options.http_port),
        colleague_visibility=True,
        # A check-in ends 10 schedule-minutes after its desk was left, at any replay speed.
        checkout_after_vacant_seconds=600.0 / speed,
        # The simulated history reaches the hub through the agents' outboxes, its events
        # as old as the history: the hub's event horizon must cover it.
        event_horizon_days=min(366.0, max(14.0, options.history_days + 2.0)),
    )
    store = SqliteStore(settings.database_path)
    building = _building(options)
    store.import_building(building.to_dict())
    layout = layout_for(building)
    password = reset_admin_password(store.db)
    token = create_api_token(store.db, "demo", role="manager")
    people = demo_people(store, settings)
    run.server = HubServer(settings, store)
    run.server.start()

    console.print(f"Dashboard: {run.server.url}")
    console.print(f"MQTT broker: mqtt://127.0.0.1:{run.broker.port}")
    console.print(f"Admin login: admin / {password}")
    for name, secret in people.logins.items():
        role = "manager" if name == "manager" else "employee"
        note = ", shares where they sit" if name == "alex" else ""
        console.print(f"{role.capitalize()} login: {name} / {secret} ({role}{note})")
    console.print(f"API token: {token}")
    console.print("The one-time passwords must be changed at first sign-in.")
    console.print(f"[dim]Broker: {run.broker.kind}; data directory: {data_dir}[/dim]")

    model = PeopleModel(building, seed=options.seed, schedule="office")
    marker = data_dir / "demo-state.json"
    now = time.time()
    warm_start = float(bin_start(now, BIN) - BIN)  # the live agents watch one whole bin
    start = _backfill_from(marker, now, options.history_days)
    warm_start = max(warm_start, start)
    pools = {"phone": PersonPool(people.label), "qr": PersonPool(people.qr),
             "beacon": PersonPool(people.beacon)}
    if warm_start - start > BACKFILL_STEP:
        _history(options, console, data_dir, building, model, start, warm_start)
        console.print("Recording the history's check-ins by desk label…")
        backfill_labels(store, model, layout.checkin_desks.label, pools["phone"], start,
                        warm_start, progress=Ticker(
                            console, lambda t, _: f"label check-ins: up to "
                            f"{datetime.fromtimestamp(t, ZoneInfo(TIMEZONE)):%a %d %b}", 0.0))
    _live(options, console, data_dir, run, store, settings, building, model, layout,
          people, pools, warm_start, speed)
    while not run.stop.wait(1.0):
        marker.write_text(json.dumps({"simulated_until": time.time()}))


def _history(options: DemoOptions, console: Console, data_dir: Path, building: Building,
             model: PeopleModel, start: float, end: float) -> None:
    """Agents read the real schedule from ``start`` to ``end``; their messages wait in
    the outboxes that the live agents (same data directories) then deliver."""
    with FleetRunner(building, model, mqtt=MqttConfig(port=1), data_dir=data_dir / "agents",
                     seed=options.seed) as fleet, \
            HistoryProgress(console, start, end, total_days=options.history_days
                            if end - start > options.history_days * 86400 - 3600
                            else None) as progress:
        fleet.backfill(start, end, step_seconds=BACKFILL_STEP, progress=progress.update)


def _live(options: DemoOptions, console: Console, data_dir: Path, run: _Run,
          store: SqliteStore, settings: HubSettings, building: Building, model: PeopleModel,
          layout: DemoLayout, people: DemoPeople, pools: dict[str, PersonPool],
          warm_start: float, speed: float) -> None:
    now = time.time()
    tz = ZoneInfo(TIMEZONE)
    clock: ScheduleClock = RealClock()
    if speed > 1:
        clock = OfficeHoursClock(go_live=now, timezone=TIMEZONE, speed=speed,
                                 days=replay_days(datetime.fromtimestamp(now, tz).date()))
    faults = FaultPlan(since=now, faults={d: (20.0 + 280.0 * i, 150.0)
                                          for i, d in enumerate(layout.fault_desks)})
    logging.getLogger("edge.agent").addFilter(_QuietPlannedFaults(layout.fault_desks))
    truth = LiveTruth(model, clock, origin=warm_start, seed=options.seed, faults=faults)
    badge_key = bytes.fromhex(edge_key_hex(settings))
    run.fleet = fleet = FleetRunner(
        building, model, mqtt=MqttConfig(port=run.broker.port), data_dir=data_dir / "agents",
        seed=options.seed, hold_seconds=600.0 / speed, start_at=warm_start, reader=truth.read,
        configure=configure_agent(layout, badge_key, hold_seconds=600.0 / speed,
                                  badge_dwell_seconds=CHECKIN_DELAY / speed),
    )
    radio_from = max(warm_start, bin_start(now, BIN) - BLE_WARMUP_SECONDS)
    radio = LiveRadio(building, truth, layout.receivers, start=radio_from, seed=options.seed)

    def warm_step(t: float) -> None:
        if t >= radio_from:
            radio.feed(t, fleet.online_agents())

    console.print("Warming up the live building (the last "
                  f"{(now - warm_start) / 60:.0f} minutes)…")
    ticker = Ticker(console, lambda t, end: f"warming up: {(t - warm_start) / 60:.0f} of "
                    f"{(end - warm_start) / 60:.0f} minutes", now)
    fleet.backfill(warm_start, now, step_seconds=1.0, on_step=warm_step, progress=ticker)
    run.checkins = checkins = DemoCheckins(
        store, settings, truth, radio, layout.checkin_desks, pools, people.badge_minor,
        fleet.online_agents, start=fleet.now(), delay=CHECKIN_DELAY / speed)
    checkins.start()
    fleet.start()  # after the warm-up, so each agent's connect snapshot is stamped "now"
    _say_clock(console, speed, now, tz)
    go_live = time.time()

    def live_step(t: float) -> None:
        radio.feed(t, fleet.online_agents())
        checkins.on_step(t)
        agent = layout.rebooting_agent
        if agent is not None:
            phase = (t - go_live) % REBOOT_EVERY
            if REBOOT_AT <= phase < REBOOT_AT + REBOOT_FOR:
                fleet.take_offline(agent)
            elif agent in fleet.offline:
                fleet.bring_back(agent)

    run.live = threading.Thread(target=fleet.run_live, args=(run.stop,),
                                kwargs={"on_step": live_step}, name="fleet", daemon=True)
    run.live.start()


def _say_clock(console: Console, speed: float, now: float, tz: ZoneInfo) -> None:
    local = datetime.fromtimestamp(now, tz)
    office = local.weekday() < 5 and 8 <= local.hour < 18
    when = f"it is {local:%a %H:%M} in {TIMEZONE}"
    if speed > 1:
        console.print(f"Live: the office-hours clock replays working days from 08:30 at "
                      f"{speed:g}x ({when}{'' if office else ', outside office hours'}); "
                      "--clock real follows the wall clock. Ctrl-C stops.")
    else:
        quiet = "" if office else (", outside office hours: desks stay quiet until "
                                   "morning; --clock office-hours replays a working day")
        console.print(f"Live: the building follows the wall clock ({when}{quiet}). "
                      "Ctrl-C stops.")
