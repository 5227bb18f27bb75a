"""An agent's edge.toml written from the building: its site, its desks with their zones and
the sensors recorded for them (hub/building/desk_sensors.py).

The installer gets a file that ``edge.config.AgentConfig`` loads as it is, holding no secret:
the MQTT password is shown once by ``deskpulse hub agents add`` and goes in by hand, and
the broker's host name is a placeholder to replace. A desk without recorded sensors reads a
file that does not exist, so it stays ``unknown`` (a sensor fault) instead of inventing
occupancy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from edge.config import MAX_DESKS, OutboxConfig
from hub.admin.building_edit import BuildingConflict, agent_site
from hub.building import desk_sensors
from hub.errors import NotFound

_v = desk_sensors.toml_value

PLACEHOLDER_HOST = "broker.example.internal"
DATA_DIR = "/var/lib/deskpulse-edge"
CA_FILE = "/etc/deskpulse/ca.crt"


def outbox_section() -> list[str]:
    """The ``[outbox]`` table with the agent's own defaults written out, so that an installer
    sees how much an agent keeps through a broker outage and where to change it."""
    outbox = OutboxConfig()
    return [
        "",
        "# While the broker is out of reach, messages wait in data_dir/outbox.sqlite. Past any",
        "# of these bounds the oldest are dropped (and counted in health); docs/operations.md.",
        "[outbox]",
        f"max_messages = {outbox.max_messages}",
        f"max_megabytes = {outbox.max_megabytes:g}",
        f"max_age_days = {outbox.max_age_days:g}",
    ]


PLACEHOLDER_COMMENT = "# Replace with the broker's host name (the name in its TLS certificate)."


def host_lines(broker_host: str) -> list[str]:
    """The ``host`` line of ``[mqtt]``; the placeholder comes with the same comment in every
    generated edge.toml (this one and ``deskpulse hub agents add``'s)."""
    lines = [PLACEHOLDER_COMMENT] if broker_host == PLACEHOLDER_HOST else []
    return [*lines, f"host = {_v('host', broker_host)}"]


def edge_toml(
    site: str, agent: str, desks: Sequence[tuple[str, str, Sequence[desk_sensors.Spec]]], *,
    broker_host: str = PLACEHOLDER_HOST, broker_port: int = 8883, tls: bool = True,
    ca_file: str | None = CA_FILE,
) -> str:
    """The file text; ``desks`` are (desk id, zone, sensors) triples."""
    lines = [
        f"# edge.toml of agent {agent} (site {site}), written by the hub from the building:",
        f"# `deskpulse hub agents edge-config {agent}` or the floor constructor's "
        "\"Download edge.toml\".",
        "# It holds no secret. Wiring and sensor options: docs/sensors.md.",
        f"site = {_v('site', site)}",
        f"agent = {_v('agent', agent)}",
        f"data_dir = {_v('data_dir', DATA_DIR)}",
        "",
        "[mqtt]",
    ]
    lines += host_lines(broker_host)
    lines += [
        f"port = {broker_port}",
        f"tls = {_v('tls', tls)}",
    ]
    if tls and ca_file is not None:
        lines.append(f"ca_file = {_v('ca_file', ca_file)}")
    lines += [
        f"username = {_v('username', agent)}",
        "# password = \"...\"  # the one `deskpulse hub agents add` showed once for this agent",
    ]
    lines += outbox_section()
    for desk, zone, specs in desks:
        lines += ["", "[[desks]]", f"id = {_v('id', desk)}", f"zone = {_v('zone', zone)}"]
        if not specs:
            lines += ["# No sensors recorded for this desk in the building: until they are,",
                      "# it reads a file that does not exist and stays unknown.",
                      f"sensor = {_v('sensor', f'file:/run/deskpulse/{desk}')}"]
        lines += desk_sensors.toml_tables(specs)
    return "\n".join(lines) + "\n"


def agent_desks(db: Database, agent: str) -> tuple[str, list[tuple[str, str, list[Any]]]]:
    """(site, [(desk, zone, sensors)]) of an agent; NotFound if the hub does not know it,
    BuildingConflict if the building gives it no desk, or more than one agent can read."""
    site = agent_site(db, agent)
    if site is None:
        raise NotFound(f"agent {agent!r} not found: provision it with `deskpulse hub agents "
                       "add` first")
    rows = db.execute("SELECT id, zone, sensors FROM desks WHERE agent = ? AND site = ? "
                      "ORDER BY id", [agent, site]).fetchall()
    if not rows:
        raise BuildingConflict(f"agent {agent!r} has no desks in the building: give it desks "
                               "in the floor constructor (or the building import) first")
    if len(rows) > MAX_DESKS:
        raise BuildingConflict(f"agent {agent!r} has {len(rows)} desks; one agent serves at "
                               f"most {MAX_DESKS}: give some of them to another agent")
    return site, [(str(d), str(z), desk_sensors.loads(s)) for d, z, s in rows]


def agent_edge_toml(db: Database, agent: str, **mqtt: Any) -> str:
    site, desks = agent_desks(db, agent)
    return edge_toml(site, agent, desks, **mqtt)
