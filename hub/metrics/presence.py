"""Zone presence (metric 10 of METRICS.md): anonymous BLE device counts per zone and bin.

Pure functions over ``zone_counts`` rows ``(zone, bin, agent, devices)``; no I/O.

Rules (docs/metrics.md, "10. Zone presence"):

- **Several agents, one zone and bin**: the zone's count is the **max** over the agents.
  Receivers overlap, so the same phone is heard by several of them, and each agent
  pseudonymises under its own key, so the hub cannot de-duplicate: a sum would count one
  person several times. The max is a lower bound of the true number of distinct devices
  (exact when one receiver hears the whole zone).
- **Window**: reported bins whose start lies in ``[start, end)``, inside the site's core
  hours (:func:`hub.metrics.calendar.window_mask`) and that have **closed** (``bin + width <=
  now``):
  an open bin's count is still growing.
- **Suppression** (PRIVACY.md item 8): any count ``< k`` (0 included) is returned as
  ``devices = null``, ``suppressed = true`` and the label ``"< k"``.
- **mean** = mean of the *unsuppressed* bins' counts. Suppressed bins are left out of
  both the sum and the divisor; including them (as 0, as k, or as their true value)
  would let a reader subtract the visible bins from ``mean x n`` and recover the hidden
  total. The mean of values that are all ``>= k`` is ``>= k``, and it is computed only
  from values the response shows anyway, so it adds nothing a reader could not compute.
  When every reported bin is suppressed the mean is ``null`` with the label ``"< k"``.
  The price: the mean is the mean *of the busy bins*, biased upwards when many bins are
  suppressed; ``suppressed_bins`` says how many were left out.
- **peak** = max over all reported window bins; if that max is below k it is ``null``
  with ``"< k"`` (a visible peak always equals a visible bin, so it reveals nothing).
- Bins with no report from any agent are not listed (no data is not zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hub.metrics.calendar import window_mask

MIN_K = 3
NO_DATA = "no data"
LIVE_BINS = 3  # /zones/live looks back this many closed bins before saying "no data"

ZoneCountRow = tuple[str, int, str, int]  # (zone, bin start, agent, devices)


def check_k(k: int) -> int:
    if k < MIN_K:
        raise ValueError(f"the privacy threshold k must be at least {MIN_K} (got {k})")
    return k


def merge_agents(rows: Iterable[ZoneCountRow]) -> dict[tuple[str, int], int]:
    """(zone, bin) -> device count, the max over the agents that reported it."""
    merged: dict[tuple[str, int], int] = {}
    for zone, bin_start, _agent, devices in rows:
        key = (zone, int(bin_start))
        merged[key] = max(merged.get(key, 0), int(devices))
    return merged


def shown(devices: int | None, k: int) -> dict[str, Any]:
    """One count as published: the value and its label, or null and "< k" below k."""
    if devices is None:
        return {"devices": None, "suppressed": False, "label": NO_DATA}
    if devices < k:
        return {"devices": None, "suppressed": True, "label": f"< {k}"}
    return {"devices": devices, "suppressed": False, "label": str(devices)}


def zone_presence(
    rows: Iterable[ZoneCountRow],
    *,
    zones: Sequence[str],
    timezone: str,
    core_hours: Mapping[str, Any] | None,
    start: float,
    end: float,
    now: float,
    bin_seconds: int,
    k: int,
) -> dict[str, dict[str, Any]]:
    """Per zone (every id in ``zones``, in that order): mean, peak and the window's bins.

    Each bin is ``{bin, devices, suppressed, label}``; ``mean``/``peak`` are numbers or
    null, each with a label, plus ``reported_bins`` and ``suppressed_bins``.
    """
    check_k(k)
    per_zone = window_counts(rows, zones=zones, timezone=timezone, core_hours=core_hours,
                             start=start, end=end, now=now, bin_seconds=bin_seconds)
    return {zone: summarise(per_zone[zone], k) for zone in zones}


def window_counts(
    rows: Iterable[ZoneCountRow],
    *,
    zones: Sequence[str],
    timezone: str,
    core_hours: Mapping[str, Any] | None,
    start: float,
    end: float,
    now: float,
    bin_seconds: int,
) -> dict[str, list[tuple[int, int]]]:
    """Per zone, its (bin, devices) pairs in the window, agents merged, nothing suppressed
    yet: the input of :func:`summarise` (also summed over zones by the utilisation report)."""
    merged = merge_agents(rows)
    wanted = set(zones)
    keys = sorted(
        (zone, b) for zone, b in merged
        if zone in wanted and start <= b < end and b + bin_seconds <= now and b % bin_seconds == 0
    )
    starts = np.array(sorted({b for _, b in keys}), dtype=np.int64)
    inside = dict(zip(starts.tolist(), window_mask(starts, timezone, core_hours).tolist(),
                      strict=True)) if len(starts) else {}
    per_zone: dict[str, list[tuple[int, int]]] = {zone: [] for zone in zones}
    for zone, b in keys:
        if inside[b]:
            per_zone[zone].append((b, merged[(zone, b)]))
    return per_zone


def summarise(counts: Sequence[tuple[int, int]], k: int) -> dict[str, Any]:
    """Mean, peak and bins of one zone from its (bin, devices) pairs, suppression applied."""
    visible = [devices for _, devices in counts if devices >= k]
    if not counts:
        mean: dict[str, Any] = {"value": None, "label": NO_DATA}
        peak: dict[str, Any] = {"value": None, "label": NO_DATA}
    else:
        top = max(devices for _, devices in counts)
        peak_shown = shown(top, k)
        peak = {"value": peak_shown["devices"], "label": peak_shown["label"]}
        if visible:
            value = round(sum(visible) / len(visible), 2)
            mean = {"value": value, "label": f"{value:g}"}
        else:
            mean = {"value": None, "label": f"< {k}"}
    return {
        "mean": mean["value"],
        "mean_label": mean["label"],
        "peak": peak["value"],
        "peak_label": peak["label"],
        "reported_bins": len(counts),
        "suppressed_bins": len(counts) - len(visible),
        "bins": [{"bin": b, **shown(devices, k)} for b, devices in counts],
    }


def live(
    rows: Iterable[ZoneCountRow], *, zones: Sequence[str], now: float, bin_seconds: int, k: int
) -> dict[str, dict[str, Any]]:
    """Per zone: the latest closed bin reported within the last ``LIVE_BINS`` closed bins.

    Older counts are not "live": such a zone gets ``bin = null`` and the label "no data".
    """
    check_k(k)
    current = int(now // bin_seconds) * bin_seconds  # start of the open bin
    oldest = current - LIVE_BINS * bin_seconds
    latest: dict[str, tuple[int, int]] = {}
    for (zone, b), devices in merge_agents(rows).items():
        if oldest <= b < current and b % bin_seconds == 0 and b > latest.get(zone, (-1, 0))[0]:
            latest[zone] = (b, devices)
    out: dict[str, dict[str, Any]] = {}
    for zone in zones:
        if zone in latest:
            b, devices = latest[zone]
            out[zone] = {"bin": b, **shown(devices, k)}
        else:
            out[zone] = {"bin": None, **shown(None, k)}
    return out
