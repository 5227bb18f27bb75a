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


_CHUNK = 1 << 14  # intervals per arithmetic pass: its buffers (~1 MB) stay in a core's cache
# Intervals per bincount: each call costs a pass over the whole table besides its changes,
# so few large calls (2**21 intervals: 128 MB of changes and weights) beat many small ones.
_BATCH = 1 << 21


def _changes(
    start: FloatArray, end: FloatArray, desk: IntArray, t0: float, top: float, bs: float,
    width: int, s: FloatArray, e: FloatArray, f: FloatArray, row: IntArray, index: IntArray,
    weight: FloatArray,
) -> None:
    """Fill ``index``/``weight`` (one row of four per interval) with its changes.

    Twelve array operations per chunk: the bin of each end is computed straight into the
    integer column (``casting="unsafe"`` truncates, which is floor for times >= 0), and
    every weight is one subtraction from it."""
    # Relative to t0, so subtracting large Unix times loses no precision; clipped.
    np.subtract(start, t0, out=s)
    np.clip(s, 0.0, top, out=s)
    np.subtract(end, t0, out=e)
    np.minimum(e, top, out=e)
    np.maximum(e, s, out=e)  # an end before its start adds nothing
    np.multiply(desk, width, out=row)
    k, m = index[:, 0], index[:, 2]
    np.multiply(s, 1.0 / bs, out=k, casting="unsafe")
    np.multiply(k, bs, out=f)  # the start's bin begins here
    np.subtract(s, f, out=weight[:, 1])  # r at k+1
    np.subtract(bs, weight[:, 1], out=weight[:, 0])  # bs - r at k
    np.add(k, row, out=k)
    np.add(k, 1, out=index[:, 1])
    np.multiply(e, 1.0 / bs, out=m, casting="unsafe")
    np.multiply(m, bs, out=f)
    np.subtract(f, e, out=weight[:, 3])  # -g at m+1
    np.subtract(-bs, weight[:, 3], out=weight[:, 2])  # g - bs at m
    np.add(m, row, out=m)
    np.add(m, 1, out=index[:, 3])


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

    Intervals are clipped to the grid ``[t0, t0 + n_bins*bs)``. The result is the running
    sum (``cumsum`` along each desk's row) of one table of changes: an interval starting
    at offset ``r`` into bin ``k`` and ending at offset ``g`` into bin ``m`` adds
    ``bs - r`` at ``k``, ``r`` at ``k+1``, ``g - bs`` at ``m`` and ``-g`` at ``m+1``. So the
    work per interval is four adds whatever the bins it spans; the four land in one or two
    cache lines of the desk's row. The arithmetic runs in small chunks whose buffers stay
    in cache; one weighted ``bincount`` per batch of 2**21 intervals adds their changes to
    the table, and one ``cumsum`` at the end turns changes into seconds. Measured on a
    month of 2,000 desks (a 46 MB table, larger than the L3 cache) the cost depends on the
    order of the input: sorted by desk (as :func:`intervals_from_transitions` hands them
    over from the store) the changes are written nearly in order and the arithmetic is
    most of the cost; in random order the random writes into the table are about half
    of it; see docs/operations.md. Overlapping intervals of one desk are added, not merged.
    """
    d_all = np.asarray(desk, dtype=np.int64)
    s_all = np.asarray(start, dtype=np.float64)
    e_all = np.asarray(end, dtype=np.float64)
    n = len(d_all)
    width = n_bins + 2  # columns n_bins, n_bins+1 absorb changes past the grid's edge
    if n and (d_all.min() < 0 or d_all.max() >= n_desks):
        raise ValueError("desk index out of range 0..n_desks-1")
    bs = float(bin_seconds)
    top = float(n_bins) * bs
    flat: FloatArray | None = np.zeros(n_desks * width) if n == 0 else None
    m = min(n, _CHUNK)
    sv, ev, fv = np.empty(m), np.empty(m), np.empty(m)
    row_v = np.empty(m, dtype=np.int64)
    big = min(n, _BATCH)
    index_v, weight_v = np.empty((big, 4), dtype=np.int64), np.empty((big, 4))
    for outer in range(0, n, _BATCH):
        stop = min(n, outer + _BATCH)
        for lo in range(outer, stop, _CHUNK):
            c = min(stop, lo + _CHUNK) - lo
            at = lo - outer
            _changes(s_all[lo:lo + c], e_all[lo:lo + c], d_all[lo:lo + c], t0, top, bs, width,
                     sv[:c], ev[:c], fv[:c], row_v[:c], index_v[at:at + c],
                     weight_v[at:at + c])
        used = stop - outer
        part = np.asarray(np.bincount(index_v[:used].reshape(-1), weight_v[:used].reshape(-1),
                                      minlength=n_desks * width), dtype=np.float64)
        if flat is None:
            flat = part  # the first batch's table is the table: no zeros, no extra pass
        else:
            flat += part
    assert flat is not None
    # The running sum goes straight into the result, leaving out the two spare columns.
    out = np.empty((n_desks, n_bins))
    np.cumsum(flat.reshape(n_desks, width)[:, :n_bins], axis=1, out=out)
    return out


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
