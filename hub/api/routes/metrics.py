"""``GET /metrics``: the hub's delivery health in Prometheus text format (exposition 0.0.4).

Every figure is read from the database, not from process memory, so the counters survive
a hub restart (Prometheus then sees no reset) and two hub processes over one database
report the same values. Managers and administrators only, like ``/api/v1/agents``:
outbox depths and agent ids describe the installation. A Prometheus job sends an API
token (``deskpulse hub create-token prometheus``) as ``authorization: credentials``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import APIRouter, Response

from hub.api.deps import ManagerPrincipal, StoreDep
from hub.db.protocol import Store

router = APIRouter(tags=["operations"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (metric name, counter name in the ``counters`` table, help text)
_COUNTERS = (
    ("deskpulse_ingest_messages_total", "messages",
     "Edge messages stored (first copies of desks, zones and check-in messages)."),
    ("deskpulse_ingest_duplicates_total", "duplicates",
     "Second copies recognised by (agent, boot, seq) and ignored."),
    ("deskpulse_ingest_gaps_total", "gaps",
     "Messages whose seq jumped ahead of the highest seen for their (agent, boot)."),
    ("deskpulse_ingest_late_total", "late",
     "Messages that arrived after a newer one of the same (agent, boot)."),
    ("deskpulse_dead_letters_total", "dead_letters",
     "Messages rejected with a reason (see the dead_letters table)."),
    ("deskpulse_transitions_total", "transitions",
     "Desk state transitions stored from edge messages."),
    ("deskpulse_clock_corrected_total", "clock_corrected",
     "Desk events whose time was corrected by their agent's clock offset."),
    ("deskpulse_clock_rejected_total", "clock_rejected",
     "Desk messages rejected because their agent's clock was off (clock_skew_action)."),
)

# The oldest moment up to which a desk's rollups are current: the end of its newest bin's
# covered span, or earlier when a (late) event older than that is still waiting (dirty).
_ROLLUP_COVERED_SQL = """
SELECT MIN(COALESCE(MIN(tip.covered, d.from_at), tip.covered, d.from_at))
FROM desk_state s
LEFT JOIN (SELECT desk, MAX(bin_start + span_s) AS covered FROM rollups GROUP BY desk) tip
    ON tip.desk = s.desk
LEFT JOIN dirty d ON d.desk = s.desk
"""


@dataclass(frozen=True)
class AgentGauge:
    site: str
    agent: str
    online: bool
    outbox_depth: int | None
    dropped: int | None
    clock_offset: float | None = None
    gaps: int = 0


@dataclass(frozen=True)
class MetricsSnapshot:
    """The values one scrape reports; built by :func:`read_snapshot`, rendered purely."""

    counters: dict[str, int]
    agents: list[AgentGauge] = field(default_factory=list)
    rollup_lag_seconds: float = 0.0
    transitions_pending: int = 0  # not yet in the (desk, at) index (hub/db/transition_index.py)


def read_snapshot(store: Store, now: float) -> MetricsSnapshot:
    """Counters, per-agent gauges and rollup lag, read from the store at ``now``."""
    agents = [
        AgentGauge(row["site"], row["id"], bool(row["online"]), row["outbox_depth"],
                   row["dropped"], row.get("clock_offset"), int(row.get("gaps") or 0))
        for row in store.agents()
    ]
    (covered,) = store.db.execute(_ROLLUP_COVERED_SQL).fetchone()
    lag = 0.0 if covered is None else max(now - float(covered), 0.0)
    (pending,) = store.db.execute(
        "SELECT COUNT(*) FROM transitions WHERE pending IS NOT NULL").fetchone()
    return MetricsSnapshot(store.counters(), agents, lag, int(pending))


def escape_label(value: str) -> str:
    """A label value as the text format wants it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(snapshot: MetricsSnapshot) -> str:
    """The Prometheus text exposition (0.0.4) of ``snapshot``, ending with a newline."""
    lines: list[str] = []
    for name, key, text in _COUNTERS:
        lines += _family(name, "counter", text, [f"{name} {snapshot.counters.get(key, 0)}"])
    reporting = [a for a in snapshot.agents if a.outbox_depth is not None]
    lines += _family(
        "deskpulse_agent_outbox_depth", "gauge",
        "Messages waiting in an agent's outbox, as its last health report said.",
        [f'deskpulse_agent_outbox_depth{{site="{escape_label(a.site)}",'
         f'agent="{escape_label(a.agent)}"}} {a.outbox_depth}' for a in reporting],
    )
    lines += _family(
        "deskpulse_agent_outbox_dropped", "gauge",
        "Messages an agent dropped from its outbox (full, or older than its max age), "
        "over the outbox's life.",
        [f'deskpulse_agent_outbox_dropped{{site="{escape_label(a.site)}",'
         f'agent="{escape_label(a.agent)}"}} {a.dropped}'
         for a in snapshot.agents if a.dropped is not None],
    )
    lines += _family(
        "deskpulse_agent_clock_offset_seconds", "gauge",
        "Hub time minus the agent's clock, from its last health report.",
        [f'deskpulse_agent_clock_offset_seconds{{site="{escape_label(a.site)}",'
         f'agent="{escape_label(a.agent)}"}} {_number(a.clock_offset)}'
         for a in snapshot.agents if a.clock_offset is not None],
    )
    lines += _family(
        "deskpulse_agent_gaps_total", "counter",
        "Times an agent's seq skipped ahead within one boot: messages that may be lost.",
        [f'deskpulse_agent_gaps_total{{site="{escape_label(a.site)}",'
         f'agent="{escape_label(a.agent)}"}} {a.gaps}' for a in snapshot.agents],
    )
    online = sum(1 for a in snapshot.agents if a.online)
    lines += _family("deskpulse_agents_online", "gauge",
                     "Agents whose birth or messages say they are connected.",
                     [f"deskpulse_agents_online {online}"])
    lines += _family("deskpulse_agents_known", "gauge", "Agents the hub knows of.",
                     [f"deskpulse_agents_known {len(snapshot.agents)}"])
    lines += _family(
        "deskpulse_rollup_lag_seconds", "gauge",
        "How far behind now the least current desk's rollups are (0 without any desk).",
        [f"deskpulse_rollup_lag_seconds {_number(round(snapshot.rollup_lag_seconds, 3))}"],
    )
    lines += _family(
        "deskpulse_transitions_pending", "gauge",
        "Transitions stored but not yet indexed by desk; should fall to near 0 every few "
        "seconds (every read by desk scans them).",
        [f"deskpulse_transitions_pending {snapshot.transitions_pending}"],
    )
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(store: StoreDep, principal: ManagerPrincipal) -> Response:
    """Ingest counters, agents' outbox depths and rollup lag for Prometheus."""
    return Response(render(read_snapshot(store, time.time())), media_type=CONTENT_TYPE)
