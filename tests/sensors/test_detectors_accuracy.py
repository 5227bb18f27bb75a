"""The accuracy benchmark on a small fleet: figures exist, are sane, and are scored right."""

from __future__ import annotations

import pytest

from bench.accuracy import bench_accuracy, score_desk


def test_score_desk_counts_minutes_latencies_and_flips() -> None:
    truth = [(600.0, 1800.0)]
    events = [
        ("vacant", 0.0, 0.0),
        ("occupied", 620.0, 620.0),  # arrival 20 s late
        ("vacant", 1000.0, 1100.0),  # a false departure while seated ...
        ("occupied", 1200.0, 1200.0),  # ... and back: two false flips
        ("unknown", 1500.0, 1500.0),
        ("occupied", 1560.0, 1560.0),  # recovery, not a flip
        ("vacant", 1800.0, 2400.0),  # departure emitted after a 600-s hold
    ]
    score = score_desk(truth, events, 0.0, 3600.0 * 2, effective_hold=600.0)
    assert score["minutes"] == 120
    assert score["occupied"] == 20
    # minutes are judged at their mid-points: wrong are 1050, 1110, 1170 (false vacancy)
    # and 1530 (unknown)
    assert score["minutes"] - score["correct"] == 4
    assert score["unknown"] == 1
    assert score["arrivals"] == [20.0]
    assert score["departures"] == [600.0]
    assert score["flips"] == 2
    assert score["unknowns"] == 1


@pytest.fixture(scope="module")
def figures() -> dict[str, object]:
    return bench_accuracy(desks=4, days=2, seed=3)


@pytest.mark.parametrize("kind", ["pir", "contact", "thermopile"])
def test_small_bench_figures_are_sane(figures: dict[str, dict[str, object]], kind: str) -> None:
    result = figures[kind]
    assert 0.9 < result["minute_accuracy"] <= 1.0  # type: ignore[operator]
    arrival = result["arrival_latency_s"]
    assert arrival["count"] > 5  # type: ignore[index]
    assert 0 <= arrival["p50"] <= arrival["p95"] <= 120  # type: ignore[index]
    departure = result["departure_latency_s"]
    assert departure["p95"] <= result["effective_hold_seconds"] + 120  # type: ignore[index,operator]
