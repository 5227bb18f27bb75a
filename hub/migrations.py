"""The hub schema as ``sqlite_utils.migrations``; a migration, once released, never changes.

Add a new function for every schema change. ``apply(db)`` runs the pending ones inside one
``BEGIN IMMEDIATE`` transaction, so two hub processes starting together cannot both try.
Tables that other modules read by name: sites, floors, zones, desks, agents, messages,
transitions, desk_state, dead_letters, rollups, dirty, counters, zone_counts, meta.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

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
