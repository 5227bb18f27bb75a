"""The numpy hot path: desk state step functions -> seconds per bin. No loop over events.

A desk's state is a step function of time built from its transitions: each transition
holds until the next transition of the same desk (or ``until``). Time before a desk's
first transition is unknown. The kernels take flat arrays (one entry per transition or
interval, desks as indices 0..n_desks-1) so the store can feed them straight from SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

VACANT = 0
OCCUPIED = 1
UNKNOWN = 2
STATE_CODES = {"vacant": VACANT, "occupied": OCCUPIED, "unknown": UNKNOWN}
STATE_NAMES = {code: name for name, code in STATE_CODES.items()}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Intervals = tuple[IntArray, FloatArray, FloatArray]


@dataclass(frozen=True)
class TransitionFrame:
    """Transitions of some desks, one row per transition, sorted by (desk, at, insertion)."""

    desks: list[str]
    desk_index: IntArray = field(repr=False)
    at: FloatArray = field(repr=False)
    state: npt.NDArray[np.int8] = field(repr=False)

    def __len__(self) -> int:
        return len(self.at)


@dataclass(frozen=True)
class RollupFrame:
    """Rollups of a site's desks on a complete grid of bins; a missing row reads as zeros.

    ``span`` is how much of each bin had elapsed when the rollup was computed; zero means
    no data at all (the desk was never seen, or the bin lies in the future).
    """

    desks: list[str]
    bin_starts: IntArray
    occupied: FloatArray = field(repr=False)  # (n_desks, n_bins) seconds
    unknown: FloatArray = field(repr=False)
    span: FloatArray = field(repr=False)
    bin_seconds: int = 900
    start: float = 0.0
    end: float = 0.0

    @property
    def valid(self) -> FloatArray:
        """Seconds of each bin with a known state (occupied or vacant)."""
        return np.maximum(self.span - self.unknown, 0.0)


def occupied_seconds(
    desk: npt.ArrayLike,
    start: npt.ArrayLike,
    end: npt.ArrayLike,
    *,
    n_desks: int,
    t0: float,
    bin_seconds: float,
    n_bins: int,
) -> FloatArray:
    """Seconds each desk's intervals overlap each bin: METRICS.md item 1.

    ``out[d, i] = sum over intervals k of desk d of
    max(0, min(end_k, t0 + (i+1)*bs) - max(start_k, t0 + i*bs))``.

    Intervals are clipped to the grid ``[t0, t0 + n_bins*bs)``; an interval covers its
    first and last bin partly and every bin in between fully, so the full bins are added
    as a difference array (+bs at the first full bin, -bs after the last) and summed with
    one ``cumsum``. Overlapping intervals of one desk are added, not merged.
    """
    d = np.asarray(desk, dtype=np.int64)
    # Work relative to t0 so that subtracting large Unix times loses no precision.
    s = np.clip(np.asarray(start, dtype=np.float64) - t0, 0.0, n_bins * bin_seconds)
    e = np.clip(np.asarray(end, dtype=np.float64) - t0, 0.0, n_bins * bin_seconds)
    keep = e > s
    d, s, e = d[keep], s[keep], e[keep]
    if len(d) == 0:
        return np.zeros((n_desks, n_bins), dtype=np.float64)
    if d.min() < 0 or d.max() >= n_desks:
        raise ValueError("desk index out of range 0..n_desks-1")
    first = np.minimum(np.floor(s / bin_seconds).astype(np.int64), n_bins - 1)
    last = np.minimum(np.floor(e / bin_seconds).astype(np.int64), n_bins)
    width = n_bins + 1  # column n_bins absorbs an interval ending on the grid's edge
    row = d * width
    same = first == last
    o = ~same
    # Partial pieces: a whole interval inside one bin, else its first and last bin.
    index = np.concatenate([row[same] + first[same], row[o] + first[o], row[o] + last[o]])
    piece = np.concatenate([
        e[same] - s[same], (first[o] + 1) * bin_seconds - s[o], e[o] - last[o] * bin_seconds,
    ])
    # Full bins first+1 .. last-1: +bs at the first, -bs after the last, then cumsum.
    steps = np.concatenate([row[o] + first[o] + 1, row[o] + last[o]])
    step = np.concatenate([np.full(o.sum(), bin_seconds, dtype=np.float64),
                           np.full(o.sum(), -bin_seconds, dtype=np.float64)])
    size = n_desks * width
    out = np.bincount(index, weights=piece, minlength=size).reshape(n_desks, width)
    full = np.bincount(steps, weights=step, minlength=size).reshape(n_desks, width)
    out += np.cumsum(full, axis=1)
    return np.ascontiguousarray(out[:, :n_bins])


def intervals_from_transitions(
    desk_index: npt.ArrayLike,
    at: npt.ArrayLike,
    state_code: npt.ArrayLike,
    *,
    n_desks: int,
    until: float,
) -> dict[int, Intervals]:
    """Per state code, the (desk, start, end) intervals the transitions describe.

    Transitions are sorted stably by (desk, at): each lasts until the next transition of
    the same desk, the last one until ``until``. Of transitions at the same time the one
    written last (later in the input) wins; the others get zero length. Anything after
    ``until`` is cut off. Every code 0..2 is in the result, possibly with empty arrays.
    """
    d = np.asarray(desk_index, dtype=np.int64)
    t = np.asarray(at, dtype=np.float64)
    code = np.asarray(state_code, dtype=np.int64)
    if len(d) and (d.min() < 0 or d.max() >= n_desks):
        raise ValueError("desk index out of range 0..n_desks-1")
    order = np.lexsort((np.arange(len(d)), t, d))
    d, t, code = d[order], t[order], code[order]
    nxt = np.empty_like(t)
    nxt[:-1] = t[1:]
    same_desk_next = np.zeros(len(d), dtype=bool)
    same_desk_next[:-1] = d[1:] == d[:-1]
    end = np.where(same_desk_next, nxt, until)
    end = np.minimum(end, until)
    start = np.minimum(t, until)
    keep = end > start
    result: dict[int, Intervals] = {}
    for c in (VACANT, OCCUPIED, UNKNOWN):
        m = keep & (code == c)
        result[c] = (d[m], start[m], end[m])
    return result


def bin_state_seconds(
    frame: TransitionFrame,
    *,
    t0: float,
    bin_seconds: int,
    n_bins: int,
    until: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(occupied, unknown, span) seconds per desk and bin of ``frame``'s desks.

    ``span[i]`` is the part of bin i before ``until``; unknown time is the span minus the
    occupied and vacant time, so time before a desk's first transition counts as unknown.
    """
    n_desks = len(frame.desks)
    spans = intervals_from_transitions(
        frame.desk_index, frame.at, frame.state, n_desks=n_desks, until=until
    )
    occupied, vacant = (
        occupied_seconds(
            *spans[code], n_desks=n_desks, t0=t0, bin_seconds=bin_seconds, n_bins=n_bins
        )
        for code in (OCCUPIED, VACANT)
    )
    edges = t0 + np.arange(n_bins, dtype=np.float64) * bin_seconds
    span_row = np.clip(until - edges, 0.0, float(bin_seconds))
    span = np.broadcast_to(span_row, (n_desks, n_bins)).copy()
    unknown = np.maximum(span - occupied - vacant, 0.0)
    return occupied, unknown, span
