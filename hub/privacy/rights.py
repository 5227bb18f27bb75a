"""The person's rights over their data: export, correct, delete (PRIVACY.md 9-11).

Export and deletion walk :data:`hub.privacy.inventory.INVENTORY`, so a table declared
there is covered by both. Deletion happens at once, in one transaction, and is first
written to a deletion log *outside* the database (a JSON-lines file beside it) that holds
only a keyed pseudonym of the account; after a backup is restored,
:func:`reapply_deletions` finds the accounts whose pseudonym is in the log and deletes
them again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from hub.auth import accounts, person_fields
from hub.auth.accounts import Principal
from hub.db.compat import IntegrityError
from hub.errors import DeskpulseError, NotFound
from hub.privacy import audit
from hub.privacy.inventory import INVENTORY

log = logging.getLogger(__name__)

EXPORT_FORMAT = "deskpulse-export/1"
WITHHELD = "[withheld: credential hash]"
CORRECTABLE = ("name", "email", "department")
MAX_FIELD_LENGTH = 200
SELF = "(the person themselves)"


class CorrectionRejected(DeskpulseError):
    """A correction that names an unknown field or an unusable value."""

    http_status = 400


class DeletionRefused(DeskpulseError):
    """The last administrator cannot delete itself: nobody could run the hub afterwards.

    400, as since the erasure route shipped (API clients rely on it).
    """

    http_status = 400


def deletion_log_path(database: Path) -> Path:
    """Where the deletion log of a database lives: beside it, never inside it."""
    return database.with_name(database.name + ".deletions.jsonl")


def deletion_id(secret: str, person: int, created: float) -> str:
    """The pseudonym a deletion is logged under: HMAC of the account id and creation time.

    The creation time makes it specific to this account, so a later account that happens
    to reuse the id is not deleted by a re-applied log.
    """
    message = f"deleted:{person}:{float(created)!r}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _params(db: Database, secret: str, person: int) -> dict[str, Any]:
    return {"person": person, "audit_subject": audit.subject_for(db, secret, person) or ""}


def _user_created(db: Database, person: int) -> float:
    row = db.execute("SELECT created FROM users WHERE id = ?", [person]).fetchone()
    if row is None:
        raise NotFound("no such account")
    return float(row[0])


def export(db: Database, secret: str, person: int, *, now: float | None = None) -> dict[str, Any]:
    """Every row linked to the person, table by table, and who viewed their data."""
    _user_created(db, person)
    params = _params(db, secret, person)
    tables: dict[str, list[dict[str, Any]]] = {}
    for entry in INVENTORY:
        if entry.link is None:
            continue
        names = ", ".join(f'"{c.name}"' for c in entry.columns)
        rows = list(db.query(
            f'SELECT {names} FROM "{entry.name}" WHERE {entry.link}', params  # noqa: S608
        ))
        hidden = [c.name for c in entry.columns if not c.export]
        tables[entry.name] = [{**row, **dict.fromkeys(hidden, WITHHELD)} for row in rows]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": time.time() if now is None else now,
        "person": person,
        "tables": tables,
        "viewed_by": audit.about(db, params["audit_subject"]),
    }


def profile(db: Database, person: int) -> dict[str, Any]:
    row = next(db.query(
        "SELECT id, username, role, created, name, email, department FROM users WHERE id = ?",
        [person]), None)
    if row is None:
        raise NotFound("no such account")
    return row


def correct(
    db: Database, secret: str, person: int, changes: dict[str, str | None], actor: Principal,
    *, now: float | None = None,
) -> dict[str, Any]:
    """Apply corrections of name/email/department and audit them (field names only)."""
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise CorrectionRejected(f"cannot correct {', '.join(unknown)}; only "
                                 f"{', '.join(CORRECTABLE)}")
    clean: dict[str, str | None] = {}
    for field, value in changes.items():
        value = None if value is None else value.strip() or None
        if value is not None and len(value) > MAX_FIELD_LENGTH:
            raise CorrectionRejected(f"{field} is longer than {MAX_FIELD_LENGTH} characters")
        if field == "email" and value is not None:
            value = value.lower()
        problem = None if value is None else person_fields.field_problem(field, value)
        if problem is not None:  # the directory import's rules, word for word
            raise CorrectionRejected(problem)
        clean[field] = value
    _user_created(db, person)
    if actor.user_id == person:  # the entry must not outlive the account as a link to it
        actor = Principal(kind=actor.kind, name=SELF, role=actor.role, user_id=None)
    with db.atomic():
        if "email" in clean:
            _check_email_change(db, person, clean["email"])
        for field, value in clean.items():
            try:
                with db.atomic():  # a savepoint: a refusal must not end the transaction
                    db.execute(f"UPDATE users SET {field} = ? WHERE id = ?",  # noqa: S608
                               [value, person])
            except IntegrityError:  # the unique index, when two claim one address at once
                raise CorrectionRejected("this e-mail address belongs to another account"
                                         ) from None
        if "email" in clean:
            db.execute("UPDATE users SET email_source = ? WHERE id = ?",
                       [None if clean["email"] is None else accounts.EMAIL_FROM_SELF, person])
        if clean:
            audit.append(db, actor, "correct", audit.subject_for(db, secret, person),
                         "corrected " + ", ".join(sorted(clean)), now=now)
    return profile(db, person)


def _check_email_change(db: Database, person: int, email: str | None) -> None:
    """A person's address may change only if the directory import does not own it, and
    only to one no other account holds (any case); the unique index backs this up."""
    current, source = db.execute("SELECT email, email_source FROM users WHERE id = ?",
                                 [person]).fetchone()
    if (current or None) == email:
        return
    if source == accounts.EMAIL_FROM_IMPORT:
        raise CorrectionRejected("your e-mail address comes from the company directory: "
                                 "ask HR to change it there")
    if email is not None and db.execute(
            "SELECT 1 FROM users WHERE lower(email) = ? AND id != ?", [email, person]).fetchone():
        raise CorrectionRejected("this e-mail address belongs to another account")


def _append_log(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # on PostgreSQL nothing else made data_dir
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _delete_rows(db: Database, secret: str, person: int) -> dict[str, int]:
    params = _params(db, secret, person)
    removed: dict[str, int] = {}
    # Rows that point at users.id first, the account itself last.
    for entry in sorted(INVENTORY, key=lambda e: e.name == "users"):
        if entry.on_delete != "delete" or entry.link is None:
            continue
        cursor = db.execute(f'DELETE FROM "{entry.name}" WHERE {entry.link}',  # noqa: S608
                            params)
        removed[entry.name] = max(cursor.rowcount, 0)
    return removed


def delete(
    db: Database, secret: str, person: int, log_path: Path, *, now: float | None = None
) -> dict[str, Any]:
    """Delete the account and every linked row now; log it; return a signed receipt."""
    at = time.time() if now is None else now
    subject = deletion_id(secret, person, _user_created(db, person))
    admins = [row[0] for row in db.execute("SELECT id FROM users WHERE role = 'admin'")]
    if admins == [person]:
        raise DeletionRefused("this is the only administrator account: make another account "
                              "admin first, then delete this one")
    _append_log(log_path, {"subject": subject, "at": at})
    with db.atomic():
        removed = _delete_rows(db, secret, person)
    receipt = {"receipt": secrets.token_hex(8), "deleted_at": at, "subject": subject,
               "removed": removed}
    body = json.dumps(receipt, sort_keys=True).encode()
    receipt["signature"] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    log.info("deleted an account and %d linked rows", sum(removed.values()))
    return receipt


def read_log(log_path: Path) -> set[str]:
    if not log_path.exists():
        return set()
    subjects = set()
    for line in log_path.read_text().splitlines():
        try:
            subjects.add(str(json.loads(line)["subject"]))
        except (ValueError, KeyError, TypeError):
            log.warning("skipping an unreadable line of the deletion log")
    return subjects


def reapply_deletions(db: Database, secret: str, log_path: Path) -> int:
    """Delete again every account named in the deletion log; returns how many were found."""
    logged = read_log(log_path)
    if not logged:
        return 0
    found = [int(pid) for pid, created in db.execute("SELECT id, created FROM users")
             if deletion_id(secret, int(pid), float(created)) in logged]
    with db.atomic():
        for person in found:
            _delete_rows(db, secret, person)
    if found:
        log.warning("re-applied %d logged deletions", len(found))
    return len(found)
