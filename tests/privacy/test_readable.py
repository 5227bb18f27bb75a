"""My data in words (hub/privacy/readable.py): every kind of record has a plain title, times
are in the given zone, ids become names, the raw export is unchanged."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hub.privacy import inventory, readable


def test_every_inventory_table_has_a_plain_title() -> None:
    missing = [t.name for t in inventory.INVENTORY if t.name not in readable.TITLES]
    assert missing == [], "give these tables a title in hub/privacy/readable.py TITLES"


def test_sections_are_readable_and_in_the_site_time_zone() -> None:
    export = {"tables": {
        "checkins": [{"id": 7, "person_id": 1, "desk": "hq-d4", "site": "hq", "via": "phone",
                      "start": 1796603417.0, "end": None, "end_reason": None}],
        "sessions": [{"token_hash": "[withheld]", "user_id": 1, "created": 0, "expires": 0}],
    }, "viewed_by": [{"at": 1796603417.0, "actor": "root", "actor_role": "admin",
                      "action": "read", "detail": "account entry on the people page"}]}
    zone = ZoneInfo("Europe/Berlin")
    (sessions, checkins) = readable.sections(export, zone, {"hq-d4": "Desk 4 (Second floor)",
                                                           "hq": "Head office"})
    assert checkins.title == "Your check-ins" and sessions.title.startswith("Browsers")
    row = dict(zip(checkins.headers, checkins.rows[0], strict=True))
    assert row["Which desk"] == "Desk 4 (Second floor)" and row["Which site"] == "Head office"
    assert row["Check-in time"] == "Mon 7 Dec 2026, 01:30" and row["Check-out time"] == "–"
    assert "Who checked in" not in row  # the link to the person adds nothing on their page
    assert readable.when(1796603417.0, ZoneInfo("UTC")) == "Mon 7 Dec 2026, 00:30"
    assert all("withheld" not in cell for cell in sessions.rows[0])  # hashes are left out
    (entry,) = readable.viewed_by(export, zone)
    assert entry == {"when": "Mon 7 Dec 2026, 01:30", "who": "root", "role": "administrator",
                     "what": "viewed: account entry on the people page"}
