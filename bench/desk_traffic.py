"""How much traffic real desks make: the input of the sizing table in docs/scale.md.

From firmware_sim's ``office`` schedule (hybrid workers, 1.25 people per desk, arrivals
08:00-10:00, lunch, meetings, breaks; firmware_sim/people.py): the ground-truth desk state
changes of one simulated week, each an event an agent publishes. The sensors' hold time
(10 min) merges the shortest breaks, so real agents send somewhat fewer events; the
figures are on the high side on purpose. Peaks are the busiest minute and hour of the
week across the whole building, per desk.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from firmware_sim.building import generate_building
from firmware_sim.people import PeopleModel


def desk_traffic(desks: int = 2000, seed: int = 7) -> dict[str, Any]:
    building = generate_building(seed=seed, desks=desks, floors=4, timezone="UTC")
    start = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # a Monday
    occupancy = PeopleModel(building, seed=seed).occupancy(start, start + 7 * 86400)
    edges = [t for intervals in occupancy.values() for interval in intervals for t in interval]

    def peak_per_desk_hour(width: float) -> float:
        busiest = max(Counter(int((t - start) // width) for t in edges).values())
        return round(busiest / desks * 3600 / width, 3)

    return {
        "desks": desks, "schedule": "office", "week_starting": "2026-11-02",
        "events_per_desk_weekday": round(len(edges) / desks / 5, 2),
        "events_per_desk_hour_peak_minute": peak_per_desk_hour(60),
        "events_per_desk_hour_peak_hour": peak_per_desk_hour(3600),
    }
