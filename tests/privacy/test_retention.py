"""PRIVACY.md 12: a job with a moved clock purges what is older than its window."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge.protocol import DeskEvent, DesksMessage, Topic
from hub.auth import accounts
from hub.auth.accounts import Principal
from hub.config import HubSettings
from hub.db.apply import ApplyResult, Incoming
from hub.db.sqlite.store import SqliteStore
from hub.errors import ConfigError
from hub.privacy import audit, retention
from hub.privacy.retention import DAY, RetentionJobs
from hub.server import HubServer
from tests.support.building import AGENT, SITE, Desks

NOW = time.time()


def _checkin(store: SqliteStore, person: int, desk: str, end: float | None) -> None:
    store.db.execute(
        'INSERT INTO checkins (person_id, desk, site, via, start, "end") '
        "VALUES (?, ?, 'hq', 'phone', ?, ?)",
        [person, desk, (end or NOW) - 3600, end])


def _count(store: SqliteStore, table: str) -> int:
    return int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_identified_checkins_are_purged_after_their_window(
    store: SqliteStore, settings: HubSettings, ann: int
) -> None:
    store.db.execute("DELETE FROM checkins")
    _checkin(store, ann, "hq-d1", NOW - 91 * DAY)
    _checkin(store, ann, "hq-d2", NOW - 89 * DAY)
    _checkin(store, ann, "hq-d3", None)  # still open: never purged
    clock = [NOW]
    jobs = RetentionJobs(settings, store, clock=lambda: clock[0])
    assert jobs.tick()["checkins"] == 1
    assert _count(store, "checkins") == 2
    clock[0] += 2 * DAY  # two days later the second one is past 90 days too
    assert jobs.tick()["checkins"] == 1
    assert [r[0] for r in store.db.execute("SELECT desk FROM checkins")] == ["hq-d3"]


def test_windows_are_configurable(tmp_path: Path, ann: int, store: SqliteStore) -> None:
    short = HubSettings(data_dir=tmp_path / "short", retention_checkins_days=7)
    store.db.execute("DELETE FROM checkins")
    _checkin(store, ann, "hq-d1", NOW - 8 * DAY)
    assert retention.run(store, short, NOW)["checkins"] == 1
    with pytest.raises(ConfigError, match="retention_checkins_days"):
        HubSettings.from_toml(None, data_dir=tmp_path, retention_checkins_days=0)


def test_raw_transitions_dead_letters_and_audit_entries_are_purged(
    store: SqliteStore, settings: HubSettings
) -> None:
    desks = Desks(store)
    desks.send(("hq-d1", "occupied", NOW - 40 * DAY), ("hq-d1", "vacant", NOW - 39 * DAY),
               ("hq-d1", "occupied", NOW - 35 * DAY), ("hq-d1", "vacant", NOW - 1 * DAY))
    store.dead_letter("x/y", "bad", b"payload", NOW - 31 * DAY)
    store.dead_letter("x/y", "bad", b"payload", NOW - 1 * DAY)
    admin = Principal(kind="token", name="auditor", role="admin")
    with store.transaction() as db:
        audit.append(db, admin, "read", "s", "old", now=NOW - 400 * DAY)
        audit.append(db, admin, "read", "s", "new", now=NOW - 10 * DAY)
    before = _count(store, "transitions")
    # Bins not yet rolled up hold their transitions back.
    first = retention.run(store, settings, NOW)
    assert first["transitions"] == 0
    assert first["dead_letters"] == 1 and _count(store, "dead_letters") == 1
    assert first["audit_log"] == 1
    store.clear_dirty(["hq-d1"])
    counts = retention.run(store, settings, NOW)
    # The last transition before the cutoff stays: it is the desk's state at the cutoff.
    assert counts["transitions"] == 2 and _count(store, "transitions") == before - 2
    kept = [r[0] for r in store.db.execute("SELECT at FROM transitions ORDER BY at")]
    assert kept[0] == pytest.approx(NOW - 35 * DAY)
    assert [e["detail"] for e in audit.about(store.db, "s")] == ["new"]
    assert audit.verify(store.db).ok


def test_expired_sessions_go(store: SqliteStore, settings: HubSettings, ann: int) -> None:
    accounts.create_session(store.db, ann, ttl=60, now=NOW)
    # The fixture's session was made at the real time of this test, which in a long run
    # is well after NOW (taken at import): expire it from then.
    later = max(NOW, time.time()) + accounts.SESSION_TTL_SECONDS + 60
    assert retention.run(store, settings, later)[
        "sessions"] == 2  # this one and the one the fixture made
    assert store.db.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ?",
                            [ann]).fetchone()[0] == 0


def test_the_job_runs_in_its_thread(store: SqliteStore, settings: HubSettings,
                                    ann: int) -> None:
    store.db.execute("DELETE FROM checkins")
    _checkin(store, ann, "hq-d1", NOW - 100 * DAY)
    jobs = RetentionJobs(settings, store, interval=0.05)
    jobs.start()
    try:
        deadline = time.monotonic() + 5
        while _count(store, "checkins") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        jobs.stop()
    assert _count(store, "checkins") == 0


def test_the_hub_server_owns_a_retention_job(settings: HubSettings) -> None:
    server = HubServer(settings)
    try:
        assert isinstance(server.retention, RetentionJobs)
        assert server.retention.interval == settings.retention_interval
    finally:
        server.store.close()


def test_old_message_keys_go_but_each_boots_newest_stays(
    store: SqliteStore, settings: HubSettings
) -> None:
    """The dedup keys (agent, boot, seq) would grow for ever; past retention_messages_days
    they go, all but each boot's newest, so gap and late counting go on unchanged."""

    def send(boot: int, seq: int, received: float) -> ApplyResult:
        message = DesksMessage(AGENT, boot, seq, received,
                               (DeskEvent("hq-d1", "occupied", received),))
        return store.apply([Incoming(Topic(SITE, AGENT, "desks"), message, received)])

    for seq in range(1, 6):
        send(1, seq, NOW - 40 * DAY)
    for seq in range(1, 4):
        send(2, seq, NOW - 35 * DAY)
    send(2, 4, NOW - 1 * DAY)
    assert retention.run(store, settings, NOW)["messages"] == 4 + 3
    keys = store.db.execute("SELECT boot, seq FROM messages ORDER BY boot, seq").fetchall()
    assert [tuple(k) for k in keys] == [(1, 5), (2, 4)]
    assert send(2, 4, NOW).duplicates == 1  # a recent key still recognises a redelivery
    assert send(2, 5, NOW).gaps == 0  # and the next seq follows the kept newest one
    assert store.counters()["gaps"] == 0
    assert retention.run(store, settings, NOW)["messages"] == 0
