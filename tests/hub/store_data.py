"""A fixed instant and a small building for the store tests."""

from __future__ import annotations

from typing import Any

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def building(site: str = "s1", *, other_site: str = "s2") -> dict[str, Any]:
    """Site s1: desks d1, d2 (agent a1), d3 (agent a2), d4 (no agent); site s2: desk e1."""
    return {"sites": [
        {
            "id": site, "name": "Head office", "timezone": "Europe/Berlin",
            "core_hours": {"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"},
            "floors": [{"id": "f1", "name": "Ground", "level": 0, "zones": [
                {"id": "z1", "name": "North", "desks": [
                    {"id": "d1", "name": "Desk 1", "agent": "a1", "x": 1.5, "y": 2.0},
                    {"id": "d2", "name": "Desk 2", "agent": "a1", "x": 3.0, "y": 2.0},
                ]},
                {"id": "z2", "name": "South", "desks": [
                    {"id": "d3", "name": "Desk 3", "agent": "a2", "x": 1.0, "y": 9.0},
                    {"id": "d4", "name": "Desk 4"},
                ]},
            ]}],
        },
        {
            "id": other_site, "name": "Branch", "timezone": "UTC",
            "floors": [{"id": "f1", "name": "Only", "level": 1, "zones": [
                {"id": "z1", "name": "All", "desks": [{"id": "e1", "name": "E1", "agent": "b1"}]},
            ]}],
        },
    ]}
