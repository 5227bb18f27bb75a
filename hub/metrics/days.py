"""Per (site, local day) summaries: the few numbers per desk and zone that every report needs.

A report over 90 days must not touch 90 x 96 bins per desk, so each local day of a site is
reduced once (by the Rollupper, or on the fly for days not stored) to a :class:`DaySummary`:

- per desk, sums over the day's **window** bins: occupied and valid seconds, used and
  valid hours, bins in use and bins with data (the concurrency counts of METRICS.md 4);
- per zone and concurrency bin: desks in use and desks with data (U(b) for any rollup of
  zones: zone, floor, site; heatmap, peaks, surplus and bands all derive from these);
- the day's dwell spells (desk, duration), from occupied intervals clipped to the day's
  window and merged across gaps shorter than the hold time (METRICS.md 6).

The window, thresholds and desk-to-zone map are baked in; :func:`summary_key` names them,
so a stored summary computed under other settings is recognised as stale and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.metrics.calendar import local_calendar, window_mask
from hub.metrics.kernel import FloatArray, IntArray, Intervals, RollupFrame

SmallArray = npt.NDArray[np.integer[Any]]  # int16 / int32: summaries are read in bulk


@dataclass(frozen=True)
class Thresholds:
    """Used hour / used day (METRICS.md 3) and the dwell hold time (6), in seconds."""

    used_hour: float = 300.0
    used_day: float = 1800.0
    hold: float = 600.0

    def as_dict(self) -> dict[str, float]:
        return {"used_hour_seconds": float(self.used_hour),
                "used_day_seconds": float(self.used_day), "hold_seconds": float(self.hold)}


@dataclass(frozen=True)
class DaySummary:
    """One local day of one site; desk arrays follow the site's desks sorted by id."""

    day: int  # local day number since 1970-01-01
    weekday: int  # Monday = 0
    elapsed: float  # window seconds of this day that had elapsed (the same for every desk)
    occupied: FloatArray  # (desks,) occupied seconds in the window
    valid: FloatArray  # (desks,) valid (known) seconds in the window
    used_hours: SmallArray  # (desks,) window hours with >= used_hour occupied
    valid_hours: SmallArray  # (desks,) window hours with any valid time
    used_bins: SmallArray  # (desks,) concurrency bins the desk was in use
    data_bins: SmallArray  # (desks,) concurrency bins the desk had data
    bins: IntArray  # (bins,) start of each concurrency bin (window, fully elapsed)
    zone_used: SmallArray  # (zones, bins) desks in use
    zone_data: SmallArray  # (zones, bins) desks with data
    spell_desk: SmallArray  # (spells,) desk index
    spell_seconds: FloatArray  # (spells,) duration


_ARRAYS = [f.name for f in fields(DaySummary)][3:]
_HEAD = struct.Struct("<I")


def pack(summary: DaySummary) -> bytes:
    """A compact BLOB: a JSON header (scalars, dtypes, shapes) then the raw arrays."""
    arrays = [np.ascontiguousarray(getattr(summary, name)) for name in _ARRAYS]
    header = json.dumps({
        "day": summary.day, "weekday": summary.weekday, "elapsed": summary.elapsed,
        "arrays": [[a.dtype.str, list(a.shape)] for a in arrays],
    }).encode()
    return b"".join([_HEAD.pack(len(header)), header, *(a.tobytes() for a in arrays)])


def unpack(blob: bytes) -> DaySummary:
    (size,) = _HEAD.unpack_from(blob)
    header = json.loads(blob[4:4 + size])
    offset = 4 + size
    values: dict[str, Any] = {}
    for name, (dtype, shape) in zip(_ARRAYS, header["arrays"], strict=True):
        count = int(np.prod(shape)) if shape else 1
        array = np.frombuffer(blob, dtype=np.dtype(dtype), count=count, offset=offset)
        values[name] = array.reshape(shape)
        offset += array.nbytes
    return DaySummary(day=header["day"], weekday=header["weekday"],
                      elapsed=header["elapsed"], **values)


def summary_key(
    *,
    bin_seconds: int,
    timezone: str,
    core_hours: Mapping[str, Any] | None,
    thresholds: Thresholds,
    desk_zones: Sequence[tuple[str, str]],
) -> str:
    """Names everything a summary depends on besides the rollups themselves."""
    text = json.dumps([bin_seconds, timezone, core_hours, thresholds.as_dict(),
                       list(desk_zones)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _runs(keys: npt.NDArray[Any]) -> IntArray:
    """Start index of every run of equal consecutive values in ``keys``."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _reduce(values: npt.NDArray[Any], starts: IntArray, width: int) -> npt.NDArray[Any]:
    """Sum the columns of ``values`` over runs beginning at ``starts`` (rows kept)."""
    if len(starts) == 0:
        return np.zeros((values.shape[0], 0), dtype=values.dtype)
    return np.add.reduceat(values, starts, axis=1) if width else values[:, :0]


def summarise(
    frame: RollupFrame,
    *,
    desk_zone: IntArray,
    n_zones: int,
    timezone: str,
    core_hours: Mapping[str, Any] | None,
    thresholds: Thresholds,
    occupied: Intervals | None = None,
) -> list[DaySummary]:
    """The DaySummary of every local day that has window bins in ``frame``.

    ``occupied`` are the frame desks' occupied intervals (desk index, start, end) for
    the dwell spells; without them a day has no spells.
    """
    bs = float(frame.bin_seconds)
    bins = frame.bin_starts
    window = np.flatnonzero(window_mask(bins, timezone, core_hours))
    day, weekday, seconds = local_calendar(bins, timezone)
    elapsed = np.clip(frame.end - bins.astype(np.float64), 0.0, bs)
    wb = bins[window]
    w_day = day[window]
    # A used hour is a local clock hour; the repeated hour of a fall-back day is two hours
    # (same local hour, different UTC offset), so the key holds both.
    local = day[window] * 86_400 + seconds[window]
    offset_minutes = np.round((local - wb) / 60.0).astype(np.int64)
    w_hour_key = np.floor(local / 3600.0).astype(np.int64) * 10_000 + offset_minutes + 1000
    occ_w, val_w = frame.occupied[:, window], frame.valid[:, window]
    day_starts = _runs(w_day)
    width = len(window)
    occupied_day = _reduce(occ_w, day_starts, width)
    valid_day = _reduce(val_w, day_starts, width)
    elapsed_day = np.add.reduceat(elapsed[window], day_starts) if width else np.zeros(0)
    hour_starts = _runs(w_hour_key)
    hour_occ = _reduce(occ_w, hour_starts, width)
    hour_val = _reduce(val_w, hour_starts, width)
    hour_day_starts = _runs(w_day[hour_starts]) if len(hour_starts) else hour_starts
    used_hours = _reduce((hour_occ >= thresholds.used_hour).astype(np.int64), hour_day_starts,
                         len(hour_starts))
    valid_hours = _reduce((hour_val > 0).astype(np.int64), hour_day_starts, len(hour_starts))

    concurrent = window[bins[window] + bs <= frame.end]
    has_data = (frame.span[:, concurrent] >= bs) & (frame.unknown[:, concurrent] < bs / 2)
    in_use = has_data & (frame.occupied[:, concurrent] >= bs / 2)
    c_day = day[concurrent]
    zone_onehot = np.zeros((n_zones, len(desk_zone)))  # float: BLAS; counts stay exact
    zone_onehot[desk_zone, np.arange(len(desk_zone))] = 1.0
    zone_used = np.rint(zone_onehot @ in_use).astype(np.int64)
    zone_data = np.rint(zone_onehot @ has_data).astype(np.int64)

    spell_desk, spell_seconds, spell_day = _spells(occupied, wb, bs, frame.end, w_day,
                                                   thresholds.hold)
    out = []
    for k, start in enumerate(day_starts):
        d = int(w_day[start])
        c = c_day == d
        s = spell_day == d
        out.append(DaySummary(
            day=d, weekday=int(weekday[window][start]), elapsed=float(elapsed_day[k]),
            occupied=occupied_day[:, k].copy(), valid=valid_day[:, k].copy(),
            used_hours=used_hours[:, k].astype(np.int16),
            valid_hours=valid_hours[:, k].astype(np.int16),
            used_bins=in_use[:, c].sum(axis=1).astype(np.int16),
            data_bins=has_data[:, c].sum(axis=1).astype(np.int16),
            bins=bins[concurrent][c].astype(np.int64),
            zone_used=zone_used[:, c].astype(np.int32),
            zone_data=zone_data[:, c].astype(np.int32),
            spell_desk=spell_desk[s].astype(np.int32), spell_seconds=spell_seconds[s].copy(),
        ))
    return out


def _spells(
    occupied: Intervals | None,
    window_bins: IntArray,
    bs: float,
    until: float,
    window_day: IntArray,
    hold: float,
) -> tuple[IntArray, FloatArray, IntArray]:
    """(desk, duration, local day) of every dwell spell.

    Window segments are runs of adjacent window bins on one local day, cut at ``until``.
    Occupied intervals are clipped to each segment; pieces of one desk in one segment
    merge when the gap between them is shorter than ``hold`` (or none); a spell lasts
    from its first piece's start to its last piece's end.
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
    if occupied is None or len(occupied[0]) == 0 or len(window_bins) == 0:
        return empty
    desk, start, end = (np.asarray(a) for a in occupied)
    breaks = np.r_[True, (window_bins[1:] != window_bins[:-1] + bs)
                   | (window_day[1:] != window_day[:-1])]
    first = np.flatnonzero(breaks)
    last = np.r_[first[1:], len(window_bins)] - 1
    seg_lo = window_bins[first].astype(np.float64)
    seg_hi = np.minimum(window_bins[last] + bs, until)
    pieces_d, pieces_s, pieces_e, pieces_seg = [], [], [], []
    for k in range(len(first)):
        s = np.maximum(start, seg_lo[k])
        e = np.minimum(end, seg_hi[k])
        keep = e > s
        pieces_d.append(desk[keep])
        pieces_s.append(s[keep])
        pieces_e.append(e[keep])
        pieces_seg.append(np.full(int(keep.sum()), k, dtype=np.int64))
    d = np.concatenate(pieces_d).astype(np.int64)
    s = np.concatenate(pieces_s)
    e = np.concatenate(pieces_e)
    seg = np.concatenate(pieces_seg)
    if len(d) == 0:
        return empty
    order = np.lexsort((s, seg, d))
    d, s, e, seg = d[order], s[order], e[order], seg[order]
    gap = s[1:] - e[:-1]  # pieces of one desk never overlap (one state at a time)
    new = np.r_[True, (d[1:] != d[:-1]) | (seg[1:] != seg[:-1]) | ((gap > 0) & (gap >= hold))]
    starts = np.flatnonzero(new)
    spell_end = np.maximum.reduceat(e, starts)
    seconds = spell_end - s[starts]
    return d[starts], seconds, window_day[first][seg[starts]]
