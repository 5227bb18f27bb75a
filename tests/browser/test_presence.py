"""The zone device counts on the live floor, in a real headless Chromium against real uvicorn.

The hub fixture follows tests/browser/test_dashboard.py; Chromium comes from conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from edge.protocol import Topic, ZoneCount, ZonesMessage
from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import Incoming, SqliteStore
from tests.support.browser import serving
from tests.support.building import BUILDING

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
USER, PASSWORD = "pia", "another long test password"


def send_counts(store: SqliteStore, agent: str, seq: int, *counts: tuple[str, int, int]) -> None:
    message = ZonesMessage(agent=agent, boot=1, seq=seq, sent=time.time(),
                           counts=tuple(ZoneCount(zone=z, bin=b, devices=d) for z, b, d in counts))
    result = store.apply([Incoming(Topic("hq", agent, "zones"), message, time.time())])
    assert not result.rejected, result.rejected


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("presence-hub"))
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.create_user(store.db, USER, PASSWORD, "employee")
    bs = settings.bin_seconds
    closed = int(time.time() // bs) * bs - bs
    send_counts(store, "hq-agent-1", 1, ("hq-north", closed, 7), ("hq-south", closed, 3))
    send_counts(store, "hq-agent-2", 1, ("hq-north", closed, 4))  # max over agents: 7
    with serving(create_app(settings, store)) as url:
        yield url
    store.close()


def test_zone_headings_show_the_device_count_and_hide_counts_below_k(
    browser: Any, hub_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    try:
        page.goto(hub_url + "/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub_url + "/?site=hq")
        expect = sync_api.expect
        north = page.locator('.zone-presence[data-zone="hq-north"]')
        south = page.locator('.zone-presence[data-zone="hq-south"]')
        east = page.locator('.zone-presence[data-zone="hq-east"]')
        expect(north).to_have_text("7 devices")
        expect(north).to_have_attribute("data-presence", "count")
        expect(south).to_have_text("< 5 devices")
        expect(south).to_have_attribute("data-presence", "suppressed")
        expect(south).to_be_visible()
        expect(east).to_have_attribute("data-presence", "none")
        expect(east).to_be_hidden()
        # The count sits next to its zone's heading, and the heading itself is unchanged.
        section = page.locator(".zone", has=north)
        expect(section.locator(".zone-name")).to_have_text("North")
        expect(page.locator(".zone-name")).to_have_text(["North", "South", "East"])
        assert "3" not in south.inner_text()
        assert errors == []
    finally:
        context.close()
