"""Reads of the ``zone_counts`` table (written by hub.db.apply when a ZonesMessage arrives).

A separate module beside :mod:`hub.db.sqlite.store` so the presence feature does not grow the
store class; it takes the store and uses the calling thread's connection.
"""

from __future__ import annotations

from hub.db.protocol import Store
from hub.metrics.presence import ZoneCountRow


def zone_counts(store: Store, site: str, start: float, end: float) -> list[ZoneCountRow]:
    """``(zone, bin, agent, devices)`` of the site's counts with ``start <= bin < end``,
    ordered by zone, bin and agent."""
    rows = store.db.execute(
        "SELECT zone, bin, agent, devices FROM zone_counts "
        "WHERE site = ? AND bin >= ? AND bin < ? ORDER BY zone, bin, agent",
        [site, start, end],
    ).fetchall()
    return [(str(z), int(b), str(a), int(d)) for z, b, a, d in rows]
