"""The hub schema as ``sqlite_utils.migrations``; a migration, once released, never changes.

Add a new function for every schema change, and its PostgreSQL twin at the end of
hub/db/postgres/migrations.py (tests/hub/test_pgstore.py compares the two schemas). ``apply(db)``
runs the pending ones inside one ``BEGIN IMMEDIATE`` transaction, so two hub processes
starting together cannot both try.
Tables that other modules read by name: sites, floors, zones, desks, agents, messages,
transitions, desk_state, dead_letters, rollups, dirty, counters, zone_counts, meta.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from hub.db.sqlite import invitations_schema

migrations = Migrations("deskpulse-hub")

_M001 = """
CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    core_hours TEXT              -- JSON {"days": [0..6], "start": "HH:MM", "end": "HH:MM"}
);
CREATE TABLE floors (
    site TEXT NOT NULL REFERENCES sites(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    level INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, id)
);
CREATE TABLE zones (
    site TEXT NOT NULL,
    id TEXT NOT NULL,
    floor TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (site, id),
    FOREIGN KEY (site, floor) REFERENCES floors(site, id)
);
CREATE TABLE desks (
    id TEXT PRIMARY KEY,         -- desk ids are unique across sites (the wire names desks alone)
    site TEXT NOT NULL REFERENCES sites(id),
    floor TEXT NOT NULL,
    zone TEXT NOT NULL,
    name TEXT NOT NULL,
    agent TEXT,                  -- the one agent that may report it; NULL = any of the site
    x REAL,
    y REAL,
    FOREIGN KEY (site, floor) REFERENCES floors(site, id),
    FOREIGN KEY (site, zone) REFERENCES zones(site, id)
);
CREATE INDEX desks_site ON desks(site);
CREATE INDEX desks_agent ON desks(agent);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    boot INTEGER,
    version TEXT,
    last_seen REAL,
    will_boot INTEGER,           -- boot whose last-will was seen: that boot is over
    outbox_depth INTEGER,
    dropped INTEGER,
    faults TEXT,                 -- JSON list of desk ids with a faulty sensor
    uptime REAL
);
CREATE TABLE messages (
    agent TEXT NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (agent, boot, seq)
) WITHOUT ROWID;
CREATE TABLE transitions (
    id INTEGER PRIMARY KEY,      -- insertion order: among equal times the last written wins
    site TEXT NOT NULL,
    desk TEXT NOT NULL REFERENCES desks(id),
    state TEXT NOT NULL CHECK (state IN ('vacant', 'occupied', 'unknown')),
    at REAL NOT NULL,
    agent TEXT NOT NULL,
    boot INTEGER,
    seq INTEGER,                 -- NULL for transitions the hub made (last-will, heartbeat)
    received REAL NOT NULL
);
CREATE INDEX transitions_desk_at ON transitions(desk, at);
CREATE TABLE desk_state (
    desk TEXT PRIMARY KEY REFERENCES desks(id),
    state TEXT NOT NULL,
    since REAL NOT NULL,         -- event time the current state began
    updated REAL NOT NULL,       -- hub time of the last change or confirmation
    last_at REAL NOT NULL,       -- event time of the newest event applied; older ones are late
    agent TEXT                   -- agent of that event (its last-will makes the desk unknown)
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL         -- of the payload; the payload itself is never stored
);
CREATE TABLE rollups (
    desk TEXT NOT NULL REFERENCES desks(id),
    bin_start INTEGER NOT NULL,
    occupied_s REAL NOT NULL,
    unknown_s REAL NOT NULL,
    span_s REAL NOT NULL,        -- seconds of the bin elapsed when computed (bin width if past)
    PRIMARY KEY (desk, bin_start)
) WITHOUT ROWID;
CREATE TABLE dirty (
    desk TEXT PRIMARY KEY REFERENCES desks(id),
    from_at REAL NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE zone_counts (
    site TEXT NOT NULL,
    zone TEXT NOT NULL,
    bin INTEGER NOT NULL,
    agent TEXT NOT NULL,
    devices INTEGER NOT NULL,    -- an anonymous count; no device is ever stored
    received REAL NOT NULL,
    PRIMARY KEY (site, zone, bin, agent)
) WITHOUT ROWID;
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@migrations(name="m001_initial")
def m001_initial(db: Database) -> None:
    db.executescript(_M001)


_M_CHECKINS = """
CREATE TABLE checkins (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,  -- users.id (accounts); only ever shown to that person
    desk TEXT NOT NULL REFERENCES desks(id),
    site TEXT NOT NULL,
    via TEXT NOT NULL CHECK (via IN ('phone', 'qr', 'beacon')),
    start REAL NOT NULL,
    "end" REAL,                  -- NULL while checked in
    end_reason TEXT              -- checkout, scan, moved, vacant, core_hours_end
);
CREATE UNIQUE INDEX checkins_open_desk ON checkins(desk) WHERE "end" IS NULL;
CREATE UNIQUE INDEX checkins_open_person ON checkins(person_id) WHERE "end" IS NULL;
CREATE INDEX checkins_person_start ON checkins(person_id, start);
CREATE TABLE desk_codes (
    code TEXT PRIMARY KEY,       -- random, printed on the desk's QR label
    desk TEXT NOT NULL REFERENCES desks(id),
    created REAL NOT NULL,
    revoked REAL
);
CREATE INDEX desk_codes_desk ON desk_codes(desk);
CREATE TABLE used_tokens (
    token_id TEXT PRIMARY KEY,   -- single use across every hub process: the UNIQUE row
    used_at REAL NOT NULL,
    source TEXT                  -- the scan (agent/boot/seq/index) that used it, if any
);
CREATE TABLE checkin_people (
    person_id INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL UNIQUE, -- what personal QR tokens carry instead of an identity
    visible INTEGER NOT NULL DEFAULT 0  -- opted in to "find a colleague" (off by default)
);
"""


@migrations(name="m002_checkins")
def m002_checkins(db: Database) -> None:
    db.executescript(_M_CHECKINS)


_M_DAY_SUMMARIES = """
ALTER TABLE sites ADD COLUMN headcount INTEGER;  -- people the site is planned for (sharing)
CREATE TABLE day_summaries (
    site TEXT NOT NULL REFERENCES sites(id),
    day TEXT NOT NULL,           -- local date, ISO
    key TEXT NOT NULL,           -- hub.metrics.days.summary_key: window, thresholds, desks
    computed REAL NOT NULL,
    data BLOB NOT NULL,          -- hub.metrics.days.pack(DaySummary)
    PRIMARY KEY (site, day)
);
"""


@migrations(name="m003_day_summaries")
def m003_day_summaries(db: Database) -> None:
    db.executescript(_M_DAY_SUMMARIES)


def apply(db: Database) -> None:
    """Bring the schema up to date; safe to call from several processes at once."""
    apply_exclusively(db, migrations)


def apply_exclusively(db: Database, named: Migrations) -> None:
    """Apply one named migration set under BEGIN IMMEDIATE: one process at a time."""
    if db.conn.in_transaction:
        named.apply(db)
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        named.apply(db)
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


_M_PROVISIONED_AGENTS = """
CREATE TABLE provisioned_agents (  -- hub/admin/provision.py: who got broker credentials, and when
    name TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL                     -- NULL while the agent may connect
);
"""


@migrations(name="m_provisioned_agents")
def m_provisioned_agents(db: Database) -> None:
    db.executescript(_M_PROVISIONED_AGENTS)


_M_PRIVACY_AUDIT = """
CREATE TABLE audit_log (  -- hub/privacy/audit.py: append-only, each row hashes the one before
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor_id INTEGER,               -- users.id of the account that acted (NULL: API token)
    actor TEXT NOT NULL,            -- its username or token name, as it was then
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,           -- e.g. 'read', 'correct', 'export'
    subject TEXT,                   -- HMAC pseudonym of the person concerned (never an id)
    detail TEXT NOT NULL,           -- what was read or changed (field names, never values)
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL              -- sha256(prev_hash + canonical entry)
);
CREATE INDEX audit_log_subject ON audit_log(subject);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


@migrations(name="m_privacy_audit")
def m_privacy_audit(db: Database) -> None:
    db.executescript(_M_PRIVACY_AUDIT)


_M_BADGES = """
CREATE TABLE badges (  -- hub/checkin/badges.py: opt-in beacon badges, never the identifiers
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,  -- users.id; only ever shown to that person
    hash TEXT,                   -- HMAC(badge key, uuid|major|minor); NULL once withdrawn
    hint TEXT,                   -- first 8 hex of the hash (to tell one's badges apart)
    enrolled REAL NOT NULL,
    withdrawn REAL               -- NULL while enrolled
);
CREATE UNIQUE INDEX badges_hash ON badges(hash) WHERE hash IS NOT NULL;
CREATE INDEX badges_person ON badges(person_id);
"""


@migrations(name="m_badges")
def m_badges(db: Database) -> None:
    db.executescript(_M_BADGES)


_M_CONSENTS = """
CREATE TABLE consents (  -- hub/privacy/consent.py: each opt-in, under which privacy notice
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,     -- users.id
    purpose TEXT NOT NULL,          -- colleague_visibility, badge_enrolment
    notice_version TEXT NOT NULL,   -- the privacy notice the person agreed to
    given REAL NOT NULL,
    withdrawn REAL                  -- NULL while in force
);
CREATE INDEX consents_person ON consents(person_id, purpose);
"""


@migrations(name="m_consents")
def m_consents(db: Database) -> None:
    db.executescript(_M_CONSENTS)


@migrations(name="m_desk_assigned")
def m_desk_assigned(db: Database) -> None:
    """PRIVACY.md 8: a desk permanently assigned to one person (never who) is zone-level."""
    db.execute("ALTER TABLE desks ADD COLUMN assigned INTEGER NOT NULL DEFAULT 0")


@migrations(name="m_agent_clock_offset")
def m_agent_clock_offset(db: Database) -> None:
    """Issue 9 item 4: the agent's clock offset (hub received - edge sent, seconds) from its
    last health report; NULL until one arrives."""
    db.execute("ALTER TABLE agents ADD COLUMN clock_offset REAL")


_M_FLOOR_PLANS = """
CREATE TABLE floor_plans (  -- hub/admin/building_edit.py: one checked PNG/SVG plan per floor
    site TEXT NOT NULL,
    floor TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/svg+xml')),
    width REAL NOT NULL,            -- in the plan's own units (PNG pixels, SVG viewBox)
    height REAL NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded REAL NOT NULL,
    data BLOB NOT NULL,             -- hub/building/floor_plan.py checked it before it got here
    PRIMARY KEY (site, floor),
    FOREIGN KEY (site, floor) REFERENCES floors(site, id)
);
"""


@migrations(name="m_h7a_floor_plans")
def m_h7a_floor_plans(db: Database) -> None:
    """Issue 7 item 2: floor-plan images for the floor constructor and the live map."""
    db.executescript(_M_FLOOR_PLANS)


@migrations(name="m_h7b_desk_sensors")
def m_h7b_desk_sensors(db: Database) -> None:
    """Issue 7 item 2: which physical sensors read a desk (hub/building/desk_sensors.py), as a JSON
    list of edge.toml ``[[desks.sensors]]`` tables; NULL when none are recorded."""
    db.execute("ALTER TABLE desks ADD COLUMN sensors TEXT")


_M_INGEST_EPOCH = """
CREATE TABLE _ingest_epoch (  -- SQLite only: when the ingest writer's cache must be dropped
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO _ingest_epoch (id, generation) VALUES (1, 0);
CREATE TRIGGER ingest_epoch_desk_added AFTER INSERT ON desks
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_desk_moved AFTER UPDATE OF id, site, agent ON desks
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_desk_removed AFTER DELETE ON desks
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_provisioned_added AFTER INSERT ON provisioned_agents
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_provisioned_changed AFTER UPDATE ON provisioned_agents
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_provisioned_removed AFTER DELETE ON provisioned_agents
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_agent_added AFTER INSERT ON agents
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_agent_moved AFTER UPDATE OF id, site ON agents
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_agent_removed AFTER DELETE ON agents
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
CREATE TRIGGER ingest_epoch_message_removed AFTER DELETE ON messages
BEGIN UPDATE _ingest_epoch SET generation = generation + 1; END;
"""


@migrations(name="m_h9a_ingest_epoch")
def m_h9a_ingest_epoch(db: Database) -> None:
    """Issue 9 (load): a counter that changes whenever a row the ingest writer caches
    between batches (hub/db/sqlite/apply_set.py, ``Cache``) may have changed, whoever changed it.
    Before, any commit by another connection dropped the cache, and the rollups commit
    every few milliseconds while they run. Not cached, so not counted: what only the
    ingest connection itself writes and re-reads (agents' clock offsets, online, boot,
    last seen; new messages) and what the cache does not hold (rollups, dirty marks,
    live desk state). PostgreSQL has no such cache (hub/db/postgres/apply_set.py)."""
    db.executescript(_M_INGEST_EPOCH)


@migrations(name="m_h9b_messages_received")
def m_h9b_messages_received(db: Database) -> None:
    """Issue 9: the retention job drops message keys by age (hub/privacy/retention.py,
    ``retention_messages_days``); an index on ``received`` finds them without a scan."""
    db.execute("CREATE INDEX messages_received ON messages (received)")


_M_DEFERRED_TRANSITION_INDEX = """
ALTER TABLE transitions ADD COLUMN pending INTEGER;  -- 1: not yet in transitions_desk_at
DROP INDEX transitions_desk_at;
CREATE INDEX transitions_desk_at ON transitions (desk, at) WHERE pending IS NULL;
CREATE INDEX transitions_pending ON transitions (id) WHERE pending IS NOT NULL;
"""


@migrations(name="m_h9c_deferred_transition_index")
def m_h9c_deferred_transition_index(db: Database) -> None:
    """Issue 9 (load): the ingest writer no longer updates the (desk, at) index per event;
    its rows wait in a small index of their own until indexed in bulk
    (hub/db/transition_index.py)."""
    db.executescript(_M_DEFERRED_TRANSITION_INDEX)


@migrations(name="m_h9d_agent_gaps")
def m_h9d_agent_gaps(db: Database) -> None:
    """Issue 9 (operations): gaps counted per agent, so an alert can name the agent that
    may have lost messages (hub.db.apply.count_gap)."""
    db.execute("ALTER TABLE agents ADD COLUMN gaps INTEGER NOT NULL DEFAULT 0")


@migrations(name="m_i19_invitations")
def m_i19_invitations(db: Database) -> None:
    """Issue 19: single-use sign-in links (hub/auth/invitations.py); only the token's hash."""
    db.executescript(invitations_schema.SQL)


_M_BADGES_GENERATION = """
INSERT INTO meta (name, value) VALUES ('badges_generation', '0') ON CONFLICT (name) DO NOTHING;
CREATE TRIGGER badges_generation_added AFTER INSERT ON badges
BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
      WHERE name = 'badges_generation'; END;
CREATE TRIGGER badges_generation_changed AFTER UPDATE OF hash, withdrawn ON badges
BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
      WHERE name = 'badges_generation'; END;
CREATE TRIGGER badges_generation_removed AFTER DELETE ON badges
BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
      WHERE name = 'badges_generation'; END;
"""


@migrations(name="m_i24a_badges_generation")
def m_i24a_badges_generation(db: Database) -> None:
    """Issue 24 (privacy): every change to ``badges``, by whatever path (a badge withdrawn,
    an account deleted by its owner or an administrator, deletions re-applied after a
    restore, a direct clean-up), bumps the generation that makes ingest republish the
    agents' retained configs (hub/checkin/badges.py, ``ConfigPublisher``). Before, only
    enrol and withdraw bumped it, and a deleted account's hash stayed on every Pi."""
    db.executescript(_M_BADGES_GENERATION)
