"""Every dashboard page checked with axe-core (vendored, tests/browser/vendor/axe.min.js) in
a real headless Chromium against real uvicorn and SQLite: no "critical" violation anywhere.

"serious" ones are listed in the failure message; every violation (any impact) is written,
per page, to /tmp/accessibility/axe-results.json beside a full-page screenshot of each
page, so they can be seen and fixed without failing the build. The pages are checked after their
scripts have drawn them (desks, charts, tables), since that is what people use.

The hub fixture follows tests/browser/test_floor_constructor.py; Chromium comes from
conftest.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge.protocol import Health, Status, Topic
from hub.admin import provision
from hub.api.app import create_app
from hub.auth import accounts
from hub.checkin import labels, service
from hub.config import HubSettings
from hub.db.sqlite.store import Incoming, SqliteStore
from hub.privacy import retention
from hub.reports.rollup import refresh_rollups
from tests.support.browser import serving
from tests.support.building import BUILDING, Desks

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
OUT = Path("/tmp/accessibility")
USER, PASSWORD = "ada", "a long accessibility password"
PEOPLE_CSV = b"name,email,department\nGrace Hopper,grace@example.org,R&D\n"


@dataclass
class Hub:
    url: str
    store: SqliteStore
    desk_code: str
    app: Any


def _seed(store: SqliteStore, settings: HubSettings) -> str:
    """Data on every page: desk states, an agent with a health report, a provisioned agent,
    people, a check-in, a retention run. Returns the code of desk hq-d1's label."""
    admin = accounts.create_user(store.db, USER, PASSWORD, "admin")
    accounts.create_user(store.db, "mia", PASSWORD, "manager")
    now = time.time()
    store.apply([
        Incoming(Topic("hq", "hq-agent-1", "status"), Status(online=True, boot=1,
                                                             version="1.4.0"), now),
        Incoming(Topic("hq", "hq-agent-1", "health"), Health(
            agent="hq-agent-1", boot=1, sent=now, uptime=3600, outbox_depth=4, dropped=1,
            sensor_faults=("hq-d3",)), now)])
    Desks(store).send(("hq-d1", "occupied", now - 600), ("hq-d2", "vacant", now - 300))
    refresh_rollups(store, time.time(), settings.bin_seconds)
    with store.transaction() as db:
        provision.record_added(db, "hq-agent-2", "hq")
    service.check_in(store, admin, "hq-d2", via="phone")
    retention.run(store, settings, now)
    labels.issue_code(store, "hq-d1")
    code = labels.active_code(store, "hq-d1")
    assert code
    return code


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("a11y-hub"),
                           colleague_visibility=True)
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    code = _seed(store, settings)
    app = create_app(settings, store)
    with serving(app) as url:
        yield Hub(url, store, code, app)
    store.close()


def sign_in(browser: Any, hub: Hub, viewport: dict[str, int]) -> Any:
    """A signed-in administrator context (bypass_csp lets axe in; the hub's CSP allows
    only its own scripts)."""
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.goto(hub.url + "/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(hub.url + "/?site=hq")
    page.close()
    return context


@pytest.fixture(scope="module")
def signed_in(browser: Any, hub: Hub) -> Iterator[Any]:
    """The administrator at 1440x900, for every page."""
    context = sign_in(browser, hub, VIEWPORTS["desktop"])
    yield context
    context.close()


@pytest.fixture(scope="module")
def signed_in_phone(browser: Any, hub: Hub) -> Iterator[Any]:
    """The administrator on a 390x844 phone."""
    context = sign_in(browser, hub, VIEWPORTS["phone"])
    yield context
    context.close()


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Any]]:
    """Every page's violations, written out at the end."""
    OUT.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}
    yield found
    (OUT / "axe-results.json").write_text(json.dumps(found, indent=2, sort_keys=True))


def run_axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
             const r = await axe.run(document, {resultTypes: ['violations']});
             return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')), count: v.nodes.length}));
           }""")
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['count']}x, e.g. "
                     f"{'; '.join(v['nodes'][:3])})" for v in violations)


# Every page route of the app, each with one URL that shows it, and the selector that
# shows its script has drawn it. {code} is desk hq-d1's label code.
# test_every_page_route_is_listed fails when the app gains a page route missing here.
PAGES = [
    ("dashboard", "/?site=hq", ".desk[data-state]", "/"),
    ("floor-map-first", "/floors", ".map-desk[data-state]", "/floors"),
    ("floor-map", "/floors/hq-f1?site=hq", ".map-desk[data-state], .desk[data-state]",
     "/floors/{floor}"),
    ("analytics", "/analytics?site=hq", "body[data-loaded]", "/analytics"),
    ("constructor-first", "/admin/floors", "#desk-list li", "/admin/floors"),
    ("constructor", "/admin/floors/hq-f1?site=hq", "#desk-list li", "/admin/floors/{floor}"),
    ("colleagues", "/colleagues", "main", "/colleagues"),
    ("me", "/me", "#me-hello", "/me"),
    ("me-data", "/me/data", "#data-counts", "/me/data"),
    ("me-privacy", "/me/privacy", "main", "/me/privacy"),
    ("me-badges", "/me/badges", "main", "/me/badges"),
    ("me-qr", "/me/qr", "#qr:not([hidden])", "/me/qr"),
    ("password", "/account/password", "main", "/account/password"),
    ("checkin-desk", "/d/{code}", "main", "/d/{code}"),
    ("labels", "/admin/labels?site=hq", "#labels", "/admin/labels"),
    ("people-import", "/admin/people/import", "#upload-form", "/admin/people/import"),
    ("admin", "/admin", "#admin-pages", "/admin"),
    ("admin-agents", "/admin/agents", "#agents", "/admin/agents"),
    ("admin-provisioning", "/admin/provisioning", "#commands", "/admin/provisioning"),
    ("admin-people", "/admin/people", "#people", "/admin/people"),
    ("admin-privacy", "/admin/privacy", "#retention-settings", "/admin/privacy"),
    # States a bad URL leads to: each says what is wrong and keeps what was typed.
    ("floor-unknown", "/floors/nosuch?site=hq", "#error-page", None),
    ("floor-unknown-site", "/floors?site=nosuch", "#url-notice:not([hidden])", None),
    ("analytics-bad-url", "/analytics?site=hq&zone=nosuch&from=2026-13-45",
     "#url-notice:not([hidden])", None),
    ("page-unknown", "/no/such/page", "#error-page", None),
]
# Routes that are not pages of the shared layout, and why.
NOT_PAGES = {
    "/login": "signed out: test_sign_in_page_has_no_critical_accessibility_violation",
    "/docs": "Swagger UI, the vendored bundle's own page",
    "/signin-link": "signed out: walked on a phone in test_employee_journeys.py",
    "/invite/{token}": "signed out: walked on a phone in test_employee_journeys.py",
    "/openapi.json": "JSON", "/healthz": "JSON", "/metrics": "Prometheus text",
}
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGE_SHOTS = Path("/tmp/pages")


def check(page: Any, name: str, results: dict[str, Any]) -> None:
    """Run axe on the page as it is now; screenshot; fail on any critical violation."""
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    violations = run_axe(page)
    results[name] = violations  # every impact, for the record
    critical = [v for v in violations if v["impact"] == "critical"]
    serious = [v for v in violations if v["impact"] == "serious"]
    assert not critical, (f"{name}: critical accessibility violations:\n{describe(critical)}"
                          f"\nserious ones too:\n{describe(serious) or '  none'}")


def page_routes(app: Any) -> set[str]:
    """Every GET route of the app outside /api and /static (FastAPI nests included
    routers; walk them all)."""
    found: set[str] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif hasattr(route, "endpoint"):
                path = getattr(route, "path", "")
                if "GET" in (getattr(route, "methods", None) or set()) \
                        and not path.startswith("/api"):
                    found.add(path)
    walk(app.routes)
    return found


def test_every_page_route_is_listed(hub: Hub) -> None:
    """A page added to the app without a line in PAGES (or NOT_PAGES) fails here."""
    listed = {p[3] for p in PAGES if p[3]} | set(NOT_PAGES)
    assert page_routes(hub.app) == listed


def overflow(page: Any) -> dict[str, Any]:
    """How far the document is wider than the screen, and the widest offender."""
    found: dict[str, Any] = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        let worst = null;
        for (const node of document.body.querySelectorAll('*')) {
          const box = node.getBoundingClientRect();
          if (box.width && box.right > width + 1 && (!worst || box.right > worst.right)) {
            worst = {right: Math.round(box.right), tag: node.tagName,
                     html: node.outerHTML.slice(0, 160),
                     id: node.id, cls: String(node.className && node.className.baseVal
                       !== undefined ? node.className.baseVal : node.className)};
          }
        }
        return {scroll: document.documentElement.scrollWidth, width, worst};
      }""")
    return found


def header_rows(page: Any) -> int:
    """1 when every item of the shared header shares one line (their vertical extents
    overlap), else 2 (wrapped); 0 without a header."""
    rows: int = page.evaluate("""() => {
        const bar = document.querySelector('.topbar');
        if (!bar) return 0;
        const boxes = [...bar.children].map(c => c.getBoundingClientRect());
        const top = Math.max(...boxes.map(b => b.top));
        const bottom = Math.min(...boxes.map(b => b.bottom));
        return top < bottom ? 1 : 2;
      }""")
    return rows


def open_state(context: Any, hub: Hub, path: str, ready: str) -> Any:
    page = context.new_page()
    response = page.goto(hub.url + path.replace("{code}", hub.desk_code))
    assert response is not None
    page.wait_for_selector(ready, state="attached", timeout=10_000)
    return page, response.status


@pytest.mark.parametrize(("name", "path", "ready", "route"), PAGES, ids=[p[0] for p in PAGES])
def test_page_has_no_critical_accessibility_violation(
    signed_in: Any, signed_in_phone: Any, hub: Hub, results: dict[str, Any], name: str,
    path: str, ready: str, route: str | None
) -> None:
    """Each page (and each bad-URL state) at 1440x900 and 390x844: no sideways scrolling,
    the shared header on one line at 1440 and on every page, no critical axe violation."""
    PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
    for size, context in (("desktop", signed_in), ("phone", signed_in_phone)):
        page, code = open_state(context, hub, path, ready)
        try:
            assert code == (200 if route else 404 if "#error-page" in ready else 200), \
                f"{path}: {code}"
            page.wait_for_timeout(150)  # late layout (fonts, charts) settles
            page.screenshot(path=str(PAGE_SHOTS / f"{name}-{size}.png"), full_page=True)
            found = overflow(page)
            assert found["scroll"] <= found["width"], f"{name} at {size}: {found}"
            assert page.locator(".topbar .views").count() == 1, f"{name}: no shared header"
            bar = page.locator(".topbar").bounding_box()
            assert bar is not None and bar["x"] == 0 and bar["width"] == found["width"], \
                f"{name} at {size}: the header does not span the page: {bar}"
            if size == "desktop":
                assert header_rows(page) == 1, f"{name}: the header wraps at 1440 px"
                check(page, name, results)
        finally:
            page.close()


# States reached by a click: (name, path, ready, what to click, what then shows).
CLICKED = [
    ("floor-map-panel", "/floors/hq-f1?site=hq", ".map-desk[data-state]",
     '.map-desk[data-desk="hq-d1"]', "#desk-panel[data-loaded]"),
    ("dashboard-definition", "/?site=hq", ".desk[data-state]",
     ".floor-util button.info >> nth=0", ".floor-util .info-text:not([hidden])"),
    ("analytics-definition", "/analytics?site=hq", "body[data-loaded]",
     "#kpis button.info >> nth=0", "#kpis .info-text:not([hidden])"),
]


@pytest.mark.parametrize(("name", "path", "ready", "click", "shown"), CLICKED,
                         ids=[c[0] for c in CLICKED])
def test_opened_panels_and_definitions_have_no_critical_violation(
    signed_in: Any, signed_in_phone: Any, hub: Hub, results: dict[str, Any], name: str,
    path: str, ready: str, click: str, shown: str
) -> None:
    """The floor map's desk panel and the figures' definitions, opened: axe at 1440, and
    no sideways scrolling at either size."""
    for size, context in (("desktop", signed_in), ("phone", signed_in_phone)):
        page, code = open_state(context, hub, path, ready)
        try:
            assert code == 200
            page.locator(click).click()
            page.wait_for_selector(shown, timeout=10_000)
            page.screenshot(path=str(PAGE_SHOTS / f"{name}-{size}.png"), full_page=True)
            found = overflow(page)
            assert found["scroll"] <= found["width"], f"{name} at {size}: {found}"
            if size == "desktop":
                check(page, name, results)
        finally:
            page.close()


def test_sign_in_page_has_no_critical_accessibility_violation(
    browser: Any, hub: Hub, results: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"], bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(hub.url + "/login")
        page.wait_for_selector("#username")
        check(page, "login", results)
        page.fill("#username", USER)
        page.fill("#password", "wrong password")
        page.click("button[type=submit]")
        page.wait_for_selector(".form-error")
        check(page, "login-error", results)
    finally:
        context.close()


def test_forms_after_submission_have_no_critical_accessibility_violation(
    signed_in: Any, hub: Hub, results: dict[str, Any], tmp_path: Path
) -> None:
    """The import preview and a one-time password on the people page (states a GET never
    shows)."""
    page = signed_in.new_page()
    try:
        csv = tmp_path / "people.csv"
        csv.write_bytes(PEOPLE_CSV)
        page.goto(hub.url + "/admin/people/import")
        page.set_input_files("#file", str(csv))
        page.click("#upload-form button[type=submit]")
        page.wait_for_load_state()
        assert "Grace Hopper" in page.content()
        check(page, "people-import-preview", results)

        page.goto(hub.url + "/admin/people")
        page.locator('tr[data-username="mia"] .reset-form button').click()
        page.wait_for_selector("#one-time-password")
        check(page, "admin-people-reset", results)
    finally:
        page.close()


def test_the_check_fails_on_a_page_with_a_critical_violation(
    signed_in: Any, hub: Hub, tmp_path: Path
) -> None:
    """The harness itself: an image without alt text and a nameless button (both critical
    in axe) on a real page make :func:`check` fail, naming them."""
    page = signed_in.new_page()
    try:
        page.goto(hub.url + "/admin")
        page.evaluate("""() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend',
              '<img src="/static/favicon.svg"><button id="nameless"></button>');
        }""")
        with pytest.raises(AssertionError) as failed:
            check(page, "self-check", {})
        assert "[critical] image-alt" in str(failed.value)
        assert "[critical] button-name" in str(failed.value)
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_header_stays_on_one_line_on_wide_screens(browser: Any, hub: Hub,
                                                      width: int) -> None:
    """The administrator's header (the most links) on one line from 1280 to 1920 px."""
    context = sign_in(browser, hub, {"width": width, "height": 900})
    try:
        for name, path, ready, _ in PAGES[:6] + [p for p in PAGES if p[0] == "admin-people"]:
            page, _ = open_state(context, hub, path, ready)
            try:
                assert header_rows(page) == 1, f"{name}: the header wraps at {width} px"
                found = overflow(page)
                assert found["scroll"] <= found["width"], f"{name} at {width}: {found}"
            finally:
                page.close()
    finally:
        context.close()
