"""What an administrator does to other people's accounts: list them, change a role, reset a
password to a one-time one. Every change is written to the audit trail in the same
transaction, naming the person only by their audit pseudonym (hub.privacy.audit).

The last administrator cannot be demoted: the hub would have nobody left to run it, and the
only way back would be ``reset_admin_password`` on the server.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from hub import accounts
from hub.accounts import Principal
from hub.dbcompat import take_turn
from hub.errors import DeskpulseError, NotFound
from hub.privacy import audit


class LastAdmin(DeskpulseError):
    """The change would leave the hub without an administrator."""


class OwnAccount(DeskpulseError):
    """An administrator tried to reset their own password here (use "Change password")."""


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    name: str | None
    email: str | None
    department: str | None
    role: str
    must_change_password: bool


def people(db: Database) -> list[Person]:
    """Every account, administrators first, then by username."""
    rows = db.query(
        "SELECT id, username, name, email, department, role, must_change_password FROM users "
        "ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'manager' THEN 1 ELSE 2 END, username")
    return [Person(id=int(r["id"]), username=r["username"], name=r["name"], email=r["email"],
                   department=r["department"], role=r["role"],
                   must_change_password=bool(r["must_change_password"])) for r in rows]


def people_shown(db: Database, actor: Principal, secret: str) -> list[Person]:
    """:func:`people`, for an administrator's eyes: showing names and e-mail addresses is a
    read of personal data, so each person listed gets an audit entry (PRIVACY.md 13) in
    the same transaction and can see the read on their "My data" page."""
    with db.atomic():
        listed = people(db)
        for person in listed:
            audit.append(db, actor, "read", audit.subject_for(db, secret, person.id),
                         "account entry (name, e-mail, department, role) on the people page")
    return listed


def _person(db: Database, person_id: int) -> dict[str, Any]:
    row = next(db.query("SELECT id, username, role FROM users WHERE id = ?", [person_id]), None)
    if row is None:
        raise NotFound(f"no account with id {person_id}")
    return row


def change_role(db: Database, secret: str, actor: Principal, person_id: int, role: str) -> bool:
    """Give a person a new role; False if it already was theirs (nothing audited then).

    ValueError for an unknown role, NotFound for an unknown account, LastAdmin when the
    only administrator would lose the role.
    """
    if role not in accounts.ROLES:
        raise ValueError(f"role must be one of {', '.join(accounts.ROLES)}, not {role!r}")
    with db.atomic():
        take_turn(db, "user_roles")  # the last-admin check and the change, one at a time
        person = _person(db, person_id)
        if person["role"] == role:
            return False
        if person["role"] == "admin":
            admins = db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetchone()
            if int(admins[0]) <= 1:
                raise LastAdmin(f"{person['username']} is the only administrator: make "
                                "someone else an administrator first")
        db.execute("UPDATE users SET role = ? WHERE id = ?", [role, person_id])
        audit.append(db, actor, "role", audit.subject_for(db, secret, person_id),
                     f"role changed from {person['role']} to {role}")
    return True


def reset_password(db: Database, secret: str, actor: Principal, person_id: int) -> str:
    """Give the account a new one-time password and return it (the only time it is seen).

    The person must choose a new password at their next sign-in; their open sessions end
    and their failed-login count is cleared, so the reset works at once.
    """
    if actor.user_id == person_id:
        raise OwnAccount("use Change password for your own account")
    password = secrets.token_urlsafe(12)
    with db.atomic():
        person = _person(db, person_id)
        db.execute("UPDATE users SET password_hash = ?, must_change_password = 1 WHERE id = ?",
                   [accounts.hash_password(password), person_id])
        db.execute("DELETE FROM sessions WHERE user_id = ?", [person_id])
        db.execute("DELETE FROM login_failures WHERE username = ?", [person["username"]])
        audit.append(db, actor, "reset", audit.subject_for(db, secret, person_id),
                     "password reset to a one-time password")
    return password
