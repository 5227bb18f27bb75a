"""Consent records: purpose, notice version and time; a new notice asks again; withdrawal
stops the processing at once."""

from __future__ import annotations

import pytest

from hub.checkin import colleagues
from hub.db.sqlite.store import SqliteStore
from hub.privacy import consent
from tests.support.people import make_person


@pytest.fixture
def cem(store: SqliteStore) -> int:
    """Checked in at hq-d4 right now, not yet opted in to anything."""
    person = make_person(store, "cem", "hq-d4")
    colleagues.set_visible(store, person, False)
    store.db.execute("INSERT INTO checkins (person_id, desk, site, via, start) "
                     "VALUES (?, 'hq-d4', 'hq', 'phone', 1.0)", [person])
    return person


def _findable(store: SqliteStore) -> list[str]:
    return [row["name"] for row in colleagues.findable(store, policy=True)]


def test_opting_in_records_purpose_notice_and_time(store: SqliteStore, cem: int) -> None:
    assert _findable(store) == []
    colleagues.set_visible(store, cem, True)
    assert _findable(store) == ["cem"]
    latest = consent.history(store.db, cem)[-1]
    assert latest["purpose"] == "colleague_visibility"
    assert latest["notice_version"] == consent.NOTICE_VERSION
    assert latest["given"] > 0 and latest["withdrawn"] is None


def test_withdrawal_stops_processing_at_once(store: SqliteStore, cem: int) -> None:
    colleagues.set_visible(store, cem, True)
    colleagues.set_visible(store, cem, False)
    assert _findable(store) == [] and not colleagues.is_visible(store, cem)
    assert consent.history(store.db, cem)[-1]["withdrawn"] is not None


def test_a_new_notice_version_asks_again(
    store: SqliteStore, cem: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    colleagues.set_visible(store, cem, True)
    monkeypatch.setattr(consent, "NOTICE_VERSION", "2027-01-1")
    assert not colleagues.is_visible(store, cem)
    assert _findable(store) == []  # the old consent no longer counts
    colleagues.set_visible(store, cem, True)  # the person agrees to the new notice
    assert _findable(store) == ["cem"]
    versions = [(r["notice_version"], r["withdrawn"] is None)
                for r in consent.history(store.db, cem)
                if r["purpose"] == "colleague_visibility"]
    assert versions[-2:] == [("2026-11-1", False), ("2027-01-1", True)]


def test_badge_enrolment_consent_is_separate(store: SqliteStore, cem: int) -> None:
    consent.give(store.db, cem, "badge_enrolment")
    assert consent.in_force(store.db, cem, "badge_enrolment")
    assert not consent.in_force(store.db, cem, "colleague_visibility")
    assert consent.withdraw(store.db, cem, "badge_enrolment") == 1
    assert not consent.in_force(store.db, cem, "badge_enrolment")
    with pytest.raises(ValueError, match="unknown consent purpose"):
        consent.give(store.db, cem, "marketing")  # type: ignore[arg-type]
