"""The dashboard in a real headless Chromium against a real uvicorn server and SQLite store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.reports.rollup import refresh_rollups
from tests.support.browser import Console, serving
from tests.support.building import BUILDING, Desks

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
USER, PASSWORD = "fran", "a long test password"
SCREENSHOT = Path("/tmp/dashboard.png")


@dataclass
class Hub:
    url: str
    store: SqliteStore
    desks: Desks


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A real HTTP server over a real store, in a thread; module-scoped to keep tests quick."""
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("browser-hub"))
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.create_user(store.db, USER, PASSWORD, "manager")
    desks = Desks(store)
    now = time.time()
    desks.send(("hq-d1", "occupied", now - 600), ("hq-d2", "vacant", now - 300),
               ("hq-d4", "occupied", now - 60))
    refresh_rollups(store, time.time(), settings.bin_seconds)
    with serving(create_app(settings, store)) as url:
        yield Hub(url, store, desks)
    store.close()




@pytest.fixture
def page(browser: Any, hub: Hub) -> Iterator[tuple[Any, Console]]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    console = Console()
    console.attach(page)
    yield page, console
    context.close()


def sign_in(page: Any, hub: Hub) -> None:
    page.goto(hub.url + "/")
    assert page.url == hub.url + "/login"  # signed out: redirected
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(hub.url + "/?site=hq")
    page.wait_for_selector(".desk[data-state]")


def tile(page: Any, desk: str) -> Any:
    return page.locator(f'.desk[data-desk="{desk}"]')


def test_live_floor_shows_states_and_follows_changes(
    page: tuple[Any, Console], hub: Hub
) -> None:
    browser_page, console = page
    sign_in(browser_page, hub)
    expect = sync_api.expect
    expect(tile(browser_page, "hq-d1")).to_have_attribute("data-state", "occupied")
    expect(tile(browser_page, "hq-d1").locator(".desk-state")).to_have_text("occupied")
    expect(tile(browser_page, "hq-d2").locator(".desk-state")).to_have_text("vacant")
    expect(tile(browser_page, "hq-d3").locator(".desk-state")).to_have_text("unknown")
    expect(tile(browser_page, "hq-d1")).to_have_class("desk desk--occupied")

    floors = browser_page.locator(".floor")
    expect(floors).to_have_count(2)
    expect(floors.nth(0).locator(".floor-name")).to_have_text("First floor")
    expect(floors.nth(0).locator(".zone-name")).to_have_text(["North", "South"])
    first_counts = floors.nth(0).locator(".floor-counts")
    expect(first_counts).to_contain_text("1 occupied")
    expect(first_counts).to_contain_text("1 vacant")
    expect(first_counts).to_contain_text("1 unknown")
    # Today's utilisation per floor, with the window stated.
    expect(floors.nth(1).locator('[data-metric="time_utilisation"]')).to_have_text("100 %")
    expect(browser_page.locator("#window-text")).to_contain_text("Utilisation today 00:00")
    expect(browser_page.locator("#window-text")).to_contain_text("Europe/Berlin")
    expect(browser_page.locator("#site-select")).to_be_visible()  # two sites
    browser_page.screenshot(path=str(SCREENSHOT), full_page=True)

    hub.desks.send(("hq-d2", "occupied", time.time()))
    started = time.monotonic()
    expect(tile(browser_page, "hq-d2").locator(".desk-state")).to_have_text(
        "occupied", timeout=3000)
    assert time.monotonic() - started < 3.0
    expect(first_counts).to_contain_text("2 occupied")
    assert console.errors == []


def test_site_selector_and_sign_out(page: tuple[Any, Console], hub: Hub) -> None:
    browser_page, console = page
    sign_in(browser_page, hub)
    expect = sync_api.expect
    browser_page.select_option("#site-select", "lab")
    expect(browser_page.locator(".floor-name")).to_have_text(["Ground"])
    expect(tile(browser_page, "lab-d1").locator(".desk-name")).to_have_text("Bench 1")
    assert browser_page.url.endswith("?site=lab")
    browser_page.click("text=Sign out")
    browser_page.wait_for_url(hub.url + "/login")
    browser_page.goto(hub.url + "/")
    assert browser_page.url == hub.url + "/login"
    assert console.errors == []


def test_wrong_password_shows_the_reason(page: tuple[Any, Console], hub: Hub) -> None:
    browser_page, console = page
    browser_page.goto(hub.url + "/login")
    browser_page.fill("#username", "nobody")
    browser_page.fill("#password", "nothing")
    browser_page.click("button[type=submit]")
    sync_api.expect(browser_page.locator("#login-error")).to_have_text(
        "wrong username or password")
    # The 401 status itself is logged by Chromium as a failed resource load; nothing else.
    assert [e for e in console.errors if "401" not in e] == []


def test_api_docs_render_offline_under_the_csp(page: tuple[Any, Console], hub: Hub) -> None:
    browser_page, console = page
    browser_page.goto(hub.url + "/docs")
    sync_api.expect(browser_page.locator(".swagger-ui .title")).to_contain_text("Deskpulse hub")
    sync_api.expect(
        browser_page.locator('.opblock-summary-path[data-path="/api/v1/desks"]')).to_be_visible()
    assert console.errors == []
