"""The analytics page in a real headless Chromium against real uvicorn and a real SQLite store.

The hub fixture follows tests/browser/test_dashboard.py; Chromium comes from conftest.py.
Three days of desk history go through the real ingest path and rollups; the
page's figures must equal what the JSON API answers for the same window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse
from zoneinfo import ZoneInfo

import pytest

from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.reports.rollup import refresh_rollups
from tests.support.browser import serving
from tests.support.building import BUILDING, Desks

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
USER, PASSWORD = "ana", "a long analytics password"
SCREENSHOT = Path("/tmp/analytics.png")
PRINT_SCREENSHOT = Path("/tmp/analytics_print.png")
HOUR = 3600.0


def history(desks: Desks, now: float) -> None:
    """Three past days: desks 1-4 used for different lengths, desk 5 seen but never used.
    7-9 days ago always lies inside the default window (the last two complete weeks)."""
    for days_ago in (9, 8, 7):
        t = now - days_ago * 86_400
        desks.send(("hq-d1", "occupied", t), ("hq-d2", "occupied", t + 60),
                   ("hq-d3", "vacant", t + 90), ("hq-d4", "occupied", t + 120),
                   ("hq-d5", "vacant", t + 150),
                   ("hq-d2", "vacant", t + HOUR), ("hq-d4", "vacant", t + 2 * HOUR),
                   ("hq-d1", "vacant", t + 4 * HOUR))


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("analytics-hub"))
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.create_user(store.db, USER, PASSWORD, "manager")
    history(Desks(store), time.time())
    refresh_rollups(store, time.time(), settings.bin_seconds)
    with serving(create_app(settings, store)) as url:
        yield url
    store.close()


def percent(value: float | None) -> str:
    return "–" if value is None else f"{math.floor(value * 100 + 0.5)} %"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def wait_loaded(page: Any, previous: str | None = None) -> str:
    page.wait_for_function(
        "prev => document.body.dataset.loaded && document.body.dataset.loaded !== prev",
        arg=previous or "")
    loaded: str = page.evaluate("document.body.dataset.loaded")
    return loaded


def api(page: Any, base: str, path: str, **params: str) -> Any:
    response = page.request.get(f"{base}{path}?{urlencode(params)}")
    assert response.ok, response.text()
    return response.json()


def check_kpis(page: Any, row: dict[str, Any]) -> None:
    expect = sync_api.expect
    c = row["concurrent"]
    for name, value in (("average", c["average"]), ("peak", c["peak"]),
                        ("average_peak", c["average_peak"]),
                        ("time_utilisation", row["time_utilisation"]),
                        ("coverage", row["coverage"])):
        node = page.locator(f'[data-kpi="{name}"]')
        expect(node).to_have_text(percent(value))
        shown = node.get_attribute("data-value")
        # "to" is today, so the window grows by the second or two between the two reads.
        assert (shown == "" if value is None else
                math.isclose(float(shown), value, rel_tol=1e-3)), (name, shown, value)
    expect(page.locator('[data-kpi="never_used"]')).to_have_text(
        str(row["never_used"]["desks"]))
    expect(page.locator('[data-kpi="surplus"]')).to_have_text(
        "–" if row["surplus"] is None else f"{row['surplus']} desks")


def column(page: Any, table: str, index: int) -> list[float]:
    values = page.locator(f"#{table} tbody tr td:nth-child({index})").evaluate_all(
        "cells => cells.map(c => c.dataset.value)")
    return [float(v) for v in values]


def test_analytics_matches_the_api_sorts_filters_and_keeps_them_in_the_url(
    browser: Any, hub_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    expect = sync_api.expect
    try:
        page.goto(hub_url + "/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub_url + "/?site=hq")
        page.click(".views a[data-view=analytics]")
        loaded = wait_loaded(page)
        q = query_of(page.url)
        assert q["site"] == "hq" and q["from"] and q["to"]  # defaults written to the URL
        window = {"site": "hq", "from": q["from"], "to": q["to"]}

        report = api(page, hub_url, "/api/v1/utilisation", group="site", **window)
        check_kpis(page, report["results"][0])
        assert report["results"][0]["concurrent"]["peak"] > 0  # the history is in the window
        expect(page.locator("#window-text")).to_contain_text("Europe/Berlin")
        expect(page.locator("#heatmap tbody tr")).to_have_count(7)
        expect(page.locator("#heatmap tbody tr").first.locator("td")).to_have_count(24)
        expect(page.locator("#series-chart polyline.u-line").first).to_be_attached()
        expect(page.locator("#zone-table tbody tr")).to_have_count(3)
        expect(page.locator("#desk-table tbody tr")).to_have_count(5)
        expect(page.locator("#desk-table tbody svg.sparkline")).to_have_count(5)
        csv_link = page.locator("#exports a", has_text="CSV").first
        assert csv_link.get_attribute("href") == (
            f"/api/v1/utilisation.csv?site=hq&group=site&from={q['from']}&to={q['to']}")
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=str(PRINT_SCREENSHOT), full_page=True)
        page.emulate_media(media="screen")

        # Sorting by a column reorders the rows, both ways.
        names_before = page.locator("#desk-table tbody tr td:nth-child(1)").all_inner_texts()
        header = page.locator('#desk-table th[data-key="time_utilisation"]')
        header.locator("button").click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        ascending = column(page, "desk-table", 3)
        assert ascending == sorted(ascending)
        header.locator("button").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        descending = column(page, "desk-table", 3)
        assert descending == sorted(ascending, reverse=True)
        names_after = page.locator("#desk-table tbody tr td:nth-child(1)").all_inner_texts()
        assert names_after != names_before and sorted(names_after) == sorted(names_before)

        # A floor filter narrows everything, is in the URL and survives a reload.
        page.select_option("#f-floor", "hq-f2")
        loaded = wait_loaded(page, loaded)
        assert query_of(page.url)["floor"] == "hq-f2"
        page.reload()
        wait_loaded(page)
        expect(page.locator("#f-floor")).to_have_value("hq-f2")
        expect(page.locator("#f-from")).to_have_value(q["from"])
        expect(page.locator("#desk-table tbody tr")).to_have_count(2)
        expect(page.locator("#zone-table tbody tr td:nth-child(1)")).to_have_text(["East"])
        floors = api(page, hub_url, "/api/v1/utilisation", group="floor", **window)
        check_kpis(page, next(r for r in floors["results"] if r["key"] == "hq-f2"))
        expect(page.locator('[data-kpi="never_used"]')).to_have_text("1")  # desk 5
        assert errors == []
    finally:
        context.close()


def sign_in(browser: Any, hub_url: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(hub_url + "/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(hub_url + "/?site=hq")
    return context, page


def test_the_default_window_is_the_last_two_complete_weeks(browser: Any, hub_url: str) -> None:
    """Monday to Sunday, ending before today (site time), so no partial day is in it;
    today is shown apart as "today so far"."""
    context, page = sign_in(browser, hub_url)
    try:
        page.goto(hub_url + "/analytics")
        wait_loaded(page)
        q = query_of(page.url)
        start, end = date.fromisoformat(q["from"]), date.fromisoformat(q["to"])
        today = datetime.now(ZoneInfo("Europe/Berlin")).date()
        assert start.weekday() == 0 and end.weekday() == 6
        assert (end - start).days == 13 and 1 <= (today - end).days <= 7
        sync_api.expect(page.locator("#today-window")).to_contain_text(today.isoformat())
        sync_api.expect(page.locator("[data-window-of=heatmap]")).to_contain_text(
            f"{q['from']} to {q['to']} · times in Europe/Berlin (")
    finally:
        context.close()


@pytest.mark.parametrize(("query", "notices"), [
    ("site=nosuch", ['there is no site "nosuch"']),
    ("site=hq&zone=nosuch&from=2026-13-45",
     ['Head office has no zone "nosuch"', '"from=2026-13-45" is not a date']),
    ("site=hq&floor=hq-f2&zone=hq-north", ['zone "hq-north" is on First floor, not on '
                                            'Second floor']),
    ("site=hq&floor=nosuch", ['Head office has no floor "nosuch"']),
])
def test_a_bad_link_says_what_is_wrong_and_shows_no_other_report(
    browser: Any, hub_url: str, query: str, notices: list[str]
) -> None:
    context, page = sign_in(browser, hub_url)
    try:
        page.goto(f"{hub_url}/analytics?{query}")
        notice = page.locator("#url-notice")
        sync_api.expect(notice).to_be_visible()
        for text in notices:
            sync_api.expect(notice).to_contain_text(text)
        assert page.url == f"{hub_url}/analytics?{query}"  # what was typed stays
        sync_api.expect(page.locator('[data-kpi="average"]')).to_have_text("–")  # no report
        sync_api.expect(page.locator("#zone-table tbody tr")).to_have_count(0)
        page.click("#filters button[type=submit]")  # choosing and applying gives a report
        wait_loaded(page, "notice")
        sync_api.expect(notice).to_be_hidden()
    finally:
        context.close()
