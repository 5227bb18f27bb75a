"""Account integrity (issue 24, item 4; item 9's empty import): e-mail addresses are unique
in any case, an address the directory import gave is locked for self-service, the import
never matches an account by an address the account set itself, and self-service fields
get the import's validation. Both store engines.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.auth import accounts
from hub.db.compat import IntegrityError
from hub.db.protocol import Store
from tests.support.web import login

PASSWORD = "a long enough password"




@pytest.fixture
def hr(store: Store) -> dict[str, str]:
    token = accounts.create_api_token(store.db, "hr directory", role="admin")
    return {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}


def signed_in(client: TestClient, store: Store, name: str) -> int:
    person = accounts.create_user(store.db, name, PASSWORD, "employee")
    assert login(client, name, PASSWORD).status_code == 303
    return person


def import_csv(client: TestClient, hr: dict[str, str], rows: str) -> dict:
    response = client.post("/api/v1/people/import", params={"dry_run": "false"},
                           content=("name,email,department\n" + rows).encode(), headers=hr)
    assert response.status_code == 200, response.text
    return response.json()


def emails(store: Store) -> dict[str, str | None]:
    return {row[0]: row[1] for row in store.db.execute("SELECT username, email FROM users")}


def test_an_address_another_account_holds_cannot_be_taken_in_any_case(
    client: TestClient, store: Store, hr: dict[str, str]
) -> None:
    import_csv(client, hr, "Bob Builder,bob@example.org,Ops\n")
    signed_in(client, store, "eve")
    response = client.patch("/api/v1/me", json={"email": "BOB@Example.org"})
    assert response.status_code == 400
    assert response.json()["detail"] == "this e-mail address belongs to another account"
    assert emails(store)["eve"] is None
    # The import now updates Bob, whatever Eve tried.
    assert import_csv(client, hr, "Bob Builder,bob@example.org,Sales\n")["update"] == 1
    row = store.db.execute("SELECT department FROM users WHERE username = 'bob@example.org'")
    assert row.fetchone()[0] == "Sales"


def test_the_database_refuses_a_second_account_with_the_same_address(store: Store) -> None:
    accounts.create_user(store.db, "one", PASSWORD, "employee")
    accounts.create_user(store.db, "two", PASSWORD, "employee")
    with store.transaction() as db:
        db.execute("UPDATE users SET email = 'same@example.org' WHERE username = 'one'")
    with pytest.raises(IntegrityError), store.transaction() as db:
        db.execute("UPDATE users SET email = 'Same@Example.ORG' WHERE username = 'two'")


def test_a_pre_claimed_address_does_not_make_the_import_update_the_claimant(
    client: TestClient, store: Store, hr: dict[str, str]
) -> None:
    """Eve sets a new hire's address on her own account before the directory has it; the
    import creates the new hire and takes the address back from Eve."""
    signed_in(client, store, "eve")
    assert client.patch("/api/v1/me", json={"name": "Eve", "email": "newhire@example.org"}
                        ).status_code == 200
    report = import_csv(client, hr, "Nina Newhire,newhire@example.org,R&D\n")
    assert (report["create"], report["update"], report["reclaimed"]) == (1, 0, 1)
    assert emails(store) == {"eve": None, "newhire@example.org": "newhire@example.org"}
    eve = client.get("/api/v1/me").json()
    assert (eve["name"], eve["department"]) == ("Eve", None)  # not the new hire's details


def test_an_address_from_the_directory_is_locked_for_self_service(
    client: TestClient, store: Store, hr: dict[str, str]
) -> None:
    import_csv(client, hr, "Carol Chen,carol@example.org,Finance\n")
    with store.transaction() as db:
        db.execute("UPDATE users SET password_hash = ?, must_change_password = 0 "
                   "WHERE username = 'carol@example.org'", [accounts.hash_password(PASSWORD)])
    assert login(client, "carol@example.org", PASSWORD).status_code == 303
    for email in ("carol.private@example.org", None):
        response = client.patch("/api/v1/me", json={"email": email})
        assert response.status_code == 400
        assert response.json()["detail"] == (
            "your e-mail address comes from the company directory: ask HR to change it there")
    assert client.patch("/api/v1/me", json={"email": "CAROL@example.org"}).status_code == 200
    assert client.patch("/api/v1/me", json={"name": "Carol C."}).status_code == 200
    assert emails(store)["carol@example.org"] == "carol@example.org"


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("name", "=HYPERLINK(\"http://x\")",
     "name starts with '=' (possible spreadsheet formula); rejected"),
    ("department", "@SUM(1)", "department starts with '@' (possible spreadsheet formula); "
                               "rejected"),
    ("email", "not-an-address", "invalid email"),
    ("email", "+evil@example.org", "email starts with '+' (possible spreadsheet formula); "
                                   "rejected"),
    ("name", "Ann\x07", "name contains a control character"),
])
def test_self_service_fields_get_the_imports_validation(
    client: TestClient, store: Store, field: str, value: str, reason: str
) -> None:
    signed_in(client, store, "ann")
    response = client.patch("/api/v1/me", json={field: value})
    assert response.status_code == 400
    assert response.json()["detail"] == reason
    assert client.get("/api/v1/me").json()[field] is None


def test_an_import_without_a_body_is_a_400_saying_what_to_send(
    client: TestClient, hr: dict[str, str]
) -> None:
    for dry_run in ("true", "false"):
        response = client.post("/api/v1/people/import", params={"dry_run": dry_run},
                               headers=hr)
        assert response.status_code == 400
        assert response.json()["detail"] == (
            "the request has no body: send the CSV file (header name,email,department) as "
            "the body, Content-Type text/csv")


def test_the_migration_keeps_one_copy_of_each_address_on_sqlite() -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    _old_accounts(conn)
    conn.executescript(accounts.EMAIL_OWNER_SQL)
    assert _owners(conn) == EXPECTED_OWNERS


def test_the_migration_keeps_one_copy_of_each_address_on_postgres(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        _old_accounts(conn)
        conn.execute(accounts.EMAIL_OWNER_SQL.encode())
        assert _owners(conn) == EXPECTED_OWNERS


# Before the migration: Eve claimed Bob's imported address, Zed a copy of Ann's (in
# another case), Q an empty one.
_OLD = [(1, "eve", "bob@x.org"), (2, "bob@x.org", "Bob@x.org"), (3, "ann", "a@x.org"),
        (4, "zed", "A@x.org"), (5, "q", "")]
EXPECTED_OWNERS = [(1, None, None), (2, "Bob@x.org", "import"), (3, "a@x.org", "self"),
                   (4, None, None), (5, None, None)]


def _old_accounts(conn: Any) -> None:
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, email TEXT)")
    for row in _OLD:
        conn.execute(f"INSERT INTO users VALUES ({row[0]}, '{row[1]}', '{row[2]}')")


def _owners(conn: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(
        "SELECT id, email, email_source FROM users ORDER BY id").fetchall()]
