"""GET /metrics: Prometheus text 0.0.4 from the real store, managers only."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from edge.protocol import DeskEvent, DesksMessage, Health, Status
from hub.api.routes.metrics import AgentGauge, MetricsSnapshot, escape_label, render
from hub.auth import accounts
from hub.db.sqlite.store import SqliteStore
from hub.reports.rollup import refresh_rollups
from tests.support.building import AGENT, SITE, Desks, incoming

SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? (-?[0-9.e+]+)$')


def parse(text: str) -> dict[str, float]:
    """Every sample line, checked against the 0.0.4 grammar; comment lines HELP/TYPE only."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        out[match.group(1) + (match.group(2) or "")] = float(match.group(4))
    return out




def test_metrics_needs_a_manager_token(client: TestClient, store: SqliteStore) -> None:
    assert client.get("/metrics").status_code == 401
    employee = accounts.create_api_token(store.db, "employee", role="employee")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {employee}"})
    assert response.status_code == 403


def test_a_fresh_hub_reports_zeros(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/metrics", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    values = parse(response.text)
    assert values["deskpulse_ingest_messages_total"] == 0
    assert values["deskpulse_agents_online"] == 0
    assert values["deskpulse_rollup_lag_seconds"] == 0
    assert values["deskpulse_transitions_pending"] == 0
    assert response.text.endswith("\n")


def test_counters_gauges_and_lag_follow_the_store(
    client: TestClient, auth: dict[str, str], store: SqliteStore, desks: Desks
) -> None:
    now = time.time()
    desks.send(("hq-d1", "occupied", now - 100))          # seq 1
    desks._seq = iter([3])  # type: ignore[assignment]  # seq 3: a gap (2 is missing)
    desks.send(("hq-d2", "vacant", now - 90))
    store.apply([incoming("desks", DesksMessage(agent=AGENT, boot=1, seq=3, sent=now,  # again
                                                events=(DeskEvent("hq-d2", "vacant", now - 90),)))])
    store.apply([incoming("status", Status(online=True, boot=1, version="t"))])
    store.apply([incoming("health", Health(agent=AGENT, boot=1, sent=now, uptime=5.0,
                                           outbox_depth=7, dropped=2))])
    store.dead_letter("deskpulse/v1/hq/x/desks", "bad", b"{", now)
    refresh_rollups(store, now - 30, 900)

    values = parse(client.get("/metrics", headers=auth).text)
    assert values["deskpulse_ingest_messages_total"] == 2
    assert values["deskpulse_ingest_duplicates_total"] == 1
    assert values["deskpulse_ingest_gaps_total"] == 1
    assert values[f'deskpulse_agent_gaps_total{{site="{SITE}",agent="{AGENT}"}}'] == 1
    assert values["deskpulse_dead_letters_total"] == 1
    assert values["deskpulse_transitions_total"] == 2
    assert values[f'deskpulse_agent_outbox_depth{{site="{SITE}",agent="{AGENT}"}}'] == 7
    assert values[f'deskpulse_agent_outbox_dropped{{site="{SITE}",agent="{AGENT}"}}'] == 2
    assert values["deskpulse_agents_online"] == 1
    # Rollups were brought up to now - 30 s: about 30 s behind (the scrape takes a moment).
    assert 30 <= values["deskpulse_rollup_lag_seconds"] < 40


def test_a_late_event_holds_the_lag_back_until_the_next_refresh(
    client: TestClient, auth: dict[str, str], store: SqliteStore, desks: Desks
) -> None:
    now = time.time()
    desks.send(("hq-d1", "occupied", now - 60))
    refresh_rollups(store, now, 900)
    assert parse(client.get("/metrics", headers=auth).text)["deskpulse_rollup_lag_seconds"] < 5
    desks.send(("hq-d1", "vacant", now - 3600))  # late: marks the desk dirty an hour back
    lag = parse(client.get("/metrics", headers=auth).text)["deskpulse_rollup_lag_seconds"]
    assert 3600 <= lag < 3610
    refresh_rollups(store, time.time(), 900)
    assert parse(client.get("/metrics", headers=auth).text)["deskpulse_rollup_lag_seconds"] < 5


def test_render_escapes_label_values_and_skips_agents_without_health() -> None:
    snapshot = MetricsSnapshot(
        counters={"messages": 3},
        agents=[AgentGauge("s", 'a"b\\c\nd', True, 4, None), AgentGauge("s", "quiet", False,
                                                                         None, None)],
        rollup_lag_seconds=1.25,
    )
    text = render(snapshot)
    assert 'deskpulse_agent_outbox_depth{site="s",agent="a\\"b\\\\c\\nd"} 4' in text
    # Health gauges only for agents that reported health; the gap counter for every agent.
    assert [line for line in text.splitlines() if "quiet" in line] == [
        'deskpulse_agent_gaps_total{site="s",agent="quiet"} 0']
    assert "deskpulse_ingest_messages_total 3\n" in text
    assert "deskpulse_ingest_gaps_total 0\n" in text
    assert "deskpulse_rollup_lag_seconds 1.25\n" in text
    assert "deskpulse_agents_known 2\n" in text
    assert escape_label("plain") == "plain"


def test_transitions_waiting_for_the_index_are_counted_until_indexed(
    client: TestClient, auth: dict[str, str], store: SqliteStore, desks: Desks, engine: str
) -> None:
    from hub.db import transition_index

    now = time.time()
    desks.send(("hq-d1", "occupied", now - 60), ("hq-d2", "occupied", now - 50))
    pending = parse(client.get("/metrics", headers=auth).text)["deskpulse_transitions_pending"]
    # SQLite's ingest leaves its rows for bulk indexing; PostgreSQL's indexes them at once.
    assert pending == (2 if engine == "sqlite" else 0)
    transition_index.settle_all(store)
    assert parse(client.get("/metrics", headers=auth).text)["deskpulse_transitions_pending"] == 0
