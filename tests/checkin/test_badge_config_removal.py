"""A removed badge leaves the agents' retained config at once, whatever removed it.

PRIVACY.md item 11 and issue 24, item 2: a self-service account deletion removed the badge
rows but did not republish the agents' ``config``, so the person's badge hash stayed
retained on the broker (and on every Pi) until someone else enrolled or withdrew a badge.
Each test reads the retained config from a real Mosquitto, as a Pi connecting later
would. Both store engines.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge.protocol import Config, decode, topic_for
from hub.checkin import badges
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.ingest.ingestor import Ingestor
from hub.privacy import rights
from tests.broker import Mosquitto
from tests.edge.helpers import Subscriber
from tests.support.web import csrf_from, sign_in

pytestmark = pytest.mark.broker

SITE, AGENT = "hq", "hq-agent-1"
BADGE = uuid.UUID("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d")


def retained_badges(port: int) -> tuple[str, ...]:
    """The badge hashes in the agent's retained config, as a Pi connecting now gets them."""
    watcher = Subscriber(port, topic_for(SITE, AGENT, "config"))
    try:
        got = watcher.wait_for(lambda ms: ms[-1] if ms else None, timeout=5)
    finally:
        watcher.close()
    config = decode(got.topic, got.payload, now=time.time())
    assert isinstance(config, Config)
    return config.badges


def eventually(port: int, check: Callable[[tuple[str, ...]], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(retained_badges(port)):
            return True
        time.sleep(0.2)
    return check(retained_badges(port))


def enrolled(store: Store, settings: HubSettings, person: int, port: int) -> str:
    """Enrol the person's badge and wait until the agents' config carries its hash."""
    badges.enrol(store, settings, person, BADGE, 1, person % 65536)
    value = badges.enrolled_hashes(store)[-1]
    assert eventually(port, lambda held: value in held), "the enrolment never reached the broker"
    return value


def test_self_service_deletion_republishes_the_config_without_the_hash(
    fresh_broker: Mosquitto, settings: HubSettings, store: Store, ingestor: Ingestor,
    client: TestClient, ann: int,
) -> None:
    value = enrolled(store, settings, ann, fresh_broker.port)
    sign_in(client, "ann")
    assert client.delete("/api/v1/me").status_code == 200
    assert eventually(fresh_broker.port, lambda held: value not in held)


def test_deleting_ones_account_on_the_page_republishes_too(
    fresh_broker: Mosquitto, settings: HubSettings, store: Store, ingestor: Ingestor,
    client: TestClient, ann: int,
) -> None:
    value = enrolled(store, settings, ann, fresh_broker.port)
    sign_in(client, "ann")
    form = client.get("/me/data")
    response = client.post("/me/data/delete", data={"confirm": "delete",
                                                    "csrf_token": csrf_from(form.text)})
    assert response.status_code == 200, response.text
    assert eventually(fresh_broker.port, lambda held: value not in held)


def test_reapplied_deletions_after_a_restore_republish(
    fresh_broker: Mosquitto, settings: HubSettings, store: Store, ingestor: Ingestor,
    ann: int, tmp_path: Path,
) -> None:
    """A backup restored after a deletion brings the badge back; re-applying the deletion
    log must take it off the broker again."""
    value = enrolled(store, settings, ann, fresh_broker.port)
    log_path = tmp_path / "deletions.log"
    with store.transaction() as db:
        user = db.execute("SELECT id, username, created FROM users WHERE id = ?", [ann]).fetchone()
        rights.delete(db, settings.ensure_secret_key(), ann, log_path)
    assert eventually(fresh_broker.port, lambda held: value not in held)
    with store.transaction() as db:  # the restore: the account and its badge are back
        db.execute("INSERT INTO users (id, username, password_hash, role, created) "
                   "VALUES (?, ?, 'x', 'employee', ?)", list(user))
        db.execute("INSERT INTO badges (person_id, hash, hint, enrolled) VALUES (?, ?, ?, ?)",
                   [ann, value, value[:8], time.time()])
    assert eventually(fresh_broker.port, lambda held: value in held)
    with store.transaction() as db:
        assert rights.reapply_deletions(db, settings.ensure_secret_key(), log_path) == 1
    assert eventually(fresh_broker.port, lambda held: value not in held)


def test_any_other_removal_of_badge_rows_republishes(
    fresh_broker: Mosquitto, settings: HubSettings, store: Store, ingestor: Ingestor,
    ann: int, bob: int,
) -> None:
    """Retention, a company-wide clean-up or a hand-run statement: no code path has to
    remember to tell the agents (the database counts every change to ``badges``)."""
    kept = enrolled(store, settings, bob, fresh_broker.port)
    value = enrolled(store, settings, ann, fresh_broker.port)
    with store.transaction() as db:
        db.execute("DELETE FROM badges WHERE person_id = ?", [ann])
    assert eventually(fresh_broker.port, lambda held: value not in held and kept in held)
