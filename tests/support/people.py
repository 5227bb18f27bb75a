"""People whose data fills every personal table (the privacy tests' export and erasure
checks): one seeder per table, so a new personal table without one fails loudly."""

from __future__ import annotations

import time
from collections.abc import Callable

from hub.auth import accounts, invitations
from hub.auth.accounts import Principal
from hub.checkin import colleagues
from hub.checkin.service import pseudonym_for
from hub.db.protocol import Store
from hub.privacy import audit
from tests.support.web import PASSWORD, SECRET


def _seed_checkins(store: Store, person: int, desk: str) -> None:
    now = time.time()
    store.db.execute(
        'INSERT INTO checkins (person_id, desk, site, via, start, "end", end_reason) '
        "VALUES (?, ?, 'hq', 'phone', ?, ?, 'checkout')", [person, desk, now - 3600, now - 60])


def _seed_badges(store: Store, person: int, desk: str) -> None:
    digest = f"{person:064x}"
    store.db.execute("INSERT INTO badges (person_id, hash, hint, enrolled) VALUES (?, ?, ?, ?)",
                     [person, digest, digest[:8], time.time()])


def _seed_audit(store: Store, person: int, desk: str) -> None:
    admin = Principal(kind="token", name="auditor", role="admin")
    with store.transaction() as db:
        audit.append(db, admin, "read", audit.subject_for(db, SECRET, person), "read checkins")


def _seed_login_failures(store: Store, person: int, desk: str) -> None:
    name = store.db.execute("SELECT username FROM users WHERE id = ?", [person]).fetchone()[0]
    store.db.execute("INSERT INTO login_failures (username, at) VALUES (?, ?)",
                     [name, time.time()])


# How the tests put one linked row into each personal table. A new table with a person
# reference needs a seeder here, or test_export_covers_every_table... fails and says so.
SEEDERS: dict[str, Callable[[Store, int, str], object]] = {
    "users": lambda store, person, desk: None,  # made by create_user
    "sessions": lambda store, person, desk: accounts.create_session(store.db, person),
    "login_failures": _seed_login_failures,
    "checkins": _seed_checkins,
    "checkin_people": lambda store, person, desk: pseudonym_for(store, person),
    "badges": _seed_badges,
    "consents": lambda store, person, desk: colleagues.set_visible(store, person, True),
    "invitations": lambda store, person, desk: invitations.create(store.db, person),
    "audit_log": _seed_audit,
}


def make_person(store: Store, username: str, desk: str, role: str = "employee") -> int:
    """An account with one row in every personal table the seeders know."""
    person = accounts.create_user(store.db, username, PASSWORD, role)
    for seed in SEEDERS.values():
        seed(store, person, desk)
    return person
