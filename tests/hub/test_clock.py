"""Clock sanity (issue 9 item 4): a real Mosquitto, a real hub store (SQLite and PostgreSQL),
hand-written messages."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.protocol import DeskEvent, DesksMessage, Health, encode
from hub.db.protocol import Store
from tests.broker import Mosquitto
from tests.hub.ingest_helpers import Hub, wait_until
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.broker

Publish = Callable[[str, bytes], None]


@pytest.fixture
def broker(fresh_broker: Mosquitto) -> Mosquitto:
    return fresh_broker


def _hub(
    tmp_path: Path, broker: Mosquitto, store: Store, **settings: object
) -> Iterator[Hub]:
    h = Hub(tmp_path, broker, store, **settings)
    h.ingestor.start()
    assert h.ingestor.wait_connected(5)
    yield h
    h.ingestor.stop()
    h.store.close()


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, open_test_store: StoreFactory) -> Iterator[Hub]:
    yield from _hub(tmp_path, broker, open_test_store())


@pytest.fixture
def rejecting_hub(
    tmp_path: Path, broker: Mosquitto, open_test_store: StoreFactory
) -> Iterator[Hub]:
    yield from _hub(tmp_path, broker, open_test_store(), clock_skew_action="reject")


def health(hub: Hub, sent: float) -> bytes:
    return encode(Health(agent=hub.agent, boot=1, sent=sent, uptime=5.0, outbox_depth=0,
                         dropped=0))


def desks(hub: Hub, seq: int, sent: float, *events: tuple[int, str, float]) -> bytes:
    return encode(DesksMessage(agent=hub.agent, boot=1, seq=seq, sent=sent, events=tuple(
        DeskEvent(hub.desks[d], state, at) for d, state, at in events  # type: ignore[arg-type]
    )))


def offset(hub: Hub) -> float | None:
    row = next(a for a in hub.store.agents() if a["id"] == hub.agent)
    return row["clock_offset"]  # type: ignore[no-any-return]


def stored_at(hub: Hub, desk: int) -> list[float]:
    return [row[0] for row in hub.store.db.execute(
        "SELECT at FROM transitions WHERE desk = ? AND seq IS NOT NULL ORDER BY id",
        (hub.desks[desk],),
    )]


def report_clock(hub: Hub, publish: Publish, behind: float) -> float:
    """Publish a health report from an agent whose clock is ``behind`` s; wait for it."""
    publish(hub.topic("health"), health(hub, time.time() - behind))
    def close() -> bool:
        measured = offset(hub)
        return measured is not None and abs(measured - behind) < 30

    assert wait_until(close, 3)
    return offset(hub) or 0.0


def test_a_clock_ten_minutes_behind_is_measured_and_its_desk_events_corrected(
    hub: Hub, publisher: Publish
) -> None:
    measured = report_clock(hub, publisher, 600)
    assert 600 <= measured < 605
    edge_now = time.time() - 600
    publisher(hub.topic(), desks(hub, 1, edge_now, (0, "occupied", edge_now - 60)))
    assert wait_until(lambda: len(stored_at(hub, 0)) == 1, 3)
    assert stored_at(hub, 0)[0] == pytest.approx(edge_now - 60 + measured, abs=0.01)
    assert hub.store.counters()["clock_corrected"] == 1
    assert hub.state(hub.desks[0]) == "occupied"
    # Visible to operators: the API row and the Prometheus gauge read the same column.
    from hub.api.routes.metrics import read_snapshot, render
    text = render(read_snapshot(hub.store, time.time()))
    assert f'deskpulse_agent_clock_offset_seconds{{site="{hub.site}",agent="{hub.agent}"}}' in text
    assert "deskpulse_clock_corrected_total 1" in text


def test_an_agent_within_tolerance_and_its_backfilled_history_are_untouched(
    hub: Hub, publisher: Publish
) -> None:
    report_clock(hub, publisher, 0)
    now = time.time()
    week_ago = now - 7 * 86400
    # Old ``at`` values sent fresh and in quick succession, like firmware_sim's backfill.
    for seq in range(1, 6):
        at = week_ago + seq * 3600
        publisher(hub.topic(), desks(hub, seq, now, (1, "occupied", at), (1, "vacant", at + 60)))
    assert wait_until(lambda: len(stored_at(hub, 1)) == 10, 3)
    assert stored_at(hub, 1)[:2] == [week_ago + 3600, week_ago + 3660]
    assert hub.store.counters()["clock_corrected"] == 0
    assert abs(offset(hub) or 0.0) < 5


def test_with_the_reject_action_a_skewed_agents_desk_messages_are_dead_lettered(
    rejecting_hub: Hub, publisher: Publish
) -> None:
    hub = rejecting_hub
    report_clock(hub, publisher, 600)
    edge_now = time.time() - 600
    publisher(hub.topic(), desks(hub, 1, edge_now, (2, "occupied", edge_now)))
    assert wait_until(lambda: hub.store.counters()["clock_rejected"] == 1, 3)
    assert stored_at(hub, 2) == []
    assert "clock is off by +600 s" in hub.store.dead_letters()[0]["reason"]
    # Once the clock is fixed, the agent's events are accepted again, unchanged.
    assert abs(report_clock(hub, publisher, 0)) < 5
    at = time.time()
    publisher(hub.topic(), desks(hub, 2, at, (2, "occupied", at)))
    assert wait_until(lambda: stored_at(hub, 2) == [at], 3)
