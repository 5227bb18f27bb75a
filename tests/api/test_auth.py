"""Authentication at the HTTP edge: bearer tokens, session login with CSRF, rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.app import CONTENT_SECURITY_POLICY
from hub.auth import accounts
from hub.db.sqlite.store import SqliteStore
from tests.support.building import SITE
from tests.support.web import csrf_from, login

AUTH_REQUIRED = {
    "detail": "authentication required: log in at /login or send Authorization: Bearer <token>"
}
API_ROUTES = ["/api/v1/sites", f"/api/v1/desks?site={SITE}",
              f"/api/v1/utilisation?site={SITE}", f"/api/v1/agents?site={SITE}"]


@pytest.mark.parametrize("path", API_ROUTES)
def test_every_api_route_needs_authentication(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED
    assert response.headers["www-authenticate"] == "Bearer"


def test_bearer_token_works(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/sites", headers=auth)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == ["hq", "lab"]


@pytest.mark.parametrize("header", [
    "Bearer not-a-token", "Bearer " + "A" * 43, "Basic dXNlcjpwYXNz", "Bearer",
])
def test_wrong_credentials_are_401(client: TestClient, token: str, header: str) -> None:
    response = client.get("/api/v1/sites", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"] in (
        "invalid or revoked API token", AUTH_REQUIRED["detail"]
    )


def test_wrong_bearer_token_detail(client: TestClient, token: str) -> None:
    response = client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}x"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or revoked API token"}


def test_dashboard_redirects_to_login_when_signed_out(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_login_sets_a_hardened_session_cookie_and_opens_the_api(
    client: TestClient, manager: tuple[str, str], store: SqliteStore
) -> None:
    response = login(client, *manager)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("deskpulse_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    value = cookie.split(";")[0].split("=", 1)[1]
    stored = [r["token_hash"] for r in store.db.query("SELECT token_hash FROM sessions")]
    assert stored == [accounts.hash_token(value)]
    assert client.get("/api/v1/sites").status_code == 200
    page = client.get("/")
    assert page.status_code == 200
    assert "/static/app.js" in page.text and "mia" in page.text


def test_session_cookie_is_secure_over_https(
    app: FastAPI, manager: tuple[str, str]
) -> None:
    with TestClient(app, base_url="https://hub.example", follow_redirects=False) as secure:
        response = login(secure, *manager)
        assert response.status_code == 303
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("deskpulse_session="))
        assert "Secure" in session
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_login_without_or_with_a_bad_csrf_token_is_403(
    client: TestClient, manager: tuple[str, str]
) -> None:
    page = client.get("/login")
    good = csrf_from(page.text)
    for token in ("", good[:-1] + ("0" if good[-1] != "0" else "1"), "x" * 64):
        response = client.post("/login", data={
            "username": manager[0], "password": manager[1], "csrf_token": token})
        assert response.status_code == 403
        assert "invalid or missing CSRF token" in response.text
        assert "deskpulse_session" not in response.headers.get("set-cookie", "")


def test_csrf_token_is_bound_to_the_browser_cookie(
    client: TestClient, app: FastAPI, manager: tuple[str, str]
) -> None:
    """A token scraped by another browser does not work without that browser's cookie."""
    attacker_token = csrf_from(client.get("/login").text)
    with TestClient(app, follow_redirects=False) as victim:
        victim.get("/login")  # the victim has a CSRF cookie of their own
        response = victim.post("/login", data={
            "username": manager[0], "password": manager[1], "csrf_token": attacker_token})
        assert response.status_code == 403


def test_wrong_password_is_401_with_a_message(
    client: TestClient, manager: tuple[str, str]
) -> None:
    response = login(client, manager[0], "nope")
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert client.get("/api/v1/sites").status_code == 401


def test_rate_limit_429_after_five_failures(client: TestClient, manager: tuple[str, str]) -> None:
    for _ in range(accounts.LOGIN_MAX_FAILURES):
        assert login(client, manager[0], "wrong").status_code == 401
    blocked = login(client, *manager)  # even the right password, for 5 minutes
    assert blocked.status_code == 429
    assert "too many failed logins; try again in 5 minutes" in blocked.text
    assert "deskpulse_session" not in blocked.headers.get("set-cookie", "")


def test_logout_needs_csrf_and_ends_the_session(
    client: TestClient, manager: tuple[str, str], store: SqliteStore
) -> None:
    assert login(client, *manager).status_code == 303
    page = client.get("/")
    refused = client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "invalid or missing CSRF token: reload the page and try again"}
    assert client.get("/api/v1/sites").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert store.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    client.cookies.clear()
    assert client.get("/api/v1/sites").status_code == 401


def test_stolen_cookie_stops_working_after_logout(
    client: TestClient, app: FastAPI, manager: tuple[str, str]
) -> None:
    login(client, *manager)
    session = client.cookies.get("deskpulse_session")
    assert session
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").text)})
    with TestClient(app) as other:
        other.cookies.set("deskpulse_session", session)
        assert other.get("/api/v1/sites").json() == AUTH_REQUIRED


def test_employee_cannot_see_agents(client: TestClient, store: SqliteStore) -> None:
    token = accounts.create_api_token(store.db, "kiosk", role="employee")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/sites", headers=headers).status_code == 200
    response = client.get(f"/api/v1/agents?site={SITE}", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "this needs the manager role"}


def test_login_page_has_no_inline_script_or_style(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script>" not in page.text and "style=" not in page.text and "<style" not in page.text


def test_one_time_admin_password_must_be_replaced(
    client: TestClient, store: SqliteStore
) -> None:
    one_time = accounts.ensure_admin(store.db)
    assert one_time is not None
    response = login(client, "admin", one_time)
    assert response.status_code == 303
    assert response.headers["location"] == "/account/password"
    assert client.get("/").headers["location"] == "/account/password"
    form = client.get("/account/password")
    assert "one-time password" in form.text
    csrf = csrf_from(form.text)

    def change(current: str, new: str, confirm: str, token: str = csrf) -> Any:
        return client.post("/account/password", data={
            "current": current, "new": new, "confirm": confirm, "csrf_token": token})

    assert change(one_time, "new-admin-pw-1", "new-admin-pw-1", "forged").status_code == 403
    short = change(one_time, "short", "short")
    assert short.status_code == 400 and "at least 12 characters" in short.text
    mismatch = change(one_time, "new-admin-pw-1", "new-admin-pw-2")
    assert mismatch.status_code == 400 and "do not match" in mismatch.text
    wrong = change("guess-guess", "new-admin-pw-1", "new-admin-pw-1")
    assert wrong.status_code == 401 and "the current password is wrong" in wrong.text
    done = change(one_time, "new-admin-pw-1", "new-admin-pw-1")
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert client.get("/").status_code == 200  # this session survives the change
    client.cookies.clear()
    assert login(client, "admin", one_time).status_code == 401
    assert login(client, "admin", "new-admin-pw-1").headers["location"] == "/"


def test_password_page_needs_a_session(client: TestClient) -> None:
    assert client.get("/account/password").headers["location"] == "/login"
    response = client.post("/account/password", data={"current": "a"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
