"""The export (hub/privacy/rights.py) as a person reads it: plain-language names for every
kind of record, times in the site's time zone, tables instead of JSON. Pure: the routes
pass in the export and a zone; the raw JSON stays in the download.

Every table of :data:`INVENTORY` has a title here (a test checks it), so a new kind of
record cannot appear on "My data" under its database name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.privacy.inventory import INVENTORY

TITLES: dict[str, str] = {
    "users": "Your account",
    "sessions": "Browsers where you are signed in",
    "login_failures": "Recent failed sign-ins with your username",
    "api_tokens": "API tokens",
    "checkins": "Your check-ins",
    "checkin_people": "Your check-in settings",
    "badges": "Your beacon badges",
    "consents": "What you agreed to",
    "invitations": "Sign-in links made for you",
    "audit_log": "Who viewed or changed your data",
}
# Columns that hold a time (unix seconds in the database).
TIMES = frozenset({"created", "expires", "start", "end", "at", "given", "withdrawn",
                   "enrolled", "used", "last_used"})
# Columns that only link a row to the person: saying "you" on every row adds nothing.
LINKS = frozenset({"person_id", "user_id", "actor_id", "subject", "prev_hash", "hash"})
ACTIONS = {"read": "viewed", "correct": "corrected", "reset": "reset the password",
           "role": "changed the role", "invite": "made a sign-in link", "export": "exported"}
ROLES = {"admin": "administrator", "manager": "manager", "employee": "employee"}


@dataclass(frozen=True)
class Section:
    """One kind of record: its plain title, why it is kept, and its rows as text."""

    name: str  # the table, for the element id and the JSON download
    title: str
    purpose: str
    headers: list[str]
    rows: list[list[str]]


def local_datetime(zone: ZoneInfo, at: float | None) -> str:
    """``Mon 7 Dec 2026, 14:05`` in ``zone``; "" for no time (one format on every page)."""
    if at is None:
        return ""
    moment = datetime.fromtimestamp(float(at), zone)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def when(at: Any, zone: ZoneInfo) -> str:
    """:func:`local_datetime` of a stored value; an empty cell for no time."""
    if at is None or at == "":
        return ""
    try:
        return local_datetime(zone, float(at))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(at)


def _cell(column: str, value: Any, zone: ZoneInfo, names: dict[str, str]) -> str:
    if value is None:
        return "–"
    if column in ("desk", "site"):
        return names.get(str(value), str(value))
    if column in TIMES:
        return when(value, zone)
    if isinstance(value, bool) or (column in ("visible", "must_change_password")
                                   and value in (0, 1)):
        return "yes" if value else "no"
    return str(value)


def sections(export: dict[str, Any], zone: ZoneInfo,
             names: dict[str, str] | None = None) -> list[Section]:
    """Every kind of record the person has rows of, in inventory order (audit apart);
    ``names`` turns desk and site ids into what people call them."""
    names = names or {}
    out = []
    for entry in INVENTORY:
        rows = export["tables"].get(entry.name) or []
        if not rows or entry.name == "audit_log":
            continue
        columns = [c for c in entry.columns if c.export and c.name not in LINKS]
        out.append(Section(
            name=entry.name, title=TITLES.get(entry.name, entry.purpose),
            purpose=entry.purpose[:1].upper() + entry.purpose[1:],
            headers=[c.meaning[:1].upper() + c.meaning[1:] for c in columns],
            rows=[[_cell(c.name, row.get(c.name), zone, names) for c in columns]
                  for row in rows]))
    return out


def viewed_by(export: dict[str, Any], zone: ZoneInfo,
              label: Callable[[str], str] = lambda actor: actor) -> list[dict[str, str]]:
    """Who viewed or changed the person's data, newest first, in words."""
    out = []
    for e in reversed(export.get("viewed_by") or []):
        action, detail = ACTIONS.get(str(e["action"]), str(e["action"])), str(e["detail"])
        out.append({"when": when(e["at"], zone), "who": label(str(e["actor"])),
                    "role": ROLES.get(str(e["actor_role"]), str(e["actor_role"])),
                    "what": detail if detail.startswith(action) else f"{action}: {detail}"})
    return out


def counts(export: dict[str, Any]) -> list[tuple[str, int]]:
    """(plain title, number of records) for every kind of record, none left out."""
    return [(TITLES.get(entry.name, entry.name), len(export["tables"].get(entry.name) or []))
            for entry in INVENTORY if entry.link is not None]


def receipt_removed(removed: dict[str, int]) -> list[tuple[str, int]]:
    """A deletion receipt's ``removed`` counts under plain titles."""
    return [(TITLES.get(name, name), int(n)) for name, n in removed.items()]
