"""CSV import of employees (name, email, department), in two steps: preview, then apply.

:func:`parse_employees_csv` is pure and never raises: every line it cannot use is
reported as ``(line, reason)``. Values starting with ``= + - @`` (or a tab / carriage
return) are **rejected**, not neutralised, so nothing a spreadsheet would run as a
formula ever reaches the database or a later CSV export.

:func:`apply_import` creates employee accounts (username = the lower-cased e-mail, a random
password that is never shown, ``must_change_password`` set: an administrator hands out
access later through a password reset; the random password is hashed once per import and
discarded, so every new account of a batch shares an argon2 hash nobody can match and
an import of 5000 people takes one hash, not minutes) or updates the name/department of
the account already holding that e-mail. Applying the same preview twice changes nothing
the second time.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from hub.auth import accounts

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
MAX_NAME = 200
MAX_EMAIL = 254
MAX_DEPARTMENT = 200
MAX_ERRORS = 200  # listed in a preview; the count says how many more there were
COLUMNS = ("name", "email", "department")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TOKEN_PREFIX = b"deskpulse-people-import:v1:"


@dataclass(frozen=True)
class Employee:
    line: int
    name: str
    email: str
    department: str


@dataclass(frozen=True)
class ImportPreview:
    """What a file would import: the valid rows and every rejected line with its reason."""

    rows: tuple[Employee, ...] = ()
    errors: tuple[tuple[int, str], ...] = ()
    error_count: int = 0
    digest: str = ""  # sha256 of the uploaded bytes: what a confirmation token signs

    @property
    def ok(self) -> bool:
        return self.error_count == 0


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    reclaimed: int = 0  # addresses taken back from accounts that had set them themselves


def _preview(rows: list[Employee], errors: list[tuple[int, str]], digest: str) -> ImportPreview:
    return ImportPreview(rows=tuple(rows), errors=tuple(errors[:MAX_ERRORS]),
                         error_count=len(errors), digest=digest)


def _check_value(column: str, value: str, limit: int) -> str | None:
    """The reason a value is refused, or None."""
    if len(value) > limit:
        return f"{column} is longer than {limit} characters"
    if value.startswith(FORMULA_START):
        return f"{column} starts with {value[0]!r} (possible spreadsheet formula); rejected"
    if _CONTROL.search(value):
        return f"{column} contains a control character"
    return None


_LIMITS = {"name": MAX_NAME, "email": MAX_EMAIL, "department": MAX_DEPARTMENT}


def field_problem(column: str, value: str) -> str | None:
    """Why one name, email (already lower-case) or department value is refused, or None.

    The one set of rules for a directory row and for a person's own correction
    (hub/privacy/rights.py): what the import refuses, self-service refuses too."""
    reason = _check_value(column, value, _LIMITS[column])
    if reason is None and column == "email" and not _EMAIL.match(value):
        return "invalid email"
    return reason


def _row(line: int, record: dict[str, str], seen: dict[str, int]) -> Employee | str:
    name = record["name"].strip()
    email = record["email"].strip().lower()
    department = record["department"].strip()
    if not name:
        return "missing name"
    if not email:
        return "missing email"
    for column, value in (("name", name), ("email", email), ("department", department)):
        reason = field_problem(column, value)
        if reason:
            return reason
    if email in seen:
        return f"duplicate email in file (first on line {seen[email]})"
    seen[email] = line
    return Employee(line=line, name=name, email=email, department=department)


def parse_employees_csv(data: bytes) -> ImportPreview:
    """Parse and validate an upload; never raises, whatever the bytes."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        return _preview([], [(0, f"file is larger than {MAX_BYTES} bytes")], digest)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _preview([], [(0, f"file is not UTF-8 (byte {exc.start})")], digest)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Employee] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None:
            return _preview([], [(1, "file is empty: expected a header name,email,department")],
                            digest)
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        extra = sorted({n for n in names if n not in COLUMNS})
        if missing or extra or len(names) != len(set(names)):
            return _preview([], [(1, "header must be name,email,department (any order); "
                                  f"missing: {', '.join(missing) or '-'}, "
                                  f"unexpected or repeated: {', '.join(extra) or '-'}")], digest)
        index = {c: names.index(c) for c in COLUMNS}
        count = 0
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            count += 1
            if count > MAX_ROWS:
                errors.append((line, f"more than {MAX_ROWS} rows; the rest was not read"))
                break
            if len(cells) != len(names):
                errors.append((line, f"expected {len(names)} fields, found {len(cells)}"))
                continue
            outcome = _row(line, {c: cells[i] for c, i in index.items()}, seen)
            if isinstance(outcome, str):
                errors.append((line, outcome))
            else:
                rows.append(outcome)
    except csv.Error as exc:
        errors.append((reader.line_num, f"malformed CSV: {exc}"))
    return _preview(rows, errors, digest)


def confirmation_token(secret: str, digest: str, expires: int) -> str:
    """``expires.hmac``: binds a confirmation to exactly these file bytes until ``expires``."""
    mac = hmac.new(secret.encode(), TOKEN_PREFIX + f"{expires}:{digest}".encode(),
                   hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def token_problem(secret: str, token: str, digest: str, *, now: float) -> str | None:
    """Why a confirmation token is refused (tampered file/token, expired), or None."""
    expires_text, _, _ = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return "the confirmation token is malformed"
    expected = confirmation_token(secret, digest, int(expires_text))
    if not hmac.compare_digest(expected, token):
        return "the confirmation does not match the previewed file"
    if int(expires_text) < now:
        return "the preview has expired: upload the file again"
    return None


def _owner(db: Database, email: str) -> tuple[Any, ...] | None:
    """The account holding ``email`` (any case): (id, name, department, email_source)."""
    row = db.execute("SELECT id, name, department, email_source FROM users "
                     "WHERE lower(email) = ? ORDER BY id LIMIT 1", [email]).fetchone()
    return None if row is None else tuple(row)


def apply_import(db: Database, preview: ImportPreview, *, now: float) -> ImportResult:
    """Create or update accounts for the preview's valid rows (call inside a transaction).

    An account is matched only by an address the directory gave it (``email_source`` is
    the import): an address a person set themselves is theirs to use, never a key that
    lets a file update them. When a file's row carries such an address, the directory
    wins: the claiming account loses it (counted in ``reclaimed``) and the row gets its
    own account, as any new hire (issue 24, item 4).
    """
    accounts.ensure_schema(db)
    result = ImportResult()
    locked_hash: str | None = None
    for row in preview.rows:
        found = _owner(db, row.email)
        if found is not None and found[3] == accounts.EMAIL_FROM_IMPORT:
            if (found[1], found[2]) == (row.name, row.department or None):
                result.unchanged += 1
                continue
            db.execute("UPDATE users SET name = ?, department = ? WHERE id = ?",
                       [row.name, row.department or None, found[0]])
            result.updated += 1
            continue
        if db.execute("SELECT 1 FROM users WHERE lower(username) = ?", [row.email]).fetchone():
            result.skipped.append((row.line, "an account with this username but another "
                                             "email exists; not changed"))
            continue
        if found is not None:  # claimed by an account that set it itself
            db.execute("UPDATE users SET email = NULL, email_source = NULL WHERE id = ?",
                       [found[0]])
            result.reclaimed += 1
        if locked_hash is None:  # one argon2 hash per import: 5000 would take minutes
            locked_hash = accounts._hasher.hash(secrets.token_urlsafe(32))
        db.execute("INSERT INTO users (username, password_hash, role, created,"
                   " must_change_password, name, email, department, email_source)"
                   " VALUES (?, ?, 'employee', ?, 1, ?, ?, ?, ?)",
                   [row.email, locked_hash, now, row.name, row.email, row.department or None,
                    accounts.EMAIL_FROM_IMPORT])
        result.created += 1
    return result


def plan(db: Database, preview: ImportPreview) -> dict[str, list[Employee]]:
    """What :func:`apply_import` would do with each row, without changing anything."""
    out: dict[str, list[Employee]] = {"create": [], "update": [], "unchanged": [], "skip": []}
    for row in preview.rows:
        found = _owner(db, row.email)
        if found is not None and found[3] == accounts.EMAIL_FROM_IMPORT:
            same = (found[1], found[2]) == (row.name, row.department or None)
            out["unchanged" if same else "update"].append(row)
        elif db.execute("SELECT 1 FROM users WHERE lower(username) = ?",
                        [row.email]).fetchone():
            out["skip"].append(row)
        else:
            out["create"].append(row)
    return out
