"""Opt-in colleague visibility (PRIVACY.md item 6): off by default, twice gated.

A person is findable only while checked in, only if the company policy
(``HubSettings.colleague_visibility``) allows it AND they switched it on themselves. The
policy can never switch a person on: with the policy off nobody is shown, and a
person's "off" always wins.
"""

from __future__ import annotations

from typing import Any

from hub.checkin.service import pseudonym_for
from hub.db.protocol import Store
from hub.privacy import consent


def is_visible(store: Store, person_id: int) -> bool:
    """The person's own choice (False unless they opted in under the current notice)."""
    row = store.db.execute(
        "SELECT visible FROM checkin_people WHERE person_id = ?", [person_id]
    ).fetchone()
    return bool(row and row[0]) and consent.in_force(store.db, person_id,
                                                     "colleague_visibility")


def set_visible(store: Store, person_id: int, visible: bool) -> None:
    pseudonym_for(store, person_id)  # makes the person's row if needed
    with store.transaction() as db:
        db.execute("UPDATE checkin_people SET visible = ? WHERE person_id = ?",
                   [int(visible), person_id])
        if visible:  # the consent record: purpose, notice version, time
            consent.give(db, person_id, "colleague_visibility")
        else:
            consent.withdraw(db, person_id, "colleague_visibility")


def findable(store: Store, *, policy: bool) -> list[dict[str, Any]]:
    """Opted-in people checked in right now: name, desk, floor, site, since.

    Empty whenever the company policy is off, whatever anyone chose.
    """
    if not policy:
        return []
    return list(store.db.query(
        "SELECT u.username AS name, d.name AS desk, f.name AS floor, c.site, c.start AS since "
        "FROM checkins c JOIN checkin_people p ON p.person_id = c.person_id AND p.visible = 1 "
        "JOIN users u ON u.id = c.person_id JOIN desks d ON d.id = c.desk "
        "JOIN floors f ON f.site = d.site AND f.id = d.floor "
        'WHERE c."end" IS NULL AND '
        + consent.in_force_sql("c.person_id", "colleague_visibility")
        + " ORDER BY u.username"
    ))
