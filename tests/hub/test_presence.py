"""Zone presence rules (hub/metrics/presence.py) on hand-computed cases, plus the store read."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from edge.protocol import Topic, ZoneCount, ZonesMessage
from hub.config import HubSettings
from hub.db.sqlite.store import Incoming
from hub.db.zone_counts import zone_counts
from hub.errors import ConfigError
from hub.metrics import presence
from tests.support.stores import StoreFactory

MONDAY = 1714953600  # 2024-05-06 00:00 UTC, a Monday
H = 3600
BS = 900
CORE = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}
NINE = MONDAY + 9 * H


def figures(rows: list[presence.ZoneCountRow], *, zones: tuple[str, ...] = ("a",),
            start: float = MONDAY, end: float = MONDAY + 7 * 86400,
            now: float = MONDAY + 30 * 86400, k: int = 5) -> dict[str, dict[str, Any]]:
    return presence.zone_presence(
        rows, zones=list(zones), timezone="UTC", core_hours=CORE, start=start, end=end,
        now=now, bin_seconds=BS, k=k,
    )


def test_counts_at_or_above_k_are_shown_and_averaged() -> None:
    rows = [("a", NINE, "ag1", 6), ("a", NINE + BS, "ag1", 9), ("a", NINE + 2 * BS, "ag1", 12)]
    a = figures(rows)["a"]
    assert (a["mean"], a["mean_label"]) == (9.0, "9")  # (6 + 9 + 12) / 3
    assert (a["peak"], a["peak_label"]) == (12, "12")
    assert (a["reported_bins"], a["suppressed_bins"]) == (3, 0)
    assert a["bins"] == [
        {"bin": NINE, "devices": 6, "suppressed": False, "label": "6"},
        {"bin": NINE + BS, "devices": 9, "suppressed": False, "label": "9"},
        {"bin": NINE + 2 * BS, "devices": 12, "suppressed": False, "label": "12"},
    ]


def test_counts_below_k_are_null_and_left_out_of_the_mean() -> None:
    # 5 is shown (not below k), 4 and 0 are hidden; the mean is over 5 and 8 only: 6.5.
    rows = [("a", NINE, "ag1", 5), ("a", NINE + BS, "ag1", 4), ("a", NINE + 2 * BS, "ag1", 0),
            ("a", NINE + 3 * BS, "ag1", 8)]
    a = figures(rows)["a"]
    assert [b["devices"] for b in a["bins"]] == [5, None, None, 8]
    assert [b["label"] for b in a["bins"]] == ["5", "< 5", "< 5", "8"]
    assert [b["suppressed"] for b in a["bins"]] == [False, True, True, False]
    assert (a["mean"], a["mean_label"]) == (6.5, "6.5")
    assert (a["peak"], a["reported_bins"], a["suppressed_bins"]) == (8, 4, 2)


def test_no_figure_reveals_a_hidden_count() -> None:
    """Changing only the hidden counts (0..k-1) changes nothing in the response."""
    visible = [("a", NINE, "ag1", 7), ("a", NINE + 2 * BS, "ag1", 11)]
    answers = {
        repr(figures([*visible, ("a", NINE + BS, "ag1", hidden)])) for hidden in range(5)
    }
    assert len(answers) == 1


def test_all_bins_below_k_gives_no_mean_and_no_peak() -> None:
    a = figures([("a", NINE, "ag1", 3), ("a", NINE + BS, "ag1", 4)], k=5)["a"]
    assert (a["mean"], a["mean_label"], a["peak"], a["peak_label"]) == (None, "< 5", None, "< 5")
    assert a["suppressed_bins"] == 2


def test_k_is_configurable_but_never_below_3() -> None:
    a = figures([("a", NINE, "ag1", 3), ("a", NINE + BS, "ag1", 4)], k=3)["a"]
    assert [b["label"] for b in a["bins"]] == ["3", "4"]
    assert (a["mean"], a["peak"]) == (3.5, 4)
    assert figures([("a", NINE, "ag1", 3)], k=4)["a"]["bins"][0]["label"] == "< 4"
    with pytest.raises(ValueError, match="at least 3"):
        figures([], k=2)


def test_several_agents_in_one_zone_take_the_max() -> None:
    rows = [("a", NINE, "ag1", 6), ("a", NINE, "ag2", 9), ("a", NINE, "ag3", 2),
            ("a", NINE + BS, "ag1", 3), ("a", NINE + BS, "ag2", 4),  # max 4: hidden
            ("b", NINE, "ag1", 20)]
    out = figures(rows, zones=("a", "b"))
    assert [b["label"] for b in out["a"]["bins"]] == ["9", "< 5"]
    assert (out["a"]["mean"], out["a"]["peak"]) == (9.0, 9)
    assert out["b"]["bins"] == [{"bin": NINE, "devices": 20, "suppressed": False, "label": "20"}]
    assert presence.merge_agents(rows) == {("a", NINE): 9, ("a", NINE + BS): 4, ("b", NINE): 20}


def test_bins_outside_the_window_are_ignored() -> None:
    rows = [
        ("a", MONDAY + 7 * H + 3 * BS, "ag1", 50),  # 07:45: before core hours
        ("a", MONDAY + 8 * H, "ag1", 10),           # 08:00: first core bin
        ("a", MONDAY + 18 * H - BS, "ag1", 20),     # 17:45: last core bin
        ("a", MONDAY + 18 * H, "ag1", 60),          # 18:00: after core hours
        ("a", MONDAY + 5 * 86400 + 9 * H, "ag1", 70),  # Saturday
        ("a", MONDAY + 8 * H + 100, "ag1", 80),     # not a bin start
        ("c", NINE, "ag1", 90),                     # a zone the site does not list
    ]
    a = figures(rows)["a"]
    assert [b["bin"] for b in a["bins"]] == [MONDAY + 8 * H, MONDAY + 18 * H - BS]
    assert (a["mean"], a["peak"]) == (15.0, 20)
    assert "c" not in figures(rows)


def test_from_to_and_open_bins_cut_the_window() -> None:
    rows = [("a", NINE + i * BS, "ag1", 10 + i) for i in range(4)]
    cut = figures(rows, start=NINE + BS, end=NINE + 3 * BS)["a"]
    assert [b["devices"] for b in cut["bins"]] == [11, 12]
    # now = inside the 4th bin: it is still open, so it is not counted yet
    open_ = figures(rows, now=NINE + 3 * BS + 10)["a"]
    assert [b["devices"] for b in open_["bins"]] == [10, 11, 12]


def test_a_zone_without_reports_has_no_data() -> None:
    out = figures([("a", NINE, "ag1", 7)], zones=("a", "empty"))
    assert out["empty"] == {
        "mean": None, "mean_label": "no data", "peak": None, "peak_label": "no data",
        "reported_bins": 0, "suppressed_bins": 0, "bins": [],
    }
    assert list(out) == ["a", "empty"]


def test_live_takes_the_latest_closed_bin_per_zone() -> None:
    now = NINE + 10 * BS + 30  # the open bin starts at NINE + 10 * BS
    rows = [
        ("a", NINE + 8 * BS, "ag1", 12), ("a", NINE + 9 * BS, "ag1", 7),
        ("a", NINE + 9 * BS, "ag2", 8), ("a", NINE + 10 * BS, "ag1", 99),  # open: ignored
        ("b", NINE + 9 * BS, "ag1", 2),
        ("c", NINE + 6 * BS, "ag1", 30),  # four bins old: not live any more
    ]
    out = presence.live(rows, zones=["a", "b", "c"], now=now, bin_seconds=BS, k=5)
    assert out == {
        "a": {"bin": NINE + 9 * BS, "devices": 8, "suppressed": False, "label": "8"},
        "b": {"bin": NINE + 9 * BS, "devices": None, "suppressed": True, "label": "< 5"},
        "c": {"bin": None, "devices": None, "suppressed": False, "label": "no data"},
    }
    assert presence.live(rows, zones=["c"], now=now - BS, bin_seconds=BS, k=5)["c"]["bin"] == (
        NINE + 6 * BS)


def test_privacy_k_setting_refuses_values_below_3(tmp_path: Path) -> None:
    assert HubSettings(data_dir=tmp_path).privacy_k == 5
    assert HubSettings(data_dir=tmp_path, privacy_k=3).privacy_k == 3
    with pytest.raises(ConfigError, match="privacy_k must be at least 3 \\(got 2\\)"):
        HubSettings(data_dir=tmp_path, privacy_k=2)


def test_store_reads_zone_counts_written_by_the_ingest_path(
    open_test_store: StoreFactory,
) -> None:
    store = open_test_store()
    try:
        store.import_building({"sites": [
            {"id": "s", "name": "S", "timezone": "UTC", "floors": [
                {"id": "f", "name": "F", "zones": [
                    {"id": "z1", "name": "Z1", "desks": []}, {"id": "z2", "name": "Z2"}]}]},
            {"id": "t", "name": "T", "timezone": "UTC", "floors": [
                {"id": "g", "name": "G", "zones": [{"id": "z1", "name": "Z1"}]}]},
        ]})
        seq = itertools.count(1)

        def send(site: str, agent: str, *counts: tuple[str, int, int]) -> None:
            message = ZonesMessage(
                agent=agent, boot=1, seq=next(seq), sent=time.time(),
                counts=tuple(ZoneCount(zone=z, bin=b, devices=d) for z, b, d in counts))
            result = store.apply([Incoming(Topic(site, agent, "zones"), message, time.time())])
            assert not result.rejected, result.rejected

        send("s", "a1", ("z1", NINE, 6), ("z2", NINE, 3), ("z1", NINE + BS, 7))
        send("s", "a2", ("z1", NINE, 9))
        send("t", "b1", ("z1", NINE, 40))
        assert zone_counts(store, "s", NINE, NINE + BS) == [
            ("z1", NINE, "a1", 6), ("z1", NINE, "a2", 9), ("z2", NINE, "a1", 3)]
        assert zone_counts(store, "s", NINE, NINE + 2 * BS)[-1] == ("z2", NINE, "a1", 3)
        assert zone_counts(store, "t", 0, 2**40) == [("z1", NINE, "b1", 40)]
        assert zone_counts(store, "s", NINE + 2 * BS, NINE + 9 * BS) == []
    finally:
        store.close()
