"""Generated buildings: valid protocol ids, determinism, and the hub's import shape."""

from __future__ import annotations

import json

import pytest

from edge.errors import ConfigError
from edge.protocol import is_id
from firmware_sim.building import Building, CoreHours, generate_building


def test_ids_are_protocol_ids_and_follow_the_naming_scheme() -> None:
    b = generate_building(seed=1, site_id="hq-berlin", floors=3, desks=130)
    assert b.site.id == "hq-berlin"
    desk_ids = [d.id for d in b.desks]
    assert len(desk_ids) == 130 == len(set(desk_ids))
    for floor in b.site.floors:
        assert floor.id == f"hq-berlin-f{floor.level}"
        for n, zone in enumerate(floor.zones, 1):
            assert zone.id == f"{floor.id}-z{n}"
            for k, desk in enumerate(zone.desks, 1):
                assert desk.id == f"{zone.id}-d{k:02d}"
                assert (desk.zone, desk.floor) == (zone.id, floor.id)
    every = desk_ids + [z.id for z in b.zones] + list(b.agents())
    assert all(is_id(i) for i in every)
    # 44 + 43 + 43 desks per floor: 5 agents a floor.
    assert sorted(b.agents()) == [f"hq-berlin-agent-{n:02d}" for n in range(1, 16)]


def test_agents_group_desks_without_spanning_floors() -> None:
    b = generate_building(seed=2, floors=2, desks=45, desks_per_agent=10)
    groups = b.agents()
    # 23 + 22 desks per floor -> 3 + 3 agents, none larger than 10.
    assert [len(g) for g in groups.values()] == [10, 10, 3, 10, 10, 2]
    for desks in groups.values():
        assert len({d.floor for d in desks}) == 1


def test_positions_lie_on_the_plan_and_never_coincide() -> None:
    b = generate_building(seed=3, floors=1, desks=60, zones_per_floor=4)
    points = [(d.x, d.y) for d in b.desks]
    assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in points)
    assert len(set(points)) == len(points)
    # Rows: a zone's desks share few distinct y values (benches), not one per desk.
    zone = b.zones[0]
    assert len({d.y for d in zone.desks}) < len(zone.desks) / 2


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    one = generate_building(seed=7, desks=90)
    assert generate_building(seed=7, desks=90) == one
    other = generate_building(seed=8, desks=90)
    assert other.to_dict() != one.to_dict()
    assert len(other.desks) == 90


def test_to_dict_is_exactly_the_hub_import_shape() -> None:
    core = CoreHours(days=(4, 0, 1), start="07:30", end="19:00")
    b = generate_building(seed=4, site_id="lab", site_name="Lab", desks=12, floors=2,
                          timezone="Europe/London", core_hours=core)
    data = json.loads(json.dumps(b.to_dict()))
    assert list(data) == ["sites"] and len(data["sites"]) == 1
    site = data["sites"][0]
    assert list(site) == ["id", "name", "timezone", "core_hours", "floors"]
    assert site["core_hours"] == {"days": [0, 1, 4], "start": "07:30", "end": "19:00"}
    assert (site["id"], site["name"], site["timezone"]) == ("lab", "Lab", "Europe/London")
    for floor in site["floors"]:
        assert list(floor) == ["id", "name", "level", "zones"]
        for zone in floor["zones"]:
            assert list(zone) == ["id", "name", "desks"]
            for desk in zone["desks"]:
                assert list(desk) == ["id", "name", "agent", "x", "y"]
    assert "core_hours" not in generate_building(seed=4, desks=4).to_dict()["sites"][0]


def test_from_dict_reads_back_what_to_dict_wrote() -> None:
    b = generate_building(seed=5, desks=33, core_hours=CoreHours())
    assert Building.from_dict(json.loads(json.dumps(b.to_dict()))) == b


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(sites=[]), "building: exactly one site is supported"),
        (lambda d: d["sites"][0].pop("timezone"), "site demo: missing field 'timezone'"),
        (lambda d: d["sites"][0].update(timezone="Mars/Olympus"), "unknown time zone"),
        (lambda d: d["sites"][0]["floors"][0]["zones"][0]["desks"][0].update(id="Desk 1"),
         "desk: id must match"),
        (lambda d: d["sites"][0]["floors"][0]["zones"][0]["desks"][0].update(x="left"),
         "field 'x' has the wrong type"),
        (lambda d: d["sites"][0].update(core_hours={"days": [9], "start": "8", "end": "9"}),
         "core hours days must be weekday numbers"),
    ],
)
def test_from_dict_rejects_bad_files_with_a_reason(mutate: object, message: str) -> None:
    data = generate_building(seed=6, desks=4).to_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message):
        Building.from_dict(data)


def test_duplicate_desk_ids_are_rejected() -> None:
    data = generate_building(seed=6, desks=4, floors=1, zones_per_floor=1).to_dict()
    desks = data["sites"][0]["floors"][0]["zones"][0]["desks"]
    desks[1]["id"] = desks[0]["id"]
    with pytest.raises(ConfigError, match="duplicate desk id"):
        Building.from_dict(data)


@pytest.mark.parametrize(
    "kwargs",
    [{"site_id": "Demo"}, {"site_id": "x" * 60}, {"floors": 0}, {"desks": 1, "floors": 2},
     {"desks_per_agent": 0}],
)
def test_caller_mistakes_are_value_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate_building(seed=0, **kwargs)  # type: ignore[arg-type]
