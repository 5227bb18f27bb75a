"""The accuracy benchmark on a small fleet: figures exist, are sane, and are scored right."""

from __future__ import annotations

import numpy as np
import pytest

from bench.accuracy import bench_accuracy, score_minutes


def test_score_minutes_counts_false_vacancies_and_occupancies() -> None:
    actual = np.array([0, 1, 1, 1, 1, 0, 0, 0, 1, 1], dtype=bool)
    codes = np.array([0, 1, 0, 0, 1, 1, 0, 1, -1, 1])
    score = score_minutes(codes, actual)
    assert score["correct"] == 5 and score["unknown"] == 1
    assert score["false_vacancies"] == 1  # minutes 2-3: shown vacant, someone seated
    assert score["false_occupancies"] == 1  # minute 7 (minute 5 follows a true one)
    assert score["occupied_hit"] == 3 and score["vacant_hit"] == 2


@pytest.fixture(scope="module")
def figures() -> dict[str, object]:
    return bench_accuracy(desks=3, days=2, seed=3)


@pytest.mark.parametrize("kind", ["pir", "contact", "thermopile"])
@pytest.mark.parametrize("profile", ["focused", "meetings", "hotdesk"])
def test_small_bench_figures_are_sane(
    figures: dict[str, dict[str, dict[str, object]]], kind: str, profile: str,
) -> None:
    result = figures[kind][profile]
    for estimator in ("live", "stored", "history"):
        scores = result[estimator]
        assert 0.5 < scores["accuracy"] <= 1.0  # type: ignore[index,operator]
        assert scores["false_vacancies_per_desk_day"] >= 0  # type: ignore[index,operator]
    arrival = result["arrival_latency_s"]
    assert arrival["count"] > 0  # type: ignore[index]
    assert 0 <= arrival["p50"] <= arrival["p95"]  # type: ignore[index]
