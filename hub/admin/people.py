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

from hub.auth import accounts
from hub.auth.accounts import Principal
from hub.db.compat import take_turn
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


PAGE_SIZE = 50  # accounts per page: each one shown is an audited read


@dataclass(frozen=True)
class PeoplePage:
    """One page of the accounts matching a search."""

    people: list[Person]
    total: int  # accounts matching the search, on every page
    page: int  # 1-based, within 1..pages
    pages: int
    query: str

    @property
    def first(self) -> int:
        """Number of the first account on this page (1-based), for "1-50 of 4,812"."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.people else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * PAGE_SIZE + len(self.people)


def _matching(query: str) -> tuple[str, list[Any]]:
    """WHERE clause and parameters: ``query`` in the username, name, e-mail or department
    (case-insensitive, as typed: % and _ are not wildcards)."""
    words = query.split()
    if not words:
        return "", []
    clauses, params = [], []
    for word in words[:5]:
        pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        clauses.append("(" + " OR ".join(
            f"LOWER(COALESCE({column}, '')) LIKE ? ESCAPE '\\'"
            for column in ("username", "name", "email", "department")) + ")")
        params += [pattern] * 4
    return " WHERE " + " AND ".join(clauses), params


def people(db: Database, query: str = "", *, limit: int | None = None,
           offset: int = 0) -> list[Person]:
    """Accounts matching ``query`` (every account when empty), administrators first, then
    by username; ``limit``/``offset`` for one page."""
    where, params = _matching(query)
    page = "" if limit is None else " LIMIT ? OFFSET ?"
    rows = db.query(
        "SELECT id, username, name, email, department, role, must_change_password FROM users"
        f"{where} ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'manager' THEN 1 ELSE 2 END, "  # noqa: S608
        f"username{page}", [*params, *([limit, offset] if limit is not None else [])])
    return [Person(id=int(r["id"]), username=r["username"], name=r["name"], email=r["email"],
                   department=r["department"], role=r["role"],
                   must_change_password=bool(r["must_change_password"])) for r in rows]


def people_shown(
    db: Database, actor: Principal, secret: str, query: str = "", page: int = 1
) -> PeoplePage:
    """One page of :func:`people`, for an administrator's eyes: showing names and e-mail
    addresses is a read of personal data, so each person on the page (and only they) gets
    an audit entry (PRIVACY.md 13) in the same transaction and can see the read on their
    "My data" page. A search narrows what is shown, and so what is read."""
    where, params = _matching(query)
    with db.atomic():
        (total,) = db.execute(f"SELECT COUNT(*) FROM users{where}", params).fetchone()  # noqa: S608
        pages = max(1, -(-int(total) // PAGE_SIZE))
        page = min(max(page, 1), pages)
        listed = people(db, query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        for person in listed:
            audit.append(db, actor, "read", audit.subject_for(db, secret, person.id),
                         "account entry (name, e-mail, department, role) on the people page")
    return PeoplePage(listed, int(total), page, pages, query)


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
