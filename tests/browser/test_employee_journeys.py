"""The employee's two journeys on a 390x844 phone, by taps only (the one typed URL is the
desk label a phone camera opens), in a real headless Chromium against a real uvicorn and a
real local SMTP server:

1. a person imported without a password scans a desk label, asks for a sign-in link, opens
   it from the e-mail, chooses a password, lands back on the desk, checks in, goes to their
   home, their QR, their data, corrects their name, exports, deletes (and gets a receipt);
2. a person given a one-time password scans a label, signs in, must choose a new password
   (a common one is refused with the reason) and is back on the desk.

Screenshots of every step go to ``$DESKPULSE_SCREENSHOTS`` (default
/tmp/deskpulse-screenshots)/journeys, at 390x844 and, for each page, at 1440x900.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.admin import people as people_admin
from hub.api.app import create_app
from hub.auth import accounts
from hub.auth.accounts import Principal
from hub.checkin import labels, service
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.smtp import SmtpServer
from tests.support.browser import Console, serving
from tests.support.building import BUILDING, Desks

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("DESKPULSE_SCREENSHOTS", "/tmp/deskpulse-screenshots")) / "journeys"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
NEW_PASSWORD = "violet kettle harbour 42"  # noqa: S105 (a test password)
ADMIN = Principal(kind="session", name="admin", role="admin", user_id=None)


@dataclass
class Hub:
    url: str
    store: SqliteStore
    settings: HubSettings


@pytest.fixture
def hub(tmp_path: Path, smtp: SmtpServer) -> Iterator[Hub]:
    settings = HubSettings(data_dir=tmp_path / "hub", smtp_host=smtp.host,
                           smtp_port=smtp.port, smtp_starttls=False,
                           smtp_from="deskpulse@office.example")
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    with serving(create_app(settings, store)) as url:
        yield Hub(url, store, settings)
    store.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[tuple[Any, Console]]:
    context = browser.new_context(**PHONE, accept_downloads=True)
    page = context.new_page()
    console = Console()
    console.attach(page)
    yield page, console
    context.close()


def shot(page: Any, name: str) -> None:
    """A full-page screenshot; the phone page must not scroll sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name}: {width}px wide, scrolls sideways"


def desktop_shot(browser: Any, url: str, cookies: list[dict[str, Any]], name: str) -> None:
    """The same page at 1440x900 with the phone's cookies (what a laptop would show)."""
    context = browser.new_context(**DESKTOP)
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(url)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-1440.png"), full_page=True)
    context.close()


def unexpected(console: Console) -> list[str]:
    """Console errors but the one refused password (its form answers 400 on purpose, and
    Chromium logs every 4xx response)."""
    refused = [e for e in console.errors if "status of 400" in e]
    assert len(refused) == 1, console.errors
    return [e for e in console.errors if e not in refused]


def imported_person(store: SqliteStore, username: str, email: str) -> int:
    """An account as the CSV import makes one: a password nobody knows, must change it."""
    person = accounts.create_user(store.db, username, os.urandom(16).hex(), "employee",
                                  must_change_password=True)
    store.db.execute("UPDATE users SET email = ?, name = ? WHERE id = ?",
                     [email, "Noor H.", person])
    return person


def test_invitation_link_to_checked_in_to_my_data_to_deleted(
    browser: Any, phone: tuple[Any, Console], hub: Hub, smtp: SmtpServer
) -> None:
    page, console = phone
    expect = sync_api.expect
    person = imported_person(hub.store, "noor", "noor@office.example")
    code = labels.issue_code(hub.store, "hq-d4")
    label_url = f"{hub.url}/d/{code}"

    page.goto(label_url)  # the phone camera opens the label: the only typed URL
    expect(page.locator("#desk-name")).to_have_text("Desk 4")
    shot(page, "01-label-signed-out")
    page.locator("#signin-link").tap()
    page.fill("#email", "Noor@Office.example")
    shot(page, "02-ask-for-a-link")
    page.locator("#link-submit").tap()
    expect(page.locator("#link-sent")).to_contain_text("a sign-in link is on its way")
    shot(page, "03-link-sent")

    mail = smtp.wait_for(1)[0]
    assert mail["To"] == "noor@office.example" and "sign-in link" in mail["Subject"]
    html = mail.get_body(("html",))
    assert html is not None
    page.set_content(html.get_content())  # the mail app shows the e-mail; the person taps
    shot(page, "04-the-email")
    page.locator("#invite-link").tap()
    expect(page.locator("#invite-lead")).to_contain_text("noor")
    page.fill("#new", "password1234")
    page.fill("#confirm", "password1234")
    page.locator("#invite-submit").tap()
    expect(page.locator("#invite-error")).to_contain_text("commonly used passwords")
    shot(page, "05-common-password-refused")
    page.fill("#new", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.locator("#invite-submit").tap()

    page.wait_for_url(label_url)  # back on the desk whose label was scanned
    expect(page.locator("#checkin-status")).to_have_text("This desk is free.")
    shot(page, "06-back-on-the-desk")
    page.locator("#checkin-button").tap()
    expect(page.locator("#checkin-status")).to_contain_text("You are checked in here since")
    mine = service.current(hub.store, person)
    assert mine is not None and mine.desk == "hq-d4"

    page.locator("#home-link").tap()
    page.wait_for_url(f"{hub.url}/me")
    expect(page.locator("#me-current")).to_contain_text("Checked in at Desk 4 (Second floor)")
    expect(page.locator("#me-current")).to_contain_text("Europe/Berlin")
    shot(page, "07-my-home")
    cookies = page.context.cookies()
    desktop_shot(browser, f"{hub.url}/me", cookies, "07-my-home")

    page.locator("#me-qr").tap()
    expect(page.locator("#qr")).to_be_visible()
    shot(page, "08-my-qr")
    page.locator("#home-link").tap()
    page.locator("#me-data").tap()
    page.wait_for_url(f"{hub.url}/me/data")
    expect(page.locator("#data-counts")).to_contain_text("Your check-ins")
    shown = page.locator("main").inner_text()  # what the person reads: no table names
    assert "checkin_people" not in shown and "login_failures" not in shown
    page.locator("#records-checkins summary").tap()
    expect(page.locator("#records-checkins")).to_contain_text("Desk 4 (Second floor)")
    shot(page, "09-my-data")
    desktop_shot(browser, f"{hub.url}/me/data", cookies, "09-my-data")

    page.fill("#name", "Noor Haddad")
    page.locator("#save-corrections").tap()
    expect(page.locator("#data-done")).to_contain_text("Saved")
    expect(page.locator("#name")).to_have_value("Noor Haddad")
    page.locator("#viewed-by").scroll_into_view_if_needed()
    expect(page.locator("#viewed-by")).to_contain_text("you")
    expect(page.locator("#viewed-by")).to_contain_text("corrected name")
    shot(page, "10-corrected")

    with page.expect_download() as download_info:
        page.locator("#export-link").tap()
    exported = json.loads(Path(download_info.value.path()).read_text())
    assert exported["tables"]["users"][0]["name"] == "Noor Haddad"
    assert exported["tables"]["checkins"][0]["desk"] == "hq-d4"

    page.fill("#confirm", "delete")
    shot(page, "11-about-to-delete")
    page.locator("#delete-button").tap()
    expect(page.locator("#deleted-heading")).to_have_text("Your account and data are deleted")
    expect(page.locator("#receipt-removed tr", has_text="Your check-ins")).to_contain_text("1")
    expect(page.locator("#receipt-when")).to_contain_text("Europe/Berlin")
    shot(page, "12-receipt")
    assert hub.store.db.execute("SELECT COUNT(*) FROM users WHERE id = ?",
                                [person]).fetchone()[0] == 0
    with page.expect_download() as receipt_info:
        page.locator("#receipt-download").tap()
    receipt = json.loads(Path(receipt_info.value.path()).read_text())
    assert receipt["removed"]["checkins"] == 1 and len(receipt["signature"]) == 64
    assert unexpected(console) == []


def test_label_url_one_time_password_new_password_back_on_the_desk(
    browser: Any, phone: tuple[Any, Console], hub: Hub
) -> None:
    page, console = phone
    expect = sync_api.expect
    person = accounts.create_user(hub.store.db, "emma", os.urandom(16).hex(), "employee")
    secret: str = hub.settings.ensure_secret_key()
    one_time = people_admin.reset_password(hub.store.db, secret, ADMIN, person)
    code = labels.issue_code(hub.store, "hq-d2")
    label_url = f"{hub.url}/d/{code}"

    page.goto(label_url)
    page.fill("#username", "emma")
    page.fill("#password", one_time)
    page.locator("button[type=submit]").first.tap()
    page.wait_for_url(f"{hub.url}/account/password?next=/d/{code}")
    shot(page, "21-choose-a-password")
    desktop_shot(browser, page.url, page.context.cookies(), "21-choose-a-password")
    page.fill("#current", one_time)
    page.fill("#new", "emma-emma-emma")
    page.fill("#confirm", "emma-emma-emma")
    page.locator("button[type=submit]").tap()
    expect(page.locator("#password-error")).to_contain_text("must not be your username")
    page.fill("#current", one_time)
    page.fill("#new", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.locator("button[type=submit]").tap()

    page.wait_for_url(label_url)
    expect(page.locator("#desk-name")).to_have_text("Desk 2")
    expect(page.locator("#checkin-button")).to_be_visible()
    shot(page, "22-back-on-the-desk")
    page.locator("#checkin-button").tap()
    expect(page.locator("#checkin-status")).to_contain_text("You are checked in here since")
    assert service.current(hub.store, person) is not None
    assert unexpected(console) == []


def test_the_other_pages_read_well_on_a_phone_and_a_laptop(
    browser: Any, hub: Hub, smtp: SmtpServer
) -> None:
    """The sensor-occupied desk page, the sign-in link form, the administrator's printable
    invitations and labels pages (loopback warning): screenshots at both sizes, no
    sideways scrolling on the phone."""
    expect = sync_api.expect
    accounts.create_user(hub.store.db, "root", NEW_PASSWORD, "admin")
    imported_person(hub.store, "noor", "noor@office.example")
    accounts.create_user(hub.store.db, "emma", NEW_PASSWORD, "employee")
    Desks(hub.store).send(("hq-d1", "occupied", time.time() - 30))
    code = labels.issue_code(hub.store, "hq-d1")
    for size, options in (("390", PHONE), ("1440", DESKTOP)):
        context = browser.new_context(**options)
        page = context.new_page()
        page.goto(f"{hub.url}/signin-link")
        expect(page.locator("#email")).to_be_visible()
        shot(page, f"31-signin-link-{size}")
        page.goto(f"{hub.url}/d/{code}")
        page.fill("#username", "emma")
        page.fill("#password", NEW_PASSWORD)
        page.locator("button[type=submit]").first.click()
        expect(page.locator("#checkin-status")).to_contain_text(
            "Someone seems to be sitting here (sensor).")
        expect(page.locator("#checkin-button")).to_have_text("Check in anyway")
        shot(page, f"32-desk-sensor-occupied-{size}")
        page.context.clear_cookies()
        page.goto(f"{hub.url}/login?next=/admin/people")
        page.fill("#username", "root")
        page.fill("#password", NEW_PASSWORD)
        page.locator("button[type=submit]").first.click()
        page.wait_for_url(f"{hub.url}/admin/people")
        # The administration pages' layout is shared (issue 18): looked at, not asserted.
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"33-admin-people-{size}.png"), full_page=True)
        page.locator("#invite-all button[type=submit]").click()
        expect(page.locator("#invitations")).to_contain_text("noor")
        page.screenshot(path=str(SHOTS / f"34-admin-invitations-{size}.png"), full_page=True)
        page.goto(f"{hub.url}/admin/labels?site=hq")
        expect(page.locator("#labels-loopback")).to_contain_text("loopback address")
        page.screenshot(path=str(SHOTS / f"35-admin-labels-{size}.png"), full_page=True)
        context.close()
