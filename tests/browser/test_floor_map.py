"""The live floor map in a real headless Chromium against real uvicorn and a real SQLite store.

The hub fixture follows tests/browser/test_dashboard.py; Chromium comes from conftest.py.
A desk change is written through the store's real ingest path and must reach
the map over Server-Sent Events within a second of the write.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.protocol import Topic, ZoneCount, ZonesMessage
from firmware_sim.building import generate_building
from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import Incoming, SqliteStore
from tests.support.browser import serving
from tests.support.building import BUILDING, Desks

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("timing")]  # measures time
USER, PASSWORD = "flo", "a long floor map password"
SCREENSHOT = Path("/tmp/floor_map.png")


@dataclass
class Hub:
    url: str
    store: SqliteStore
    desks: Desks
    token: str


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("floor-hub"))
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.create_user(store.db, USER, PASSWORD, "manager")
    token = accounts.create_api_token(store.db, "floor-tests", role="manager")
    desks = Desks(store)
    now = time.time()
    desks.send(("hq-d1", "occupied", now - 600), ("hq-d2", "vacant", now - 300))
    bs = settings.bin_seconds
    closed = int(now // bs) * bs - bs
    counts = ZonesMessage(agent="hq-agent-1", boot=1, seq=100, sent=now,
                          counts=(ZoneCount(zone="hq-north", bin=closed, devices=7),))
    result = store.apply([Incoming(Topic("hq", "hq-agent-1", "zones"), counts, now)])
    assert not result.rejected, result.rejected
    with serving(create_app(settings, store)) as url:
        yield Hub(url, store, desks, token)
    store.close()


def open_page(browser: Any, hub: Hub, path: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.goto(hub.url + "/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(hub.url + "/?site=hq")
    page.goto(hub.url + path)
    return context, page, errors


def desk(page: Any, desk_id: str) -> Any:
    return page.locator(f'.map-desk[data-desk="{desk_id}"]')


def test_desks_sit_at_their_positions_and_follow_changes_within_a_second(
    browser: Any, hub: Hub
) -> None:
    context, page, errors = open_page(browser, hub, "/floors")
    try:
        expect = sync_api.expect
        page.wait_for_url(hub.url + "/floors/hq-f1?site=hq")  # first floor chosen, in URL
        expect(desk(page, "hq-d1")).to_have_attribute("data-state", "occupied")
        expect(desk(page, "hq-d1").locator(".map-desk-state")).to_have_text("\u25cf occupied")
        expect(desk(page, "hq-d2").locator(".map-desk-state")).to_have_text("\u25cb vacant")
        expect(desk(page, "hq-d3")).to_have_attribute("data-state", "unknown")
        expect(page.locator(".map-desk")).to_have_count(3)  # only this floor's desks
        # Drawn left to right in the order of their x positions (0.1, 0.2, 0.3).
        xs = [desk(page, d).bounding_box()["x"] for d in ("hq-d1", "hq-d2", "hq-d3")]
        assert xs == sorted(xs) and xs[0] < xs[1] < xs[2]
        expect(page.locator('.zone-label-count[data-zone="hq-north"]')).to_have_text(
            "\u00b7 7 devices")
        expect(page.locator('[data-count="occupied"]')).to_have_text("1")
        expect(page.locator(".views a[aria-current=page]")).to_have_text("Floor map")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        written = time.monotonic()
        hub.desks.send(("hq-d2", "occupied", time.time()))
        page.wait_for_selector('.map-desk[data-desk="hq-d2"][data-state="occupied"]',
                               timeout=3000)
        elapsed = time.monotonic() - written
        assert elapsed < 1.0, f"the map changed {elapsed:.2f} s after the write"
        expect(page.locator('[data-count="occupied"]')).to_have_text("2")
        assert errors == []
    finally:
        context.close()


def test_a_floor_without_positions_falls_back_to_the_grid(browser: Any, hub: Hub) -> None:
    context, page, errors = open_page(browser, hub, "/floors/lab-f0?site=lab")
    try:
        expect = sync_api.expect
        expect(page.locator("#plan")).to_have_attribute("data-mode", "grid")
        expect(page.locator('#desk-grid .desk[data-desk="lab-d1"] .desk-state')).to_have_text(
            "? unknown")
        expect(page.locator(".floor-tab")).to_have_text(["Ground"])
        assert errors == []
    finally:
        context.close()


def test_stream_sends_a_snapshot_then_changes_and_needs_auth(hub: Hub) -> None:
    url = hub.url + "/api/v1/desks/stream?site=hq"
    assert httpx.get(url, timeout=5).status_code == 401
    headers = {"Authorization": f"Bearer {hub.token}"}
    once = httpx.get(url, headers=headers, timeout=5)  # no Accept: the snapshot, then the end
    assert once.text.count("event: snapshot") == 1 and "event: desks" not in once.text
    headers["Accept"] = "text/event-stream"
    with httpx.stream("GET", url, headers=headers, timeout=5) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        events: list[tuple[str, str]] = []
        name = ""
        for line in lines:
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, line[6:]))
                if name == "snapshot":
                    hub.desks.send(("hq-d5", "occupied", time.time()))
                else:
                    break
    assert events[0][0] == "snapshot" and '"hq-d1"' in events[0][1]
    assert '"x":0.1' in events[0][1]
    assert events[1][0] == "desks"
    assert '"id":"hq-d5"' in events[1][1] and '"state":"occupied"' in events[1][1]
    assert '"hq-d1"' not in events[1][1]  # only what changed


def test_an_assigned_desk_shows_as_assigned_on_map_and_dashboard(
    browser: Any, hub: Hub
) -> None:
    """PRIVACY.md 8: desk 4 becomes assigned to one person; occupied or not, it shows as
    `assigned` (no live state, no since) and is not counted."""
    building = copy.deepcopy(BUILDING)
    building["sites"][0]["floors"][1]["zones"][0]["desks"][0]["assigned"] = True
    hub.store.import_building(building)
    hub.desks.send(("hq-d4", "occupied", time.time()))
    context, page, errors = open_page(browser, hub, "/floors/hq-f2?site=hq")
    try:
        expect = sync_api.expect
        expect(desk(page, "hq-d4")).to_have_attribute("data-state", "assigned")
        expect(desk(page, "hq-d4").locator(".map-desk-state")).to_have_text("\u2013 assigned")
        page.goto(hub.url + "/?site=hq")
        tile = page.locator('.desk[data-desk="hq-d4"]')
        expect(tile).to_have_attribute("data-state", "assigned")
        expect(tile.locator(".desk-state")).to_have_text("assigned")
        expect(tile.locator(".desk-since")).to_have_text("")
        assert errors == []
    finally:
        context.close()


# --- a floor as a facilities manager reads it: the demo building and a 500-desk floor ----

SHOTS = Path("/tmp/floor_map")
ADMIN = "ada"
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@dataclass
class Building:
    url: str
    store: SqliteStore
    desks: Desks


@pytest.fixture(scope="module")
def buildings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Building]:
    """The demo's building (seed 7, 100 desks on two floors, as `deskpulse demo` makes it)
    and a one-floor site of 500 desks, both from firmware_sim, with some live states."""
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("floor-buildings"))
    store = SqliteStore(settings.database_path)
    store.import_building(generate_building(seed=7, site_id="demo", desks=100).to_dict())
    store.import_building(generate_building(seed=7, site_id="big", floors=1,
                                            desks=500).to_dict())
    accounts.create_user(store.db, USER, PASSWORD, "manager")
    accounts.create_user(store.db, ADMIN, PASSWORD, "admin")
    now = time.time()
    demo = Desks(store, site="demo", agent="demo-agent-01")
    demo.send(("demo-f1-z1-d01", "occupied", now - 900), ("demo-f1-z1-d02", "vacant", now - 60))
    with serving(create_app(settings, store)) as url:
        yield Building(url, store, demo)
    store.close()


def sign_in_at(browser: Any, url: str, size: str, user: str = USER
               ) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.goto(url + "/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/?site=" in u)
    return context, page, errors


def overlapping_markers(page: Any) -> list[list[str]]:
    """Pairs of desk markers whose on-screen boxes overlap (the drawn rectangles)."""
    pairs: list[list[str]] = page.evaluate("""() => {
        const boxes = [...document.querySelectorAll('.map-desk .map-desk-shape')].map(r => {
          const b = r.getBoundingClientRect();
          return {id: r.parentNode.dataset.desk, x: b.x, y: b.y, w: b.width, h: b.height};
        }).sort((a, b) => a.x - b.x);
        const out = [];
        for (let i = 0; i < boxes.length; i += 1) {
          for (let j = i + 1; j < boxes.length && boxes[j].x < boxes[i].x + boxes[i].w; j += 1) {
            const a = boxes[i], b = boxes[j];
            if (a.y < b.y + b.h && b.y < a.y + a.h && b.x < a.x + a.w) out.push([a.id, b.id]);
          }
        }
        return out;
      }""")
    return pairs


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize(("site", "floor", "count"), [("demo", "demo-f1", 50),
                                                      ("big", "big-f1", 500)])
def test_no_two_desk_markers_overlap_at_any_zoom(
    browser: Any, buildings: Building, size: str, site: str, floor: str, count: int
) -> None:
    context, page, errors = sign_in_at(browser, buildings.url, size)
    try:
        page.goto(f"{buildings.url}/floors/{floor}?site={site}")
        sync_api.expect(page.locator(".map-desk[data-state]")).to_have_count(count)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{site}-{size}.png"), full_page=True)
        assert overlapping_markers(page) == []
        for _ in range(4):
            page.click("#zoom-in")
        zoom = float(page.locator("#plan-svg").get_attribute("data-zoom") or 0)
        assert zoom > 4, zoom
        assert overlapping_markers(page) == []
        page.screenshot(path=str(SHOTS / f"{site}-{size}-zoomed.png"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SIZES[size]["width"]
        assert errors == []
    finally:
        context.close()


def test_every_desk_is_reached_by_tab_and_opens_its_panel(
    browser: Any, buildings: Building
) -> None:
    """Tab walks the desks of the demo floor in order; Enter on each opens its panel
    (state, check-in without a name, sensor); a click does too; Escape closes it and
    returns focus to the desk."""
    context, page, errors = sign_in_at(browser, buildings.url, "desktop")
    expect = sync_api.expect
    try:
        page.goto(f"{buildings.url}/floors/demo-f1?site=demo")
        desks = page.locator(".map-desk[data-state]")
        expect(desks).to_have_count(50)
        ids = desks.evaluate_all("nodes => nodes.map(n => n.dataset.desk)")
        page.locator("#zoom-fit").focus()  # the last control before the plan
        reached = []
        for _ in ids:
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.dataset.desk"))
        assert reached == ids
        page.keyboard.press("Enter")
        panel = page.locator("#desk-panel")
        expect(panel).to_be_visible()
        expect(panel).to_have_attribute("data-desk", ids[-1])
        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        assert page.evaluate("document.activeElement.dataset.desk") == ids[-1]

        page.locator('.map-desk[data-desk="demo-f1-z1-d01"]').click()
        expect(panel).to_have_attribute("data-loaded", "true")
        expect(page.locator("#panel-title")).to_have_text("1.1.01")
        expect(page.locator("#panel-state")).to_contain_text("occupied since")
        expect(page.locator("#panel-state")).to_contain_text(" CET")
        expect(page.locator("#panel-checkin")).to_have_text("no one checked in")
        expect(page.locator("#panel-today")).to_contain_text("occupied today so far")
        expect(page.locator("#panel-week svg rect.week-slot")).to_have_count(7)
        page.screenshot(path=str(SHOTS / "panel-desktop.png"))
        assert errors == []
    finally:
        context.close()


def test_zone_counts_and_the_floor_summary_match_the_map(browser: Any, hub: Hub) -> None:
    context, page, errors = open_page(browser, hub, "/floors/hq-f1?site=hq")
    expect = sync_api.expect
    try:
        expect(page.locator('[data-zone-count="hq-north"]')).to_have_text(
            "7 devices nearby (anonymous)")
        expect(page.locator('[data-zone-count="hq-south"]')).to_have_text(
            "devices: no data in the last 15 minutes")
        shown = page.locator(".map-desk[data-state]").evaluate_all(
            "nodes => nodes.map(n => n.dataset.state)")
        for state in ("occupied", "vacant", "unknown"):
            expect(page.locator(f'[data-count="{state}"]')).to_have_text(
                str(shown.count(state)))
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize(("path", "notice"), [
    ("/floors/nosuch?site=hq", "Head office has no floor 'nosuch'."),
    ("/floors/hq-f1?site=lab", "Lab has no floor 'hq-f1'."),
    ("/floors?site=nosuch", 'There is no site "nosuch".'),
])
def test_a_bad_floor_url_says_so_and_keeps_what_was_typed(
    browser: Any, hub: Hub, path: str, notice: str
) -> None:
    context, page, errors = open_page(browser, hub, path)
    try:
        text = page.locator("#error-detail, #url-notice:not([hidden])").first
        sync_api.expect(text).to_contain_text(notice)
        assert page.url == hub.url + path  # the typed URL stays
        sync_api.expect(page.locator(".map-desk")).to_have_count(0)  # no other floor
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_constructor_draws_the_same_non_overlapping_markers_and_zooms(
    browser: Any, buildings: Building, size: str
) -> None:
    context, page, errors = sign_in_at(browser, buildings.url, size, ADMIN)
    try:
        page.goto(f"{buildings.url}/admin/floors/big-f1?site=big")
        sync_api.expect(page.locator(".constructor-desk")).to_have_count(500)
        assert overlapping_markers(page) == []
        for _ in range(3):
            page.click("#zoom-in")
        assert float(page.locator("#plan-svg").get_attribute("data-zoom") or 0) > 3
        assert overlapping_markers(page) == []
        page.screenshot(path=str(SHOTS / f"constructor-{size}-zoomed.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
        assert errors == []
    finally:
        context.close()
