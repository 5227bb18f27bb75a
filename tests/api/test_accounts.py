"""Accounts over a real store (SQLite file or PostgreSQL database): hashing, sessions, tokens
and the login rate limit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlite_utils import Database

from hub.auth import accounts
from hub.db.protocol import Store
from hub.privacy.inventory import live_schema

# Hashing is the subject here: the production argon2 parameters (tests/conftest.py).
pytestmark = pytest.mark.real_argon2


@pytest.fixture
def db(store: Store) -> Database:
    accounts.ensure_schema(store.db)
    return store.db


def test_ensure_schema_is_idempotent(db: Database) -> None:
    accounts.ensure_schema(db)
    accounts.ensure_schema(db)
    assert {"users", "sessions", "api_tokens", "login_failures"} <= set(live_schema(db.conn))


def test_ensure_admin_creates_once_with_a_hashed_one_time_password(db: Database) -> None:
    password = accounts.ensure_admin(db, now=1000.0)
    assert password is not None and len(password) >= 12
    assert accounts.ensure_admin(db) is None
    row = next(db.query("SELECT * FROM users WHERE username = 'admin'"))
    assert row["role"] == "admin" and row["must_change_password"] == 1
    assert row["password_hash"].startswith("$argon2id$")
    assert password not in row["password_hash"]
    principal = accounts.authenticate_password(db, "admin", password)
    assert principal.role == "admin" and principal.must_change_password


def test_reset_admin_password_replaces_the_old_one_and_ends_sessions(db: Database) -> None:
    first = accounts.ensure_admin(db)
    assert first is not None
    user = accounts.authenticate_password(db, "admin", first)
    assert user.user_id is not None
    session = accounts.create_session(db, user.user_id)
    second = accounts.reset_admin_password(db)
    assert second != first
    with pytest.raises(accounts.LoginFailed, match="^wrong username or password$"):
        accounts.authenticate_password(db, "admin", first)
    assert accounts.authenticate_password(db, "admin", second).name == "admin"
    assert accounts.resolve_session(db, session) is None


def test_api_tokens_are_stored_only_as_sha256(db: Database) -> None:
    token = accounts.create_api_token(db, "report script", now=50.0)
    rows = list(db.query("SELECT * FROM api_tokens"))
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(rows)
    principal = accounts.resolve_token(db, token, now=100.0)
    assert principal == accounts.Principal(kind="token", name="report script", role="manager")
    assert next(db.query("SELECT last_used FROM api_tokens"))["last_used"] == 100.0
    assert accounts.resolve_token(db, token + "x") is None
    assert accounts.resolve_token(db, "") is None


def test_unknown_role_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="role must be one of admin, manager, employee"):
        accounts.create_api_token(db, "x", role="root")


def test_duplicate_username_is_refused(db: Database) -> None:
    accounts.create_user(db, "ana", "pw-1", "manager")
    with pytest.raises(ValueError, match="user 'ana' already exists"):
        accounts.create_user(db, "ana", "pw-2")


def test_sessions_expire_and_can_be_deleted(db: Database) -> None:
    uid = accounts.create_user(db, "ben", "secret-pw", "employee")
    token = accounts.create_session(db, uid, ttl=60, now=1000.0)
    stored = next(db.query("SELECT token_hash FROM sessions"))["token_hash"]
    assert stored == accounts.hash_token(token) and stored != token
    assert accounts.resolve_session(db, token, now=1059.0) is not None
    assert accounts.resolve_session(db, token, now=1060.0) is None
    fresh = accounts.create_session(db, uid, now=2000.0)  # also purges the expired one
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
    accounts.delete_session(db, fresh)
    assert accounts.resolve_session(db, fresh, now=2001.0) is None


def test_login_rate_limit_five_failures_per_five_minutes(db: Database) -> None:
    accounts.create_user(db, "cleo", "right-pw", "manager")
    for i in range(accounts.LOGIN_MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate_password(db, "cleo", "wrong", now=1000.0 + i)
    # The sixth attempt is refused even with the right password ...
    with pytest.raises(accounts.LoginRateLimited, match="too many failed logins"):
        accounts.authenticate_password(db, "cleo", "right-pw", now=1010.0)
    # ... until the first failures leave the 5-minute window.
    assert accounts.authenticate_password(db, "cleo", "right-pw", now=1301.0).name == "cleo"
    assert accounts.recent_failures(db, "cleo", now=1301.0) == 0


def test_rate_limit_counts_unknown_usernames_too_and_is_per_username(db: Database) -> None:
    accounts.create_user(db, "dan", "pw-dan", "manager")
    for i in range(accounts.LOGIN_MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate_password(db, "ghost", "x", now=500.0 + i)
    with pytest.raises(accounts.LoginRateLimited):
        accounts.authenticate_password(db, "ghost", "x", now=510.0)
    assert accounts.authenticate_password(db, "dan", "pw-dan", now=510.0).name == "dan"


def test_rate_limit_holds_across_connections(tmp_path: Path) -> None:
    """Two hub processes share the database file, so they share the count."""
    path = tmp_path / "shared.db"
    first, second = Database(path), Database(path)
    accounts.ensure_schema(first)
    accounts.create_user(first, "eve", "pw-eve")
    for i in range(accounts.LOGIN_MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate_password(first if i % 2 else second, "eve", "no", now=10.0 + i)
    with pytest.raises(accounts.LoginRateLimited):
        accounts.authenticate_password(second, "eve", "pw-eve", now=20.0)


def test_change_password_clears_the_flag_and_ends_other_sessions(db: Database) -> None:
    one_time = accounts.ensure_admin(db)
    assert one_time is not None
    uid = accounts.authenticate_password(db, "admin", one_time).user_id
    assert uid is not None
    here, elsewhere = accounts.create_session(db, uid), accounts.create_session(db, uid)
    with pytest.raises(accounts.PasswordRejected, match="must differ from the current one"):
        accounts.change_password(db, "admin", one_time, one_time, one_time)
    accounts.change_password(db, "admin", one_time, "brand-new-pw", "brand-new-pw",
                             keep_session=here)
    assert accounts.resolve_session(db, elsewhere) is None
    kept = accounts.resolve_session(db, here)
    assert kept is not None and not kept.must_change_password
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate_password(db, "admin", one_time)
