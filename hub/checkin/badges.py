"""Opt-in beacon badges: enrol, withdraw, resolve a sighting, and tell the edges.

An employee enrols their own iBeacon badge (uuid, major, minor) and may withdraw it at any
time (PRIVACY.md item 5). The hub never stores the identifiers: only
``HMAC-SHA256(badge key, uuid || major || minor)`` truncated to 128 bits, as 32 hex
characters, where the badge key is a sub-key of the hub secret, separate from the token,
session and CSRF keys. Edge agents receive the badge key once, in their ``edge.toml``
(``[ble] badge_key``, printed by :func:`edge_key_hex`), so they can hash each iBeacon they
hear and compare it with the enrolled hashes the hub publishes on their retained
``config`` topic; a match is forwarded as the scan token ``bcn1.<hash>``. docs/ble.md
explains why the edge holds the key (a badge is a thing, not a person; the edge learns no
one's identity from it).

A withdrawn enrolment keeps its id and both timestamps, and its hash is erased at once:
from that moment the hub rejects the badge ("badge not enrolled") whatever the edges do.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.protocol import DELIVERY, MAX_ITEMS, Config, DeskAssignment, encode, topic_for
from hub.config import HubSettings
from hub.db.compat import IntegrityError, insert_id
from hub.db.protocol import Store
from hub.errors import DeskpulseError, NotFound
from hub.privacy import consent

log = logging.getLogger(__name__)

SCAN_PREFIX = "bcn1."
KEY_EPOCH = 1  # bumped only if the hash recipe changes: every badge must then re-enrol
HASH_HEX = 32
_KEY_LABEL = b"deskpulse badge hash key v1"
_GENERATION = "badges_generation"
_IDS = struct.Struct(">16sHH")
Publish = Callable[..., Any]  # paho's Client.publish(topic, payload, qos, retain)


class BadgeTaken(DeskpulseError):
    """This badge is already enrolled (by whom is never said)."""


class BadgeNotEnrolled(DeskpulseError):
    """A beacon scan whose badge is not (or no longer) enrolled."""


@dataclass(frozen=True)
class Badge:
    id: int
    hint: str  # the first 8 hex characters of the hash: lets a person tell badges apart
    enrolled: float
    withdrawn: float | None


def derive_key(secret: str) -> bytes:
    """The badge hash key: a sub-key of the hub secret, distinct from every other key."""
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def badge_hash(key: bytes, beacon_uuid: uuid.UUID, major: int, minor: int) -> str:
    """``HMAC-SHA256(key, uuid(16) || major(u16 BE) || minor(u16 BE))[:16]`` as hex.

    The edge computes the same value in :mod:`edge.ble.badges`."""
    message = _IDS.pack(beacon_uuid.bytes, major, minor)
    return hmac.digest(key, message, "sha256")[: HASH_HEX // 2].hex()


def edge_key_hex(settings: HubSettings) -> str:
    """The badge key as agents' ``[ble] badge_key`` expects it (64 hex characters)."""
    return derive_key(settings.ensure_secret_key()).hex()


def generation(store: Store) -> int:
    """Changes with every change to ``badges`` by any path: enrolment, withdrawal, an
    account's deletion (database triggers, migration m_i24a_badges_generation); ingest
    republishes the agents' configs then."""
    row = store.db.execute("SELECT value FROM meta WHERE name = ?", [_GENERATION]).fetchone()
    return int(row[0]) if row else 0


def _badge(row: tuple[Any, ...]) -> Badge:
    return Badge(int(row[0]), row[1] or "", float(row[2]), row[3])


def enrol(
    store: Store,
    settings: HubSettings,
    person_id: int,
    beacon_uuid: uuid.UUID,
    major: int,
    minor: int,
    *,
    now: float | None = None,
) -> Badge:
    """Enrol the person's own badge; BadgeTaken if it is enrolled already (by anyone)."""
    if not (0 <= major <= 0xFFFF and 0 <= minor <= 0xFFFF):
        raise ValueError("major and minor must be between 0 and 65535")
    at = time.time() if now is None else now
    value = badge_hash(derive_key(settings.ensure_secret_key()), beacon_uuid, major, minor)
    with store.transaction() as db:
        try:
            with db.atomic():  # a savepoint: a refusal must not end the transaction
                badge_id = insert_id(
                    db, "INSERT INTO badges (person_id, hash, hint, enrolled, withdrawn) "
                    "VALUES (?, ?, ?, ?, NULL)", [person_id, value, value[:8], at])
        except IntegrityError:
            raise BadgeTaken("this badge is already enrolled") from None
    consent.give(store.db, person_id, "badge_enrolment", now=at)
    log.info("badge %d enrolled", badge_id)
    return own(store, person_id, badge_id)


def own(store: Store, person_id: int, badge_id: int) -> Badge:
    """One of the person's badges; NotFound for anyone else's (no existence leak)."""
    row = store.db.execute(
        "SELECT id, hint, enrolled, withdrawn FROM badges WHERE id = ? AND person_id = ?",
        [badge_id, person_id]).fetchone()
    if row is None:
        raise NotFound(f"no badge {badge_id}")
    return _badge(row)


def mine(store: Store, person_id: int) -> list[Badge]:
    """The person's enrolments, newest first, withdrawn ones included."""
    rows = store.db.execute(
        "SELECT id, hint, enrolled, withdrawn FROM badges WHERE person_id = ? "
        "ORDER BY enrolled DESC, id DESC", [person_id]).fetchall()
    return [_badge(row) for row in rows]


def withdraw(
    store: Store, person_id: int, badge_id: int, *, now: float | None = None
) -> Badge:
    """Withdraw one of the person's badges at once; the hash is erased. Idempotent."""
    at = time.time() if now is None else now
    with store.transaction() as db:
        found = own(store, person_id, badge_id)
        if found.withdrawn is None:
            db.execute("UPDATE badges SET withdrawn = ?, hash = NULL, hint = NULL "
                       "WHERE id = ?", [at, badge_id])
            log.info("badge %d withdrawn", badge_id)
    if not mine_active(store, person_id):
        consent.withdraw(store.db, person_id, "badge_enrolment", now=at)
    return own(store, person_id, badge_id)


def mine_active(store: Store, person_id: int) -> bool:
    """Whether the person still has an enrolled (not withdrawn) badge."""
    row = store.db.execute(
        "SELECT 1 FROM badges WHERE person_id = ? AND withdrawn IS NULL LIMIT 1", [person_id]
    ).fetchone()
    return row is not None


def person_for_token(store: Store, token: str) -> int | None:
    """The person whose enrolled (not withdrawn) badge a ``bcn1.<hash>`` token names."""
    if not token.startswith(SCAN_PREFIX):
        return None
    value = token[len(SCAN_PREFIX):]
    if len(value) != HASH_HEX:
        return None
    row = store.db.execute(
        "SELECT person_id FROM badges WHERE hash = ? AND withdrawn IS NULL", [value]
    ).fetchone()
    return None if row is None else int(row[0])


def enrolled_hashes(store: Store) -> list[str]:
    """Every active badge hash, oldest enrolment first (at most the protocol's limit)."""
    rows = store.db.execute(
        "SELECT hash FROM badges WHERE withdrawn IS NULL ORDER BY enrolled, id LIMIT ?",
        [MAX_ITEMS + 1]).fetchall()
    if len(rows) > MAX_ITEMS:
        log.warning("more than %d badges enrolled: the edges get the first %d only",
                    MAX_ITEMS, MAX_ITEMS)
    return [str(row[0]) for row in rows[:MAX_ITEMS]]


def agent_config(
    store: Store, site: str, agent: str, *, now: float, badges: Sequence[str] | None = None
) -> Config:
    """The retained ``config`` for one agent: its desks, the badge hashes (``badges``, read
    from the store when not given), the key epoch."""
    desks = store.db.execute(
        "SELECT id, zone FROM desks WHERE site = ? AND agent = ? ORDER BY id LIMIT ?",
        [site, agent, MAX_ITEMS]).fetchall()
    return Config(agent=agent, issued=now, key_epoch=KEY_EPOCH,
                  desks=tuple(DeskAssignment(d, z) for d, z in desks),
                  badges=tuple(enrolled_hashes(store) if badges is None else badges))


def known_agents(store: Store) -> list[tuple[str, str]]:
    """(site, agent) of every agent that was provisioned or has spoken."""
    rows = store.db.execute(
        "SELECT site, id FROM agents UNION SELECT site, name FROM provisioned_agents "
        "WHERE revoked IS NULL ORDER BY 1, 2").fetchall()
    return [(str(site), str(agent)) for site, agent in rows]


def publish_configs(
    store: Store, publish: Publish, agents: list[tuple[str, str]], *, now: float
) -> int:
    """Publish each agent's config, retained, as the protocol says; returns how many."""
    qos, retain = DELIVERY["config"]
    sent = 0
    badges = enrolled_hashes(store) if agents else []  # the same for every agent: read once
    for site, agent in agents:
        try:
            topic = topic_for(site, agent, "config")
        except ValueError:
            continue  # not a wire id (cannot happen for agents that spoke)
        config = agent_config(store, site, agent, now=now, badges=badges)
        publish(topic, encode(config), qos, retain)
        sent += 1
    return sent


class ConfigPublisher:
    """Republishes agents' configs when badges change, a new agent appears, or on connect.

    ``poll`` runs on ingest's writer thread (it reads the store; never on paho's thread);
    ``reset`` may be called from anywhere and makes the next poll publish to everyone.
    """

    def __init__(self, store: Store, publish: Publish, *, interval: float = 1.0) -> None:
        self.store = store
        self.publish = publish
        self.interval = interval
        self._generation: int | None = None
        self._agents: set[tuple[str, str]] = set()
        self._next = 0.0

    def reset(self) -> None:
        self._generation = None
        self._next = 0.0

    def poll(self, now: float | None = None) -> int:
        """Publish what is due; returns the number of configs sent."""
        at = time.time() if now is None else now
        if time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.interval
        current = generation(self.store)
        agents = known_agents(self.store)
        if current != self._generation:
            due = agents
        else:
            due = [a for a in agents if a not in self._agents]
        if not due:
            return 0
        sent = publish_configs(self.store, self.publish, due, now=at)
        self._generation = current
        self._agents = set(agents)
        log.info("published config to %d agent(s) (badge generation %d)", sent, current)
        return sent
