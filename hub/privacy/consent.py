"""Consent records: purpose, privacy-notice version and time of each opt-in (issue 8, 5).

Processing that rests on consent checks :func:`in_force`, which is true only for a
consent given under the *current* notice and not withdrawn: publishing a new notice
version (:data:`NOTICE_VERSION`) asks everyone again, and a withdrawal stops the
processing at the next check, at once.
"""

from __future__ import annotations

import time
from typing import Any, Literal, get_args

from sqlite_utils import Database

NOTICE_VERSION = "2026-11-1"  # bump when the privacy notice changes: everyone is asked again
Purpose = Literal["colleague_visibility", "badge_enrolment"]
PURPOSES: tuple[str, ...] = get_args(Purpose)


def _check(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}; one of {', '.join(PURPOSES)}")


def give(db: Database, person: int, purpose: Purpose, *, version: str | None = None,
         now: float | None = None) -> None:
    """Record an opt-in (replacing one in force under an older notice)."""
    _check(purpose)
    version = version or NOTICE_VERSION
    at = time.time() if now is None else now
    with db.atomic():
        if in_force(db, person, purpose, version=version):
            return
        withdraw(db, person, purpose, now=at)
        db.execute("INSERT INTO consents (person_id, purpose, notice_version, given) "
                   "VALUES (?, ?, ?, ?)", [person, purpose, version, at])


def withdraw(db: Database, person: int, purpose: Purpose, *, now: float | None = None) -> int:
    """End every consent in force for this purpose; returns how many ended."""
    _check(purpose)
    cursor = db.execute(
        "UPDATE consents SET withdrawn = ? WHERE person_id = ? AND purpose = ? "
        "AND withdrawn IS NULL", [time.time() if now is None else now, person, purpose])
    return max(cursor.rowcount, 0)


def in_force(db: Database, person: int, purpose: Purpose, *,
             version: str | None = None) -> bool:
    """True while a consent under this notice version is given and not withdrawn."""
    _check(purpose)
    version = version or NOTICE_VERSION
    return db.execute(
        "SELECT 1 FROM consents WHERE person_id = ? AND purpose = ? AND notice_version = ? "
        "AND withdrawn IS NULL", [person, purpose, version]).fetchone() is not None


def in_force_sql(person_column: str, purpose: Purpose) -> str:
    """An SQL condition for queries that must only see people whose consent is in force.

    ``person_column`` comes from code, never from input; purpose and version are checked.
    """
    _check(purpose)
    version = NOTICE_VERSION.replace("'", "")
    return (f"EXISTS (SELECT 1 FROM consents k WHERE k.person_id = {person_column} AND "
            f"k.purpose = '{purpose}' AND k.notice_version = '{version}' AND "
            "k.withdrawn IS NULL)")


def history(db: Database, person: int) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT purpose, notice_version, given, withdrawn FROM consents WHERE person_id = ? "
        "ORDER BY id", [person]))
