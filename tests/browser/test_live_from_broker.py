"""The whole live path in a real browser: a sensor change on a real edge agent process ->
Mosquitto -> the hub's MQTT ingest -> Server-Sent Events -> the floor map in Chromium.

The other browser tests write desk events straight into the store; this one goes through
every real part in between and holds the dashboard to its promise: a desk turns occupied
on the map within one second of its sensor changing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.server import HubServer
from tests.broker import Mosquitto, free_port

sync_api = pytest.importorskip("playwright.sync_api")

# It measures time: the "timing" group never runs two such tests at once (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.xdist_group("timing")]
REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "liv", "a long live map password"
SCREENSHOT = Path("/tmp/live_from_broker.png")
SITE, AGENT = "live", "live-agent-1"
BUILDING = {"sites": [{"id": SITE, "name": "Live", "timezone": "Europe/Berlin", "floors": [
    {"id": "live-f1", "name": "First floor", "level": 1, "zones": [
        {"id": "live-z1", "name": "North", "desks": [
            {"id": "live-d1", "name": "Window desk", "agent": AGENT, "x": 0.3, "y": 0.4},
            {"id": "live-d2", "name": "Corner desk", "agent": AGENT, "x": 0.6, "y": 0.4},
        ]}]}]}]}


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto) -> Iterator[HubServer]:
    settings = HubSettings(data_dir=tmp_path / "hub", mqtt_port=broker.port,
                           http_port=free_port())
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.create_user(store.db, USER, PASSWORD, "manager")
    server = HubServer(settings, store)
    server.start()
    deadline = time.monotonic() + 10
    while not server.ingestor.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.ingestor.connected, "the hub did not connect to the broker"
    yield server
    server.stop()


@pytest.fixture
def agent(tmp_path: Path, broker: Mosquitto) -> Iterator[Path]:
    """A real edge agent process whose two desks read files (the `file:` sensor): writing
    "present" to a file is the sensor change. Yields the folder of those files."""
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    for desk in ("live-d1", "live-d2"):
        (sensors / desk).write_text("absent\n")
    config = tmp_path / "edge.toml"
    config.write_text(
        f'site = "{SITE}"\nagent = "{AGENT}"\ndata_dir = "{tmp_path / "edge"}"\n'
        "poll_seconds = 0.1\nhold_seconds = 0.3\nhealth_seconds = 5\n"
        f"[mqtt]\nport = {broker.port}\nkeepalive = 5\n"
        + "".join(f'[[desks]]\nid = "{d}"\nzone = "live-z1"\nsensor = "file:{sensors / d}"\n'
                  for d in ("live-d1", "live-d2")))
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(config)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield sensors
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_a_sensor_change_reaches_the_floor_map_through_the_broker_within_a_second(
    hub: HubServer, agent: Path, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    base = hub.url.rstrip("/")
    try:
        page.goto(base + "/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/?site={SITE}")
        page.goto(f"{base}/floors/live-f1?site={SITE}")
        d1 = '.map-desk[data-desk="live-d1"]'
        # The agent reported both desks vacant through the broker: the map shows it.
        page.wait_for_selector(f'{d1}[data-state="vacant"]', timeout=15_000)
        page.wait_for_selector('.map-desk[data-desk="live-d2"][data-state="vacant"]',
                               timeout=5_000)

        changed = time.monotonic()
        (agent / "live-d1").write_text("present\n")
        page.wait_for_selector(f'{d1}[data-state="occupied"]', timeout=5_000)
        elapsed = time.monotonic() - changed
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert elapsed < 1.0, f"the map turned occupied {elapsed:.2f} s after the sensor"
        sync_api.expect(page.locator(f"{d1} .map-desk-state")).to_have_text("\u25cf occupied")
        # The other desk did not move, and nothing on the page failed.
        assert page.locator('.map-desk[data-desk="live-d2"]').get_attribute(
            "data-state") == "vacant"
        assert errors == []
    finally:
        context.close()
