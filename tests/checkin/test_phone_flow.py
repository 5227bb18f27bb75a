"""The desk label's phone page over HTTP: sign in, one tap in, see it, one tap out."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from hub.checkin import labels, service
from hub.db.sqlite.store import SqliteStore
from tests.support.building import Desks
from tests.support.web import PASSWORD, csrf_from, sign_in


def test_sign_in_check_in_and_out_from_the_label(
    client: TestClient, store: SqliteStore, ann: int,
) -> None:
    code = labels.issue_code(store, "hq-d3")
    page = client.get(f"/d/{code}")
    assert page.status_code == 200
    assert "Desk 3" in page.text and "First floor" in page.text
    assert f'action="/d/{code}/login"' in page.text
    signed_in = client.post(f"/d/{code}/login", data={
        "username": "ann", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == f"/d/{code}"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    page = client.get(f"/d/{code}")
    assert "This desk is free." in page.text
    checked_in = client.post(f"/d/{code}/checkin", data={"csrf_token": csrf_from(page.text)})
    assert checked_in.status_code == 303
    page = client.get(f"/d/{code}")
    assert "You are checked in here" in page.text
    mine = service.current(store, ann)
    assert mine is not None and (mine.desk, mine.via) == ("hq-d3", "phone")
    out = client.post(f"/d/{code}/checkout", data={"csrf_token": csrf_from(page.text)})
    assert out.status_code == 303
    assert service.current(store, ann) is None
    assert service.history(store, ann)[0].end_reason == "checkout"
    assert "This desk is free." in client.get(f"/d/{code}").text


def test_a_desk_taken_by_someone_else_says_so_without_naming_them(
    client: TestClient, store: SqliteStore, ann: int, bob: int,
) -> None:
    code = labels.issue_code(store, "hq-d1")
    service.check_in(store, bob, "hq-d1", via="phone")
    sign_in(client, "ann")
    page = client.get(f"/d/{code}")
    assert "by someone else right now" in page.text
    assert "bob" not in page.text and 'action="/d/' not in page.text  # no button to press
    token = csrf_from(client.get("/account/password").text)  # a stale page's form, say
    refused = client.post(f"/d/{code}/checkin", data={"csrf_token": token})
    assert refused.status_code == 409 and "bob" not in refused.text
    assert service.current(store, ann) is None


def test_checking_in_elsewhere_is_shown_and_moves(
    client: TestClient, store: SqliteStore, ann: int,
) -> None:
    service.check_in(store, ann, "hq-d2", via="phone")
    code = labels.issue_code(store, "hq-d4")
    sign_in(client, "ann")
    page = client.get(f"/d/{code}")
    assert "You are checked in at Desk 2" in page.text
    client.post(f"/d/{code}/checkin", data={"csrf_token": csrf_from(page.text)})
    mine = service.current(store, ann)
    assert mine is not None and mine.desk == "hq-d4"
    assert service.history(store, ann)[1].end_reason == "moved"


def test_forms_need_the_csrf_token_and_a_session(
    client: TestClient, store: SqliteStore, ann: int,
) -> None:
    code = labels.issue_code(store, "hq-d1")
    page = client.get(f"/d/{code}")
    bad = client.post(f"/d/{code}/login", data={"username": "ann", "password": PASSWORD,
                                                "csrf_token": "forged"})
    assert bad.status_code == 403
    wrong = client.post(f"/d/{code}/login", data={
        "username": "ann", "password": "nope", "csrf_token": csrf_from(page.text)})
    assert wrong.status_code == 401 and "wrong username or password" in wrong.text
    assert client.post(f"/d/{code}/checkin",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 401
    sign_in(client, "ann")
    assert client.post(f"/d/{code}/checkin", data={"csrf_token": "x"}).status_code == 403
    assert service.current(store, ann) is None


def test_revoked_or_unknown_label_is_404(client: TestClient, store: SqliteStore) -> None:
    code = labels.issue_code(store, "hq-d1")
    labels.issue_code(store, "hq-d1")
    for path in (f"/d/{code}", "/d/not-a-code-at-all", "/d/%2e%2e"):
        response = client.get(path)
        assert response.status_code == 404
        assert "not valid any more" in response.text


def test_personal_qr_page_uses_a_static_script(client: TestClient, ann: int) -> None:
    assert client.get("/me/qr").status_code == 303
    sign_in(client, "ann")
    page = client.get("/me/qr")
    assert page.status_code == 200
    assert '<script src="/static/checkin.js"' in page.text
    assert "<script>" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/checkin.js").status_code == 200


def test_a_desk_the_sensor_reports_occupied_says_so_and_still_lets_the_person_choose(
    client: TestClient, store: SqliteStore, ann: int,
) -> None:
    """Nobody has checked in, but the desk's sensor says someone sits there: the page says
    so (anonymously) and offers "Check in anyway", which works."""
    sensors = Desks(store)
    sensors.send(("hq-d2", "occupied", time.time() - 5))
    code = labels.issue_code(store, "hq-d2")
    sign_in(client, "ann")
    page = client.get(f"/d/{code}")
    assert "Someone seems to be sitting here (sensor)." in " ".join(page.text.split())
    assert "This desk is free." not in page.text
    assert 'id="checkin-button"' in page.text and "Check in anyway" in page.text
    done = client.post(f"/d/{code}/checkin", data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 303
    mine = service.current(store, ann)
    assert mine is not None and mine.desk == "hq-d2"
    assert "You are checked in here" in client.get(f"/d/{code}").text

    sensors.send(("hq-d1", "vacant", time.time()))
    service.check_out(store, ann, reason="checkout")
    other = labels.issue_code(store, "hq-d1")  # a desk whose sensor says vacant: just free
    assert "This desk is free." in client.get(f"/d/{other}").text
