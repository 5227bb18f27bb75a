"""CSV import of employees: exact reasons per line, preview -> confirm, refusals, roles."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.admin import people_import
from hub.admin.people_import import parse_employees_csv
from hub.api.app import create_app
from hub.api.deps import SESSION_COOKIE
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.privacy import audit
from tests.support.web import csrf_from

PAGE = "/admin/people/import"
GOOD = (b"\xef\xbb\xbfEmail,Name,Department\n"
        b"ada@example.org,Ada Lovelace,R&D\n"
        b"grace@example.org,Grace Hopper,\n")




def reasons(data: bytes) -> list[tuple[int, str]]:
    return list(parse_employees_csv(data).errors)


HEADER = b"name,email,department\n"


@pytest.mark.parametrize(("row", "reason"), [
    (b",a@example.org,X", "missing name"),
    (b"A,,X", "missing email"),
    (b"A,not-an-email,X", "invalid email"),
    (b"A,a@@example.org,X", "invalid email"),
    (b"=HYPERLINK(1),a@example.org,X",
     "name starts with '=' (possible spreadsheet formula); rejected"),
    (b"A,a@example.org,+1", "department starts with '+' (possible spreadsheet formula); rejected"),
    (b"A,a@example.org,-x", "department starts with '-' (possible spreadsheet formula); rejected"),
    (b"A,@a@example.org,X", "email starts with '@' (possible spreadsheet formula); rejected"),
    (b"A" * 201 + b",a@example.org,X", "name is longer than 200 characters"),
    (b"A,a@example.org,X,extra", "expected 3 fields, found 4"),
    (b"A\x01B,a@example.org,X", "name contains a control character"),
])
def test_each_bad_row_is_rejected_with_its_reason(row: bytes, reason: str) -> None:
    preview = parse_employees_csv(HEADER + b"Ok,ok@example.org,X\n" + row + b"\n")
    assert [r.email for r in preview.rows] == ["ok@example.org"]
    assert list(preview.errors) == [(3, reason)]


def test_good_file_with_bom_and_any_header_order() -> None:
    preview = parse_employees_csv(GOOD)
    assert preview.ok
    assert [(r.line, r.name, r.email, r.department) for r in preview.rows] == [
        (2, "Ada Lovelace", "ada@example.org", "R&D"),
        (3, "Grace Hopper", "grace@example.org", "")]


def test_file_level_problems() -> None:
    assert reasons(b"") == [(1, "file is empty: expected a header name,email,department")]
    assert reasons(b"\xff\xfe") == [(0, "file is not UTF-8 (byte 0)")]
    assert reasons(b"name,mail\n") == [(1, "header must be name,email,department (any order);"
                                           " missing: email, department, unexpected or "
                                           "repeated: mail")]
    assert reasons(b"x" * (people_import.MAX_BYTES + 1))[0][1].startswith("file is larger")
    dup = HEADER + b"A,a@example.org,X\nB,A@Example.org,Y\n"
    assert reasons(dup) == [(3, "duplicate email in file (first on line 2)")]
    many = HEADER + b"".join(b"P,p%d@example.org,X\n" % i
                             for i in range(people_import.MAX_ROWS + 1))
    preview = parse_employees_csv(many)
    assert len(preview.rows) == people_import.MAX_ROWS
    limit = people_import.MAX_ROWS
    assert preview.errors[-1][1] == f"more than {limit} rows; the rest was not read"
    assert reasons(HEADER + b'A,"a@example.org,X\n')[0][1].startswith("malformed CSV")


def test_apply_creates_then_updates_and_is_idempotent(store: SqliteStore) -> None:
    preview = parse_employees_csv(GOOD)
    with store.transaction() as db:
        first = people_import.apply_import(db, preview, now=1000.0)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    row = store.db.execute("SELECT username, role, must_change_password, name, department"
                           " FROM users WHERE email = 'ada@example.org'").fetchone()
    assert row == ("ada@example.org", "employee", 1, "Ada Lovelace", "R&D")
    with store.transaction() as db:
        again = people_import.apply_import(db, preview, now=1001.0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    moved = parse_employees_csv(HEADER + b"Ada King,ADA@example.org,Maths\n")
    with store.transaction() as db:
        third = people_import.apply_import(db, moved, now=1002.0)
    assert (third.created, third.updated) == (0, 1)
    assert store.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 2
    with pytest.raises(accounts.LoginFailed):  # the random password is nobody's to know
        accounts.authenticate_password(store.db, "ada@example.org", "")
    store.close()


# -- routes ----------------------------------------------------------------------------------

@pytest.fixture
def admin_client(app: FastAPI, store: SqliteStore) -> Iterator[TestClient]:
    user_id = accounts.create_user(store.db, "root", "a long admin password", "admin")
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set(SESSION_COOKIE, accounts.create_session(store.db, user_id))
        yield client


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def upload(client: TestClient, data: bytes) -> str:
    csrf = csrf_from(client.get(PAGE).text)
    response = client.post(PAGE, data={"csrf_token": csrf},
                           files={"file": ("people.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    return response.text


def test_preview_then_confirm_creates_accounts(admin_client: TestClient,
                                               store: SqliteStore) -> None:
    page = upload(admin_client, GOOD + b"=cmd,x@example.org,X\n")
    assert "2 to create" in page and "possible spreadsheet formula" in page
    assert "<script" not in page
    assert store.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1  # nothing yet
    response = admin_client.post(PAGE + "/confirm", data={
        "csrf_token": hidden(page, "csrf_token"), "payload": hidden(page, "payload"),
        "token": hidden(page, "token")})
    assert response.status_code == 200 and "2 created" in response.text
    emails = {r[0] for r in store.db.execute("SELECT email FROM users WHERE role='employee'")}
    assert emails == {"ada@example.org", "grace@example.org"}
    entry = store.db.execute("SELECT action, subject, detail FROM audit_log").fetchall()[-1]
    assert entry[0] == "import" and entry[1] is None and "2 created" in entry[2]
    assert "ada" not in entry[2].lower() and "lovelace" not in entry[2].lower()
    assert audit.verify(store.db).ok


def test_tampered_or_expired_confirmation_is_refused(
    admin_client: TestClient, app: FastAPI, store: SqliteStore
) -> None:
    page = upload(admin_client, GOOD)
    csrf, token = hidden(page, "csrf_token"), hidden(page, "token")
    other = base64.b64encode(GOOD + b"eve,eve@example.org,X\n").decode()
    response = admin_client.post(PAGE + "/confirm", data={
        "csrf_token": csrf, "payload": other, "token": token})
    assert response.status_code == 400
    assert "does not match the previewed file" in response.text
    digest = parse_employees_csv(GOOD).digest
    old = people_import.confirmation_token(app.state.secret_key, digest, int(time.time()) - 1)
    response = admin_client.post(PAGE + "/confirm", data={
        "csrf_token": csrf, "payload": hidden(page, "payload"), "token": old})
    assert response.status_code == 400 and "expired" in response.text
    response = admin_client.post(PAGE + "/confirm", data={
        "csrf_token": "forged", "payload": hidden(page, "payload"), "token": token})
    assert response.status_code == 403
    assert store.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1


@pytest.mark.parametrize("role", ["employee", "manager"])
def test_non_admins_get_403(app: FastAPI, store: SqliteStore, role: str) -> None:
    user_id = accounts.create_user(store.db, "someone", "a long password here", role)
    token = accounts.create_api_token(store.db, "script", role=role)
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set(SESSION_COOKIE, accounts.create_session(store.db, user_id))
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE + "/confirm", data={}).status_code == 403
        client.cookies.clear()
        response = client.post("/api/v1/people/import", content=GOOD,
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403


def test_api_dry_run_then_apply(app: FastAPI, store: SqliteStore) -> None:
    token = accounts.create_api_token(store.db, "hr-sync", role="admin")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    with TestClient(app) as client:
        body = GOOD + b"Bad,nope,X\n"
        dry = client.post("/api/v1/people/import", content=body, headers=headers).json()
        assert (dry["dry_run"], dry["create"], dry["rejected"]) == (
            True, 2, [{"line": 4, "reason": "invalid email"}])
        assert store.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
        done = client.post("/api/v1/people/import", params={"dry_run": "false"}, content=body,
                           headers=headers).json()
        assert (done["dry_run"], done["create"], done["rejected_total"]) == (False, 2, 1)
        again = client.post("/api/v1/people/import", params={"dry_run": "false"},
                            content=body, headers=headers).json()
        assert (again["create"], again["unchanged"]) == (0, 2)


def test_upload_over_the_body_limit_is_413(tmp_path: object) -> None:
    settings = HubSettings(data_dir=tmp_path, max_body_bytes=4096)  # type: ignore[arg-type]
    store = SqliteStore(settings.database_path)
    token = accounts.create_api_token(store.db, "hr-sync", role="admin")
    user_id = accounts.create_user(store.db, "root", "a long admin password", "admin")
    big = HEADER + b"".join(b"P,p%d@example.org,X\n" % i for i in range(400))
    with TestClient(create_app(settings, store), follow_redirects=False) as client:
        response = client.post("/api/v1/people/import", content=big,
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 413
        client.cookies.set(SESSION_COOKIE, accounts.create_session(store.db, user_id))
        response = client.post(PAGE, files={"file": ("p.csv", big, "text/csv")},
                               data={"csrf_token": "x"})
        assert response.status_code == 413
    store.close()
