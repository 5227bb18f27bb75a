"""The sensors recorded for a desk (issue 7 item 2): checked by the edge's own validator,
refused when two desks of one agent would share a pin or I2C address, carried through the
building's JSON and CSV export and import, and written into an edge.toml that the edge
agent's real loader accepts."""

from __future__ import annotations

import csv
import io
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge.config import AgentConfig, OutboxConfig, SensorConfig
from hub.admin import provision
from hub.cli import main
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.db.sqlite.store import SqliteStore
from tests.support.web import session

PIR = {"type": "pir", "pin": 17}
MAT = {"type": "pressure", "pin": 27, "debounce_seconds": 2}
HEAT = {"type": "thermopile", "address": 0x68}


def put(client: TestClient, headers: dict[str, str], desk: str, sensors: list[Any]) -> Any:
    return client.put(f"/api/v1/sites/hq/desks/{desk}/sensors", json={"sensors": sensors},
                      headers=headers)


def recorded(layout: dict[str, Any], desk: str) -> list[dict[str, Any]]:
    found = next(d for d in layout["desks"] if d["id"] == desk)
    return [{k: v for k, v in s.items() if v is not None} for s in found["sensors"]]


def test_a_desks_sensors_are_set_replaced_and_cleared(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = put(client, admin, "hq-d1", [PIR, HEAT])
    assert response.status_code == 200, response.text
    assert recorded(response.json(), "hq-d1") == [PIR, HEAT]
    assert recorded(response.json(), "hq-d2") == []
    put(client, admin, "hq-d1", [MAT])
    layout = client.get("/api/v1/sites/hq/layout", headers=admin).json()
    assert recorded(layout, "hq-d1") == [MAT]
    assert recorded(put(client, admin, "hq-d1", []).json(), "hq-d1") == []


@pytest.mark.parametrize(("sensors", "detail"), [
    ([{"type": "camera"}], "sensors[0].type 'camera' is not a sensor type: use one of "
                           "bthome, contact, file, mqtt, pir, pressure, radar, thermopile, zigbee"),
    ([{"type": "pir"}], "missing key 'sensors[0].pin': add it"),
    ([{"type": "pir", "pin": 2}], "sensors[0].pin must be a BCM GPIO number from 4 to 27 "
                                  "(2 and 3 are the I2C bus), got 2"),
    ([{"type": "pir", "pin": 17, "address": 105}], "unknown key 'sensors[0].address': remove "
     "it or check its spelling (allowed: hold_seconds, pin, type)"),
    ([{"type": "thermopile", "address": 0x70}], "sensors[0].address must be 0x68 (AD_SELECT "
     "to GND) or 0x69 (AD_SELECT to 3.3 V), got 0x70"),
    ([PIR, {"type": "contact", "pin": 17}], "sensors[1].pin: GPIO pin 17 is already used by "
     "sensors[0].pin: give every sensor its own pin"),
    ([PIR] * 5, "sensors lists 5 sensors; a desk has at most 4"),
])
def test_a_sensor_the_edge_would_refuse_is_422_with_the_edges_message(
    client: TestClient, admin: dict[str, str], sensors: list[Any], detail: str
) -> None:
    response = put(client, admin, "hq-d1", sensors)
    assert (response.status_code, response.json()["detail"]) == (422, detail)
    layout = client.get("/api/v1/sites/hq/layout", headers=admin).json()
    assert recorded(layout, "hq-d1") == []


def test_a_pin_as_text_is_refused_not_converted(
    client: TestClient, admin: dict[str, str]
) -> None:
    assert put(client, admin, "hq-d1", [{"type": "pir", "pin": "17"}]).status_code == 422


def test_one_agents_desks_cannot_share_a_pin_or_an_i2c_address(
    client: TestClient, admin: dict[str, str]
) -> None:
    put(client, admin, "hq-d1", [PIR, HEAT])
    clash = put(client, admin, "hq-d2", [{"type": "contact", "pin": 17}])
    assert (clash.status_code, clash.json()["detail"]) == (409, (
        "agent hq-agent-1: desk hq-d2 sensors[0].pin: GPIO pin 17 is already used by desk "
        "hq-d1 sensors[0].pin: give every sensor its own pin"))
    clash = put(client, admin, "hq-d2", [{"type": "thermopile", "bus": 1, "address": 0x68}])
    assert clash.status_code == 409
    assert "I2C address 0x68 on bus 1 is already used by desk hq-d1" in clash.json()["detail"]
    # The other address, or another bus, is free.
    assert put(client, admin, "hq-d2", [{"type": "thermopile"}]).status_code == 200
    # A desk without an agent may hold pin 17; giving it the same agent then clashes.
    client.patch("/api/v1/sites/hq/desks/hq-d3", json={"agent": None}, headers=admin)
    assert put(client, admin, "hq-d3", [PIR]).status_code == 200
    moved = client.patch("/api/v1/sites/hq/desks/hq-d3", json={"agent": "hq-agent-1"},
                         headers=admin)
    assert (moved.status_code, moved.json()["detail"]) == (409, (
        "agent hq-agent-1: desk hq-d3 sensors[0].pin: GPIO pin 17 is already used by desk "
        "hq-d1 sensors[0].pin: give every sensor its own pin"))
    layout = client.get("/api/v1/sites/hq/layout", headers=admin).json()
    assert next(d for d in layout["desks"] if d["id"] == "hq-d3")["agent"] is None


def test_a_browser_session_needs_the_csrf_token(app: FastAPI, store: SqliteStore) -> None:
    with session(app, store, "ada", "admin") as ada:
        refused = put(ada, {}, "hq-d1", [PIR])
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("invalid or missing CSRF token")


def test_json_export_and_import_carry_the_sensors(
    client: TestClient, admin: dict[str, str]
) -> None:
    put(client, admin, "hq-d1", [PIR, HEAT])
    put(client, admin, "hq-d2", [MAT])
    exported = client.get("/api/v1/sites/hq/building.json", headers=admin)
    desks = {d["id"]: d for f in exported.json()["sites"][0]["floors"] for z in f["zones"]
             for d in z["desks"]}
    assert (desks["hq-d1"]["sensors"], desks["hq-d2"]["sensors"]) == ([PIR, HEAT], [MAT])
    assert "sensors" not in desks["hq-d3"]
    put(client, admin, "hq-d1", [])
    put(client, admin, "hq-d2", [{"type": "pir", "pin": 5}])
    again = client.post("/api/v1/building/import", content=exported.content,
                        headers={**admin, "Content-Type": "application/json"})
    assert again.status_code == 200, again.text
    assert client.get("/api/v1/sites/hq/building.json", headers=admin).json() == exported.json()


def test_an_import_that_makes_an_agent_share_a_pin_is_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    put(client, admin, "hq-d5", [PIR])  # hq-d5 is not in the file, and keeps its sensor
    building = client.get("/api/v1/sites/hq/building.json", headers=admin).json()
    north = building["sites"][0]["floors"][0]["zones"][0]
    north["desks"][0]["sensors"] = [{"type": "contact", "pin": 17}]
    building["sites"][0]["floors"] = building["sites"][0]["floors"][:1]
    refused = client.post("/api/v1/building/import", json=building, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["problems"] == [{"where": "agent hq-agent-1", "reason": (
        "desk hq-d1 sensors[0].pin: GPIO pin 17 is already used by desk hq-d5 sensors[0].pin: "
        "give every sensor its own pin")}]
    north["desks"][0]["sensors"] = [{"type": "sonar"}]
    north["desks"][1]["sensors"] = [{"type": "pir"}]
    refused = client.post("/api/v1/building/import", json=building, headers=admin)
    assert refused.json()["problems"] == [{
        "where": "sites[0].floors[0].zones[0].desks[0]",
        "reason": "sensors[0].type 'sonar' is not a sensor type: use one of bthome, "
                  "contact, file, mqtt, pir, pressure, radar, thermopile, zigbee"}, {
        "where": "sites[0].floors[0].zones[0].desks[1]",
        "reason": "missing key 'sensors[0].pin': add it"}]


def test_csv_export_and_import_carry_the_sensors(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    put(client, admin, "hq-d1", [PIR, HEAT])
    exported = client.get("/api/v1/sites/hq/building.csv", headers=admin).text
    rows = {r["desk"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert rows["hq-d1"]["sensors"] == ('[{"type": "pir", "pin": 17}, '
                                        '{"type": "thermopile", "address": 104}]')
    assert rows["hq-d2"]["sensors"] == ""
    put(client, admin, "hq-d1", [])
    text = exported.replace("hq-d2,Desk 2,0.2,0.5,hq-agent-1,false,",
                            'hq-d2,Desk 2,0.2,0.5,hq-agent-1,false,"[{""type"": ""pir"", '
                            '""pin"": 6}]"')
    imported = client.post("/api/v1/building/import", content=text.encode(),
                           headers={**admin, "Content-Type": "text/csv"})
    assert imported.status_code == 200, imported.text
    layout = client.get("/api/v1/sites/hq/layout", headers=admin).json()
    assert recorded(layout, "hq-d1") == [PIR, HEAT]
    assert recorded(layout, "hq-d2") == [{"type": "pir", "pin": 6}]
    # A file without the sensors column (an older export) leaves the sensors alone.
    old = "site,floor,zone,desk,name,x,y,agent,assigned\r\nhq,hq-f1,hq-north,hq-d1,Desk 1,0.3,"\
          "0.5,hq-agent-1,false\r\n"
    assert client.post("/api/v1/building/import", content=old.encode(),
                       headers={**admin, "Content-Type": "text/csv"}).status_code == 200
    layout = client.get("/api/v1/sites/hq/layout", headers=admin).json()
    assert recorded(layout, "hq-d1") == [PIR, HEAT]
    bad = old.replace("assigned\r\n", "assigned,sensors\r\n").replace(
        "false\r\n", "false,pir 17\r\n")
    refused = client.post("/api/v1/building/import", content=bad.encode(),
                          headers={**admin, "Content-Type": "text/csv"})
    assert refused.json()["problems"] == [{"where": "line 2", "reason": (
        'sensors must be a JSON list such as [{"type": "pir", "pin": 17}] or empty')}]


# -- edge.toml ---------------------------------------------------------------------------------

def test_the_agents_edge_toml_loads_with_the_edges_own_loader(
    client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    put(client, admin, "hq-d1", [PIR, HEAT])
    put(client, admin, "hq-d2", [MAT, {"type": "file", "path": "/run/deskpulse/d2 seat"}])
    response = client.get("/api/v1/sites/hq/agents/hq-agent-1/edge.toml", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="hq-agent-1-edge.toml"')
    path = tmp_path / "edge.toml"
    path.write_text(response.text)
    config = AgentConfig.from_toml(path)
    assert (config.site, config.agent, config.mqtt.username) == ("hq", "hq-agent-1",
                                                                 "hq-agent-1")
    assert config.mqtt.password is None and "password =" not in response.text.replace(
        "# password =", "")
    assert [(d.id, d.zone) for d in config.desks] == [
        ("hq-d1", "hq-north"), ("hq-d2", "hq-north"), ("hq-d3", "hq-south"),
        ("hq-d4", "hq-east"), ("hq-d5", "hq-east")]
    by_id = {d.id: d for d in config.desks}
    assert by_id["hq-d1"].sensors == (SensorConfig("pir", pin=17),
                                      SensorConfig("thermopile", address=0x68))
    assert by_id["hq-d2"].sensors == (
        SensorConfig("pressure", pin=27, debounce_seconds=2.0),
        SensorConfig("file", path=Path("/run/deskpulse/d2 seat")))
    # A desk with no recorded sensor reads a missing file (unknown), never simulated data.
    assert (by_id["hq-d3"].sensors, by_id["hq-d3"].sensor) == ((), "file:/run/deskpulse/hq-d3")
    assert tomllib.loads(response.text)["mqtt"]["host"] == "broker.example.internal"
    # The outbox's bounds are written out (the agent's defaults), for the installer to see.
    assert tomllib.loads(response.text)["outbox"] == {
        "max_messages": 100_000, "max_megabytes": 64, "max_age_days": 7}
    assert config.outbox == OutboxConfig()


def test_edge_toml_of_an_unknown_foreign_or_idle_agent(
    client: TestClient, admin: dict[str, str], store: SqliteStore
) -> None:
    assert client.get("/api/v1/sites/hq/agents/nobody/edge.toml",
                      headers=admin).status_code == 404
    assert client.get("/api/v1/sites/hq/agents/lab-agent/edge.toml",
                      headers=admin).status_code == 404
    store.db.execute("INSERT INTO provisioned_agents (name, site, created) "
                     "VALUES ('hq-agent-9', 'hq', 0)")
    idle = client.get("/api/v1/sites/hq/agents/hq-agent-9/edge.toml", headers=admin)
    assert (idle.status_code, idle.json()["detail"]) == (409, (
        "agent 'hq-agent-9' has no desks in the building: give it desks in the floor "
        "constructor (or the building import) first"))


def test_cli_prints_the_same_edge_toml(
    client: TestClient, admin: dict[str, str], settings: HubSettings,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    put(client, admin, "hq-d4", [HEAT])
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\n' + (
        f'database_url = "{settings.database_url}"\n' if settings.database_url else ""))
    assert main(["hub", "agents", "edge-config", "hq-agent-1", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert printed == client.get("/api/v1/sites/hq/agents/hq-agent-1/edge.toml",
                                 headers=admin).text
    out = tmp_path / "agent.toml"
    assert main(["hub", "agents", "edge-config", "hq-agent-1", "--config", str(config),
                 "--broker-host", "mqtt.hq.example", "--out", str(out)]) == 0
    loaded = AgentConfig.from_toml(out)
    assert loaded.mqtt.host == "mqtt.hq.example"
    assert {d.id: d.sensors for d in loaded.desks}["hq-d4"] == (
        SensorConfig("thermopile", address=0x68),)
    assert main(["hub", "agents", "edge-config", "nobody", "--config", str(config)]) == 2
    assert "agent 'nobody' not found" in capsys.readouterr().err


def test_agents_add_writes_the_recorded_sensors_into_its_edge_toml_too() -> None:
    text = provision.edge_toml("hq-agent-1", "hq", "p" * 32, broker_host="h", broker_port=8883,
                               tls=True, ca_file=None,
                               desks=[("hq-d1", "hq-north"), ("hq-d2", "hq-north")],
                               sensors={"hq-d1": [PIR, HEAT]})
    config = AgentConfig.from_dict(tomllib.loads(text), source="edge.toml")
    assert [d.sensors for d in config.desks] == [
        (SensorConfig("pir", pin=17), SensorConfig("thermopile", address=0x68)), ()]


def test_two_edits_at_once_cannot_both_take_one_pin(store: Store) -> None:
    """Two administrators give two desks of one agent GPIO pin 17 at the same moment: one
    edit wins, the other is refused (409), on both engines. Without taking turns,
    PostgreSQL ran both checks side by side and let both through."""
    from hub.admin import building_edit

    def edit(desk: str, start: threading.Barrier, outcomes: list[str]) -> None:
        start.wait()
        try:
            building_edit.set_desk_sensors(store, "hq", desk, [PIR])
            outcomes.append("saved")
        except building_edit.BuildingConflict:
            outcomes.append("409")

    for _ in range(6):
        for desk in ("hq-d1", "hq-d2"):
            building_edit.set_desk_sensors(store, "hq", desk, [])
        start = threading.Barrier(2)
        outcomes: list[str] = []
        threads = [threading.Thread(target=edit, args=(d, start, outcomes))
                   for d in ("hq-d1", "hq-d2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(outcomes) == ["409", "saved"]
