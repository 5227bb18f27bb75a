"""`deskpulse demo`: broker + hub + a simulated building of real edge agents, one command.

The simulated site is a 24/7 operations centre (shift schedule) so the dashboard is
populated whatever the hour or weekday the demo is started. History is filled in first
(agents stepped through simulated time up to now), then agents run live at real time.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from edge.config import MqttConfig
from firmware_sim.building import CoreHours, generate_building
from firmware_sim.fleet import FleetRunner
from firmware_sim.people import PeopleModel
from hub.accounts import create_api_token, reset_admin_password
from hub.broker import pick_port, start_local_broker
from hub.config import HubSettings
from hub.server import HubServer
from hub.store import SqliteStore

log = logging.getLogger(__name__)
ALL_DAY = CoreHours(days=(0, 1, 2, 3, 4, 5, 6), start="00:00", end="24:00")
BACKFILL_STEP = 60.0


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path | None = None
    http_port: int = 8000
    mqtt_port: int = 1883
    desks: int = 100
    history_days: float = 7.0
    embedded_broker: bool = False
    seed: int = 7


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), console=console, transient=True,
    )


def _backfill_from(marker: Path, now: float, history_days: float) -> float:
    """Resume simulated history where an earlier demo run in this data dir stopped."""
    earliest = now - history_days * 86_400
    try:
        done = float(json.loads(marker.read_text())["simulated_until"])
    except (OSError, ValueError, KeyError, TypeError):
        return earliest
    return max(earliest, min(done, now))


def run_demo(options: DemoOptions) -> int:
    console = Console()
    data_dir = (options.data_dir or Path(user_data_dir("deskpulse")) / "demo").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    broker = start_local_broker(
        data_dir / "broker", options.mqtt_port, prefer_mosquitto=not options.embedded_broker
    )
    stop = threading.Event()
    server: HubServer | None = None
    fleet: FleetRunner | None = None
    try:
        settings = HubSettings(
            data_dir=data_dir, mqtt_port=broker.port,
            http_port=pick_port(options.http_port),
        )
        store = SqliteStore(settings.database_path)
        building = generate_building(
            seed=options.seed, site_id="demo", site_name="Deskpulse Demo Operations Centre",
            desks=options.desks, core_hours=ALL_DAY,
        )
        store.import_building(building.to_dict())
        password = reset_admin_password(store.db)
        token = create_api_token(store.db, "demo", role="manager")
        server = HubServer(settings, store)
        server.start()

        console.print(f"Dashboard: {server.url}")
        console.print(f"MQTT broker: mqtt://127.0.0.1:{broker.port}")
        console.print(f"Admin login: admin / {password}")
        console.print(f"API token: {token}")
        console.print(f"[dim]Broker: {broker.kind}; data directory: {data_dir}[/dim]")

        people = PeopleModel(building, seed=options.seed, schedule="shifts")
        fleet = FleetRunner(
            building, people, mqtt=MqttConfig(port=broker.port),
            data_dir=data_dir / "agents", seed=options.seed,
        )
        marker = data_dir / "demo-state.json"
        now = time.time()
        start = _backfill_from(marker, now, options.history_days)
        if now - start > BACKFILL_STEP:
            with _progress(console) as progress:
                task = progress.add_task("Simulating history", total=now - start)
                fleet.backfill(
                    start, now, step_seconds=BACKFILL_STEP,
                    progress=lambda t: progress.update(task, completed=t - start),
                )
        fleet.start()  # after backfill, so each agent's connect snapshot is stamped "now"
        marker.write_text(json.dumps({"simulated_until": time.time()}))
        console.print("Live: simulated people are arriving and leaving. Ctrl-C stops.")

        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        live = threading.Thread(target=fleet.run_live, args=(stop,), name="fleet", daemon=True)
        live.start()
        while not stop.wait(1.0):
            marker.write_text(json.dumps({"simulated_until": time.time()}))
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        console.print("Stopping…")
        if fleet is not None:
            fleet.stop()
        if server is not None:
            server.stop()
        broker.stop()
    return 0
