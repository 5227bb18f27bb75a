"""Every table and column that can hold personal data, declared once (PRIVACY.md 9-13).

Export, deletion and ``docs/privacy.md`` are all driven by :data:`INVENTORY`, and
:func:`schema_problems` compares it with the live schema: a column whose name refers to a
person must be declared here (as personal data, or in :data:`NOT_PERSONAL` with the reason
it is not), and every column of a personal table must be declared, so a new column or
table cannot slip past the export and the deletion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from hub.db.compat import is_postgres

OnDelete = Literal["delete", "retain", "unlinked"]

# Column names that refer to a person (or may hold one's name or contact details).
PERSON_REFERENCE = re.compile(
    r"(^|_)(user|users|user_id|person|person_id|people|username|email|e_mail|name|"
    r"full_name|owner|employee|badge|pseudonym|phone|department|actor|actor_id|subject|"
    r"viewer|holder|assigned_to|ip|ip_address)($|_)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    export: bool = True  # False: a credential hash, listed as withheld in the export


@dataclass(frozen=True)
class Table:
    """A table holding personal data and how the person's rows are found.

    ``link`` is an SQL condition on the table selecting one person's rows; it may use the
    parameters ``:person`` (users.id) and ``:audit_subject`` (their audit pseudonym).
    ``None`` means rows are not linked to an account (see ``on_delete = "unlinked"``).
    """

    name: str
    purpose: str
    legal_basis: str
    retention: str
    readers: str
    link: str | None
    on_delete: OnDelete
    columns: tuple[Column, ...]
    retain_reason: str = ""


INVENTORY: tuple[Table, ...] = (
    Table(
        name="users", purpose="the person's account: sign-in, role, how they are addressed",
        legal_basis="contract (employment): access to the workplace system",
        retention="until the person deletes the account or leaves the company",
        readers="the person; administrators (audited)", link="id = :person",
        on_delete="delete", columns=(
            Column("id", "account number"),
            Column("username", "sign-in name"),
            Column("password_hash", "argon2 hash of the password", export=False),
            Column("role", "admin, manager or employee"),
            Column("created", "when the account was made"),
            Column("must_change_password", "one-time password still in use"),
            Column("name", "display name (admin CSV import; self-service correction)"),
            Column("email", "e-mail address (admin CSV import; self-service correction)"),
            Column("email_source", "who set the e-mail address: the directory import (then "
                   "the person cannot change it) or the person"),
            Column("department", "department (admin CSV import; self-service correction)"),
        ),
    ),
    Table(
        name="sessions", purpose="keep a browser signed in", legal_basis="contract",
        retention="12 hours (session lifetime); removed at sign-out",
        readers="nobody (hashes only)", link="user_id = :person", on_delete="delete",
        columns=(
            Column("token_hash", "SHA-256 of the session cookie", export=False),
            Column("user_id", "whose session"),
            Column("created", "sign-in time"),
            Column("expires", "end of the session"),
        ),
    ),
    Table(
        name="login_failures", purpose="limit password guessing per username",
        legal_basis="legitimate interest: account security",
        retention="5 minutes (the rate-limit window)", readers="nobody",
        link="username = (SELECT username FROM users WHERE id = :person)",
        on_delete="delete", columns=(
            Column("id", "row number"),
            Column("username", "the name typed at sign-in"),
            Column("at", "when"),
        ),
    ),
    Table(
        name="api_tokens", purpose="scripts calling the API",
        legal_basis="legitimate interest: integrations chosen by the company",
        retention="until revoked", readers="administrators",
        link=None, on_delete="unlinked", columns=(
            Column("token_hash", "SHA-256 of the token", export=False),
            Column("name", "a label an administrator chose (may name a person)"),
            Column("role", "what the token may do"),
            Column("created", "when it was made"),
            Column("last_used", "last use, to the minute"),
        ),
        retain_reason="tokens belong to no account; an administrator names and revokes them",
    ),
    Table(
        name="checkins", purpose="voluntary check-in: which desk, from when to when",
        legal_basis="consent (the person checks in themselves)",
        retention="identified check-ins: 90 days (configurable)",
        readers="the person only; colleagues while checked in, if both policy and the "
                "person allow it", link="person_id = :person", on_delete="delete",
        columns=(
            Column("id", "check-in number"),
            Column("person_id", "who checked in"),
            Column("desk", "which desk"),
            Column("site", "which site"),
            Column("via", "phone, qr or beacon"),
            Column("start", "check-in time"),
            Column("end", "check-out time"),
            Column("end_reason", "why it ended"),
        ),
    ),
    Table(
        name="checkin_people", purpose="the person's check-in pseudonym and visibility choice",
        legal_basis="consent", retention="until the account is deleted",
        readers="the person", link="person_id = :person", on_delete="delete",
        columns=(
            Column("person_id", "whose settings"),
            Column("pseudonym", "what personal QR tokens carry instead of an identity"),
            Column("visible", "opted in to 'find a colleague'"),
        ),
    ),
    Table(
        name="badges", purpose="opt-in beacon badge enrolment: check in by carrying a badge",
        legal_basis="consent (enrolment is opt-in and revocable)",
        retention="until withdrawn (the hash is cleared) or the account is deleted",
        readers="the person", link="person_id = :person", on_delete="delete",
        columns=(
            Column("id", "badge number"),
            Column("person_id", "whose badge"),
            Column("hash", "keyed hash of the badge identifiers (never the identifiers)"),
            Column("hint", "first 8 hex digits of the hash, to tell badges apart"),
            Column("enrolled", "when enrolled"),
            Column("withdrawn", "when withdrawn"),
        ),
    ),
    Table(
        name="consents", purpose="proof of each opt-in: purpose, privacy-notice version, time",
        legal_basis="legal obligation: demonstrating consent (GDPR art. 7(1))",
        retention="until the account is deleted", readers="the person; administrators",
        link="person_id = :person", on_delete="delete",
        columns=(
            Column("id", "record number"),
            Column("person_id", "whose consent"),
            Column("purpose", "colleague_visibility or badge_enrolment"),
            Column("notice_version", "the privacy notice agreed to"),
            Column("given", "when given"),
            Column("withdrawn", "when withdrawn"),
        ),
    ),
    Table(
        name="invitations", purpose="single-use sign-in links to choose a password",
        legal_basis="contract (employment): access to the workplace system",
        retention="until used or replaced; expired links are removed after 7 more days",
        readers="nobody (hashes only)", link="user_id = :person", on_delete="delete",
        columns=(
            Column("token_hash", "SHA-256 of the link's secret", export=False),
            Column("user_id", "whose link"),
            Column("created", "when it was made"),
            Column("expires", "when it stops working"),
            Column("used", "when it was used"),
            Column("next", "the page to open after signing in (e.g. a desk label)"),
        ),
    ),
    Table(
        name="audit_log", purpose="who read or changed personal data, hash-chained",
        legal_basis="legal obligation: accountability (GDPR art. 5(2), 30)",
        retention="audit entries: 365 days (configurable)",
        readers="the person (entries about them); administrators",
        link="subject = :audit_subject OR actor_id = :person", on_delete="retain",
        columns=(
            Column("id", "entry number"),
            Column("at", "when"),
            Column("actor_id", "account that acted"),
            Column("actor", "its username or token name"),
            Column("actor_role", "its role"),
            Column("action", "read, correct, export, ..."),
            Column("subject", "HMAC pseudonym of the person concerned"),
            Column("detail", "what was read or changed (names, never values)"),
            Column("prev_hash", "hash of the entry before"),
            Column("hash", "hash of this entry"),
        ),
        retain_reason="entries name the person only by a keyed pseudonym that nothing links "
                      "to them once the account is gone; they prove who looked, and the "
                      "chain breaks if one is removed",
    ),
)

# Columns whose names look like a person reference but are not personal data.
NOT_PERSONAL: dict[tuple[str, str], str] = {
    ("sites", "name"): "a site's name",
    ("floors", "name"): "a floor's name",
    ("zones", "name"): "a zone's name",
    ("desks", "name"): "a desk's name",
    ("provisioned_agents", "name"): "an edge agent's id",
    ("counters", "name"): "an ingest counter's name",
    ("meta", "name"): "a setting's name",
    ("_sqlite_migrations", "name"): "a migration's name",
}


# The PostgreSQL store keeps its migrations in schema_migrations (hub/db/postgres/migrations.py),
# where SQLite has sqlite-utils' _sqlite_migrations: each engine has only its own.
_POSTGRES_NOT_PERSONAL = {("schema_migrations", "name"): "a migration's name"}


def not_personal_on(conn: Any) -> dict[tuple[str, str], str]:
    """:data:`NOT_PERSONAL` plus the bookkeeping of the engine behind ``conn``."""
    return {**NOT_PERSONAL, **_POSTGRES_NOT_PERSONAL} if is_postgres(conn) else NOT_PERSONAL


def table(name: str) -> Table:
    for entry in INVENTORY:
        if entry.name == name:
            return entry
    raise KeyError(name)


def live_schema(conn: Any) -> dict[str, list[str]]:
    """Every table of a database and its columns (from sqlite_master, or on PostgreSQL
    from information_schema)."""
    if is_postgres(conn):
        schema: dict[str, list[str]] = {}
        for name, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ).fetchall():
            schema.setdefault(str(name), []).append(str(column))
        return schema
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    return {name: [row[0] for row in conn.execute(
        "SELECT name FROM pragma_table_info(?)", [name])] for name in names}


def schema_problems(conn: Any) -> list[str]:
    """Where the inventory and the live schema disagree; empty when they agree."""
    schema = live_schema(conn)
    not_personal = not_personal_on(conn)
    declared = {entry.name: entry for entry in INVENTORY}
    problems = []
    for entry in INVENTORY:
        if entry.name not in schema:
            problems.append(f"inventory names table {entry.name!r}, which does not exist")
            continue
        names = [c.name for c in entry.columns]
        for column in sorted(set(names) - set(schema[entry.name])):
            problems.append(f"inventory names column {entry.name}.{column}, which does not exist")
        for column in sorted(set(schema[entry.name]) - set(names)):
            problems.append(f"personal table {entry.name} has undeclared column {column}")
    for (name, column) in sorted(NOT_PERSONAL):
        if name == "_sqlite_migrations" and is_postgres(conn):
            continue  # sqlite-utils' bookkeeping; PostgreSQL has schema_migrations instead
        if column not in schema.get(name, []):
            problems.append(f"NOT_PERSONAL names {name}.{column}, which does not exist")
    for name, columns in schema.items():
        if name in declared:
            continue
        for column in columns:
            if PERSON_REFERENCE.search(column) and (name, column) not in not_personal:
                problems.append(
                    f"{name}.{column} looks like a person reference but is not declared in "
                    "hub/privacy/inventory.py (INVENTORY or NOT_PERSONAL)"
                )
    return problems
