"""The occupied-seconds kernel across chunk boundaries (it works in fixed-size chunks)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from hub.metrics import kernel as aggregate
from tests.hub.reference_metrics import reference_overlap


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_kernel_matches_the_reference(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(aggregate, "_CHUNK", chunk)
    monkeypatch.setattr(aggregate, "_BATCH", 3 * chunk)  # several bincount batches too
    rng = np.random.default_rng(chunk)
    n, n_desks, bs, n_bins, t0 = 200, 3, 900.0, 10, 1_700_000_100.0
    desk = rng.integers(0, n_desks, n)
    start = t0 + rng.uniform(-2 * bs, (n_bins + 2) * bs, n)
    end = start + rng.uniform(-bs, 4 * bs, n)  # some end before they start: they add nothing
    got = aggregate.occupied_seconds(desk, start, end, n_desks=n_desks, t0=t0, bin_seconds=bs,
                                     n_bins=n_bins)
    expected = reference_overlap(list(zip(desk.tolist(), start.tolist(), end.tolist(),
                                          strict=True)), n_desks, t0, bs, n_bins)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("n_groups", [1, 3, 1500])
def test_dwell_per_group_matches_plain_statistics(n_groups: int) -> None:
    import statistics

    from hub.metrics.report import _group_dwell
    from hub.reports.day_store import empty_summary

    rng = np.random.default_rng(n_groups)
    n_desks = 2000
    days = []
    for k in range(3):
        blank = empty_summary(date(2024, 1, 8 + k), n_desks, 1)
        spell_desk = rng.integers(0, n_desks, 3000).astype(np.int32)
        spell_seconds = np.round(rng.exponential(3600, 3000), 1)
        days.append(replace(blank, spell_desk=spell_desk, spell_seconds=spell_seconds))
    desk_group = rng.integers(-1, n_groups, n_desks)
    got = _group_dwell(days, desk_group, n_groups)
    for i in range(0, n_groups, max(1, n_groups // 50)):
        values = [float(s) for d in days for dd, s in zip(d.spell_desk, d.spell_seconds,
                                                           strict=True)
                  if desk_group[dd] == i]
        if not values:
            assert got[i]["count"] == 0 and got[i]["median_seconds"] is None
            continue
        assert got[i]["count"] == len(values)
        assert got[i]["mean_seconds"] == pytest.approx(statistics.fmean(values))
        assert got[i]["median_seconds"] == statistics.median(values)
        assert got[i]["longest_seconds"] == max(values)
