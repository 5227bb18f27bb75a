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


_CHUNK = 1 << 21  # intervals per pass: buffers stay ~32 MB each whatever the input size


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

    Intervals are clipped to the grid ``[t0, t0 + n_bins*bs)``. An interval starting at
    offset ``r`` into bin ``k`` and ending at offset ``g`` into bin ``m`` contributes
    ``bs`` to every bin from ``k`` on (a step, summed with one ``cumsum``) minus ``bs`` from
    ``m`` on, plus ``-r`` at ``k`` and ``+g`` at ``m`` directly. So the work per interval
    is two bin indices and a few ``bincount`` entries, done in fixed-size chunks with
    reused buffers (starts in the first half, ends in the second, so one weighted
    ``bincount`` takes both); overlapping intervals of one desk are added, not merged.
    """
    d_all = np.asarray(desk, dtype=np.int64)
    s_all = np.asarray(start, dtype=np.float64)
    e_all = np.asarray(end, dtype=np.float64)
    n = len(d_all)
    width = n_bins + 1  # column n_bins absorbs an interval ending on the grid's edge
    size = n_desks * width
    if n and (d_all.min() < 0 or d_all.max() >= n_desks):
        raise ValueError("desk index out of range 0..n_desks-1")
    bs = float(bin_seconds)
    top = float(n_bins) * bs
    direct = np.zeros(size, dtype=np.float64)
    steps = np.zeros(size, dtype=np.int64)
    m = min(n, _CHUNK)
    times, pieces = np.empty(2 * m), np.empty(2 * m)
    index, row = np.empty(2 * m, dtype=np.int64), np.empty(m, dtype=np.int64)
    for lo in range(0, n, _CHUNK):
        c = min(n, lo + _CHUNK) - lo
        sv, ev, tv, pv, kv, rv = times[:c], times[c:2 * c], times[:2 * c], pieces[:2 * c], \
            index[:2 * c], row[:c]
        np.multiply(d_all[lo:lo + c], width, out=rv)
        # Relative to t0, so subtracting large Unix times loses no precision; clipped.
        np.subtract(s_all[lo:lo + c], t0, out=sv)
        np.maximum(sv, 0.0, out=sv)
        np.minimum(sv, top, out=sv)
        np.subtract(e_all[lo:lo + c], t0, out=ev)
        np.minimum(ev, top, out=ev)
        np.maximum(ev, sv, out=ev)  # an end before its start adds nothing
        np.multiply(tv, 1.0 / bs, out=pv)
        kv[:] = pv  # truncation is floor here: times >= 0
        np.multiply(kv, bs, out=pv)  # bin start
        np.subtract(pv[:c], sv, out=pv[:c])  # -r: minus the start's offset into its bin
        np.subtract(ev, pv[c:], out=pv[c:])  # +g: the end's offset into its bin
        kv[:c] += rv
        kv[c:] += rv
        direct += np.bincount(kv, weights=pv, minlength=size)
        steps += np.bincount(kv[:c], minlength=size)
        steps -= np.bincount(kv[c:], minlength=size)
    out = direct.reshape(n_desks, width)
    out += np.cumsum(steps.reshape(n_desks, width), axis=1) * bs
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
