"""The agent's BLE wiring: zone counts go through the outbox with the agent's own seq."""

from __future__ import annotations

from pathlib import Path

from edge.agent import Agent
from edge.config import AgentConfig
from edge.protocol import Config, DesksMessage, ZoneCount, ZonesMessage, decode
from tests.edge.helpers import ScriptedSensor

BIN = 900
T0 = float(1_800_000_000 - 1_800_000_000 % BIN)
PHONE = {0x004C: bytes.fromhex("1005031c1a2b3c")}


def make_agent(tmp_path: Path, ble: dict[str, object] | None, clock: list[float]) -> Agent:
    data: dict[str, object] = {
        "site": "s1", "agent": "a1", "data_dir": str(tmp_path),
        "desks": [{"id": "d1", "zone": "z1"}],
    }
    if ble is not None:
        data["ble"] = ble
    return Agent(AgentConfig.from_dict(data), {"d1": ScriptedSensor("present")},
                 clock=lambda: clock[0], radio=False)


def outbox_messages(agent: Agent) -> list[object]:
    return [decode(r.topic, r.payload, now=T0 + 10 * BIN) for r in agent.outbox.pending(100)]


def test_closed_bins_are_enqueued_as_zones_messages_in_seq_order(tmp_path: Path) -> None:
    clock = [T0]
    agent = make_agent(tmp_path, {"enter_dwell_seconds": 0}, clock)
    try:
        assert agent.scanner is not None and not agent.scanner.running  # radio=False
        agent.step(T0)  # the desk's first reading: a desks message, seq 1
        for i in range(60):
            clock[0] = T0 + i
            agent.observe_advert("4A:11:22:33:44:55", -60, PHONE, {}, clock[0])
        for t in range(60, 3 * BIN + 60, 60):  # the agent polls; the phone has left
            agent.step(T0 + t)  # closes three bins, the last two empty
        messages = outbox_messages(agent)
        assert [m.seq for m in messages] == [1, 2, 3, 4]  # type: ignore[attr-defined]
        assert messages[1].counts == (ZoneCount("z1", int(T0), 1),)  # type: ignore[attr-defined]
        assert [type(m) for m in messages] == [DesksMessage] + [ZonesMessage] * 3
        assert [m.counts for m in messages[2:]] == [  # type: ignore[attr-defined]
            (ZoneCount("z1", int(T0 + BIN), 0),), (ZoneCount("z1", int(T0 + 2 * BIN), 0),)]
        assert b"4A:11" not in b"".join(r.payload for r in agent.outbox.pending(100))
    finally:
        agent.stop()


def test_without_ble_the_agent_neither_counts_nor_scans(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, None, [T0])
    try:
        assert agent.scanner is None and agent.zone_counter is None
        agent.observe_advert("4A:11:22:33:44:55", -60, PHONE, {}, T0)  # ignored
        agent.step(T0 + 2 * BIN)
        assert [type(m) for m in outbox_messages(agent)] == [DesksMessage]
    finally:
        agent.stop()


def test_disabled_ble_does_not_count(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, {"enabled": False}, [T0])
    try:
        assert agent.scanner is None and agent.zone_counter is None
    finally:
        agent.stop()


def test_enrolled_badge_hashes_from_the_hub_config_are_kept(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, {}, [T0])
    try:
        assert agent.badges == frozenset()
        badge = "ab" * 16
        agent._received(Config(agent="a1", issued=T0, key_epoch=1, badges=(badge,)))
        assert agent.badges == {badge}
    finally:
        agent.stop()
