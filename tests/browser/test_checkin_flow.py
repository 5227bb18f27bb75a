"""The phone check-in flow in a real headless Chromium against a real uvicorn server:
open a desk label's URL, sign in, check in, see it, check out; and the personal QR."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp

from hub.api.app import create_app
from hub.auth import accounts
from hub.checkin import labels, service
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Console, serving
from tests.support.building import BUILDING

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
USER, PASSWORD = "emma", "a long test password"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


@dataclass
class Hub:
    url: str
    store: SqliteStore
    settings: HubSettings
    person: int


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("checkin-hub"))
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    person = accounts.create_user(store.db, USER, PASSWORD, "employee")
    with serving(create_app(settings, store)) as url:
        yield Hub(url, store, settings, person)
    store.close()


@pytest.fixture(scope="module")
def phone(hub: Hub) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(phone: Any) -> Iterator[tuple[Any, Console]]:
    context = phone.new_context(**PHONE)
    page = context.new_page()
    console = Console()
    console.attach(page)
    yield page, console
    context.close()


def decode_qr(gray: np.ndarray) -> str:
    """Decode a screenshot of the QR, also with a white margin (the decoder likes one)."""
    padded = cv2.copyMakeBorder(gray, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    _, binary = cv2.threshold(padded, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    for image in (gray, padded, binary):
        found = zxingcpp.read_barcodes(image)  # OpenCV's detector misses ~1 in 300 codes
        if found:
            return str(found[0].text)
    return ""


def test_label_url_sign_in_check_in_see_it_check_out(
    page: tuple[Any, Console], hub: Hub
) -> None:
    browser_page, console = page
    expect = sync_api.expect
    code = labels.issue_code(hub.store, "hq-d4")
    label_url = f"{hub.url}/d/{code}"
    browser_page.goto(label_url)
    expect(browser_page.locator("#desk-name")).to_have_text("Desk 4")
    expect(browser_page.locator("#desk-floor")).to_have_text("Second floor")
    browser_page.fill("#username", USER)
    browser_page.fill("#password", PASSWORD)
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(label_url)
    expect(browser_page.locator("#checkin-status")).to_have_text("This desk is free.")

    browser_page.click("#checkin-button")
    expect(browser_page.locator("#checkin-status")).to_contain_text(
        "You are checked in here since")
    mine = service.current(hub.store, hub.person)
    assert mine is not None and (mine.desk, mine.via) == ("hq-d4", "phone")

    # The device is remembered: opening the label again needs no sign-in.
    browser_page.goto(label_url)
    expect(browser_page.locator("#checkout-button")).to_be_visible()
    browser_page.click("#checkout-button")
    expect(browser_page.locator("#checkin-status")).to_have_text("This desk is free.")
    assert service.current(hub.store, hub.person) is None
    ended = service.own(hub.store, hub.person, mine.id)
    assert ended.end_reason == "checkout" and ended.duration is not None
    assert console.errors == []


def test_personal_qr_shows_a_scannable_token(page: tuple[Any, Console], hub: Hub) -> None:
    browser_page, console = page
    browser_page.goto(hub.url + "/login")
    browser_page.fill("#username", USER)
    browser_page.fill("#password", PASSWORD)
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(hub.url + "/**")
    browser_page.goto(hub.url + "/me/qr")
    qr = browser_page.locator("#qr")
    sync_api.expect(qr).to_be_visible()
    sync_api.expect(browser_page.locator("#qr-status")).to_contain_text(
        re.compile(r"Valid for \d+ s; renews by itself"))
    token = ""
    for _ in range(4):  # OpenCV's decoder misses the odd code: a reload shows a new one
        browser_page.wait_for_function(
            "() => { const i = document.getElementById('qr'); "
            "return !i.hidden && i.complete && i.naturalWidth > 0; }")
        shot = cv2.imdecode(np.frombuffer(qr.screenshot(), np.uint8), cv2.IMREAD_GRAYSCALE)
        assert shot is not None
        token = decode_qr(shot)
        if token:
            break
        browser_page.reload()
    assert token.startswith("dp1.")
    outcome, checkin = service.redeem(hub.store, hub.settings, token, "hq-d5")
    assert outcome == "checked_in" and checkin is not None and checkin.via == "qr"
    service.check_out(hub.store, hub.person)
    assert console.errors == []
