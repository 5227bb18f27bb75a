"""Opt-in beacon badges on the hub: enrol, withdraw, resolve scans, configs for the edges."""

from __future__ import annotations

import re
import sqlite3
import struct
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge.ble import badges as edge_badges
from edge.protocol import CheckinsMessage, Config, Scan, Topic, decode
from hub.checkin import badges, service
from hub.checkin.badges import BadgeTaken, ConfigPublisher
from hub.checkin.service import handle_scans
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.web import csrf_from, sign_in

SITE, AGENT = "hq", "hq-agent-1"
TOPIC = Topic(SITE, AGENT, "checkins")
BADGE = uuid.UUID("d3b5f1a0-c6e2-4a5e-9f0b-7c1e2d3a4b5c")
MAJOR, MINOR = 7, 4242


class Sent(list[tuple[str, bytes, int, bool]]):
    def __call__(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.append((topic, payload, qos, retain))


def _scans(seq: int, token: str, desk: str = "hq-d1", via: str = "beacon") -> CheckinsMessage:
    now = time.time()
    return CheckinsMessage(agent=AGENT, boot=1, seq=seq, sent=now, scans=(
        Scan(desk=desk, token=token, via=via, at=now),))  # type: ignore[arg-type]


def _token(settings: HubSettings) -> str:
    key = badges.derive_key(settings.ensure_secret_key())
    return "bcn1." + badges.badge_hash(key, BADGE, MAJOR, MINOR)


def test_the_edge_computes_the_hubs_hash_and_the_key_is_its_own(settings: HubSettings) -> None:
    key = badges.derive_key(settings.ensure_secret_key())
    assert badges.badge_hash(key, BADGE, MAJOR, MINOR) == edge_badges.badge_hash(
        key, BADGE, MAJOR, MINOR)
    assert re.fullmatch(r"[0-9a-f]{32}", badges.badge_hash(key, BADGE, MAJOR, MINOR))
    assert badges.badge_hash(key, BADGE, MAJOR, MINOR + 1) != badges.badge_hash(
        key, BADGE, MAJOR, MINOR)
    assert key != service.token_key(settings)
    assert badges.edge_key_hex(settings) == key.hex()


def test_badge_scans_check_in_the_enrolled_person_until_withdrawn(
    settings: HubSettings, store: SqliteStore, ann: int, bob: int,
) -> None:
    badge = badges.enrol(store, settings, ann, BADGE, MAJOR, MINOR)
    token = _token(settings)
    first = handle_scans(store, settings, TOPIC, _scans(1, token), Sent())
    assert [(a.result, a.reason) for a in first] == [("accepted", "checked in")]
    mine = service.current(store, ann)
    assert mine is not None and (mine.desk, mine.via) == ("hq-d1", "beacon")
    again = handle_scans(store, settings, TOPIC, _scans(1, token), Sent())  # redelivered
    assert (again[0].result, again[0].reason) == ("accepted", "already recorded")
    seen = handle_scans(store, settings, TOPIC, _scans(2, token), Sent())  # a badge never
    assert seen[0].reason == "checked in" and service.current(store, ann) == mine  # checks out
    as_qr = handle_scans(store, settings, TOPIC, _scans(3, token, via="qr"), Sent())
    assert (as_qr[0].result, as_qr[0].reason) == ("rejected", "token not valid")
    qr_token, _ = service.issue_token(store, settings, bob)
    as_badge = handle_scans(store, settings, TOPIC, _scans(4, qr_token), Sent())
    assert (as_badge[0].result, as_badge[0].reason) == ("rejected", "badge not enrolled")

    service.check_out(store, ann)
    withdrawn = badges.withdraw(store, ann, badge.id)
    assert withdrawn.withdrawn is not None and withdrawn.hint == ""
    after = handle_scans(store, settings, TOPIC, _scans(5, token), Sent())
    assert (after[0].result, after[0].reason) == ("rejected", "badge not enrolled")
    assert service.current(store, ann) is None
    rows = store.db.execute("SELECT via, COUNT(*) FROM checkins GROUP BY via").fetchall()
    assert rows == [("beacon", 1)]


def test_a_badge_is_enrolled_once_and_only_its_owner_sees_or_withdraws_it(
    settings: HubSettings, store: SqliteStore, ann: int, bob: int,
) -> None:
    badge = badges.enrol(store, settings, ann, BADGE, MAJOR, MINOR)
    try:
        badges.enrol(store, settings, bob, BADGE, MAJOR, MINOR)
        raise AssertionError("a second enrolment of the same badge was accepted")
    except BadgeTaken as exc:
        assert str(exc) == "this badge is already enrolled"
    assert badges.mine(store, bob) == []
    assert [b.id for b in badges.mine(store, ann)] == [badge.id]
    badges.withdraw(store, ann, badge.id)
    again = badges.enrol(store, settings, bob, BADGE, MAJOR, MINOR)  # free once withdrawn
    assert again.id != badge.id and badges.person_for_token(store, _token(settings)) == bob


def test_the_api_enrols_lists_and_withdraws_ones_own_badge(
    client: TestClient, store: SqliteStore, ann: int, bob: int,
) -> None:
    sign_in(client, "ann")
    created = client.post("/api/v1/me/badges",
                          json={"uuid": str(BADGE), "major": MAJOR, "minor": MINOR})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["active"] and re.fullmatch(r"[0-9a-f]{8}", body["hint"])
    assert str(BADGE) not in created.text
    taken = client.post("/api/v1/me/badges",
                        json={"uuid": str(BADGE), "major": MAJOR, "minor": MINOR})
    assert (taken.status_code, taken.json()["detail"]) == (409, "this badge is already enrolled")
    bad = client.post("/api/v1/me/badges", json={"uuid": "nope", "major": 1, "minor": 70000})
    assert bad.status_code == 422
    assert [b["id"] for b in client.get("/api/v1/me/badges").json()] == [body["id"]]

    client.cookies.clear()
    sign_in(client, "bob")
    assert client.get("/api/v1/me/badges").json() == []
    assert client.delete(f"/api/v1/me/badges/{body['id']}").status_code == 404
    client.cookies.clear()
    sign_in(client, "ann")
    gone = client.delete(f"/api/v1/me/badges/{body['id']}")
    assert gone.status_code == 200 and not gone.json()["active"]
    assert gone.json()["withdrawn"] is not None
    assert badges.person_for_token(store, "bcn1." + "0" * 32) is None


def test_the_page_enrols_and_withdraws_with_csrf_and_no_inline_script(
    client: TestClient, store: SqliteStore, ann: int,
) -> None:
    assert client.get("/me/badges").status_code == 303  # signed out: to the login page
    sign_in(client, "ann")
    page = client.get("/me/badges")
    assert page.status_code == 200 and "No badge enrolled." in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # CSP: no inline script
    form = {"beacon_uuid": str(BADGE), "major": str(MAJOR), "minor": str(MINOR)}
    assert client.post("/me/badges", data={**form, "csrf_token": "forged"}).status_code == 403
    done = client.post("/me/badges", data={**form, "csrf_token": csrf_from(page.text)})
    assert done.status_code == 303
    listed = client.get("/me/badges")
    (badge,) = badges.mine(store, ann)
    assert f"Badge {badge.hint}" in listed.text and "Withdraw" in listed.text
    wrong = client.post("/me/badges", data={**form, "major": "x",
                                            "csrf_token": csrf_from(listed.text)})
    assert wrong.status_code == 422 and "major and minor" in wrong.text
    out = client.post(f"/me/badges/{badge.id}/withdraw",
                      data={"csrf_token": csrf_from(listed.text)})
    assert out.status_code == 303
    assert "withdrawn" in client.get("/me/badges").text
    assert badges.mine(store, ann)[0].withdrawn is not None


@pytest.mark.sqlite_only  # reads the SQLite file's bytes and dump; the SQL is the same on both
def test_the_raw_identifiers_never_reach_the_database(
    settings: HubSettings, store: SqliteStore, ann: int,
) -> None:
    badge = badges.enrol(store, settings, ann, BADGE, MAJOR, MINOR)
    handle_scans(store, settings, TOPIC, _scans(1, _token(settings)), Sent())
    badges.withdraw(store, ann, badge.id)
    badges.enrol(store, settings, ann, BADGE, MAJOR, MINOR)
    store.db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    with sqlite3.connect(store.path) as conn:
        dump = "\n".join(conn.iterdump()).lower()
    raw = store.path.read_bytes()
    packed = struct.pack(">16sHH", BADGE.bytes, MAJOR, MINOR)
    for needle in (str(BADGE), BADGE.hex, packed.hex(), f"{MAJOR:04x}{MINOR:04x}"):
        assert needle not in dump, needle
    assert BADGE.bytes not in raw and packed not in raw
    assert _token(settings)[5:] in dump  # the check above can see a hash: it is there


def test_configs_are_republished_when_enrolment_changes(
    settings: HubSettings, store: SqliteStore, ann: int,
) -> None:
    sent = Sent()
    publisher = ConfigPublisher(store, sent, interval=0.0)
    assert publisher.poll() >= 2  # every agent of the building, at start
    assert publisher.poll() == 0  # nothing changed
    topics = {t for t, *_ in sent}
    assert f"deskpulse/v1/{SITE}/{AGENT}/config" in topics
    sent.clear()
    badge = badges.enrol(store, settings, ann, BADGE, MAJOR, MINOR)
    publisher.poll()
    mine = [(p, q, r) for t, p, q, r in sent if t == f"deskpulse/v1/{SITE}/{AGENT}/config"]
    assert len(mine) == 1 and mine[0][1:] == (1, True)
    config = decode(f"deskpulse/v1/{SITE}/{AGENT}/config", mine[0][0], now=time.time())
    assert isinstance(config, Config) and config.badges == (_token(settings)[5:],)
    assert config.key_epoch == badges.KEY_EPOCH
    assert {d.desk for d in config.desks} == {"hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"}
    sent.clear()
    badges.withdraw(store, ann, badge.id)
    publisher.poll()
    last = decode(sent[0][0], sent[0][1], now=time.time())
    assert isinstance(last, Config) and last.badges == ()


def test_enrolment_and_withdrawal_are_recorded_as_consent(tmp_path: Path) -> None:
    """PRIVACY 5: enrolling a badge is an opt-in with a consent record; withdrawing ends it."""
    from hub.privacy import consent

    store = SqliteStore(tmp_path / "consent.db")
    settings = HubSettings(data_dir=tmp_path)
    person = 41
    badge = badges.enrol(store, settings, person, uuid.uuid4(), 1, 2, now=1000.0)
    assert consent.in_force(store.db, person, "badge_enrolment")
    badges.withdraw(store, person, badge.id, now=2000.0)
    assert not consent.in_force(store.db, person, "badge_enrolment")
    store.close()
