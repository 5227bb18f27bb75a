"""API hardening (PRIVACY.md 15-16; docs/security.md): every route needs a caller unless it
is on the public list, employees and managers never see other people, check-ins are
rate-limited in the database, HSTS only over TLS, request bodies are capped, no placeholder
MQTT password."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.api.deps import SESSION_COOKIE
from hub.auth import accounts, ratelimit
from hub.checkin import colleagues, labels, service
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from hub.errors import ConfigError
from tests.support.building import BUILDING
from tests.support.web import csrf_from, http_routes

SECRET = "hardening-tests-secret-0123456789"
PASSWORD = "a long test password"
# (method, path) reachable without signing in, and why.
PUBLIC = {
    ("GET", "/healthz"),  # liveness for load balancers: no data
    ("GET", "/login"), ("POST", "/login"),  # signing in
    ("POST", "/logout"),  # ends the caller's own session, if any
    ("GET", "/d/{code}"), ("POST", "/d/{code}/login"),  # a desk label's page: sign-in form
    ("GET", "/docs"), ("GET", "/openapi.json"),  # the API's description, no data
    # An invitation: the single-use link is the credential (256 bits, hashed, expiring).
    ("GET", "/invite/{token}"), ("POST", "/invite/{token}"),
    # Asking for a sign-in link by e-mail: the same answer for any address, rate-limited.
    ("GET", "/signin-link"), ("POST", "/signin-link"),
}
LOGIN_REDIRECT = "/login"


def make_settings(tmp_path: Path, **values: Any) -> HubSettings:
    return HubSettings(data_dir=tmp_path / "hub", secret_key=SECRET, **values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> HubSettings:
    return make_settings(tmp_path, checkin_rate_per_minute=3, database_url=database_url)


@pytest.fixture
def store(settings: HubSettings) -> Iterator[Store]:
    """The hub store on this test's engine (tests/conftest.py ``engine``)."""
    store = open_store(settings.store_url)
    store.import_building(BUILDING)
    accounts.ensure_schema(store.db)
    yield store
    store.close()


@pytest.fixture
def app(settings: HubSettings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def signed_in(app: FastAPI, store: Store, user_id: int) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, accounts.create_session(store.db, user_id))
    return client




def concrete(path: str, values: dict[str, str] | None = None) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: (values or {}).get(m.group(1), "1"), path)


# -- every route needs a caller ---------------------------------------------------------------

def test_every_route_refuses_a_caller_without_credentials(
    app: FastAPI, client: TestClient
) -> None:
    """JSON routes answer 401; pages send the browser to /login (or 401). POSTs carry a
    valid CSRF token so that the refusal seen is the authentication check, not CSRF."""
    csrf = csrf_from(client.get("/login").text)
    routes = http_routes(app)
    assert len(routes) > 20 and PUBLIC <= {(m, p) for m, p, _ in routes}
    leaks = []
    for method, path, is_api in routes:
        if (method, path) in PUBLIC:
            continue
        url = concrete(path)
        data = {"csrf_token": csrf} if method == "POST" else None
        response = client.request(method, url, data=data, params={"site": "hq"})
        location = response.headers.get("location", "")
        refused = response.status_code == 401 or (  # to sign in, and back here afterwards
            not is_api and response.status_code == 303
            and location.split("?next=")[0] == LOGIN_REDIRECT)
        if not refused:
            leaks.append(f"{method} {path} -> {response.status_code}")
    assert leaks == []


def test_a_revoked_or_made_up_bearer_token_is_401_everywhere(
    app: FastAPI, client: TestClient
) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    routes = [(m, p) for m, p, is_api in http_routes(app) if is_api and (m, p) not in PUBLIC]
    assert len(routes) > 10
    for method, path in routes:
        if True:
            response = client.request(method, concrete(path), headers=headers,
                                      params={"site": "hq"})
            assert response.status_code == 401, f"{method} {path}"


# -- employees and managers never see other people ------------------------------------------------

@pytest.fixture
def people(store: Store) -> dict[str, int]:
    ids = {name: accounts.create_user(store.db, name, PASSWORD, role) for name, role in
           [("ann", "employee"), ("bob-the-hidden", "employee"), ("mia", "manager"),
            ("cleo-visible", "employee")]}
    service.check_in(store, ids["bob-the-hidden"], "hq-d1", via="phone")
    service.check_in(store, ids["cleo-visible"], "hq-d2", via="phone")
    colleagues.set_visible(store, ids["cleo-visible"], True)
    service.check_in(store, ids["ann"], "hq-d3", via="phone")
    return ids


def bobs_checkin(store: Store, people: dict[str, int]) -> int:
    mine = service.current(store, people["bob-the-hidden"])
    assert mine is not None
    return mine.id


@pytest.mark.parametrize("policy", [False, True])
@pytest.mark.parametrize("who", ["ann", "mia"])
def test_no_get_route_shows_a_person_who_did_not_opt_in(
    tmp_path: Path, store: Store, people: dict[str, int], who: str, policy: bool
) -> None:
    """Walk every GET route as an employee and as a manager, with every path filled with a
    real object (bob's own check-in id included): bob's name never appears."""
    settings = make_settings(tmp_path, colleague_visibility=policy)
    app = create_app(settings, store)
    labels.issue_code(store, "hq-d1")
    values = {"site": "hq", "desk": "hq-d1", "checkin_id": str(bobs_checkin(store, people)),
              "fmt": "svg", "code": labels.active_code(store, "hq-d1") or "x"}
    seen = []
    with signed_in(app, store, people[who]) as client:
        for method, path, _ in http_routes(app):
            if method != "GET":
                continue
            response = client.get(concrete(path, values), params={"site": "hq"})
            assert response.status_code < 500, f"GET {path}"
            if "bob-the-hidden" in response.text:
                seen.append(path)
            if response.status_code == 200 and path == "/api/v1/colleagues":
                assert [c["name"] for c in response.json()] == ["cleo-visible"]
    assert seen == []


@pytest.mark.parametrize("who", ["ann", "mia"])
def test_another_persons_checkin_is_404_for_employees_and_managers(
    app: FastAPI, store: Store, people: dict[str, int], who: str
) -> None:
    bobs = bobs_checkin(store, people)
    with signed_in(app, store, people[who]) as client:
        response = client.get(f"/api/v1/me/checkins/{bobs}")
        assert response.status_code == 404
        mine = client.get("/api/v1/me/checkins").json()
        assert bobs not in [c["id"] for c in mine["checkins"]]


def test_employees_get_403_on_manager_routes_and_managers_get_aggregates(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    with signed_in(app, store, people["ann"]) as client:
        for url in ["/api/v1/checkins/figures?site=hq", "/api/v1/sites/hq/labels.pdf",
                    "/api/v1/desks/hq-d1/label.svg", "/metrics"]:
            assert client.get(url).status_code == 403, url
        assert client.post("/api/v1/checkins/token-scan",
                           json={"token": "x", "desk": "hq-d1"}).status_code == 403
    with signed_in(app, store, people["mia"]) as client:
        figures = client.get("/api/v1/checkins/figures?site=hq")
        assert figures.status_code == 200
        assert "bob" not in figures.text and "ann" not in figures.text


# -- check-in rate limit -------------------------------------------------------------------------

def test_the_rate_limit_window_slides(store: Store) -> None:
    ratelimit.ensure_schema(store)
    take = ratelimit.take
    assert [take(store, "k", limit=2, window=60, now=t) for t in (0, 10)] == [None, None]
    assert take(store, "k", limit=2, window=60, now=20) == pytest.approx(40)
    assert take(store, "other", limit=2, window=60, now=20) is None
    assert take(store, "k", limit=2, window=60, now=60.5) is None  # the first one left


def test_token_scans_over_the_limit_get_429_in_every_process(
    tmp_path: Path, settings: HubSettings, app: FastAPI, store: Store
) -> None:
    """A second app over its own connection to the same database shares the count."""
    token = accounts.create_api_token(store.db, "camera", role="manager")
    headers = {"Authorization": f"Bearer {token}"}
    scan = {"token": "not-a-token", "desk": "hq-d1"}
    with TestClient(app) as first:
        codes = [first.post("/api/v1/checkins/token-scan", json=scan, headers=headers)
                 .status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    other_store = open_store(settings.store_url)
    try:
        with TestClient(create_app(settings, other_store)) as second:
            refused = second.post("/api/v1/checkins/token-scan", json=scan, headers=headers)
    finally:
        other_store.close()
    assert refused.status_code == 429
    assert re.fullmatch(r"too many check-ins; try again in \d+ s", refused.json()["detail"])
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_phone_checkins_are_limited_per_person(
    app: FastAPI, store: Store, people: dict[str, int]
) -> None:
    code = labels.issue_code(store, "hq-d4")
    with signed_in(app, store, people["ann"]) as ann, signed_in(app, store, people["mia"]) as mia:
        csrf = csrf_from(ann.get(f"/d/{code}").text)
        codes = [ann.post(f"/d/{code}/{action}", data={"csrf_token": csrf}).status_code
                 for action in ("checkin", "checkout", "checkin", "checkout")]
        assert codes == [303, 303, 303, 429]
        other = labels.issue_code(store, "hq-d5")  # ann is still checked in at hq-d4
        csrf = csrf_from(mia.get(f"/d/{other}").text)
        assert mia.post(f"/d/{other}/checkin", data={"csrf_token": csrf}).status_code == 303


# -- HSTS only over TLS ------------------------------------------------------------------------

@pytest.mark.parametrize(("trust_proxy", "base", "forwarded", "hsts"), [
    (False, "http://hub", None, False),
    (False, "https://hub", None, True),
    (False, "http://hub", "https", False),  # anyone can send the header: not believed
    (True, "http://hub", "https", True),
    (True, "http://hub", "http", False),
    (True, "http://hub", None, False),
])
def test_hsts_only_when_the_browser_used_tls(
    tmp_path: Path, store: Store, trust_proxy: bool, base: str, forwarded: str | None,
    hsts: bool,
) -> None:
    app = create_app(make_settings(tmp_path, trust_proxy=trust_proxy), store)
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    with TestClient(app, base_url=base, follow_redirects=False) as client:
        for url in ("/healthz", "/login", "/api/v1/sites"):
            response = client.get(url, headers=headers)
            assert ("strict-transport-security" in response.headers) is hsts, url
        client.cookies.clear()
        cookie = client.get("/login", headers=headers).headers["set-cookie"]
        assert ("secure" in cookie.lower()) is hsts


@pytest.mark.parametrize("trust_proxy", [False, True])
def test_the_real_http_server_honours_trust_proxy_for_local_clients(
    tmp_path: Path, trust_proxy: bool
) -> None:
    """Issue 24, item 6: uvicorn trusts X-Forwarded-Proto from 127.0.0.1 by default and
    rewrote the scheme before the hub's own check, so HSTS and Secure cookies went out
    on plain HTTP with trust_proxy = false."""
    import httpx

    from hub.server import HubServer
    from tests.broker import free_port

    server = HubServer(make_settings(tmp_path, trust_proxy=trust_proxy, http_port=free_port()),
                       role="api")
    server.start()
    try:
        response = httpx.get(server.url + "login", headers={"X-Forwarded-Proto": "https"})
    finally:
        server.stop()
        server.store.close()
    assert response.status_code == 200
    assert ("strict-transport-security" in response.headers) is trust_proxy
    assert ("secure" in response.headers["set-cookie"].lower()) is trust_proxy


# -- body size -------------------------------------------------------------------------------

def test_bodies_over_the_limit_get_413_declared_or_streamed(
    tmp_path: Path, store: Store
) -> None:
    app = create_app(make_settings(tmp_path, max_body_bytes=4096), store)
    detail = "request body is larger than the limit of 4096 bytes"
    with TestClient(app, follow_redirects=False) as client:
        declared = client.post("/login", content=b"x" * 5000,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (declared.status_code, declared.json()) == (413, {"detail": detail})
        assert "content-security-policy" in declared.headers

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"username=" + b"x" * 1000

        streamed = client.post("/login", content=chunks(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (streamed.status_code, streamed.json()) == (413, {"detail": detail})
        small = client.post("/login", data={"username": "u", "password": "p"})
        assert small.status_code == 403  # reached the route: refused for its missing CSRF


def test_the_default_body_limit_is_5_mb(tmp_path: Path) -> None:
    assert make_settings(tmp_path).max_body_bytes == 5 * 1024 * 1024


# -- no placeholder MQTT password ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["changeme", "password", "", " Secret "])
def test_a_placeholder_mqtt_password_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    message = "mqtt_password is a placeholder; set the password printed by `deskpulse hub " \
              "agents hub-account` (as DESKPULSE_MQTT_PASSWORD)"
    with pytest.raises(ConfigError) as info:
        HubSettings.from_toml(None, data_dir=tmp_path, mqtt_password=value)
    assert str(info.value) == message
    monkeypatch.setenv("DESKPULSE_MQTT_PASSWORD", value)
    with pytest.raises(ConfigError):
        HubSettings.from_toml(None, data_dir=tmp_path)
    monkeypatch.setenv("DESKPULSE_MQTT_PASSWORD", "a-real-random-" + str(time.time_ns()))
    assert HubSettings.from_toml(None, data_dir=tmp_path).mqtt_password is not None
