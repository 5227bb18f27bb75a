"""The shared page layout, honest URLs, analytics roles and the floor map's desk panel,
over real FastAPI routes and SQLite (the browser tests check the same in Chromium)."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.routes.page_layout import admin_links, view_of
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.reports.rollup import refresh_rollups
from tests.support.building import BUILDING, Desks
from tests.support.web import login

PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html"}


def as_role(app: FastAPI, store: Store, role: str) -> TestClient:
    accounts.create_user(store.db, f"u-{role}", PASSWORD, role)  # type: ignore[arg-type]
    client = TestClient(app, follow_redirects=False)
    assert login(client, f"u-{role}", PASSWORD).status_code == 303
    return client


def test_views_and_admin_rows_follow_the_path() -> None:
    assert view_of("/") == "dashboard"
    assert view_of("/floors/hq-f1") == "floor"
    assert view_of("/admin/floors/x") == "constructor"
    assert view_of("/admin/people") == "admin"
    assert view_of("/me/data") == view_of("/account/password") == "me"
    links = admin_links("/admin/people/import", "admin")
    assert [link["href"] for link in links if link["current"]] == ["/admin/people/import"]
    assert [link["href"] for link in admin_links("/admin/labels", "manager")] == [
        "/admin/labels"]
    assert admin_links("/admin", "employee") == admin_links("/floors", "admin") == []


@pytest.mark.parametrize("role", ["employee", "manager", "admin"])
def test_every_signed_in_page_has_the_one_header(app: FastAPI, store: Store,
                                                 role: str) -> None:
    client = as_role(app, store, role)
    pages = ["/", "/floors", "/me/data", "/me/qr", "/me/badges", "/account/password"]
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text.count('<header class="topbar">') == 1, path
        assert '<a href="/me" data-view="me"' in page.text, path
        assert ('href="/analytics"' in page.text) is (role != "employee"), path


def test_analytics_is_for_managers_and_admins(app: FastAPI, store: Store) -> None:
    employee = as_role(app, store, "employee")
    page = employee.get("/analytics", headers=HTML)
    assert page.status_code == 403
    assert "Analytics per desk and zone is for managers and administrators" in page.text
    for path in ("/api/v1/utilisation", "/api/v1/utilisation/timeseries"):
        for group in ("desk", "zone"):
            refused = employee.get(f"{path}?site=hq&group={group}")
            assert refused.status_code == 403
            assert refused.json()["detail"].startswith("figures per desk and per zone")
        assert employee.get(f"{path}?site=hq&group=floor").status_code == 200
    manager = as_role(app, store, "manager")
    assert manager.get("/analytics").status_code == 200
    assert manager.get("/api/v1/utilisation?site=hq&group=desk").status_code == 200


def test_unknown_floors_and_pages_are_404_pages_for_browsers(app: FastAPI,
                                                             store: Store) -> None:
    client = as_role(app, store, "manager")
    missing = client.get("/floors/nosuch?site=hq", headers=HTML)
    assert missing.status_code == 404
    assert "Head office has no floor &#39;nosuch&#39;." in missing.text
    assert 'href="/floors"' in missing.text
    other_site = client.get("/floors/hq-f1?site=lab", headers=HTML)
    assert other_site.status_code == 404
    assert client.get("/floors/hq-f2?site=hq").status_code == 200
    nowhere = client.get("/no/such/page", headers=HTML)
    assert nowhere.status_code == 404 and "There is no page at /no/such/page." in nowhere.text
    api = client.get("/api/v1/nosuch", headers=HTML)  # the API keeps its JSON detail
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_the_desk_panel_shows_state_checkin_and_figures_for_managers(
    app: FastAPI, store: Store, settings: HubSettings
) -> None:
    now = time.time()
    Desks(store).send(("hq-d1", "occupied", now - 1200))
    refresh_rollups(store, time.time(), settings.bin_seconds)
    manager = as_role(app, store, "manager")
    body = manager.get("/api/v1/desks/hq-d1/summary?site=hq").json()
    assert body["state"] == "occupied" and body["since"] == pytest.approx(now - 1200)
    assert body["timezone"] == "Europe/Berlin"
    assert body["checked_in"] is False
    assert len(body["days"]) == 7
    # Core hours are all day in BUILDING; yesterday too, should the test run just after
    # local midnight.
    assert sum(d["occupied_seconds"] for d in body["days"][-2:]) >= 1100
    assert body["days"][-1]["occupied_seconds"] == body["today_occupied_seconds"]
    employee = as_role(app, store, "employee")
    mine = employee.get("/api/v1/desks/hq-d1/summary?site=hq").json()
    assert mine["state"] == "occupied" and mine["days"] is None
    assert mine["today_occupied_seconds"] is None
    missing = manager.get("/api/v1/desks/lab-d1/summary?site=hq")  # a desk of another site
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no desk 'lab-d1' in site 'hq'"


def test_the_panel_of_an_assigned_desk_shows_nothing_live(app: FastAPI, store: Store) -> None:
    building = {"sites": [dict(BUILDING["sites"][0])]}
    floors = [dict(f) for f in building["sites"][0]["floors"]]
    zone = dict(floors[0]["zones"][0])
    zone["desks"] = [{**zone["desks"][0], "assigned": True}, *zone["desks"][1:]]
    floors[0] = {**floors[0], "zones": [zone, *floors[0]["zones"][1:]]}
    building["sites"][0]["floors"] = floors
    store.import_building(building)
    Desks(store).send(("hq-d1", "occupied", time.time()))
    body = as_role(app, store, "manager").get("/api/v1/desks/hq-d1/summary?site=hq").json()
    assert body["state"] == "assigned" and body["since"] is None
    assert body["checked_in"] is None and body["days"] is None
    assert body["sensor"] == "not-shown"
