"""The administrators' pages (/admin/*): real data on each, role changes and password resets
that are audited, the last-admin guard, CSRF, and refusals for everyone but administrators."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge.protocol import DeskEvent, DesksMessage, Health, Status, Topic
from hub.admin import provision
from hub.admin.views import PROVISIONING
from hub.api.app import create_app
from hub.api.deps import SESSION_COOKIE
from hub.auth import accounts
from hub.cli import build_parser
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming
from hub.privacy import audit, retention
from tests.support.building import BUILDING
from tests.support.web import csrf_from, http_routes

SECRET = "admin-pages-tests-secret-0123456789"
PASSWORD = "a long test password"
PAGES = ["/admin", "/admin/agents", "/admin/provisioning", "/admin/people", "/admin/privacy"]




@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> HubSettings:
    return HubSettings(data_dir=tmp_path / "hub", secret_key=SECRET, database_url=database_url,
                       retention_checkins_days=45, heartbeat_timeout=120)


@pytest.fixture
def store(settings: HubSettings) -> Iterator[Store]:
    """The hub store on this test's engine (tests/conftest.py ``engine``)."""
    store = open_store(settings.store_url)
    store.import_building(BUILDING)
    accounts.ensure_schema(store.db)
    yield store
    store.close()


@pytest.fixture
def app(settings: HubSettings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
def people(store: Store) -> dict[str, int]:
    ids = {name: accounts.create_user(store.db, name, PASSWORD, role) for name, role in
           [("ada", "admin"), ("mia", "manager"), ("eve", "employee")]}
    store.db.execute("UPDATE users SET name = 'Eve Example', email = 'eve@example.org', "
                     "department = 'Finance' WHERE id = ?", [ids["eve"]])
    return ids


def signed_in(app: FastAPI, store: Store, user_id: int) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, accounts.create_session(store.db, user_id))
    return client


def role_of(store: Store, user_id: int) -> str:
    return str(store.db.execute("SELECT role FROM users WHERE id = ?", [user_id]).fetchone()[0])


def audit_actions(store: Store, user_id: int) -> list[tuple[str, str, str]]:
    """The changes audited about a person (the reads of the people page left out: their
    own test is test_showing_the_people_list_is_an_audited_read_of_each_person)."""
    subject = audit.subject_for(store.db, SECRET, user_id)
    assert subject is not None
    return [(e["actor"], e["action"], e["detail"]) for e in audit.about(store.db, subject)
            if e["action"] != "read"]


def row(html: str, marker: str) -> str:
    """The table row whose opening tag holds ``marker``."""
    start = html.index(marker)
    return html[start:html.index("</tr>", start)]


# -- who may see the pages ---------------------------------------------------------------------

def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every /admin route but the labels pages, which managers may use too
    (docs/checkin.md)."""
    return [(method, path) for method, path, _ in http_routes(app)
            if path.startswith("/admin") and not path.startswith("/admin/labels")]


@pytest.mark.parametrize("who", ["mia", "eve"])
def test_managers_and_employees_get_403_on_every_admin_route(
    app: FastAPI, store: Store, people: dict[str, int], who: str
) -> None:
    routes = admin_routes(app)
    assert {("GET", p) for p in PAGES} <= set(routes)
    assert ("POST", "/admin/people/{person_id}/role") in routes
    with signed_in(app, store, people[who]) as client:
        csrf = csrf_from(client.get("/account/password").text)
        for method, path in routes:
            url = path.replace("{person_id}", str(people["eve"])).replace("{floor}", "hq-f1")
            data = {"csrf_token": csrf, "role": "admin"} if method == "POST" else None
            response = client.request(method, url, data=data)
            assert response.status_code == 403, f"{method} {path}"
    assert role_of(store, people["eve"]) == "employee"
    assert audit_actions(store, people["eve"]) == []


def test_signed_out_browsers_are_sent_to_sign_in(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as client:
        for path in PAGES:
            response = client.get(path)
            assert (response.status_code, response.headers["location"]) == (
                303, f"/login?next={path}")  # and back here after signing in


def test_the_admin_link_is_in_the_nav_for_admins_only(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        assert '<a href="/admin" data-view="admin"' in client.get("/").text
        overview = client.get("/admin").text
        for href in [*PAGES, "/admin/labels", "/admin/people/import", "/admin/floors"]:
            assert f'href="{href}"' in overview, href
    with signed_in(app, store, people["mia"]) as client:
        assert 'href="/admin"' not in client.get("/").text


def test_an_admin_with_a_one_time_password_must_change_it_first(
    app: FastAPI, store: Store
) -> None:
    one_time = accounts.ensure_admin(store.db)
    assert one_time
    principal = accounts.authenticate_password(store.db, accounts.ADMIN_USERNAME, one_time)
    assert principal.user_id is not None
    with signed_in(app, store, principal.user_id) as client:
        response = client.get("/admin/people")
        assert (response.status_code, response.headers["location"]) == (
            303, "/account/password?next=/admin/people")  # and back after the change


# -- agents ----------------------------------------------------------------------------------

def send(store: Store, site: str, agent: str, *messages: Status | Health | DesksMessage) -> None:
    now = time.time()
    result = store.apply([Incoming(Topic(site, agent, m.KIND), m, now) for m in messages])
    assert not result.rejected, result.rejected


def test_agents_page_shows_state_last_seen_and_the_latest_health(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    now = time.time()
    send(store, "hq", "hq-agent-1", Status(online=True, boot=1, version="1.4.0"),
         Health(agent="hq-agent-1", boot=1, sent=now - 30, uptime=7200, outbox_depth=5,
                dropped=2, sensor_faults=("hq-d2",)),
         Health(agent="hq-agent-1", boot=1, sent=now, uptime=7230, outbox_depth=17,
                dropped=3, sensor_faults=("hq-d2", "hq-d3")))
    send(store, "lab", "lab-agent", Status(online=True, boot=4, version="1.3.9"),
         Status(online=False, boot=4))
    send(store, "hq", "hq-agent-1",  # seq 1, then 4: messages 2 and 3 never arrived
         *(DesksMessage("hq-agent-1", 1, seq, now, (DeskEvent("hq-d1", "occupied", now),))
           for seq in (1, 4)))
    store.import_building({"sites": [{**BUILDING["sites"][1], "floors": [{
        **BUILDING["sites"][1]["floors"][0], "zones": [{"id": "lab-z", "name": "Bench", "desks": [
            {"id": "lab-d2", "name": "Bench 2", "agent": "lab-agent-2"}]}]}]}]})
    with store.transaction() as db:
        provision.record_added(db, "hq-agent-9", "hq")
    with signed_in(app, store, people["ada"]) as client:
        page = client.get("/admin/agents")
    assert page.status_code == 200
    hq = row(page.text, 'data-agent="hq-agent-1"')
    assert 'data-state="online"' in hq and "1.4.0" in hq and "Head office" in hq
    assert '<td class="num" data-field="outbox_depth">17</td>' in hq  # the latest report
    assert '<td class="num" data-field="dropped">3</td>' in hq
    assert '<td class="num" data-field="gaps">1</td>' in hq
    assert "2 faulty:</span>\n      hq-d2, hq-d3" in hq
    assert re.search(r"\d{2}:\d{2} CES?T \(just now\)", hq)  # the site's clock, named
    lab = row(page.text, 'data-agent="lab-agent"')
    assert 'data-state="offline"' in lab and "no health report yet" in lab
    never = row(page.text, 'data-agent="hq-agent-9"')
    assert 'data-state="never connected"' in never and "<td>never</td>" in never
    assert '<td class="num" data-field="gaps">–</td>' in never
    named = row(page.text, 'data-agent="lab-agent-2"')  # named on a desk, never heard from
    assert 'data-state="never connected"' in named
    assert "1 of 4 agents online" in page.text
    assert "after 120 s without a message" in page.text


def test_with_no_agents_the_page_says_how_to_provision_one(
    settings: HubSettings
) -> None:
    empty = open_store(settings.store_url)  # a new hub: no building, no agents
    try:
        app = create_app(settings, empty)
        admin = accounts.create_user(empty.db, "ada", PASSWORD, "admin")
        with signed_in(app, empty, admin) as client:
            page = client.get("/admin/agents").text
    finally:
        empty.close()
    assert 'id="agents-empty"' in page and "<table" not in page
    assert "deskpulse hub agents add &lt;agent-id&gt; --site &lt;site&gt;" in page


# -- provisioning and labels --------------------------------------------------------------------

def test_provisioning_shows_real_cli_commands_and_provisioned_agents(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with store.transaction() as db:
        provision.record_added(db, "hq-agent-1", "hq")
        provision.record_added(db, "hq-agent-2", "hq")
        provision.record_revoked(db, "hq-agent-2")
    with signed_in(app, store, people["ada"]) as client:
        page = client.get("/admin/provisioning").text
    assert "<form" not in page.split('id="admin-main"')[1]  # shown, never done, here
    for command in PROVISIONING:
        assert command.command.replace("<", "&lt;").replace(">", "&gt;") in page
    assert "<code>hq</code> (Head office)" in page and "<code>lab</code> (Lab)" in page
    assert "<td>no</td>" in row(page, "<code>hq-agent-1</code>")
    assert re.search(r" CES?T ", row(page, "<code>hq-agent-2</code>").split("</td>")[-2])


@pytest.mark.parametrize("command", PROVISIONING, ids=lambda c: c.title)
def test_every_command_on_the_provisioning_page_parses_with_the_real_cli(command: object
                                                                         ) -> None:
    text = re.sub(r"<([^>]+)>", lambda m: m.group(1).replace(" ", "-").replace(".", "-"),
                  command.command)  # type: ignore[attr-defined]
    argv = shlex.split(text)
    assert argv[0] == "deskpulse"
    args = build_parser().parse_args(argv[1:])  # SystemExit (test error) on a wrong flag
    assert callable(args.func)


def test_admins_reach_the_qr_labels_page(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        assert 'href="/admin/labels"' in client.get("/admin/provisioning").text
        labels = client.get("/admin/labels?site=hq")
    assert labels.status_code == 200 and 'href="/api/v1/sites/hq/labels.pdf"' in labels.text


# -- people -------------------------------------------------------------------------------------

def test_people_lists_every_account(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        page = client.get("/admin/people").text
    eve = row(page, f'data-person="{people["eve"]}"')
    for value in ("Eve Example", "eve@example.org", "Finance",
                  '<option value="employee" selected>'):
        assert value in eve
    assert '<option value="manager" selected>' in row(page, f'data-person="{people["mia"]}"')
    me = row(page, f'data-person="{people["ada"]}"')
    assert "/reset" not in me and 'href="/account/password"' in me


def test_showing_the_people_list_is_an_audited_read_of_each_person(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    """PRIVACY.md 13: Eve can see that the administrator saw her name and e-mail."""
    eve = audit.subject_for(store.db, SECRET, people["eve"])
    assert eve is not None and audit.about(store.db, eve) == []
    with signed_in(app, store, people["ada"]) as client:
        assert client.get("/admin/people").status_code == 200
    entries = audit.about(store.db, eve)
    assert [(e["actor"], e["action"]) for e in entries] == [("ada", "read")]
    assert "people page" in entries[0]["detail"]
    assert audit.verify(store.db).ok  # the chain still holds


def test_a_role_change_is_saved_and_audited(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        csrf = csrf_from(client.get("/admin/people").text)
        done = client.post(f"/admin/people/{people['eve']}/role",
                           data={"role": "manager", "csrf_token": csrf})
        assert done.status_code == 200 and "Role changed." in done.text
        again = client.post(f"/admin/people/{people['eve']}/role",
                            data={"role": "manager", "csrf_token": csrf})
        assert "Nothing changed" in again.text
        bad = client.post(f"/admin/people/{people['eve']}/role",
                          data={"role": "owner", "csrf_token": csrf})
        assert bad.status_code == 400 and "role must be one of admin, manager" in bad.text
        missing = client.post("/admin/people/999/role",
                              data={"role": "manager", "csrf_token": csrf})
        assert missing.status_code == 404
    assert role_of(store, people["eve"]) == "manager"
    assert audit_actions(store, people["eve"]) == [
        ("ada", "role", "role changed from employee to manager")]
    assert audit.verify(store.db).ok
    with signed_in(app, store, people["eve"]) as client:  # the new role applies at once
        assert client.get("/api/v1/agents?site=hq").status_code == 200


def test_a_reset_shows_a_one_time_password_once_that_must_be_changed(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    eves_session = signed_in(app, store, people["eve"])
    with signed_in(app, store, people["ada"]) as client:
        csrf = csrf_from(client.get("/admin/people").text)
        done = client.post(f"/admin/people/{people['eve']}/reset", data={"csrf_token": csrf})
        assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
        match = re.search(r'<code id="one-time-password">([^<]+)</code>', done.text)
        assert match and "One-time password for <strong>eve</strong>" in done.text
        one_time = match.group(1)
        assert one_time not in client.get("/admin/people").text  # shown once only
    assert eves_session.get("/api/v1/me").status_code == 401  # her sessions ended
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate_password(store.db, "eve", PASSWORD)
    with TestClient(app, follow_redirects=False) as browser:
        form = browser.get("/login")
        signed = browser.post("/login", data={"username": "eve", "password": one_time,
                                              "csrf_token": csrf_from(form.text)})
        assert signed.headers["location"] == "/account/password"
    assert audit_actions(store, people["eve"]) == [
        ("ada", "reset", "password reset to a one-time password")]
    assert one_time not in str(list(store.db.query("SELECT * FROM audit_log")))


def test_an_admin_does_not_reset_their_own_password_here(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        csrf = csrf_from(client.get("/admin/people").text)
        response = client.post(f"/admin/people/{people['ada']}/reset",
                               data={"csrf_token": csrf})
        assert response.status_code == 400
        assert "use Change password for your own account" in response.text
        assert client.get("/admin").status_code == 200  # still signed in


def test_the_last_admin_cannot_be_demoted(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        csrf = csrf_from(client.get("/admin/people").text)
        refused = client.post(f"/admin/people/{people['ada']}/role",
                              data={"role": "employee", "csrf_token": csrf})
        assert refused.status_code == 409
        assert ("ada is the only administrator: make someone else an administrator first"
                in refused.text)
        assert role_of(store, people["ada"]) == "admin"
        assert audit_actions(store, people["ada"]) == []
        promoted = client.post(f"/admin/people/{people['mia']}/role",
                               data={"role": "admin", "csrf_token": csrf})
        assert promoted.status_code == 200
        stepped_down = client.post(f"/admin/people/{people['ada']}/role",
                                   data={"role": "manager", "csrf_token": csrf})
        assert stepped_down.status_code == 200
    assert role_of(store, people["ada"]) == "manager"
    with signed_in(app, store, people["ada"]) as client:
        assert client.get("/admin/people").status_code == 403


@pytest.mark.parametrize("token", [None, "forged"])
def test_role_change_and_reset_need_the_csrf_token(
    app: FastAPI, store: Store, people: dict[str, int], token: str | None
) -> None:
    data = {} if token is None else {"csrf_token": token}
    before = store.db.execute("SELECT password_hash FROM users WHERE id = ?",
                              [people["eve"]]).fetchone()[0]
    with signed_in(app, store, people["ada"]) as client:
        client.get("/admin/people")  # the CSRF cookie is set; the form token is missing
        role = client.post(f"/admin/people/{people['eve']}/role", data={**data, "role": "admin"})
        reset = client.post(f"/admin/people/{people['eve']}/reset", data=data)
    assert role.status_code == reset.status_code == 403
    assert "invalid or missing CSRF token" in reset.text and "one-time-password" not in reset.text
    assert role_of(store, people["eve"]) == "employee"
    assert store.db.execute("SELECT password_hash FROM users WHERE id = ?",
                            [people["eve"]]).fetchone()[0] == before


# -- privacy and retention ----------------------------------------------------------------------

def test_privacy_page_shows_settings_in_force_and_the_last_retention_run(
    app: FastAPI, store: Store, settings: HubSettings, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        before = client.get("/admin/privacy").text
        assert "never: the hub runs it" in before
        checkins = row(before, 'data-key="retention_checkins_days"')
        assert "<td>45 days</td>" in checkins
        assert "<code>DESKPULSE_RETENTION_CHECKINS_DAYS</code>" in checkins
        assert "<td>365 days</td>" in row(before, 'data-key="retention_audit_days"')
        store.db.execute("INSERT INTO sessions (token_hash, user_id, created, expires) "
                         "VALUES ('old', ?, 0, 1)", [people["eve"]])
        retention.run(store, settings, time.time())
        after = client.get("/admin/privacy").text
    last = after.split('id="retention-last-run">')[1].split("</p>")[0]
    assert "UTC (just now)" in last
    assert "<code>sessions</code>: 1 rows removed" in after
    assert "Intact: 0 entries, hash chain verified." in after
    assert 'href="/me/data"' in after and "docs/privacy.md" in after


def test_the_people_page_shows_fifty_at_a_time_and_audits_only_those_shown(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    """A hub with thousands of accounts: the page shows 50, pages on, finds by name,
    e-mail or department, and only the people shown are audited as read."""
    many = {accounts.create_user(store.db, f"staff{k:03d}", PASSWORD, "employee"): k
            for k in range(120)}
    store.db.execute("UPDATE users SET department = 'Research_Lab' WHERE username = 'staff007'")
    with signed_in(app, store, people["ada"]) as client:
        first = client.get("/admin/people").text
        third = client.get("/admin/people?page=3").text
        beyond = client.get("/admin/people?page=99").text  # the last page instead
        found = client.get("/admin/people", params={"q": "research_lab"}).text
        wildcard = client.get("/admin/people", params={"q": "r_s"}).text  # _ is not a wildcard
        nobody = client.get("/admin/people", params={"q": "zzz"}).text
        too_long = client.get("/admin/people", params={"q": "x" * 201})
    shown = {int(m) for m in re.findall(r'data-person="(\d+)"', first)}
    assert len(shown) == 50 and "1–50 of 123" in first
    assert 'rel="next" href="/admin/people?q=&amp;page=2"' in first
    assert {int(m) for m in re.findall(r'data-person="(\d+)"', third)} <= set(many)
    assert "101–123 of 123" in third and 'rel="next"' not in third
    assert "Page 3 of 3" in beyond
    assert re.findall(r'data-username="([^"]+)"', found) == ["staff007"]
    assert "Accounts matching “research_lab”: 1–1 of 1" in found
    assert 'data-person' not in wildcard and "Nobody matches" in nobody
    assert too_long.status_code == 422
    # Audited as read: exactly the people some page showed (staff007 was also found).
    read = shown | {int(m) for m in re.findall(r'data-person="(\d+)"', third)}
    audited = {p for p in many
               if audit.about(store.db, audit.subject_for(store.db, SECRET, p) or "")}
    assert audited == read & set(many) and len(audited) == 47 + 23


def test_a_role_change_keeps_the_search_it_was_made_from(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ada"]) as client:
        page = client.get("/admin/people", params={"q": "eve"}).text
        assert f'action="/admin/people/{people["eve"]}/role?q=eve&amp;page=1"' in page
        after = client.post(f"/admin/people/{people['eve']}/role?q=eve&page=1",
                            data={"role": "manager", "csrf_token": csrf_from(page)})
    assert after.status_code == 200 and "Role changed." in after.text
    assert re.findall(r'data-username="([^"]+)"', after.text) == ["eve"]
    assert role_of(store, people["eve"]) == "manager"
