"""The demo's pure parts: its layout of receivers and check-in desks, its log lines."""

from __future__ import annotations

import io

from rich.console import Console

from firmware_sim.building import generate_building
from hub.demo.checkins import PersonPool
from hub.demo.output import HistoryProgress, days_text
from hub.demo.run import DemoOptions, _building
from hub.demo.setup import layout_for


def test_layout_gives_every_zone_a_receiver_and_every_agent_a_camera() -> None:
    building = _building(DemoOptions())
    layout = layout_for(building)
    agents = building.agents()
    assert len(building.desks) == 100 and len(building.site.floors) == 2
    assert set(layout.receivers.values()) == {z.id for z in building.zones}
    assert set(layout.checkin_desks.qr.values()) == set(agents)
    for agent, desk in layout.badge_desks.items():  # a badge desk is its receiver's desk
        assert desk in {d.id for d in agents[agent]}
    kinds = [set(layout.checkin_desks.label), set(layout.checkin_desks.qr),
             set(layout.checkin_desks.badge)]
    assert all(kinds) and sum(map(len, kinds)) == len(set().union(*kinds))  # disjoint
    assert len(layout.fault_desks) == 2 and not set(layout.fault_desks) & set().union(*kinds)
    assert layout.rebooting_agent in agents


def test_small_buildings_still_get_a_layout() -> None:
    layout = layout_for(generate_building(seed=1, desks=4, floors=1, desks_per_agent=5))
    assert len(layout.receivers) == 1 and layout.rebooting_agent is not None


def test_person_pool_never_gives_one_person_two_stays_at_once() -> None:
    pool = PersonPool((1, 2))
    assert pool.take(0, 100) == 1
    assert pool.take(10, 50) == 2
    assert pool.take(60, 80) == 2  # 1 is still seated until 100
    assert pool.take(120, 130) == 2  # both free: 2 has been free longest (since 80)
    assert pool.take(125, 140) == 1


def test_plain_history_lines_when_output_is_not_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, soft_wrap=True)
    now = [0.0]
    with HistoryProgress(console, 0.0, 28 * 86400.0, every_seconds=5.0,
                         clock=lambda: now[0]) as progress:
        for day in range(1, 29):
            now[0] += 2.0  # two seconds of work per simulated day
            progress.update(day * 86400.0)
    lines = out.getvalue().splitlines()
    assert lines[0] == "history: 0 of 28 days" and lines[-1] == "history: 28 of 28 days"
    assert "history: 3 of 28 days" in lines  # 6 s after the first line
    assert len(lines) == 2 + 28 * 2 // 6
    assert days_text(0.25, 0.5) == "0.2 of 0.5 days"
