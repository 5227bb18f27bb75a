"""The floor constructor's API (issue 7 item 2): roles, CSRF for browser sessions, edits
with 409 instead of lost history, export/import round trips that keep history and QR
labels, and floor-plan uploads checked for real."""

from __future__ import annotations

import copy
import csv
import io
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from hub.api.app import create_app
from hub.auth import accounts
from hub.checkin import labels, service
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.support.building import BUILDING, Desks
from tests.support.web import PASSWORD, session

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
GOOD_SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            b'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 800 400">'
            b'<defs><linearGradient id="g"/></defs><style>rect { stroke: #333; }</style>'
            b'<rect width="800" height="400" fill="url(#g)"/><use xlink:href="#g"/></svg>')




def png(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims width x height: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))




def page_csrf(client: TestClient) -> str:
    page = client.get("/admin/floors?site=hq")
    assert page.status_code == 200, page.text
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match
    return match.group(1)


# -- roles and CSRF ----------------------------------------------------------------------------

def test_only_administrators_may_edit_or_read_the_constructor(
    app: FastAPI, store: SqliteStore, client: TestClient, auth: dict[str, str]
) -> None:
    floor = {"id": "hq-f3", "name": "Third"}
    assert client.post("/api/v1/sites/hq/floors", json=floor).status_code == 401
    refused = client.post("/api/v1/sites/hq/floors", json=floor, headers=auth)  # manager
    assert (refused.status_code, refused.json()) == (403, {"detail": "this needs the admin role"})
    assert client.get("/api/v1/sites/hq/layout", headers=auth).status_code == 403
    assert client.get("/api/v1/sites/hq/building.json", headers=auth).status_code == 403
    with session(app, store, "emma", "employee") as emma:
        assert emma.post("/api/v1/sites/hq/floors", json=floor).status_code == 403
        assert emma.get("/admin/floors").status_code == 403
        assert emma.get("/api/v1/sites/hq/plans").status_code == 200  # the map's data
    assert "hq-f3" not in [f["id"] for f in store.floors("hq")]


def test_a_browser_session_needs_the_pages_csrf_token(app: FastAPI, store: SqliteStore) -> None:
    with session(app, store, "ada", "admin") as ada:
        refused = ada.post("/api/v1/sites/hq/floors", json={"id": "hq-f3"})
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("invalid or missing CSRF token")
        forged = ada.post("/api/v1/sites/hq/floors", json={"id": "hq-f3"},
                          headers={"X-CSRF-Token": "0" * 64})
        assert forged.status_code == 403
        token = page_csrf(ada)
        made = ada.post("/api/v1/sites/hq/floors", json={"id": "hq-f3", "name": "Third"},
                        headers={"X-CSRF-Token": token})
        assert made.status_code == 201, made.text
        assert {"id": "hq-f3", "name": "Third", "level": 3, "plan": None} in made.json()["floors"]
        nav = ada.get("/admin/floors/hq-f3?site=hq").text
        assert 'href="/admin/floors"' in nav and "Floor constructor" in nav


def test_the_nav_link_is_for_administrators_only(app: FastAPI, store: SqliteStore) -> None:
    with session(app, store, "mia", "manager") as mia:
        assert "/admin/floors" not in mia.get("/floors").text


# -- edits -------------------------------------------------------------------------------------

def test_build_a_floor_from_nothing_and_move_a_desk(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    def call(method: str, url: str, body: Any = None, code: int = 200) -> Any:
        response = client.request(method, url, json=body, headers=admin)
        assert response.status_code == code, response.text
        return response.json() if response.content else None

    call("POST", "/api/v1/sites", {"id": "annex", "name": "Annex", "timezone": "Europe/Paris"},
         201)
    call("POST", "/api/v1/sites/annex/floors", {"id": "an-0", "name": "Ground"}, 201)
    call("POST", "/api/v1/sites/annex/zones", {"id": "an-z", "floor": "an-0"}, 201)
    call("POST", "/api/v1/sites/annex/desks", {"id": "an-d1", "zone": "an-z"}, 201)
    layout = call("PATCH", "/api/v1/sites/annex/desks/an-d1", {"x": 0.25, "y": 0.75,
                                                              "name": "Window"})
    assert layout["desks"] == [{"id": "an-d1", "floor": "an-0", "zone": "an-z",
                                "name": "Window", "agent": None, "x": 0.25, "y": 0.75,
                                "assigned": False, "sensors": []}]
    call("PATCH", "/api/v1/sites/annex/floors/an-0", {"name": "Rez-de-chaussée", "level": 0})
    call("PATCH", "/api/v1/sites/annex/zones/an-z", {"name": "Open space"})
    call("PATCH", "/api/v1/sites/annex", {"name": "The annex"})
    building = call("GET", "/api/v1/sites/annex/building.json")
    assert building == {"sites": [{"id": "annex", "name": "The annex",
                                   "timezone": "Europe/Paris", "floors": [
        {"id": "an-0", "name": "Rez-de-chaussée", "level": 0, "zones": [
            {"id": "an-z", "name": "Open space", "desks": [
                {"id": "an-d1", "name": "Window", "x": 0.25, "y": 0.75, "assigned": False}]}]}]}]}
    # The live floor map reads the same position.
    assert [(d["x"], d["y"]) for d in store.desks("annex")] == [(0.25, 0.75)]


@pytest.mark.parametrize(("body", "detail"), [
    ({"agent": "lab-agent"}, "agent 'lab-agent' belongs to site 'lab', not 'hq'"),
    ({"agent": "nobody"}, "agent 'nobody' is not known: provision it with `deskpulse hub "
                          "agents add nobody --site hq` first"),
    ({"zone": "lab-z"}, "zone 'lab-z' not found in site 'hq'"),
    ({"name": None}, "desk name must be a non-empty text of at most 200 characters"),
])
def test_desk_changes_that_do_not_fit_are_refused(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], detail: str
) -> None:
    response = client.patch("/api/v1/sites/hq/desks/hq-d1", json=body, headers=admin)
    assert response.json() == {"detail": detail}
    assert response.status_code in (404, 422)


def test_positions_outside_the_plan_and_unknown_fields_are_422(
    client: TestClient, admin: dict[str, str]
) -> None:
    for body in ({"x": 1.5}, {"y": -0.1}, {"x": "left"}, {"colour": "red"}):
        response = client.patch("/api/v1/sites/hq/desks/hq-d1", json=body, headers=admin)
        assert response.status_code == 422, body


def test_an_agent_of_the_same_site_can_be_assigned_and_moving_zone_moves_floor(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    store.import_building({"sites": [{**BUILDING["sites"][0], "floors": [
        {"id": "hq-f1", "name": "First floor", "level": 1, "zones": [
            {"id": "hq-north", "name": "North", "desks": [
                {"id": "hq-d9", "name": "Desk 9", "agent": "hq-agent-2"}]}]}]}]})
    response = client.patch("/api/v1/sites/hq/desks/hq-d1",
                            json={"agent": "hq-agent-2", "zone": "hq-east"}, headers=admin)
    assert response.status_code == 200
    desk = next(d for d in response.json()["desks"] if d["id"] == "hq-d1")
    assert (desk["agent"], desk["zone"], desk["floor"]) == ("hq-agent-2", "hq-east", "hq-f2")
    assert set(response.json()["agents"]) == {"hq-agent-1", "hq-agent-2"}


def test_deleting_anything_with_history_is_409_and_nothing_is_lost(
    client: TestClient, admin: dict[str, str], store: SqliteStore, desks: Desks
) -> None:
    desks.send(("hq-d1", "occupied", time.time() - 60))
    labels.issue_code(store, "hq-d2")
    refused = client.delete("/api/v1/sites/hq/desks/hq-d1", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "desk 'hq-d1' has history (1 state change(s), live state): it is kept so that reports "
        "stay true; rename or move it instead")
    assert client.delete("/api/v1/sites/hq/desks/hq-d2", headers=admin).json()["detail"] == (
        "desk 'hq-d2' has history (1 QR label(s)): it is kept so that reports stay true; "
        "rename or move it instead")
    assert client.delete("/api/v1/sites/hq/zones/hq-north", headers=admin).json() == {
        "detail": "zone 'hq-north' still has 2 desk(s): delete or move them first"}
    assert client.delete("/api/v1/sites/hq/floors/hq-f1", headers=admin).json() == {
        "detail": "floor 'hq-f1' still has 2 zone(s) and 3 desk(s): delete or move them first"}
    site = client.delete("/api/v1/sites/hq", headers=admin)
    assert site.status_code == 409 and site.json()["detail"].startswith(
        "site 'hq' still has 2 floor(s), 1 agent(s)")
    assert len(store.desks("hq")) == 5
    # A desk that never reported and has no label goes; then its empty zone and floor too.
    for url in ("/api/v1/sites/hq/desks/hq-d3", "/api/v1/sites/hq/zones/hq-south"):
        assert client.delete(url, headers=admin).status_code == 200
    assert [d["id"] for d in store.desks("hq")] == ["hq-d1", "hq-d2", "hq-d4", "hq-d5"]


def test_a_zone_with_device_counts_is_kept(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    store.db.execute("INSERT INTO zone_counts VALUES ('hq', 'hq-empty', 0, 'hq-agent-1', 3, 0)")
    client.post("/api/v1/sites/hq/zones", json={"id": "hq-empty", "floor": "hq-f1"},
                headers=admin)
    refused = client.delete("/api/v1/sites/hq/zones/hq-empty", headers=admin)
    assert (refused.status_code, refused.json()["detail"]) == (
        409, "zone 'hq-empty' has history (1 anonymous device count(s)): it is kept; rename "
             "it instead")


def test_duplicates_and_unknown_objects(client: TestClient, admin: dict[str, str]) -> None:
    taken = client.post("/api/v1/sites/hq/desks", json={"id": "lab-d1", "zone": "hq-north"},
                        headers=admin)
    assert (taken.status_code, taken.json()["detail"]) == (
        409, "desk 'lab-d1' already exists (in site 'lab'); desk ids are unique across sites")
    assert client.post("/api/v1/sites", json={"id": "hq", "timezone": "UTC"},
                       headers=admin).status_code == 409
    bad_tz = client.post("/api/v1/sites", json={"id": "x", "timezone": "Mars/Olympus"},
                         headers=admin)
    assert (bad_tz.status_code, bad_tz.json()["detail"]) == (
        422, "timezone is not a known time zone: 'Mars/Olympus'")
    assert client.patch("/api/v1/sites/nowhere/desks/hq-d1", json={"x": 0.1},
                        headers=admin).status_code == 404
    assert client.patch("/api/v1/sites/lab/desks/hq-d1", json={"x": 0.1},
                        headers=admin).status_code == 404  # the desk is not lab's


# -- export and import -------------------------------------------------------------------------

def test_re_importing_the_export_keeps_history_labels_and_checkins(
    client: TestClient, admin: dict[str, str], store: SqliteStore, desks: Desks
) -> None:
    desks.send(("hq-d1", "occupied", time.time() - 60))
    code = labels.issue_code(store, "hq-d2")
    person = accounts.create_user(store.db, "pat", PASSWORD, "employee")
    service.check_in(store, person, "hq-d3", via="phone")
    exported = client.get("/api/v1/sites/hq/building.json", headers=admin)
    assert exported.headers["content-disposition"] == 'attachment; filename="hq-building.json"'
    again = client.post("/api/v1/building/import", content=exported.content, headers={
        **admin, "Content-Type": "application/json"})
    assert again.json() == {"dry_run": False, "applied": True, "sites": 1, "floors": 2,
                            "zones": 3, "desks": 5, "new_desks": 0}
    assert labels.resolve_code(store, code) == "hq-d2"
    assert store.db.execute("SELECT COUNT(*) FROM transitions").fetchone()[0] == 1
    assert service.current(store, person) is not None
    assert client.get("/api/v1/sites/hq/building.json", headers=admin).json() == exported.json()


def test_csv_export_round_trip_moves_a_desk(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    exported = client.get("/api/v1/sites/hq/building.csv", headers=admin)
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert list(rows[0]) == ["site", "floor", "zone", "desk", "name", "x", "y", "agent",
                             "assigned", "sensors"]
    assert rows[0] == {"site": "hq", "floor": "hq-f1", "zone": "hq-north", "desk": "hq-d1",
                       "name": "Desk 1", "x": "0.1", "y": "0.5", "agent": "hq-agent-1",
                       "assigned": "false", "sensors": ""}
    assert len(rows) == 5
    text = exported.text.replace("hq-d1,Desk 1,0.1,0.5", "hq-d1,Desk 1,0.9,0.2")
    text += "hq,hq-f3,hq-west,hq-d6,=SUM(A1),,,,true\r\n"
    imported = client.post("/api/v1/building/import", content=text.encode(),
                           headers={**admin, "Content-Type": "text/csv"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["new_desks"] == 1
    by_id = {d["id"]: d for d in store.desks("hq")}
    assert (by_id["hq-d1"]["x"], by_id["hq-d1"]["y"]) == (0.9, 0.2)
    assert (by_id["hq-d6"]["floor"], by_id["hq-d6"]["name"], by_id["hq-d6"]["assigned"]) == (
        "hq-f3", "=SUM(A1)", 1)
    # A formula-like name is exported defused, and imports back unchanged.
    again = client.get("/api/v1/sites/hq/building.csv", headers=admin).text
    assert "hq-d6,'=SUM(A1),,,,true" in again


def test_csv_problems_are_listed_per_line_and_nothing_is_imported(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    text = ("site,floor,zone,desk,name,x,y,agent,assigned\n"
            "hq,hq-f1,hq-north,hq-d1,Moved,0.5,0.5,,false\n"
            "hq,hq-f1,hq-north,hq-d7,Far,2,0.5,,false\n"
            "nowhere,f,z,d8,D,,,,false\n"
            "hq,hq-f1,hq-north,Bad Id,D,,,,false\n"
            "hq,hq-f1,hq-north,hq-d9,D,,,lab-agent,maybe\n"
            "hq,hq-f2,hq-north,hq-d10,D,,,,false\n"
            "hq,hq-f1,hq-north,lab-d1,Stolen,,,,false\n")
    response = client.post("/api/v1/building/import", content=text.encode(),
                           headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("nothing imported: 5 problem(s), first: line 3: x must")
    assert body["problems"] == [
        {"where": "line 3", "reason": "x must be a number from 0 to 1 or empty"},
        {"where": "line 4", "reason": "site 'nowhere' does not exist: create it in the "
                                      "constructor or import it as JSON first"},
        {"where": "line 5", "reason": "id must be an id matching [a-z0-9-]{1,64}"},
        {"where": "line 6", "reason": "assigned must be true or false"},
        {"where": "line 7", "reason": "zone 'hq-north' is on floor 'hq-f1', not 'hq-f2'"},
    ]
    assert {d["id"]: d["name"] for d in store.desks("hq")}["hq-d1"] == "Desk 1"
    # Cross-site checks run once the rows themselves are fine.
    stolen = client.post("/api/v1/building/import", headers={**admin, "Content-Type": "text/csv"},
                         content=b"site,floor,zone,desk,name,x,y,agent,assigned\n"
                                 b"hq,hq-f1,hq-north,lab-d1,Stolen,,,,false\n")
    assert stolen.json()["problems"] == [{"where": "desk lab-d1", "reason": (
        "desk 'lab-d1' belongs to site 'lab'; desk ids are unique across sites")}]


def test_json_problems_name_every_bad_desk(client: TestClient, admin: dict[str, str]) -> None:
    building = copy.deepcopy(BUILDING)
    building["sites"][0]["floors"][0]["zones"][0]["desks"][1]["x"] = "left"
    building["sites"][0]["floors"][1]["zones"][0]["desks"][0]["id"] = "Not An Id"
    response = client.post("/api/v1/building/import", json=building, headers=admin)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"where": "sites[0].floors[0].zones[0].desks[1]", "reason": "x must be a number"},
        {"where": "sites[0].floors[1].zones[0].desks[0]",
         "reason": "id must be an id matching [a-z0-9-]{1,64}"}]
    dry = client.post("/api/v1/building/import?dry_run=true", json=BUILDING, headers=admin)
    assert dry.json()["applied"] is False
    broken = client.post("/api/v1/building/import", content=b"{not json",
                         headers={**admin, "Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["problems"][0]["reason"].startswith("not valid JSON")


# -- floor plans -------------------------------------------------------------------------------

def put_plan(client: TestClient, headers: dict[str, str], data: bytes, kind: str,
             floor: str = "hq-f1") -> Any:
    return client.put(f"/api/v1/sites/hq/floors/{floor}/plan", content=data,
                      headers={**headers, "Content-Type": kind})


def test_a_png_plan_is_stored_and_served_with_safe_headers(
    app: FastAPI, store: SqliteStore, client: TestClient, admin: dict[str, str]
) -> None:
    image = png(300, 200)
    stored = put_plan(client, admin, image, "image/png")
    assert stored.status_code == 200, stored.text
    floor = next(f for f in stored.json()["floors"] if f["id"] == "hq-f1")
    assert (floor["plan"]["content_type"], floor["plan"]["width"], floor["plan"]["height"]) == (
        "image/png", 300, 200)
    with session(app, store, "emma", "employee") as emma:
        served = emma.get("/api/v1/sites/hq/floors/hq-f1/plan")
        assert served.content == image
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert emma.get("/api/v1/sites/hq/plans").json()[0]["floor"] == "hq-f1"
        assert put_plan(emma, {}, image, "image/png").status_code == 403
    assert client.get("/api/v1/sites/hq/floors/hq-f2/plan", headers=admin).status_code == 404


def test_an_svg_plan_is_served_sandboxed(client: TestClient, admin: dict[str, str]) -> None:
    assert put_plan(client, admin, GOOD_SVG, "image/svg+xml").status_code == 200
    served = client.get("/api/v1/sites/hq/floors/hq-f1/plan", headers=admin)
    assert served.headers["content-type"] == "image/svg+xml"
    assert served.headers["content-security-policy"] == SVG_CSP
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.content == GOOD_SVG
    assert "sandbox" not in client.get("/healthz").headers["content-security-policy"]


@pytest.mark.parametrize(("data", "code", "detail"), [
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script>'
     b"</svg>", 400, "the SVG contains a <script> element, which is not allowed"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect onclick="x()"/></svg>',
     400, "the SVG has an event handler attribute onclick on <rect>"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><foreignObject><p>x</p>'
     b"</foreignObject></svg>", 400,
     "the SVG contains a <foreignobject> element, which is not allowed"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><image '
     b'href="https://tracker.example/p.png"/></svg>', 400,
     "the SVG has an external reference in href on <image>: only #fragment and data:image "
     "links are allowed"),
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
     b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">&b;</svg>', 400,
     "the SVG has a DOCTYPE; DOCTYPEs and entities are not allowed"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect', 400,
     "the SVG is not well-formed XML: unclosed token: line 1, column 60"),
    (png()[:400], 400, "the PNG cannot be decoded: Truncated File Read"),
    (png_header_only(9000, 9000), 400, "the PNG claims 9000 x 9000 pixels; a floor plan may "
     "have at most 10000 pixels a side and 25000000 pixels in all"),
    (png_header_only(200_000, 200_000), 400,
     "the PNG is a decompression bomb (too many pixels)"),
    (b"GIF89a" + b"\0" * 40, 415, "a floor plan must be a PNG or SVG image"),
    (b"", 400, "the floor plan is empty: upload a PNG or SVG file"),
])
def test_unsafe_or_broken_plans_are_refused_with_a_reason(
    client: TestClient, admin: dict[str, str], store: SqliteStore, data: bytes, code: int,
    detail: str
) -> None:
    kind = "image/png" if data.startswith(b"\x89PNG") else "application/octet-stream"
    response = put_plan(client, admin, data, kind)
    assert (response.status_code, response.json()) == (code, {"detail": detail})
    assert store.db.execute("SELECT COUNT(*) FROM floor_plans").fetchone()[0] == 0


def test_a_plan_sent_as_the_wrong_type_is_415(client: TestClient, admin: dict[str, str]) -> None:
    response = put_plan(client, admin, GOOD_SVG, "image/png")
    assert (response.status_code, response.json()["detail"]) == (
        415, "the file is image/svg+xml but was sent as image/png")
    assert put_plan(client, admin, png(), "text/html").status_code == 415


def test_oversize_plans_are_413(tmp_path: Path, store: SqliteStore,
                                admin: dict[str, str]) -> None:
    small = HubSettings(data_dir=tmp_path / "small", floor_plan_max_bytes=2048)
    with TestClient(create_app(small, store)) as client:
        response = put_plan(client, admin, png(600, 600) + b"\0" * 4096, "image/png")
        assert (response.status_code, response.json()) == (
            413, {"detail": "the floor plan is larger than the limit of 2048 bytes"})
    default = HubSettings(data_dir=tmp_path / "default")
    with TestClient(create_app(default, store)) as client:
        response = put_plan(client, admin, b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024),
                            "image/png")
        assert response.status_code == 413


def test_deleting_an_empty_floor_takes_its_plan_along(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    client.post("/api/v1/sites/hq/floors", json={"id": "hq-roof"}, headers=admin)
    assert put_plan(client, admin, png(), "image/png", floor="hq-roof").status_code == 200
    assert client.delete("/api/v1/sites/hq/floors/hq-roof", headers=admin).status_code == 200
    assert store.db.execute("SELECT COUNT(*) FROM floor_plans").fetchone()[0] == 0


# -- every constructor route, walked with each role --------------------------------------------

OPEN_TO_ALL = {("get", "/api/v1/sites/{site}/plans"),
               ("get", "/api/v1/sites/{site}/floors/{floor}/plan")}


def constructor_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation tagged "building" in the OpenAPI schema (the constructor's API)."""
    found = [(method, path) for path, operations in app.openapi()["paths"].items()
             for method, operation in operations.items() if "building" in operation["tags"]]
    assert len(found) >= 18
    return found


@pytest.mark.parametrize("role", ["employee", "manager"])
def test_every_constructor_route_is_403_for_non_admins(
    app: FastAPI, store: SqliteStore, client: TestClient, role: str
) -> None:
    """With a session (and a valid CSRF token, so the role is what refuses) and with an API
    token of the role: every route but the two the floor map reads answers 403."""
    token = {"Authorization": f"Bearer {accounts.create_api_token(store.db, 't', role)}"}
    with session(app, store, f"someone-{role}", role) as browser:
        page = browser.get("/floors")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match
        csrf = {"X-CSRF-Token": match.group(1)}
        for method, path in constructor_routes(app):
            url = path.format(site="hq", floor="hq-f1", zone="hq-north", desk="hq-d1",
                              agent="hq-agent-1")
            body = {"id": "x", "zone": "hq-north", "floor": "hq-f1", "timezone": "UTC"}
            for caller, headers in ((browser, csrf), (client, token)):
                response = caller.request(method, url, json=body, headers=headers)
                expected = (200, 404) if (method, path) in OPEN_TO_ALL else (403,)
                assert response.status_code in expected, (role, method, path)
    assert [d["id"] for d in store.desks("hq")] == ["hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"]


def test_an_empty_site_can_be_deleted_but_not_one_with_a_provisioned_agent(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    for site in ("annex", "annex-2"):
        assert client.post("/api/v1/sites", json={"id": site, "timezone": "UTC"},
                           headers=admin).status_code == 201
    store.db.execute("INSERT INTO provisioned_agents (name, site, created) "
                     "VALUES ('annex-agent', 'annex-2', 0)")
    assert client.delete("/api/v1/sites/annex", headers=admin).status_code == 204
    refused = client.delete("/api/v1/sites/annex-2", headers=admin)
    assert (refused.status_code, refused.json()["detail"]) == (
        409, "site 'annex-2' still has 0 floor(s), 1 agent(s) and 0 history record(s): delete "
             "its floors first; a site with agents or history is kept")
    assert [s["id"] for s in store.sites()] == ["annex-2", "hq", "lab"]
    # The provisioned agent may now be given a desk of its site, and no other.
    client.post("/api/v1/sites/annex-2/floors", json={"id": "a2-f"}, headers=admin)
    client.post("/api/v1/sites/annex-2/zones", json={"id": "a2-z", "floor": "a2-f"},
                headers=admin)
    made = client.post("/api/v1/sites/annex-2/desks", headers=admin, json={
        "id": "a2-d1", "zone": "a2-z", "agent": "annex-agent"})
    assert made.status_code == 201 and made.json()["agents"] == ["annex-agent"]
    assert client.patch("/api/v1/sites/hq/desks/hq-d1", json={"agent": "annex-agent"},
                        headers=admin).status_code == 422


# Issue 24, item 7: CSS escapes spell @import and url() past a deny-list; the allow-list
# refuses them (and anything else not named) with a reason.
ESCAPED = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'


@pytest.mark.parametrize(("data", "detail"), [
    (ESCAPED + b"<style>@\\69mport 'https://evil.example/x.css';</style></svg>",
     "the SVG has an at-rule, escape or comment in a <style> element, which is not allowed"),
    (ESCAPED + b"<style>rect { fill: u\\72l(https://evil.example/p.png) }</style></svg>",
     "the SVG has an at-rule, escape or comment in a <style> element, which is not allowed"),
    (ESCAPED + b'<rect style="fill: u\\72l(https://evil.example/p.png)"/></svg>',
     "the SVG has a CSS escape or comment in the style attribute of <rect>, which is not "
     "allowed"),
    (ESCAPED + b'<rect fill="u\\72l(https://evil.example/p.png)"/></svg>',
     "the SVG has a CSS escape or comment in the fill attribute of <rect>, which is not "
     "allowed"),
    (ESCAPED + b'<rect style="background-image: image(x)"/></svg>',
     "the SVG has a CSS property 'background-image' in the style attribute of <rect>, which "
     "is not allowed"),
    (ESCAPED + b'<rect style="fill: image(https://evil.example/p.png)"/></svg>',
     "the SVG has a value for fill in the style attribute of <rect> that is not allowed "
     "(only colours, numbers, lengths, keywords, font names and url(#id))"),
    (ESCAPED + b"<style>rect { fill: red } @font-face { src: x }</style></svg>",
     "the SVG has an at-rule, escape or comment in a <style> element, which is not allowed"),
    (ESCAPED + b"<feImage/></svg>",
     "the SVG contains a <feimage> element, which is not on the allow-list of drawing "
     "elements"),
    (ESCAPED + b'<rect cursor="url(https://evil.example/c.cur)"/></svg>',
     "the SVG has an attribute cursor on <rect>, which is not on the allow-list"),
])
def test_svg_plans_outside_the_allow_list_are_refused(
    client: TestClient, admin: dict[str, str], store: SqliteStore, data: bytes, detail: str
) -> None:
    response = put_plan(client, admin, data, "image/svg+xml")
    assert (response.status_code, response.json()) == (400, {"detail": detail})
    assert store.db.execute("SELECT COUNT(*) FROM floor_plans").fetchone()[0] == 0


def test_an_editors_svg_within_the_allow_list_is_accepted(
    client: TestClient, admin: dict[str, str]
) -> None:
    plan = (b'<svg xmlns="http://www.w3.org/2000/svg" '
            b'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
            b'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" '
            b'viewBox="0 0 100 50" width="100" height="50">'
            b'<sodipodi:namedview pagecolor="#ffffff"/>'
            b'<style>.wall, g > rect { stroke: rgb(20, 20, 20); stroke-width: 0.5px; }</style>'
            b'<g inkscape:label="Walls" transform="translate(1 2)">'
            b'<rect class="wall" x="0" y="0" width="40" height="20" fill="#eee" '
            b'style="font-family: \'DejaVu Sans\', sans-serif; opacity: .9 !important"/>'
            b'<text x="5" y="10" font-size="4">Room 1</text></g></svg>')
    assert put_plan(client, admin, plan, "image/svg+xml").status_code == 200
