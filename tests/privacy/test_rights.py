"""PRIVACY.md 9-11: export everything, correct with an audit entry, delete at once, and
re-apply deletions after a backup is restored."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.auth import accounts
from hub.cli import main
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.privacy import audit, inventory, rights
from tests.pg import pg_bin
from tests.support.people import SEEDERS, make_person
from tests.support.web import PASSWORD, SECRET, csrf_from, sign_in


def _person_tables(conn: Any) -> set[str]:
    """Every table of the live schema with a column that refers to a person."""
    not_personal = inventory.not_personal_on(conn)
    return {name for name, columns in inventory.live_schema(conn).items()
            if any(inventory.PERSON_REFERENCE.search(c)
                   and (name, c) not in not_personal for c in columns)}


def _linked(store: SqliteStore, params: dict[str, Any]) -> dict[str, int]:
    """Rows linked to a person in every linked table (params computed while they existed)."""
    return {e.name: store.db.execute(
        f'SELECT COUNT(*) FROM "{e.name}" WHERE {e.link}', params).fetchone()[0]  # noqa: S608
        for e in inventory.INVENTORY if e.link is not None}


def _params(store: SqliteStore, person: int) -> dict[str, Any]:
    return {"person": person, "audit_subject": audit.subject_for(store.db, SECRET, person)}


def test_export_covers_every_table_with_a_person_reference(
    client: TestClient, store: SqliteStore, ann: int, bob: int
) -> None:
    sign_in(client, "ann")
    SEEDERS["login_failures"](store, ann, "")  # signing in cleared ann's failed logins
    response = client.get("/api/v1/me/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["format"] == rights.EXPORT_FORMAT and data["person"] == ann
    unlinked = {e.name for e in inventory.INVENTORY if e.link is None}
    for name in sorted(_person_tables(store.db.conn) - unlinked):
        assert name in SEEDERS, f"add a seeder for {name} in tests/privacy/conftest.py"
        assert name in data["tables"], f"{name} is missing from the export"
        assert data["tables"][name], f"ann's row in {name} is missing from the export"
    assert unlinked == {"api_tokens"}
    flat = json.dumps(data)
    assert "bob" not in flat  # nobody else's rows
    assert data["tables"]["users"][0]["password_hash"] == rights.WITHHELD
    assert "$argon2" not in flat
    assert data["viewed_by"][0]["actor"] == "auditor"


def test_export_needs_a_person(client: TestClient, store: SqliteStore, ann: int) -> None:
    assert client.get("/api/v1/me/export").status_code == 401
    token = accounts.create_api_token(store.db, "script", role="admin")
    response = client.get("/api/v1/me/export", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_patch_me_corrects_and_audits(client: TestClient, store: SqliteStore, ann: int) -> None:
    sign_in(client, "ann")
    before = len(audit.about(store.db, audit.subject_for(store.db, SECRET, ann) or ""))
    response = client.patch("/api/v1/me", json={
        "name": "Ann Example", "email": "ann@example.org", "department": "Finance"})
    assert response.status_code == 200, response.text
    me = client.get("/api/v1/me").json()
    assert (me["name"], me["email"], me["department"]) == (
        "Ann Example", "ann@example.org", "Finance")
    entries = audit.about(store.db, audit.subject_for(store.db, SECRET, ann) or "")
    assert len(entries) == before + 1
    assert entries[-1]["action"] == "correct"
    assert entries[-1]["detail"] == "corrected department, email, name"
    assert entries[-1]["actor"] == rights.SELF
    assert "Finance" not in json.dumps(entries)  # names of fields, never values
    assert audit.verify(store.db).ok
    # Clearing one field leaves the others.
    assert client.patch("/api/v1/me", json={"department": None}).json()["department"] is None
    assert client.get("/api/v1/me").json()["email"] == "ann@example.org"


def test_patch_me_refuses_bad_input(client: TestClient, ann: int) -> None:
    sign_in(client, "ann")
    assert client.patch("/api/v1/me", json={"email": "nope"}).status_code == 400
    assert client.patch("/api/v1/me", json={"role": "admin"}).status_code == 422
    assert client.patch("/api/v1/me", json={"name": "x" * 201}).status_code == 422
    assert client.get("/api/v1/me").json()["role"] == "employee"


def test_delete_me_removes_every_linked_row(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int, bob: int
) -> None:
    params, bob_params = _params(store, ann), _params(store, bob)
    bob_before = _linked(store, bob_params)
    assert all(_linked(store, params).values())
    sign_in(client, "ann")
    response = client.delete("/api/v1/me")
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["removed"]["checkins"] == 1 and receipt["removed"]["users"] == 1
    signature = receipt.pop("signature")
    body = json.dumps(receipt, sort_keys=True).encode()
    assert hmac.compare_digest(
        signature, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())
    left = _linked(store, params)
    for entry in inventory.INVENTORY:
        if entry.on_delete == "delete":
            assert left[entry.name] == 0, entry.name
    # The retained audit entries name ann only by a pseudonym nothing maps to any more.
    assert audit.subject_for(store.db, SECRET, ann) is None
    assert store.db.execute("SELECT COUNT(*) FROM audit_log WHERE actor_id = ?",
                            [ann]).fetchone()[0] == 0
    assert _linked(store, bob_params) == bob_before
    assert client.get("/api/v1/me").status_code == 401  # the session went with the account
    logged = rights.read_log(rights.deletion_log_path(settings.database_path))
    assert logged == {receipt["subject"]}
    text = rights.deletion_log_path(settings.database_path).read_text()
    assert "ann" not in text and f'"{ann}"' not in text


def _copy(src_path: Path, dest_path: Path) -> None:
    """A consistent copy with SQLite's online backup API (what an operator's backup does)."""
    src, dest = sqlite3.connect(src_path), sqlite3.connect(dest_path)
    try:
        src.backup(dest)
    finally:
        src.close()
        dest.close()


def _backup(settings: HubSettings, file: Path) -> None:
    """What an operator's backup does: SQLite's online backup, or pg_dump (docs/deploy)."""
    if settings.database_url is None:
        _copy(settings.database_path, file)
    else:
        subprocess.run([pg_bin("pg_dump"), "-Fc", "-f", str(file), "-d", settings.database_url],
                       check=True)


def _restore(settings: HubSettings, file: Path) -> None:
    if settings.database_url is None:
        _copy(file, settings.database_path)
    else:
        subprocess.run([pg_bin("pg_restore"), "--clean", "--if-exists", "--single-transaction",
                        "-d", settings.database_url, str(file)], check=True)


def test_reapply_deletions_after_backup_restore(
    client: TestClient, store: SqliteStore, settings: HubSettings, tmp_path: Path,
    ann: int, bob: int,
) -> None:
    backup = tmp_path / "backup.db"
    _backup(settings, backup)
    sign_in(client, "ann")
    assert client.delete("/api/v1/me").status_code == 200
    _restore(settings, backup)  # restore: ann is back
    assert rights.profile(store.db, ann)["username"] == "ann"
    assert all(_linked(store, _params(store, ann)).values())
    params = _params(store, ann)
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\nsecret_key = "{SECRET}"\n'
                      + (f'database_url = "{settings.database_url}"\n'
                         if settings.database_url else ""))
    assert main(["hub", "privacy", "reapply-deletions", "--config", str(config)]) == 0
    left = _linked(store, params)
    assert all(left[e.name] == 0 for e in inventory.INVENTORY if e.on_delete == "delete")
    assert rights.profile(store.db, bob)["username"] == "bob"
    # A second run finds nothing more to do.
    assert rights.reapply_deletions(store.db, SECRET,
                                    rights.deletion_log_path(settings.database_path)) == 0


@pytest.mark.sqlite_only  # PostgreSQL never hands out a freed id again (identity column)
def test_reapply_spares_a_new_account_that_reuses_the_id(
    store: SqliteStore, settings: HubSettings, tmp_path: Path
) -> None:
    log_path = tmp_path / "deletions.jsonl"
    ann = make_person(store, "ann", "hq-d1")
    rights.delete(store.db, SECRET, ann, log_path)
    carol = accounts.create_user(store.db, "carol", PASSWORD, now=1.0e9)
    assert carol == ann  # SQLite hands out the freed id again
    assert rights.reapply_deletions(store.db, SECRET, log_path) == 0
    assert rights.profile(store.db, carol)["username"] == "carol"


def test_admin_read_is_audited_and_shown_to_the_person(
    client: TestClient, store: SqliteStore, ann: int
) -> None:
    admin = accounts.create_api_token(store.db, "dpo-script", role="admin")
    manager = accounts.create_api_token(store.db, "boss", role="manager")
    url = f"/api/v1/people/{ann}/data"
    assert client.get(url, headers={"Authorization": f"Bearer {manager}"}).status_code == 403
    response = client.get(url, headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200 and response.json()["person"] == ann
    assert client.get("/api/v1/people/999/data",
                      headers={"Authorization": f"Bearer {admin}"}).status_code == 404
    sign_in(client, "ann")
    viewed = client.get("/api/v1/me/export").json()["viewed_by"]
    assert [(v["actor"], v["action"]) for v in viewed][-1] == ("dpo-script", "read")
    assert "dpo-script" in client.get("/me/data").text
    assert audit.verify(store.db).ok


def test_my_data_page_views_corrects_and_deletes(
    client: TestClient, store: SqliteStore, ann: int
) -> None:
    assert client.get("/me/data").status_code == 303  # signed out
    sign_in(client, "ann")
    page = client.get("/me/data")
    assert page.status_code == 200 and 'id="data-counts"' in page.text
    assert "colleague visibility (privacy notice" in " ".join(page.text.split())  # consent
    assert "<script" not in page.text
    token = csrf_from(page.text)
    form = {"name": "Ann E.", "email": "", "department": "Ops"}
    assert client.post("/me/data", data={**form, "csrf_token": "forged"}).status_code == 403
    assert client.post("/me/data", data={**form, "csrf_token": token}).status_code == 303
    assert rights.profile(store.db, ann)["department"] == "Ops"
    bad = client.post("/me/data", data={**form, "email": "x", "csrf_token": token})
    assert bad.status_code == 400 and "email" in bad.text
    assert "Not saved: invalid email" in bad.text  # the API's own detail (the import's rule)
    assert 'value="Ann E."' in bad.text  # what was typed is kept
    assert client.post("/me/data/delete", data={"confirm": "delete",
                                                "csrf_token": "forged"}).status_code == 403
    assert client.post("/me/data/delete", data={"confirm": "no",
                                                "csrf_token": token}).status_code == 400
    done = client.post("/me/data/delete", data={"confirm": "delete", "csrf_token": token})
    assert done.status_code == 200 and "Signature" in done.text
    assert "receipt-download" in done.text
    assert store.db.execute("SELECT COUNT(*) FROM users WHERE id = ?", [ann]).fetchone()[0] == 0


def test_the_last_administrator_cannot_delete_itself(
    client: TestClient, store: SqliteStore
) -> None:
    make_person(store, "root", "hq-d5", role="admin")
    sign_in(client, "root")
    response = client.delete("/api/v1/me")
    assert response.status_code == 400 and "only administrator" in response.json()["detail"]
    assert client.get("/api/v1/me").json()["username"] == "root"
    make_person(store, "root2", "hq-d4", role="admin")
    assert client.delete("/api/v1/me").status_code == 200
