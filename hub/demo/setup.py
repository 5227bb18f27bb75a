"""What the demo building holds besides desks: receivers, cameras, check-in desks, people.

Pure choices over a generated building (which agent hears which zone, which desks have a
camera, a label people scan, a badge reader; which desks' sensors fail now and then;
which agent reboots) and the demo accounts: a manager and two employees with one-time
logins (one opted in to colleague visibility) plus the simulated employees who check in.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from sqlite_utils import Database

from edge.ble.config import BleConfig
from edge.ble.rssi import PresencePolicy
from edge.config import AgentConfig
from edge.qr.config import CameraConfig
from firmware_sim.building import Building
from hub.auth import accounts
from hub.checkin import badges, colleagues
from hub.checkin.badges import BadgeTaken
from hub.config import HubSettings
from hub.db.compat import insert_id
from hub.db.protocol import Store
from hub.demo.checkins import BADGE_MAJOR, BADGE_UUID, CheckinDesks

__all__ = ["DemoLayout", "DemoPeople", "demo_people", "layout_for", "one_time_login"]

PRINTED = (("manager", "manager"), ("alex", "employee"), ("sam", "employee"))
SIMULATED = (
    "amara", "bruno", "chen", "dagny", "emeka", "farah", "goran", "hana", "ines", "jonas",
    "kemal", "lotte", "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "soren", "tomas",
    "uma", "viktor", "wen", "xenia", "yusuf", "zofia", "anouk", "bilal",
)
LABEL_EVERY = 5  # one desk in five (of the rest) has people who scan its label


@dataclass(frozen=True)
class DemoLayout:
    """The demo's choices for one building."""

    receivers: Mapping[str, str]  # agent -> the zone its Pi hears (where most desks are)
    badge_desks: Mapping[str, str]  # agent -> the desk its receiver stands on
    checkin_desks: CheckinDesks
    fault_desks: tuple[str, ...]
    rebooting_agent: str | None


def layout_for(building: Building) -> DemoLayout:
    """Every agent's Pi hears the zone of most of its desks (a zone heard by several
    reports their max) and reads badges at one desk; a camera desk per agent; one desk in
    ``LABEL_EVERY`` has a label people scan; two sensors that fail now and then; the
    last agent reboots now and then."""
    receivers: dict[str, str] = {}
    badge_desks: dict[str, str] = {}
    cameras: dict[str, str] = {}
    for agent, desks in building.agents().items():
        zones = [d.zone for d in desks]
        zone = max(dict.fromkeys(zones), key=zones.count)
        receivers[agent] = zone
        badge_desks[agent] = next(d.id for d in desks if d.zone == zone)
        free = [d.id for d in desks if d.id != badge_desks[agent]]
        if free:
            cameras[free[len(free) // 2]] = agent
    taken = set(badge_desks.values()) | set(cameras)
    rest = [d.id for d in building.desks if d.id not in taken]
    labels = tuple(rest[::LABEL_EVERY])
    others = [d for d in rest if d not in labels]
    faults = tuple(others[len(others) // 3::len(others) // 3 or 1][:2])
    agents = list(receivers)
    return DemoLayout(receivers, badge_desks,
                      CheckinDesks(labels, cameras, {d: a for a, d in badge_desks.items()}),
                      faults, agents[-1] if agents else None)


def configure_agent(layout: DemoLayout, badge_key: bytes | None, *, hold_seconds: float,
                    badge_dwell_seconds: float) -> Callable[[AgentConfig], AgentConfig]:
    """A FleetRunner ``configure`` hook: BLE (zone counts, badges) and a camera."""
    camera_of = {agent: desk for desk, agent in layout.checkin_desks.qr.items()}

    def configure(config: AgentConfig) -> AgentConfig:
        ble = None
        zone = layout.receivers.get(config.agent)
        if zone is not None:
            ble = BleConfig(
                zone=zone, desk=layout.badge_desks[config.agent] if badge_key else None,
                badge_key=badge_key,
                badge_policy=PresencePolicy(enter_dbm=-65.0, exit_dbm=-75.0,
                                            enter_dwell_s=badge_dwell_seconds,
                                            exit_dwell_s=10.0),
            )
        desk = camera_of.get(config.agent)
        camera = CameraConfig(desk=desk, source=0) if desk is not None else None
        return replace(config, ble=ble, camera=camera, hold_seconds=hold_seconds)

    return configure


def one_time_login(db: Database, username: str, role: str) -> str:
    """Create the user, or give it a new one-time password; returns the password."""
    accounts.ensure_schema(db)
    password = secrets.token_urlsafe(9)
    row = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()
    if row is None:
        accounts.create_user(db, username, password, role, must_change_password=True)
        return password
    with db.atomic():
        db.execute("UPDATE users SET password_hash = ?, must_change_password = 1, role = ? "
                   "WHERE id = ?", [accounts.hash_password(password), role, row[0]])
        db.execute("DELETE FROM sessions WHERE user_id = ?", [row[0]])
    return password


def _user_id(db: Database, username: str, role: str) -> int:
    row = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()
    if row is not None:
        return int(row[0])
    # Simulated employees never sign in: "!" is no argon2 hash, so no password matches
    # (and the demo starts without hashing dozens of passwords).
    accounts.ensure_schema(db)
    return insert_id(db, "INSERT INTO users (username, password_hash, role, created, "
                     "must_change_password) VALUES (?, '!', ?, ?, 0)",
                     [username, role, time.time()])


@dataclass(frozen=True)
class DemoPeople:
    logins: Mapping[str, str]  # printed username -> one-time password
    label: tuple[int, ...]  # person ids who check in by desk label
    qr: tuple[int, ...]  # ... by personal QR at a desk camera
    beacon: tuple[int, ...]  # ... with an enrolled badge
    badge_minor: Mapping[int, int]  # person id -> their badge's iBeacon minor


def demo_people(store: Store, settings: HubSettings) -> DemoPeople:
    """The printed accounts and the simulated employees (idempotent for a resumed run)."""
    db = store.db
    logins = {name: one_time_login(db, name, role) for name, role in PRINTED}
    alex, sam = _user_id(db, "alex", "employee"), _user_id(db, "sam", "employee")  # made above
    colleagues.set_visible(store, alex, True)  # Alex opted in; Sam did not
    ids = [_user_id(db, name, "employee") for name in SIMULATED]
    third = len(ids) // 3
    label, qr, beacon = ids[:third], ids[third:2 * third], ids[2 * third:]
    minors: dict[int, int] = {}
    for n, person in enumerate(beacon, start=1):
        minors[person] = n
        try:
            badges.enrol(store, settings, person, BADGE_UUID, BADGE_MAJOR, n)
        except BadgeTaken:
            pass  # enrolled by an earlier run in this data directory
    return DemoPeople(logins, (alex, *label), (sam, *qr), tuple(beacon), minors)
