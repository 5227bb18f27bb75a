"""Check-in and check-out over the store: one record per stay, whichever way it began.

A check-in records a person, a desk and when: nothing else (PRIVACY.md item 5). The
database holds the rules that must survive several hub processes: one open check-in per
desk and per person (partial UNIQUE indexes) and one use per token (``used_tokens``
primary key). Scans from the edge arrive through :func:`handle_scans`, which answers each
one on the agent's ``feedback`` topic.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from edge.protocol import DELIVERY, CheckinsMessage, Feedback, Topic, encode, topic_for
from hub.checkin import badges, tokens
from hub.checkin.badges import BadgeNotEnrolled
from hub.checkin.tokens import TokenExpired, TokenReplayed, TokenTampered, WrongDesk
from hub.config import HubSettings
from hub.db.compat import IntegrityError, insert_id, take_turn
from hub.db.protocol import Store
from hub.errors import DeskpulseError, NotFound

log = logging.getLogger(__name__)

Via = Literal["phone", "qr", "beacon"]
Occupant = Literal["free", "mine", "taken"]
Publish = Callable[[str, bytes, int], Any]
MAX_SCAN_DELAY_SECONDS = 120.0  # a scan older than this on arrival is refused
# Used token ids are kept this long (hub clock): far past any token's expiry, even for a
# scan time MAX_SCAN_DELAY_SECONDS in the past plus clock skew.
USED_TOKEN_MEMORY_SECONDS = 3600.0
_COLUMNS = 'id, desk, site, via, start, "end", end_reason'


class DeskTaken(DeskpulseError):
    """Someone else is checked in at this desk (who is never said)."""


@dataclass(frozen=True)
class Checkin:
    id: int
    desk: str
    site: str
    via: str
    start: float
    end: float | None
    end_reason: str | None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration": self.duration}


def _checkin(row: tuple[Any, ...] | None) -> Checkin | None:
    return None if row is None else Checkin(*row)


def token_key(settings: HubSettings) -> bytes:
    return tokens.derive_key(settings.ensure_secret_key())


# -- people and their pseudonyms ----------------------------------------------------------

def pseudonym_for(store: Store, person_id: int) -> str:
    """The person's check-in pseudonym (random, made on first use): what tokens carry."""
    with store.transaction() as db:
        row = db.execute(
            "SELECT pseudonym FROM checkin_people WHERE person_id = ?", [person_id]
        ).fetchone()
        if row is not None:
            return str(row[0])
        pseudonym = secrets.token_urlsafe(12)
        db.execute("INSERT INTO checkin_people (person_id, pseudonym) VALUES (?, ?)",
                   [person_id, pseudonym])
        return pseudonym


def person_for(store: Store, pseudonym: str) -> int | None:
    row = store.db.execute(
        "SELECT person_id FROM checkin_people WHERE pseudonym = ?", [pseudonym]
    ).fetchone()
    return None if row is None else int(row[0])


def issue_token(
    store: Store,
    settings: HubSettings,
    person_id: int,
    *,
    now: float | None = None,
    desk: str | None = None,
    ttl: float = tokens.MAX_TTL_SECONDS,
) -> tuple[str, float]:
    """A fresh personal token and its expiry time."""
    at = time.time() if now is None else now
    token = tokens.sign(token_key(settings), pseudonym_for(store, person_id), now=at,
                        ttl=ttl, desk=desk)
    return token, float(int(at + ttl))


# -- desks --------------------------------------------------------------------------------

def desk_row(store: Store, desk: str) -> dict[str, Any] | None:
    """id, name, site, floor (name), zone, agent of a desk, or None."""
    return next(store.db.query(
        "SELECT d.id, d.name, d.site, d.zone, d.agent, f.name AS floor FROM desks d "
        "JOIN floors f ON f.site = d.site AND f.id = d.floor WHERE d.id = ?", [desk]
    ), None)


def occupant(store: Store, desk: str, person_id: int | None) -> Occupant:
    """Whether the desk is free, checked in by this person, or by someone else."""
    row = store.db.execute(
        'SELECT person_id FROM checkins WHERE desk = ? AND "end" IS NULL', [desk]
    ).fetchone()
    if row is None:
        return "free"
    return "mine" if person_id is not None and int(row[0]) == person_id else "taken"


def sensor_state(store: Store, desk: str) -> str:
    """What the desk's own sensor last reported: occupied, vacant or unknown (anonymous)."""
    row = store.db.execute("SELECT state FROM desk_state WHERE desk = ?", [desk]).fetchone()
    return "unknown" if row is None else str(row[0])


# -- check-in and check-out -----------------------------------------------------------------

def current(store: Store, person_id: int) -> Checkin | None:
    """The person's open check-in, if any."""
    return _checkin(store.db.execute(
        f'SELECT {_COLUMNS} FROM checkins WHERE person_id = ? AND "end" IS NULL', [person_id]
    ).fetchone())


def own(store: Store, person_id: int, checkin_id: int) -> Checkin:
    """One of the person's own check-ins; NotFound for anyone else's (no existence leak)."""
    found = _checkin(store.db.execute(
        f"SELECT {_COLUMNS} FROM checkins WHERE id = ? AND person_id = ?",
        [checkin_id, person_id],
    ).fetchone())
    if found is None:
        raise NotFound(f"no check-in {checkin_id}")
    return found


def history(store: Store, person_id: int, limit: int = 100) -> list[Checkin]:
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM checkins WHERE person_id = ? ORDER BY start DESC, id DESC "
        "LIMIT ?", [person_id, limit],
    ).fetchall()
    return [Checkin(*row) for row in rows]


def check_in(
    store: Store, person_id: int, desk: str, *, via: Via, now: float | None = None
) -> Checkin:
    """Check the person in at ``desk``, ending their check-in elsewhere ("moved").

    Checking in again where one already is changes nothing. DeskTaken if someone else is
    checked in there; NotFound for an unknown desk.
    """
    at = time.time() if now is None else now
    with store.transaction() as db:
        take_turn(db, f"person:{person_id}")  # one change per person at a time
        row = db.execute("SELECT site FROM desks WHERE id = ?", [desk]).fetchone()
        if row is None:
            raise NotFound(f"no desk '{desk}'")
        mine = current(store, person_id)
        if mine is not None and mine.desk == desk:
            return mine
        if occupant(store, desk, person_id) == "taken":
            raise DeskTaken("this desk is already checked in by someone else")
        if mine is not None:
            _end(db.conn, mine, at, "moved")
        try:
            with db.atomic():  # a savepoint: a refusal must not end the transaction
                checkin_id = insert_id(
                    db, 'INSERT INTO checkins (person_id, desk, site, via, start, "end", '
                    "end_reason) VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                    [person_id, desk, row[0], via, at],
                )
        except IntegrityError:
            raise DeskTaken("this desk is already checked in by someone else") from None
    log.info("check-in via %s at desk %s", via, desk)
    return own(store, person_id, checkin_id)


def _end(conn: Any, checkin: Checkin, at: float, reason: str) -> None:
    conn.execute(
        'UPDATE checkins SET "end" = ?, end_reason = ? WHERE id = ? AND "end" IS NULL',
        (max(at, checkin.start), reason, checkin.id),
    )


def check_out(
    store: Store,
    person_id: int,
    *,
    now: float | None = None,
    reason: str = "checkout",
    checkin_id: int | None = None,
) -> Checkin | None:
    """End the person's open check-in (or the named one, if it is theirs and open)."""
    at = time.time() if now is None else now
    with store.transaction() as db:
        take_turn(db, f"person:{person_id}")  # one change per person at a time
        mine = current(store, person_id)
        if mine is None or (checkin_id is not None and mine.id != checkin_id):
            if checkin_id is not None:
                own(store, person_id, checkin_id)  # NotFound unless it is theirs
            return None
        _end(db.conn, mine, at, reason)
    log.info("check-out (%s) at desk %s", reason, mine.desk)
    return own(store, person_id, mine.id)


# -- tokens ---------------------------------------------------------------------------------

Outcome = Literal["checked_in", "checked_out", "already_recorded"]


def redeem(
    store: Store,
    settings: HubSettings,
    token: str,
    desk: str,
    *,
    via: Via = "qr",
    now: float | None = None,
    source: str | None = None,
) -> tuple[Outcome, Checkin | None]:
    """Use a personal token at ``desk``: check in, or check out on a second scan there.

    TokenTampered / TokenExpired (-> 401), WrongDesk / TokenReplayed / DeskTaken (-> 409),
    NotFound for an unknown desk. The token is used up only if the check-in or -out
    happens: a refusal leaves it valid for its remaining lifetime. ``source`` names the
    scan; the same scan delivered twice is "already_recorded", not a replay.
    """
    at = time.time() if now is None else now
    claims = tokens.verify(token_key(settings), token, now=at, desk=desk)
    person = person_for(store, claims.person)
    if person is None:
        raise TokenTampered("token is not valid")
    with store.transaction() as db:
        take_turn(db, f"person:{person}")  # one change per person at a time
        if db.execute("SELECT 1 FROM desks WHERE id = ?", [desk]).fetchone() is None:
            raise NotFound(f"no desk '{desk}'")
        try:
            with db.atomic():
                db.execute("INSERT INTO used_tokens (token_id, used_at, source) "
                           "VALUES (?, ?, ?)", [claims.token_id, time.time(), source])
        except IntegrityError:
            used = db.execute("SELECT source FROM used_tokens WHERE token_id = ?",
                              [claims.token_id]).fetchone()
            if source is not None and used is not None and used[0] == source:
                return "already_recorded", current(store, person)
            raise TokenReplayed("token was already used") from None
        mine = current(store, person)
        if mine is not None and mine.desk == desk:
            return "checked_out", check_out(store, person, now=at, reason="scan")
        return "checked_in", check_in(store, person, desk, via=via, now=at)


def redeem_badge(
    store: Store, token: str, desk: str, *, now: float, source: str | None = None
) -> tuple[Outcome, Checkin | None]:
    """Check in the person whose enrolled badge ``token`` (``bcn1.<hash>``) names.

    BadgeNotEnrolled for an unknown or withdrawn badge, DeskTaken, NotFound. A badge never
    checks out by being seen again; ``source`` makes a redelivered scan "already_recorded".
    """
    person = badges.person_for_token(store, token)
    if person is None:
        raise BadgeNotEnrolled("badge not enrolled")
    with store.transaction() as db:
        take_turn(db, f"person:{person}")  # one change per person at a time
        if db.execute("SELECT 1 FROM desks WHERE id = ?", [desk]).fetchone() is None:
            raise NotFound(f"no desk '{desk}'")
        if source is not None:
            try:
                with db.atomic():
                    db.execute("INSERT INTO used_tokens (token_id, used_at, source) "
                               "VALUES (?, ?, ?)", [f"beacon:{source}", time.time(), source])
            except IntegrityError:
                return "already_recorded", current(store, person)
        return "checked_in", check_in(store, person, desk, via="beacon", now=now)


def purge_used_tokens(store: Store, now: float) -> int:
    """Forget used token ids whose tokens have expired anyway (they cannot come back)."""
    horizon = now - USED_TOKEN_MEMORY_SECONDS
    with store.transaction() as db:
        cursor = db.execute("DELETE FROM used_tokens WHERE used_at < ?", [horizon])
    return max(cursor.rowcount, 0)


# -- scans from the edge ---------------------------------------------------------------------

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (TokenExpired, "token expired"),
    (TokenReplayed, "token already used"),
    (WrongDesk, "token is for another desk"),
    (TokenTampered, "token not valid"),
    (DeskTaken, "desk is checked in by someone else"),
    (NotFound, "unknown desk"),
    (BadgeNotEnrolled, "badge not enrolled"),
)
_ACCEPTED = {"checked_in": "checked in", "checked_out": "checked out",
             "already_recorded": "already recorded"}


def _scan_desk_ok(store: Store, topic: Topic, desk: str) -> bool:
    row = desk_row(store, desk)
    return row is not None and row["site"] == topic.site and row["agent"] in (None, topic.agent)


def handle_scans(
    store: Store,
    settings: HubSettings,
    topic: Topic,
    message: CheckinsMessage,
    publish: Publish,
    *,
    now: float | None = None,
) -> list[Feedback]:
    """Verify every scan of a (committed) checkins message and publish one Feedback each.

    ``publish(topic, payload, qos)`` is e.g. paho's ``Client.publish``. Never raises for
    a bad scan: each gets a ``rejected`` feedback with the reason.
    """
    received = time.time() if now is None else now
    site_row = store.db.execute("SELECT site FROM agents WHERE id = ?", [topic.agent]).fetchone()
    provisioned = store.db.execute(  # an agent provisioned for another site: no desk is its
        "SELECT site FROM provisioned_agents WHERE name = ?", [topic.agent]).fetchone()
    if provisioned is not None and provisioned[0] != topic.site:
        site_row = None
    feedback_topic = topic_for(topic.site, topic.agent, "feedback")
    qos = DELIVERY["feedback"][0]
    answers: list[Feedback] = []
    for index, scan in enumerate(message.scans):
        reason, result = "", "rejected"
        if site_row is None or site_row[0] != topic.site or not _scan_desk_ok(
            store, topic, scan.desk
        ):
            reason = "unknown desk"
        elif received - scan.at > MAX_SCAN_DELAY_SECONDS:
            reason = "scan arrived too late"
        elif scan.at - received > tokens.CLOCK_SKEW_SECONDS:
            reason = "scan time is in the future"
        else:
            source = f"{topic.agent}/{message.boot}/{message.seq}/{index}"
            try:
                if scan.via == "beacon":
                    outcome, _ = redeem_badge(store, scan.token, scan.desk, now=scan.at,
                                              source=source)
                else:
                    outcome, _ = redeem(store, settings, scan.token, scan.desk, via=scan.via,
                                        now=scan.at, source=source)
                result, reason = "accepted", _ACCEPTED[outcome]
            except DeskpulseError as exc:
                reason = next((text for cls, text in _REASONS if isinstance(exc, cls)),
                              "refused")
        answer = Feedback(agent=topic.agent, boot=message.boot, seq=message.seq,
                          desk=scan.desk, result=result, reason=reason)  # type: ignore[arg-type]
        publish(feedback_topic, encode(answer), qos)
        answers.append(answer)
    return answers
