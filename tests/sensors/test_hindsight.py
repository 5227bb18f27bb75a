"""The PIR history estimator: re-estimate rules, reconciling corrections, the online pass."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.accuracy import shown
from edge.hindsight import Hindsight, Rules, reconcile, reestimate
from edge.protocol import DeskEvent

RULES = Rules()


def burst(at: float, seconds: float = 40.0) -> tuple[float, float]:
    return (at, at + seconds)


def pulse(at: float) -> tuple[float, float]:
    return (at, at)


def test_lone_pulses_near_an_empty_desk_are_not_a_stay() -> None:
    passers = [pulse(600.0 * n) for n in range(1, 20)]  # one every 10 minutes
    assert reestimate(passers, RULES) == []


def test_a_deep_focus_spell_without_new_arrival_is_one_stay() -> None:
    sit = [burst(0.0), *(pulse(60.0 + 100.0 * n) for n in range(10))]
    later = [pulse(1060.0 + 1500.0 + 100.0 * n) for n in range(10)]  # 25 min quiet
    (stay,) = reestimate([*sit, *later], RULES)
    assert stay[0] == 0.0 and stay[1] >= later[-1][1]


def test_standing_up_then_settling_in_splits_the_stay() -> None:
    first = [burst(0.0), *(pulse(100.0 + 100.0 * n) for n in range(5)), burst(700.0, 30.0)]
    second = [burst(700.0 + 1200.0), *(pulse(2000.0 + 100.0 * n) for n in range(5))]
    stays = reestimate([*first, *second], RULES)
    assert len(stays) == 2
    assert stays[0][1] == 730.0 + RULES.tail_seconds and stays[1][0] == 1900.0


def test_quiet_longer_than_the_window_ends_a_stay() -> None:
    sit = [burst(0.0), *(pulse(100.0 + 100.0 * n) for n in range(5))]
    later = [pulse(600.0 + RULES.window + 1.0 + 100.0 * n) for n in range(5)]
    # the stay ends at its last motion; a short rhythm alone starts nothing
    assert reestimate([*sit, *later], RULES) == [(0.0, 500.0 + RULES.tail_seconds)]


def test_a_steady_rhythm_starts_a_stay_whose_settling_in_was_missed() -> None:
    later = [pulse(100.0 * n) for n in range(RULES.start_episodes)]
    (stay,) = reestimate(later, RULES)
    assert stay == (0.0, later[-1][1] + RULES.tail_seconds)
    assert reestimate(later[:RULES.start_episodes - 1], RULES) == []


def test_a_lone_burst_before_an_arrival_was_packing_up() -> None:
    """Work, a quiet spell, a lone burst (packing up), then someone settles in: the
    lone burst ends the first stay; it is no arrival of its own."""
    work = [burst(0.0), *(pulse(100.0 + 100.0 * n) for n in range(6))]
    pack = burst(600.0 + 1200.0, 40.0)  # after 20 quiet minutes
    back = [burst(pack[1] + 1500.0), *(pulse(pack[1] + 1600.0 + 100.0 * n) for n in range(5))]
    stays = reestimate([*work, pack, *back], RULES)
    assert stays == [(0.0, pack[1] + RULES.tail_seconds),
                     (back[0][0], back[-1][1] + RULES.tail_seconds)]


def test_a_lone_burst_followed_by_a_reader_is_an_arrival() -> None:
    arrive = burst(0.0, 60.0)  # settling in, then deep focus, then a still reader
    reading = [pulse(60.0 + 1200.0 + 100.0 * n) for n in range(RULES.sure_episodes)]
    (stay,) = reestimate([arrive, *reading], RULES)
    assert stay == (0.0, reading[-1][1] + RULES.tail_seconds)


def test_an_arrival_after_a_passers_pulse_splits_a_departed_stay() -> None:
    first = [burst(0.0), *(pulse(100.0 + 100.0 * n) for n in range(5)), burst(700.0, 30.0)]
    back = [pulse(1800.0), burst(1900.0, RULES.lead_arrival_seconds),
            *(pulse(2000.0 + 100.0 * n) for n in range(5))]
    stays = reestimate([*first, *back], RULES)
    assert stays == [(0.0, 730.0 + RULES.tail_seconds), (1900.0, 2400.0 + RULES.tail_seconds)]
    fidget = [pulse(1800.0), burst(1900.0, RULES.lead_arrival_seconds - 10.0)]
    assert len(reestimate([*first, *fidget], RULES)) == 1  # a fidget after a stir


def test_steady_stirring_undoes_a_standing_up() -> None:
    first = [burst(0.0), *(pulse(100.0 + 100.0 * n) for n in range(5)), burst(700.0, 30.0)]
    still = [pulse(900.0 + 100.0 * n) for n in range(RULES.sure_stirs)]
    fidget = burst(still[-1][1] + 1200.0, 40.0)  # after deep focus, a long fidget
    (stay,) = reestimate([*first, *still, fidget], RULES)
    assert stay == (0.0, fidget[1] + RULES.tail_seconds)


def test_passers_after_the_last_burst_do_not_stretch_the_stay() -> None:
    sit = [burst(0.0, 60.0), pulse(150.0)]  # settled, left, one passer-by 90 s later
    assert reestimate(sit, RULES) == [(0.0, 60.0 + RULES.tail_seconds)]


episodes = st.lists(
    st.tuples(st.floats(0.0, 300.0), st.floats(0.0, 60.0)), max_size=40,
).map(lambda gaps: _chain(gaps))


def _chain(gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, t = [], 0.0
    for gap, length in gaps:
        t += gap * gap * 0.035 + 1.0  # 1-3150 s, a quarter within link_seconds (rhythms)
        out.append((t, t + length))
        t += length
    return out


@settings(max_examples=150, deadline=None)
@given(episodes)
def test_stays_are_ordered_disjoint_and_start_at_a_burst_or_rhythm(
    eps: list[tuple[float, float]],
) -> None:
    stays = reestimate(eps, RULES)
    for a, b in stays:
        assert a < b
        assert any(s == a for s, _ in eps)  # a stay begins at an episode's start
    for (_, b1), (a2, _) in zip(stays, stays[1:], strict=False):
        assert b1 <= a2
    # without a burst only a steady rhythm (a run of start_episodes episodes, each less
    # than link_seconds after the one before) can start a stay
    steady = any(all(eps[k + 1][0] - eps[k][1] <= RULES.link_seconds
                     for k in range(n, n + RULES.start_episodes - 1))
                 for n in range(len(eps) - RULES.start_episodes + 1))
    if not steady and not any(e - s >= RULES.burst_seconds for s, e in eps):
        assert stays == []
    if stays:
        assert all(e <= max(b for _, b in eps) + RULES.tail_seconds for _, e in stays)


live_events = st.lists(
    st.tuples(st.sampled_from(["occupied", "vacant", "unknown"]), st.floats(0.0, 5000.0)),
    max_size=12,
)
intervals = st.lists(st.tuples(st.floats(0.0, 5000.0), st.floats(1.0, 900.0)),
                     max_size=6).map(
    lambda xs: [(a, a + d) for a, d in sorted(xs)]).map(
    lambda xs: [x for n, x in enumerate(xs) if n == 0 or x[0] >= xs[n - 1][1]])


@settings(max_examples=200, deadline=None)
@given(live_events, intervals, st.floats(0.0, 2500.0), st.floats(0.0, 3000.0))
def test_reconcile_makes_the_hubs_history_equal_the_estimate(
    live: list[tuple[str, float]], occupied: list[tuple[float, float]],
    start: float, length: float,
) -> None:
    """Written after the live events, with the hub's rule (at the same at, the later
    one wins), the corrections give the re-estimate at every moment of the span,
    except where the live state is unknown (left alone); and none is redundant."""
    end = start + length
    corrections, _ = reconcile(live, occupied, start, end)
    probes = np.linspace(start, end, 97)
    probes = probes[probes < end]  # the span is half-open (and may be one float wide)
    history = shown([*live, *corrections], probes)
    expected = np.array([1 if any(a <= t < b for a, b in occupied) else 0 for t in probes])
    unknown_at = sorted(at for s, at in live if s == "unknown")
    for t, got, want in zip(probes, history, expected, strict=True):
        latest_live = max((at for _, at in live if at <= t), default=None)
        if latest_live is not None and latest_live in unknown_at:
            continue
        assert got == want, (live, occupied, start, end, corrections, t)
    again, _ = reconcile([*live, *corrections], occupied, start, end, None)
    assert len(again) <= 1  # at most the one at ``start`` (history before it unknown)


@settings(max_examples=60, deadline=None)
@given(episodes)
def test_online_corrections_equal_the_batch_estimate(eps: list[tuple[float, float]]) -> None:
    """The online pass (5-s samples) corrects the finalised span to what the batch
    re-estimate of all samples says, once a newer live event lets its corrections out."""
    rules = RULES
    step = 5.0
    horizon_end = (eps[-1][1] if eps else 0.0) + rules.horizon + 1000.0
    times = np.arange(0.0, horizon_end, step)
    seen = np.zeros(len(times), dtype=bool)
    for a, b in eps:
        seen |= (times >= a - step) & (times <= b) & (times > a - step)
    hindsight = Hindsight(rules=rules, period=60.0)
    hindsight.event(DeskEvent("desk", "vacant", 0.0))
    corrections: list[tuple[str, float]] = [("vacant", 0.0)]
    runs: list[tuple[float, float]] = []
    run: list[float] | None = None
    for t, m in zip(times.tolist(), seen.tolist(), strict=True):
        corrections += [(c.state, c.at) for c in hindsight.sample(t, m)]
        if m:
            run = [t, t] if run is None else [run[0], t]
        elif run is not None:
            runs.append((run[0], run[1]))
            run = None
    # corrections not older than the newest live event are held: a newer one lets them out
    corrections += [(c.state, c.at) for c in hindsight.event(
        DeskEvent("desk", "vacant", float(times[-1]) + 1.0))]
    batch = reestimate(runs, rules)
    final = times[-1] - rules.horizon - 60.0
    probes = np.linspace(0.0, max(0.0, final), 200)
    got = shown(corrections, probes)
    want = np.array([1 if any(a <= t < b for a, b in batch) else 0 for t in probes])
    assert (got == want).all()


def test_bad_rules_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        Rules(window=10.0, link_seconds=20.0)
    with pytest.raises(ValueError):
        Hindsight(period=0.0)


def test_no_correction_is_newer_than_the_newest_live_event() -> None:
    """The hub moves the live state to an event at least as new as its own: a correction
    must never be one, or the map would show the history's guess."""
    hindsight = Hindsight(rules=RULES, period=60.0)
    hindsight.event(DeskEvent("desk", "occupied", 0.0))
    hindsight.event(DeskEvent("desk", "vacant", 100.0))  # live: vacant from 100 s on
    stirs = {100.0 * n for n in range(1, 7)}  # but the reader stirred until 600 s
    out: list[DeskEvent] = []
    for t in np.arange(0.0, 3 * RULES.horizon, 5.0).tolist():
        out += hindsight.sample(t, t < 40.0 or t in stirs)
    assert out == []  # occupied at 100 s and vacant at 605 s: both held back
    released = hindsight.event(DeskEvent("desk", "occupied", 3 * RULES.horizon))
    assert released == [DeskEvent("desk", "occupied", 100.0),
                        DeskEvent("desk", "vacant", 600.0 + RULES.tail_seconds)]
