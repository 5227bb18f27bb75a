"""Invitations: single-use, expiring sign-in links that let a person set their password.

An administrator invites people (one by one, all who never signed in, or straight from a
CSV import's confirmation step); a person who has no password yet or forgot it asks for
one from the sign-in form. Either way the link is ``/invite/<token>``: the token is random
(256 bits), only its SHA-256 is stored, it expires (7 days for an administrator's, 1 hour
for a self-service one) and it works once: redeeming it sets the password, clears the
one-time flag and marks the row used (table ``invitations``, hub/db/sqlite/invitations_schema.py)
in the same transaction, and an ``UPDATE ... WHERE
used IS NULL`` decides which of two racing redemptions wins.

An invitation may carry where the person was going (``next``, a local path such as the
desk label ``/d/<code>``), so the first sign-in lands there and not on a dashboard.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from hub.auth import accounts, password_policy
from hub.errors import DeskpulseError

ADMIN_TTL_SECONDS = 7 * 86400
SELF_SERVICE_TTL_SECONDS = 3600
PATH = "/invite/"

class InvitationInvalid(DeskpulseError):
    """The link is unknown, used already or expired (deliberately not saying which)."""


@dataclass(frozen=True)
class Invitation:
    """A link just made: its plaintext token is only ever in this object."""

    user_id: int
    username: str
    name: str | None
    email: str | None
    token: str
    expires: float

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + PATH + self.token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def create(
    db: Any, user_id: int, *, ttl: float = ADMIN_TTL_SECONDS, next_path: str | None = None,
    now: float | None = None,
) -> Invitation:
    """A new link for the account; earlier unused links of the account stop working."""
    at = _now(now)
    row = next(db.query("SELECT id, username, name, email FROM users WHERE id = ?",
                        [user_id]), None)
    if row is None:
        raise InvitationInvalid(f"no account with id {user_id}")
    token = secrets.token_urlsafe(32)
    with db.atomic():
        db.execute("DELETE FROM invitations WHERE user_id = ? AND used IS NULL", [user_id])
        db.execute("DELETE FROM invitations WHERE expires <= ?", [at - ADMIN_TTL_SECONDS])
        db.execute(
            "INSERT INTO invitations (token_hash, user_id, created, expires, used, next)"
            " VALUES (?, ?, ?, ?, NULL, ?)",
            [_hash(token), user_id, at, at + ttl, next_path],
        )
    return Invitation(int(row["id"]), row["username"], row["name"], row["email"], token,
                      at + ttl)


def never_signed_in(db: Any) -> list[int]:
    """Accounts still on a one-time or never-shown password (e.g. from a CSV import)."""
    return [int(r[0]) for r in db.execute(
        "SELECT id FROM users WHERE must_change_password = 1 ORDER BY username")]


def account_for_email(db: Any, email: str) -> int | None:
    """The account whose e-mail (or username) is ``email``, compared case-insensitively."""
    wanted = email.strip().lower()
    if not wanted:
        return None
    row = db.execute(
        "SELECT id FROM users WHERE LOWER(email) = ? OR LOWER(username) = ? ORDER BY id LIMIT 1",
        [wanted, wanted]).fetchone()
    return None if row is None else int(row[0])


def peek(db: Any, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The account a live link belongs to (``user_id``, ``username``, ``role``, ``next``)."""
    row = next(db.query(
        "SELECT i.user_id, u.username, u.role, i.next, i.expires, i.used FROM invitations i"
        " JOIN users u ON u.id = i.user_id WHERE i.token_hash = ?", [_hash(token)]), None)
    if row is None or row["used"] is not None or row["expires"] <= _now(now):
        raise InvitationInvalid("this sign-in link is not valid any more: it was used "
                                "already or has expired. Ask for a new one on the sign-in page")
    return row


def redeem(db: Any, token: str, new: str, confirm: str, *, now: float | None = None
           ) -> dict[str, Any]:
    """Set the account's password from a live link, once; returns :func:`peek`'s row.

    PasswordRejected (policy, mismatch) leaves the link usable; InvitationInvalid if it
    was used, also by a concurrent redemption that won.
    """
    at = _now(now)
    row = peek(db, token, now=at)
    if new != confirm:
        raise accounts.PasswordRejected("the new passwords do not match")
    password_policy.check(new, username=row["username"])
    with db.atomic():
        taken = db.execute(
            "UPDATE invitations SET used = ? WHERE token_hash = ? AND used IS NULL"
            " AND expires > ?", [at, _hash(token), at])
        if taken.rowcount != 1:
            raise InvitationInvalid("this sign-in link was used already")
        db.execute("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?",
                   [accounts.hash_password(new), row["user_id"]])
        db.execute("DELETE FROM sessions WHERE user_id = ?", [row["user_id"]])
        db.execute("DELETE FROM login_failures WHERE username = ?", [row["username"]])
    return row
