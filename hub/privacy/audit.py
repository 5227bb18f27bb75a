"""An append-only, hash-chained audit trail of reads and changes of personal data.

Each entry's hash is ``sha256(prev_hash + canonical JSON of the entry)``, so changing or
removing any entry (other than purging the oldest ones, whose last hash is kept in
``meta`` as the new anchor) makes :func:`verify` report where the chain breaks. The person
concerned is named only by a keyed pseudonym (:func:`subject_for`), so an entry leads back
to nobody once the account is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from hub.auth.accounts import Principal
from hub.db.compat import take_turn

GENESIS = "0" * 64
ANCHOR_KEY = "audit_anchor"  # meta row "id:hash" of the last purged entry


def _anchor(db: Database) -> tuple[int, str]:
    row = db.execute("SELECT value FROM meta WHERE name = ?", [ANCHOR_KEY]).fetchone()
    if row is None:
        return 0, GENESIS
    last_id, _, digest = str(row[0]).partition(":")
    return int(last_id), digest


def subject_for(db: Database, secret: str, person: int) -> str | None:
    """The audit pseudonym of an account (None if it does not exist)."""
    row = db.execute("SELECT created FROM users WHERE id = ?", [person]).fetchone()
    if row is None:
        return None
    message = f"audit:{person}:{float(row[0])!r}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "at", "actor_id", "actor", "actor_role", "action",
                                "subject", "detail")}


def append(
    db: Database,
    actor: Principal,
    action: str,
    subject: str | None,
    detail: str,
    *,
    now: float | None = None,
) -> str:
    """Add one entry (inside the caller's transaction, if any) and return its hash."""
    with db.atomic():
        take_turn(db, "audit_log")  # one chain: appends take turns on PostgreSQL too
        last = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        if last is None:
            prev_id, prev_hash = _anchor(db)
        else:
            prev_id, prev_hash = int(last[0]), str(last[1])
        row = {"id": prev_id + 1, "at": time.time() if now is None else now,
               "actor_id": actor.user_id, "actor": actor.name, "actor_role": actor.role,
               "action": action, "subject": subject, "detail": detail}
        digest = _entry_hash(prev_hash, row)
        db.execute(
            "INSERT INTO audit_log (id, at, actor_id, actor, actor_role, action, subject, "
            "detail, prev_hash, hash) VALUES (:id, :at, :actor_id, :actor, :actor_role, "
            ":action, :subject, :detail, :prev_hash, :hash)",
            {**row, "prev_hash": prev_hash, "hash": digest},
        )
    return digest


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    problem: str = ""


def verify(db: Database) -> Verdict:
    """Recompute the chain from the anchor; the first broken link is the problem."""
    previous_id, expected = _anchor(db)
    count = 0
    for row in db.query("SELECT * FROM audit_log ORDER BY id"):
        count += 1
        if row["id"] != previous_id + 1:
            return Verdict(False, count, f"entries missing before id {row['id']}")
        if row["prev_hash"] != expected:
            return Verdict(False, count, f"entry {row['id']} does not follow the one before")
        if _entry_hash(expected, _fields(row)) != row["hash"]:
            return Verdict(False, count, f"entry {row['id']} was changed")
        expected, previous_id = row["hash"], int(row["id"])
    return Verdict(True, count)


def purge_before(db: Database, cutoff: float) -> int:
    """Drop entries older than ``cutoff`` from the start of the chain, keeping it verifiable."""
    with db.atomic():
        rows = db.execute("SELECT id, hash FROM audit_log WHERE at < ? ORDER BY id DESC "
                          "LIMIT 1", [cutoff]).fetchone()
        if rows is None:
            return 0
        last_id, last_hash = int(rows[0]), str(rows[1])
        cursor = db.execute("DELETE FROM audit_log WHERE id <= ?", [last_id])
        db.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                   "DO UPDATE SET value = excluded.value", [ANCHOR_KEY, f"{last_id}:{last_hash}"])
    return max(cursor.rowcount, 0)


def about(db: Database, subject: str) -> list[dict[str, Any]]:
    """Entries concerning one person, oldest first: who looked or changed what, when."""
    return list(db.query(
        "SELECT at, actor, actor_role, action, detail FROM audit_log WHERE subject = ? "
        "ORDER BY id", [subject]))
