"""Local accounts, browser sessions and API tokens over the hub's SQLite database.

Passwords are argon2 hashes; session and API tokens are random and stored only as
SHA-256 hashes, so a copy of the database cannot be replayed against the API. Failed
logins are counted in the database so the limit holds across hub worker processes.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from hub.auth import password_policy
from hub.auth.password_policy import PasswordRejected
from hub.db.accounts_schema import EMAIL_FROM_IMPORT as EMAIL_FROM_IMPORT  # re-exported
from hub.db.accounts_schema import EMAIL_FROM_SELF as EMAIL_FROM_SELF  # re-exported
from hub.db.accounts_schema import EMAIL_OWNER_SQL
from hub.db.compat import insert_id, is_postgres, take_turn
from hub.db.sqlite.migrations import apply_exclusively
from hub.errors import DeskpulseError

log = logging.getLogger(__name__)

Role = Literal["admin", "manager", "employee"]
ROLES: tuple[str, ...] = get_args(Role)
ADMIN_USERNAME = "admin"
SESSION_TTL_SECONDS = 12 * 3600
LOGIN_WINDOW_SECONDS = 300
LOGIN_MAX_FAILURES = 5
_LAST_USED_RESOLUTION = 60.0

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class LoginFailed(DeskpulseError):
    """Wrong username or password (deliberately not saying which)."""


class LoginRateLimited(DeskpulseError):
    """Too many failed logins for this username in the rate-limit window."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user (session) or a named API token."""

    kind: Literal["session", "token"]
    name: str
    role: Role
    user_id: int | None = None
    must_change_password: bool = False


migrations = Migrations("deskpulse-accounts")


@migrations(name="m001_accounts")
def _m001_accounts(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'employee')),
            created REAL NOT NULL,
            must_change_password INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created REAL NOT NULL,
            expires REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS api_tokens (
            token_hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'employee')),
            created REAL NOT NULL,
            last_used REAL
        );
        CREATE TABLE IF NOT EXISTS login_failures (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS login_failures_username_at
            ON login_failures (username, at);
        """
    )


@migrations(name="m002_profile")
def _m002_profile(db: Database) -> None:
    """What a person may correct themselves (PATCH /api/v1/me); all optional."""
    for column in ("name", "email", "department"):
        db.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT")  # noqa: S608 (fixed names)


@migrations(name="m003_email_owner")
def _m003_email_owner(db: Database) -> None:
    """E-mail addresses are stored lower-case and unique across accounts, and each has an
    owner (``email_source``). Existing duplicates keep the directory's or the oldest
    account's copy; the others lose the address (they had claimed someone else's)."""
    db.executescript(EMAIL_OWNER_SQL)


def ensure_schema(db: Database) -> None:
    """Create the account tables if missing; safe at every start and from several processes.
    On PostgreSQL they come with the store's migrations (hub/db/postgres/migrations.py)."""
    if is_postgres(db) or not migrations.pending(db):
        return
    apply_exclusively(db, migrations)


def hash_token(token: str) -> str:
    """SHA-256 of a session or API token: what the database stores instead of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """The argon2 hash stored for a password (for modules that set one, e.g. a reset)."""
    return _hasher.hash(password)


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return cast(Role, role)


def create_user(
    db: Database,
    username: str,
    password: str,
    role: str = "employee",
    *,
    must_change_password: bool = False,
    now: float | None = None,
) -> int:
    """Add a local user and return its id; ValueError if the name is taken or empty."""
    ensure_schema(db)
    username = username.strip()
    if not username:
        raise ValueError("username must not be empty")
    if not password:
        raise ValueError("password must not be empty")
    checked = _check_role(role)
    if db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise ValueError(f"user {username!r} already exists")
    return insert_id(
        db,
        "INSERT INTO users (username, password_hash, role, created, must_change_password)"
        " VALUES (?, ?, ?, ?, ?)",
        [username, _hasher.hash(password), checked, _now(now), int(must_change_password)],
    )


def ensure_admin(db: Database, *, now: float | None = None) -> str | None:
    """Create user "admin" with a one-time password and return it; None if an admin exists."""
    ensure_schema(db)
    if db.execute("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1").fetchone():
        return None
    password = secrets.token_urlsafe(12)
    create_user(db, ADMIN_USERNAME, password, "admin", must_change_password=True, now=now)
    log.info("created local admin account %r with a one-time password", ADMIN_USERNAME)
    return password


def reset_admin_password(db: Database, *, now: float | None = None) -> str:
    """Give user "admin" a new one-time password (creating it if needed) and return it."""
    created = ensure_admin(db, now=now)
    if created is not None:
        return created
    password = secrets.token_urlsafe(12)
    row = db.execute("SELECT id FROM users WHERE username = ?", [ADMIN_USERNAME]).fetchone()
    if row is None:
        create_user(db, ADMIN_USERNAME, password, "admin", must_change_password=True, now=now)
        return password
    with db.atomic():
        db.execute(
            "UPDATE users SET password_hash = ?, must_change_password = 1, role = 'admin'"
            " WHERE id = ?",
            [_hasher.hash(password), row[0]],
        )
        db.execute("DELETE FROM sessions WHERE user_id = ?", [row[0]])
        db.execute("DELETE FROM login_failures WHERE username = ?", [ADMIN_USERNAME])
    return password


def create_api_token(
    db: Database, name: str, role: str = "manager", *, now: float | None = None
) -> str:
    """Create a named API token and return its plaintext; only the hash is kept."""
    ensure_schema(db)
    if not name.strip():
        raise ValueError("token name must not be empty")
    checked = _check_role(role)
    token = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO api_tokens (token_hash, name, role, created, last_used)"
        " VALUES (?, ?, ?, ?, NULL)",
        [hash_token(token), name.strip(), checked, _now(now)],
    )
    return token


def recent_failures(db: Database, username: str, *, now: float | None = None) -> int:
    """Failed logins for this username inside the current rate-limit window."""
    since = _now(now) - LOGIN_WINDOW_SECONDS
    row = db.execute(
        "SELECT COUNT(*) FROM login_failures WHERE username = ? AND at > ?", [username, since]
    ).fetchone()
    return int(row[0]) if row else 0


def _reserve_attempt(db: Database, username: str, at: float) -> None:
    """Count the username's recent failures and record this attempt as one, in one step.

    Why one step: checking the count, verifying the password (slow, on purpose) and only
    then recording a failure let 40 parallel wrong passwords get 13 checks instead of
    LOGIN_MAX_FAILURES (issue 24, item 5). Here each attempt is counted as a failure
    before its password is checked, under the write lock (BEGIN IMMEDIATE on SQLite, an
    advisory lock per username on PostgreSQL), and a success clears the count.
    """
    with db.atomic():
        take_turn(db, "login:" + username)
        if recent_failures(db, username, now=at) >= LOGIN_MAX_FAILURES:
            raise LoginRateLimited(
                f"too many failed logins; try again in {LOGIN_WINDOW_SECONDS // 60} minutes"
            )
        db.execute("INSERT INTO login_failures (username, at) VALUES (?, ?)", [username, at])


def _verify(stored_hash: str | None, password: str) -> bool:
    """Argon2 check; an unknown user still costs one verification (no user probing)."""
    global _dummy_hash
    if stored_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        stored_hash = _dummy_hash
        password = password + "\x00unknown-user"
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate_password(
    db: Database, username: str, password: str, *, now: float | None = None
) -> Principal:
    """Check a username/password; LoginRateLimited or LoginFailed on refusal."""
    at = _now(now)
    username = username.strip()
    _reserve_attempt(db, username, at)
    row: dict[str, Any] | None = next(
        db.query(
            "SELECT id, username, password_hash, role, must_change_password"
            " FROM users WHERE username = ?",
            [username],
        ),
        None,
    )
    if not _verify(row["password_hash"] if row else None, password) or row is None:
        # The attempt stays recorded as a failure (it was written before the check).
        with db.atomic():
            db.execute(
                "DELETE FROM login_failures WHERE at <= ?", [at - LOGIN_WINDOW_SECONDS]
            )
        log.info("failed login (%d in window)", recent_failures(db, username, now=at))
        raise LoginFailed("wrong username or password")
    rehashed = _hasher.hash(password) if _hasher.check_needs_rehash(row["password_hash"]) \
        else None  # hashed before the write lock is taken: the lock is held briefly
    with db.atomic():  # a write takes the write lock up front, like every other one
        if rehashed is not None:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [rehashed, row["id"]])
        # A success clears the username's failures, this attempt's reservation included.
        db.execute("DELETE FROM login_failures WHERE username = ?", [username])
    return Principal(
        kind="session",
        name=row["username"],
        role=_check_role(row["role"]),
        user_id=int(row["id"]),
        must_change_password=bool(row["must_change_password"]),
    )


def create_session(
    db: Database, user_id: int, *, ttl: float = SESSION_TTL_SECONDS, now: float | None = None
) -> str:
    """Start a session for a user and return its token (the cookie value)."""
    at = _now(now)
    token = secrets.token_urlsafe(32)
    with db.atomic():
        db.execute("DELETE FROM sessions WHERE expires <= ?", [at])
        db.execute(
            "INSERT INTO sessions (token_hash, user_id, created, expires) VALUES (?, ?, ?, ?)",
            [hash_token(token), user_id, at, at + ttl],
        )
    return token


def resolve_session(db: Database, token: str, *, now: float | None = None) -> Principal | None:
    """The user behind a live session token, or None if unknown or expired."""
    if not token:
        return None
    row = next(
        db.query(
            "SELECT u.id, u.username, u.role, u.must_change_password, s.expires"
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            [hash_token(token)],
        ),
        None,
    )
    if row is None or row["expires"] <= _now(now):
        return None
    return Principal(
        kind="session",
        name=row["username"],
        role=_check_role(row["role"]),
        user_id=int(row["id"]),
        must_change_password=bool(row["must_change_password"]),
    )


def resolve_token(db: Database, token: str, *, now: float | None = None) -> Principal | None:
    """The API token behind a bearer value, or None; records when it was last used."""
    if not token:
        return None
    digest = hash_token(token)
    row = next(
        db.query("SELECT name, role, last_used FROM api_tokens WHERE token_hash = ?", [digest]),
        None,
    )
    if row is None:
        return None
    at = _now(now)
    if row["last_used"] is None or at - row["last_used"] >= _LAST_USED_RESOLUTION:
        db.execute("UPDATE api_tokens SET last_used = ? WHERE token_hash = ?", [at, digest])
    return Principal(kind="token", name=row["name"], role=_check_role(row["role"]))


def delete_session(db: Database, token: str) -> None:
    """End a session (logout); unknown tokens are ignored."""
    if token:
        db.execute("DELETE FROM sessions WHERE token_hash = ?", [hash_token(token)])


MIN_PASSWORD_LENGTH = password_policy.MIN_LENGTH


def check_new_password(current: str, new: str, confirm: str, *, username: str = "") -> None:
    """The rules a new password must meet (hub/auth/password_policy.py); PasswordRejected says
    which one failed."""
    if new != confirm:
        raise PasswordRejected("the new passwords do not match")
    password_policy.check(new, username=username)
    if new == current:
        raise PasswordRejected("the new password must differ from the current one")


def change_password(
    db: Database,
    username: str,
    current: str,
    new: str,
    confirm: str,
    *,
    keep_session: str | None = None,
    now: float | None = None,
) -> None:
    """Replace a password after checking the current one (rate-limited like a login).

    Clears the one-time flag and ends every other session of the user, so a leaked
    one-time password stops working everywhere at once.
    """
    check_new_password(current, new, confirm, username=username)
    principal = authenticate_password(db, username, current, now=now)
    keep = hash_token(keep_session) if keep_session else ""
    with db.atomic():
        db.execute(
            "UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?",
            [_hasher.hash(new), principal.user_id],
        )
        db.execute(
            "DELETE FROM sessions WHERE user_id = ? AND token_hash != ?",
            [principal.user_id, keep],
        )
    log.info("password changed for a %s account", principal.role)
