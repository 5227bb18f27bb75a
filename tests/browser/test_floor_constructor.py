"""The floor constructor in a real headless Chromium against real uvicorn and SQLite: an
administrator creates a floor, uploads a plan, adds a desk, drags it with the mouse, moves it
with the keyboard, and the position survives a reload, is what the API says, and is where
the live floor map draws it.

The hub fixture follows tests/browser/test_floor_map.py; Chromium comes from conftest.py.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.browser import serving
from tests.support.building import BUILDING

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
USER, PASSWORD = "ada", "a long constructor password"
SCREENSHOT = Path("/tmp/floor_constructor.png")
MAP_SCREENSHOT = Path("/tmp/floor_constructor_map.png")
PHONE_SCREENSHOT = Path("/tmp/floor_constructor_390.png")


@dataclass
class Hub:
    url: str
    store: SqliteStore
    token: str


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("constructor-hub"))
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.create_user(store.db, USER, PASSWORD, "admin")
    token = accounts.create_api_token(store.db, "constructor-tests", role="admin")
    with serving(create_app(settings, store)) as url:
        yield Hub(url, store, token)
    store.close()


def plan_png(path: Path) -> Path:
    """A 1200 x 600 plan with walls, so the screenshot shows something plan-like."""
    image = Image.new("RGB", (1200, 600), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 1189, 589), outline="black", width=8)
    draw.line((600, 10, 600, 350), fill="black", width=6)
    draw.line((10, 300, 450, 300), fill="black", width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def desk_in_api(hub: Hub, desk_id: str) -> dict[str, Any]:
    layout = httpx.get(f"{hub.url}/api/v1/sites/hq/layout", timeout=5,
                       headers={"Authorization": f"Bearer {hub.token}"}).json()
    found: dict[str, Any] = next(d for d in layout["desks"] if d["id"] == desk_id)
    return found


def centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def fraction_in(box: dict[str, float], point: tuple[float, float]) -> tuple[float, float]:
    return (point[0] - box["x"]) / box["width"], (point[1] - box["y"]) / box["height"]


def test_build_a_floor_upload_a_plan_and_drag_a_desk_into_place(
    browser: Any, hub: Hub, tmp_path: Path
) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    try:
        page.goto(hub.url + "/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub.url + "/?site=hq")
        page.click(".views a[data-view=constructor]")
        page.wait_for_url(hub.url + "/admin/floors/hq-f1?site=hq")
        expect(page.locator(".views a[aria-current=page]")).to_have_text("Floor constructor")

        # A new floor, with a zone.
        page.fill("#floor-add-id", "hq-f9")
        page.fill("#floor-add-name", "Ninth floor")
        page.click("#floor-add button[type=submit]")
        expect(page.locator("#plan-title")).to_have_text("Plan of Ninth floor")
        expect(page.locator('.floor-tab[aria-current="page"]')).to_have_text("Ninth floor")
        page.wait_for_url(hub.url + "/admin/floors/hq-f9?site=hq")
        page.fill("#zone-add-id", "hq-f9-bay")
        page.fill("#zone-add-name", "Bay")
        page.click("#zone-add button[type=submit]")
        expect(page.locator('#zone-list li[data-zone="hq-f9-bay"] input')).to_have_value("Bay")

        # The plan: a real PNG through the file input.
        page.set_input_files("#plan-file", str(plan_png(tmp_path / "plan.png")))
        page.click("#plan-upload button[type=submit]")
        expect(page.locator("#notice")).to_have_text("Plan of Ninth floor uploaded")
        expect(page.locator("#plan")).to_have_attribute("data-plan", "image")
        image = page.locator("#plan .plan-image")
        expect(image).to_have_count(1)

        # A desk: it starts in the middle of the plan.
        page.fill("#desk-add-id", "hq-d99")
        page.fill("#desk-add-name", "Desk 99")
        page.select_option("#desk-add-zone", "hq-f9-bay")
        page.click("#desk-add button[type=submit]")
        desk = page.locator('.constructor-desk[data-desk="hq-d99"]')
        expect(desk).to_have_count(1)
        plan_box = image.bounding_box()
        start = centre(desk.bounding_box())
        middle = fraction_in(plan_box, start)
        assert middle == pytest.approx((0.5, 0.5), abs=0.01)

        # Drag it with the mouse to 20 % across, 30 % down.
        target = (plan_box["x"] + 0.2 * plan_box["width"],
                  plan_box["y"] + 0.3 * plan_box["height"])
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*target, steps=15)
        page.mouse.up()
        expect(page.locator("#notice")).to_have_text("Desk 99 saved at 20 % across, 30 % down")
        saved = desk_in_api(hub, "hq-d99")
        assert (saved["x"], saved["y"]) == pytest.approx((0.2, 0.3), abs=0.01)
        assert (saved["floor"], saved["zone"]) == ("hq-f9", "hq-f9-bay")

        # After a reload it is still there.
        page.reload()
        desk = page.locator('.constructor-desk[data-desk="hq-d99"]')
        expect(desk).to_have_count(1)
        plan_box = page.locator("#plan .plan-image").bounding_box()
        assert fraction_in(plan_box, centre(desk.bounding_box())) == pytest.approx(
            (saved["x"], saved["y"]), abs=0.005)

        # The keyboard does the same: two steps right, one down, Enter saves.
        desk.focus()
        for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
            page.keyboard.press(key)
        expect(desk).to_have_class("map-desk constructor-desk is-selected is-draft")
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_contain_text("Desk 99 saved at")
        moved = desk_in_api(hub, "hq-d99")
        assert (moved["x"], moved["y"]) == pytest.approx(
            (saved["x"] + 0.02, saved["y"] + 0.01), abs=1e-6)
        expect(page.locator("#desk-x")).to_have_value(str(moved["x"]))

        # Give the desk an agent and a PIR on GPIO 22, by keyboard; it survives a reload and
        # is in the agent's edge.toml.
        page.select_option("#desk-agent", "hq-agent-1")
        page.click("#desk-edit button[type=submit]")
        expect(page.locator("#notice")).to_have_text("Desk hq-d99 saved")
        page.click("#sensor-add")
        expect(page.locator("#sensor-1-type")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.locator("#sensor-1-pin")).to_be_focused()
        page.keyboard.type("22")
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_have_text("Sensors of desk hq-d99 saved")
        assert desk_in_api(hub, "hq-d99")["sensors"][0]["pin"] == 22
        page.reload()
        page.click('#desk-list button[data-select="hq-d99"]')
        expect(page.locator("#sensor-1-type")).to_have_value("pir")
        expect(page.locator("#sensor-1-pin")).to_have_value("22")
        download = page.locator("#edge-toml")
        expect(download).to_have_text("Download edge.toml of agent hq-agent-1")
        toml = page.request.get(hub.url + str(download.get_attribute("href"))).text()
        assert '[[desks]]\nid = "hq-d99"\nzone = "hq-f9-bay"\n[[desks.sensors]]\ntype = ' \
            '"pir"\npin = 22\n' in toml

        # A second, wireless sensor: a BTHome motion sensor named by its Bluetooth address.
        page.click("#sensor-add")
        page.select_option("#sensor-2-type", "bthome")
        page.fill("#sensor-2-address", "A4:C1:38:8D:18:B2")
        page.keyboard.press("Enter")
        deadline = time.monotonic() + 10
        while len(desk_in_api(hub, "hq-d99")["sensors"]) < 2:
            assert time.monotonic() < deadline, "the wireless sensor was not saved"
            time.sleep(0.05)
        assert desk_in_api(hub, "hq-d99")["sensors"][1]["address"] == "A4:C1:38:8D:18:B2"
        toml = page.request.get(hub.url + str(download.get_attribute("href"))).text()
        assert '[[desks.sensors]]\ntype = "bthome"\naddress = "A4:C1:38:8D:18:B2"\n' in toml

        # Both sensor rows stay inside the desk's panel, on a laptop and on a phone (a
        # fieldset is min-content wide: the long type names once pushed it out).
        for width, height, shot in ((1440, 900, SCREENSHOT), (390, 844, PHONE_SCREENSHOT)):
            page.set_viewport_size({"width": width, "height": height})
            panel = page.locator('section.panel[aria-labelledby="desk-edit-title"]')
            right = panel.bounding_box()["x"] + panel.bounding_box()["width"]
            for row in page.locator(".sensor-row").all():
                box = row.bounding_box()
                assert box["x"] + box["width"] <= right + 0.5, (width, box, right)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(shot), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 1000})

        # The live floor map draws the plan and the desk at the same place on it.
        page.goto(hub.url + "/floors/hq-f9?site=hq")
        map_desk = page.locator('.map-desk[data-desk="hq-d99"]')
        expect(map_desk).to_have_attribute("data-state", "unknown")
        map_plan = page.locator("#plan .plan-image").bounding_box()
        assert fraction_in(map_plan, centre(map_desk.bounding_box())) == pytest.approx(
            (moved["x"], moved["y"]), abs=0.005)
        page.screenshot(path=str(MAP_SCREENSHOT), full_page=True)
        assert errors == []
    finally:
        context.close()


def test_refusals_are_shown_and_non_admins_are_kept_out(browser: Any, hub: Hub) -> None:
    """A desk with history cannot be deleted: the page says why. A manager gets 403."""
    expect = sync_api.expect
    accounts.create_user(hub.store.db, "mia", PASSWORD, "manager")
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    try:
        page.goto(hub.url + "/login")
        page.fill("#username", "mia")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub.url + "/?site=hq")
        expect(page.locator(".views a[data-view=constructor]")).to_have_count(0)
        assert page.goto(hub.url + "/admin/floors").status == 403
    finally:
        context.close()
    hub.store.db.execute("INSERT INTO desk_codes (code, desk, created) VALUES ('c1', 'hq-d1', 0)")
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    try:
        page.goto(hub.url + "/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub.url + "/?site=hq")
        page.goto(hub.url + "/admin/floors/hq-f1?site=hq")
        page.click('#desk-list button[data-select="hq-d1"]')
        expect(page.locator("#desk-name")).to_be_focused()
        page.click("#desk-delete")
        expect(page.locator("#error-banner")).to_have_text(
            "Not saved: 409: desk 'hq-d1' has history (1 QR label(s)): it is kept so that "
            "reports stay true; rename or move it instead")
        expect(page.locator('.constructor-desk[data-desk="hq-d1"]')).to_have_count(1)
    finally:
        context.close()


def test_an_svg_plan_shows_under_the_live_map(browser: Any, hub: Hub) -> None:
    """An SVG plan, served with its sandboxing CSP, still draws under the desks."""
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100">'
           b'<style>.wall { fill: #222; }</style><rect width="200" height="100" fill="#fff"/>'
           b'<rect class="wall" width="60" height="30"/></svg>')
    stored = httpx.put(f"{hub.url}/api/v1/sites/hq/floors/hq-f2/plan", content=svg, timeout=5,
                       headers={"Authorization": f"Bearer {hub.token}",
                                "Content-Type": "image/svg+xml"})
    assert stored.status_code == 200, stored.text
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(hub.url + "/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub.url + "/?site=hq")
        page.goto(hub.url + "/floors/hq-f2?site=hq")
        sync_api.expect(page.locator('.map-desk[data-desk="hq-d4"]')).to_have_count(1)
        box = page.locator("#plan .plan-image").bounding_box()
        deadline = time.monotonic() + 5  # the <image> loads after it is laid out
        while True:
            shot = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
            wall: Any = shot.getpixel((int(shot.width * 0.05), int(shot.height * 0.1)))
            floor: Any = shot.getpixel((int(shot.width * 0.95), int(shot.height * 0.95)))
            if max(wall) < 80 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert max(wall) < 80, wall    # the plan's dark wall is drawn
        assert min(floor) > 200, floor  # and its white floor
    finally:
        context.close()
