"""The token rules over HTTP (issue 5, Done-when): tampered -> 401, expired -> 401,
replayed -> 409, wrong desk -> 409; plus who may see which check-in."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from hub.checkin import service, tokens
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.web import sign_in

SCAN = "/api/v1/checkins/token-scan"


def _token(store: SqliteStore, settings: HubSettings, person: int, **kwargs: object) -> str:
    token, _ = service.issue_token(store, settings, person, **kwargs)  # type: ignore[arg-type]
    return token


def test_a_personal_token_checks_in_then_a_second_scan_checks_out(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
    manager_auth: dict[str, str],
) -> None:
    first = client.post(SCAN, json={"token": _token(store, settings, ann), "desk": "hq-d1"},
                        headers=manager_auth)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "checked_in"
    assert first.json()["checkin"]["desk"] == "hq-d1"
    assert "ann" not in first.text
    second = client.post(SCAN, json={"token": _token(store, settings, ann), "desk": "hq-d1"},
                         headers=manager_auth)
    assert second.json()["result"] == "checked_out"
    assert second.json()["checkin"]["end_reason"] == "scan"


def test_tampered_token_is_401(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
    manager_auth: dict[str, str],
) -> None:
    token = _token(store, settings, ann)
    head, payload, mac = token.split(".")
    forged = f"{head}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    response = client.post(SCAN, json={"token": forged, "desk": "hq-d1"}, headers=manager_auth)
    assert response.status_code == 401
    other = tokens.sign(tokens.derive_key("some-other-hub-secret-xyz"),
                        service.pseudonym_for(store, ann), now=time.time())
    assert client.post(SCAN, json={"token": other, "desk": "hq-d1"},
                       headers=manager_auth).status_code == 401
    assert service.current(store, ann) is None


def test_expired_token_is_401(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
    manager_auth: dict[str, str],
) -> None:
    token = _token(store, settings, ann, now=time.time() - 61)
    response = client.post(SCAN, json={"token": token, "desk": "hq-d1"}, headers=manager_auth)
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"


def test_replayed_token_is_409(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
    manager_auth: dict[str, str],
) -> None:
    token = _token(store, settings, ann)
    assert client.post(SCAN, json={"token": token, "desk": "hq-d1"},
                       headers=manager_auth).status_code == 200
    again = client.post(SCAN, json={"token": token, "desk": "hq-d1"}, headers=manager_auth)
    assert again.status_code == 409
    assert again.json()["detail"] == "token was already used"
    elsewhere = client.post(SCAN, json={"token": token, "desk": "hq-d2"}, headers=manager_auth)
    assert elsewhere.status_code == 409
    assert service.current(store, ann) is not None  # still checked in: replay changed nothing


def test_wrong_desk_token_is_409_and_stays_usable(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
    manager_auth: dict[str, str],
) -> None:
    token = _token(store, settings, ann, desk="hq-d2")
    wrong = client.post(SCAN, json={"token": token, "desk": "hq-d1"}, headers=manager_auth)
    assert wrong.status_code == 409
    assert wrong.json()["detail"] == "token is for another desk"
    assert client.post(SCAN, json={"token": token, "desk": "hq-d2"},
                       headers=manager_auth).status_code == 200


def test_desk_taken_is_409_and_unknown_desk_404(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int, bob: int,
    manager_auth: dict[str, str],
) -> None:
    service.check_in(store, bob, "hq-d1", via="phone")
    taken = client.post(SCAN, json={"token": _token(store, settings, ann), "desk": "hq-d1"},
                        headers=manager_auth)
    assert taken.status_code == 409
    assert "bob" not in taken.text
    unknown = client.post(SCAN, json={"token": _token(store, settings, ann), "desk": "nope"},
                          headers=manager_auth)
    assert unknown.status_code == 404


def test_token_scan_needs_a_manager_or_camera_token(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
) -> None:
    assert client.post(SCAN, json={"token": "dp1.x.y", "desk": "hq-d1"}).status_code == 401
    sign_in(client, "ann")
    assert client.post(SCAN, json={"token": "dp1.x.y", "desk": "hq-d1"}).status_code == 403


def test_my_qr_token_is_fresh_single_use_and_mine(
    client: TestClient, store: SqliteStore, settings: HubSettings, ann: int,
    manager_auth: dict[str, str],
) -> None:
    assert client.get("/api/v1/me/qr-token").status_code == 401
    sign_in(client, "ann")
    first = client.get("/api/v1/me/qr-token")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["image"].startswith("data:image/svg+xml;base64,")
    assert body["refresh_seconds"] == 30
    assert 0 < body["expires"] - time.time() <= 60
    assert client.get("/api/v1/me/qr-token").json()["token"] != body["token"]
    claims = tokens.verify(service.token_key(settings), body["token"], now=time.time())
    assert claims.person == service.pseudonym_for(store, ann)
    assert "ann" not in body["token"]


def test_me_checkins_shows_only_my_own(
    client: TestClient, store: SqliteStore, ann: int, bob: int, manager_auth: dict[str, str],
) -> None:
    mine = service.check_in(store, ann, "hq-d1", via="phone", now=time.time() - 60)
    service.check_out(store, ann)
    theirs = service.check_in(store, bob, "hq-d2", via="phone")
    sign_in(client, "ann")
    listing = client.get("/api/v1/me/checkins").json()
    assert [c["id"] for c in listing["checkins"]] == [mine.id]
    assert listing["current"] is None
    assert listing["checkins"][0]["duration"] > 0
    assert client.get(f"/api/v1/me/checkins/{mine.id}").status_code == 200
    other = client.get(f"/api/v1/me/checkins/{theirs.id}")
    missing = client.get("/api/v1/me/checkins/999999")
    assert client.get(f"/api/v1/me/checkins/{2**70}").status_code == 422
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == f"no check-in {theirs.id}"
    # An API token names no person.
    client.cookies.clear()
    assert client.get("/api/v1/me/checkins", headers=manager_auth).status_code == 403
