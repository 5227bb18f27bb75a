"""Invitations over HTTP, with a real local SMTP server (aiosmtpd, tests/smtp.py): an
administrator's links arrive by e-mail and work once; printed and CSV lists; a person's own
"sign-in link" request; expiry; the return-to path cannot leave the hub."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.auth import accounts, invitations
from hub.config import HubSettings
from hub.db.protocol import Store
from tests.smtp import SmtpServer
from tests.support.web import csrf_from, sign_in

NEW = "plum orchard lantern 7"
LINK = re.compile(r"http://testserver/invite/[A-Za-z0-9_-]+")


@pytest.fixture
def settings(settings: HubSettings, smtp: SmtpServer) -> HubSettings:
    """The checkin tests' settings with e-mail going to this test's SMTP server."""
    return settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port,
                                       "smtp_starttls": False,
                                       "smtp_from": "deskpulse@office.example"})


@pytest.fixture
def admin(store: Store) -> int:
    from tests.support.web import PASSWORD
    return accounts.create_user(store.db, "root", PASSWORD, "admin")


def imported(store: Store, username: str, email: str, name: str) -> int:
    """An account as the CSV import leaves it: nobody knows its password."""
    person = accounts.create_user(store.db, username, "x" * 40, "employee",
                                  must_change_password=True)
    store.db.execute("UPDATE users SET email = ?, name = ? WHERE id = ?", [email, name, person])
    return person


def admin_invite(client: TestClient, how: str, who: str = "never-signed-in") -> object:
    page = client.get("/admin/people")
    assert page.status_code == 200 and 'action="/admin/invitations"' in page.text
    return client.post("/admin/invitations", data={
        "who": who, "how": how, "csrf_token": csrf_from(page.text)})


def test_an_emailed_invitation_works_once_and_then_no_more(
    client: TestClient, store: Store, smtp: SmtpServer, admin: int,
) -> None:
    lea = imported(store, "lea@office.example", "lea@office.example", "Lea Park")
    imported(store, "max@office.example", "max@office.example", "Max Ode")
    sign_in(client, "root")
    sent = admin_invite(client, "email")
    assert sent.status_code == 200  # type: ignore[attr-defined]
    assert "2\n  of 2 invitations sent by e-mail" in sent.text  # type: ignore[attr-defined]
    mails = smtp.wait_for(2)
    mail = next(m for m in mails if m["To"] == "lea@office.example")
    assert mail["From"] == "deskpulse@office.example"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello Lea Park," in text and "works once" in text
    link = LINK.search(text)
    assert link is not None
    path = link.group(0).removeprefix("http://testserver")

    client.cookies.clear()  # the person's own phone
    form = client.get(path)
    assert form.status_code == 200 and "Welcome, lea@office.example" in form.text
    done = client.post(path, data={"new": NEW, "confirm": NEW,
                                   "csrf_token": csrf_from(form.text)})
    assert done.status_code == 303 and done.headers["location"] == "/me"
    assert client.get("/me").status_code == 200  # signed in by the link
    assert accounts.authenticate_password(store.db, "lea@office.example", NEW).user_id == lea

    client.cookies.clear()
    again = client.get(path)
    assert again.status_code == 410 and "not valid any more" in again.text
    replay = client.post(path, data={"new": "another long secret 9", "confirm":
                                     "another long secret 9",
                                     "csrf_token": csrf_from(client.get("/login").text)})
    assert replay.status_code == 410
    assert accounts.authenticate_password(store.db, "lea@office.example", NEW).user_id == lea


def test_printed_and_csv_lists_and_a_new_link_replaces_the_old_one(
    client: TestClient, store: Store, admin: int,
) -> None:
    person = imported(store, "kim@office.example", "kim@office.example", "Kim Lu")
    sign_in(client, "root")
    printed = admin_invite(client, "print", str(person))
    first = LINK.findall(printed.text)  # type: ignore[attr-defined]
    assert len(first) == 1 and "Kim Lu" in printed.text  # type: ignore[attr-defined]
    listed = admin_invite(client, "csv")
    assert listed.headers["content-type"].startswith("text/csv")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(listed.text)))  # type: ignore[attr-defined]
    assert [r["username"] for r in rows] == ["kim@office.example"]
    assert rows[0]["expires"].endswith("(Europe/Berlin)")
    # The CSV made a fresh link: the printed one stopped working.
    assert client.get(first[0].removeprefix("http://testserver")).status_code == 410
    assert client.get(rows[0]["link"].removeprefix("http://testserver")).status_code == 200


def test_an_expired_link_is_refused(store: Store, client: TestClient) -> None:
    person = imported(store, "old@office.example", "old@office.example", "Old")
    made = invitations.create(store.db, person, ttl=60, now=time.time() - 120)
    assert client.get(f"/invite/{made.token}").status_code == 410


def test_a_person_asks_for_a_link_and_it_returns_to_the_desk(
    client: TestClient, store: Store, smtp: SmtpServer,
) -> None:
    imported(store, "ivy", "ivy@office.example", "Ivy")
    form = client.get("/signin-link?next=/d/abc123")
    assert form.status_code == 200
    unknown = client.post("/signin-link", data={
        "email": "nobody@office.example", "next": "/d/abc123",
        "csrf_token": csrf_from(form.text)})
    known = client.post("/signin-link", data={
        "email": "IVY@office.example", "next": "/d/abc123", "csrf_token": csrf_from(form.text)})
    assert unknown.status_code == known.status_code == 200
    assert 'id="link-sent"' in unknown.text and 'id="link-sent"' in known.text  # same answer
    (mail,) = smtp.wait_for(1)
    assert mail["To"] == "ivy@office.example"
    path = LINK.search(mail.get_body(("plain",)).get_content()).group(0)[18:]  # type: ignore[union-attr]
    page = client.get(path)
    done = client.post(path, data={"new": NEW, "confirm": NEW,
                                   "csrf_token": csrf_from(page.text)})
    assert done.status_code == 303 and done.headers["location"] == "/d/abc123"


def test_the_return_path_never_leaves_the_hub(client: TestClient, store: Store) -> None:
    from tests.support.web import PASSWORD
    accounts.create_user(store.db, "eve", PASSWORD, "employee")
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example", "/login"):
        form = client.get("/login", params={"next": evil})
        done = client.post("/login", data={"username": "eve", "password": PASSWORD,
                                           "next": evil, "csrf_token": csrf_from(form.text)})
        assert done.status_code == 303 and done.headers["location"] == "/", evil
        client.cookies.clear()
    form = client.get("/login", params={"next": "/me/data"})
    done = client.post("/login", data={"username": "eve", "password": PASSWORD,
                                       "next": "/me/data", "csrf_token": csrf_from(form.text)})
    assert done.headers["location"] == "/me/data"


def test_a_signed_out_page_sends_to_sign_in_and_back(client: TestClient) -> None:
    for page in ("/me", "/me/data", "/me/qr", "/me/badges"):
        response = client.get(page)
        assert response.status_code == 303 and response.headers["location"] == \
            f"/login?next={page}", page


def test_the_csv_import_confirmation_step_emails_the_new_people(
    client: TestClient, store: Store, smtp: SmtpServer, admin: int,
) -> None:
    sign_in(client, "root")
    page = "/admin/people/import"
    data = b"name,email,department\nAda Byron,ada@office.example,R&D\nAlan T,alan@office.example,\n"
    preview = client.post(page, data={"csrf_token": csrf_from(client.get(page).text)},
                          files={"file": ("people.csv", data, "text/csv")})
    assert preview.status_code == 200 and 'name="invite"' in preview.text
    fields = dict(re.findall(r'name="(payload|token)" value="([^"]*)"', preview.text))
    done = client.post(page + "/confirm", data={**fields, "invite": "email",
                                               "csrf_token": csrf_from(preview.text)})
    assert done.status_code == 200 and "2\n  of 2 invitations sent by e-mail" in done.text
    assert sorted(m["To"] for m in smtp.wait_for(2)) == ["ada@office.example",
                                                         "alan@office.example"]


def test_smtp_comes_from_hub_toml(tmp_path: Path) -> None:
    """The mailer's settings are hub.toml keys like any other (docs/checkin.md)."""
    path = tmp_path / "hub.toml"
    path.write_text('smtp_host = "mail.office.example"\nsmtp_port = 2525\n'
                    'smtp_starttls = false\nsmtp_from = "desks@office.example"\n')
    settings = HubSettings.from_toml(path)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls,
            settings.smtp_from) == ("mail.office.example", 2525, False, "desks@office.example")
