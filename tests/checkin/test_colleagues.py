"""Colleague visibility: off by default, needs company policy AND the person's own opt-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.checkin import colleagues, service
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.web import csrf_from, sign_in


@pytest.fixture
def allowed(settings: HubSettings, store: SqliteStore) -> Iterator[TestClient]:
    """A client of a hub whose company policy allows colleague visibility."""
    policy = settings.model_copy(update={"colleague_visibility": True})
    with TestClient(create_app(policy, store), follow_redirects=False) as client:
        yield client


def test_nobody_is_findable_by_default_or_without_the_policy(
    store: SqliteStore, ann: int, bob: int,
) -> None:
    service.check_in(store, bob, "hq-d1", via="phone")
    assert not colleagues.is_visible(store, bob)
    assert colleagues.findable(store, policy=True) == []  # bob never opted in
    colleagues.set_visible(store, bob, True)
    assert colleagues.findable(store, policy=False) == []  # the policy is off
    found = colleagues.findable(store, policy=True)
    assert [(p["name"], p["desk"], p["floor"]) for p in found] == [
        ("bob", "Desk 1", "First floor")]
    service.check_out(store, bob)
    assert colleagues.findable(store, policy=True) == []  # only while checked in


def test_opting_in_and_out_through_the_page(
    allowed: TestClient, store: SqliteStore, ann: int, bob: int,
) -> None:
    service.check_in(store, bob, "hq-d2", via="phone")
    sign_in(allowed, "bob")
    page = allowed.get("/me/privacy")
    assert 'id="visible">' in page.text and "Currently: not findable" in page.text  # off
    saved = allowed.post("/me/privacy", data={"visible": "on",
                                              "csrf_token": csrf_from(page.text)})
    assert saved.status_code == 303 and colleagues.is_visible(store, bob)
    confirmed = allowed.get(saved.headers["location"]).text  # the person sees it took effect
    assert "Saved: colleagues can find you while you are checked in." in confirmed
    assert allowed.post("/me/privacy", data={"visible": "on", "csrf_token": "x"}
                        ).status_code == 403
    allowed.cookies.clear()
    sign_in(allowed, "ann")
    listed = allowed.get("/api/v1/colleagues")
    assert listed.status_code == 200
    assert [(p["name"], p["desk"]) for p in listed.json()] == [("bob", "Desk 2")]
    assert "bob" in allowed.get("/colleagues").text
    allowed.cookies.clear()
    sign_in(allowed, "bob")
    page = allowed.get("/me/privacy")
    allowed.post("/me/privacy", data={"csrf_token": csrf_from(page.text)})  # unchecked: off
    assert not colleagues.is_visible(store, bob)
    assert allowed.get("/api/v1/colleagues").json() == []


def test_without_the_policy_nothing_is_offered_or_shown(
    client: TestClient, store: SqliteStore, ann: int, bob: int,
) -> None:
    colleagues.set_visible(store, bob, True)  # an earlier choice, say
    service.check_in(store, bob, "hq-d3", via="phone")
    sign_in(client, "bob")
    page = client.get("/me/privacy")
    assert 'id="visible"' not in page.text and "does not allow" in page.text
    # Even a forged form cannot switch it on while the policy is off; off always works.
    client.post("/me/privacy", data={"visible": "on", "csrf_token": csrf_from(
        client.get("/account/password").text)})
    assert not colleagues.is_visible(store, bob)
    assert client.get("/api/v1/colleagues").status_code == 404
    off = client.get("/colleagues")
    own = ("Signed in as bob", "bob · employee")  # the page's own line, the shared header's
    assert off.status_code == 404 and "bob" not in off.text.replace(own[0], "").replace(
        own[1], "")
