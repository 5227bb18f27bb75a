"""Automatic check-out, run periodically beside the rollups (its own thread).

- A check-in ends when its desk's sensor has reported ``vacant`` for
  ``checkout_after_vacant_seconds``; the end time is when the vacancy began (or the
  check-in itself, if later), so the recorded duration is the time actually spent.
- Whatever is still open ends at the end of the site's core hours on the local day the
  check-in began (or at local midnight, for a check-in made after that time).
- Used token ids older than any token's lifetime are forgotten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.building.model import check_core_hours, clock_seconds
from hub.checkin.service import purge_used_tokens
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.periodic import PeriodicJob


def _local_time(day: date, seconds: int, zone: ZoneInfo) -> float:
    """The instant of local wall-clock ``seconds`` after midnight of ``day`` (24:00 ok)."""
    day += timedelta(days=seconds // 86400)
    seconds %= 86400
    return datetime(day.year, day.month, day.day, seconds // 3600, seconds % 3600 // 60,
                    tzinfo=zone).timestamp()


def core_end_after(start: float, timezone: str, core_hours: Mapping[str, Any] | None) -> float:
    """When a check-in begun at ``start`` ends at the latest: that local day's core end,
    or local midnight if it began after that (DST-aware)."""
    zone = ZoneInfo(timezone)
    core = check_core_hours(dict(core_hours) if core_hours is not None else None)
    day = datetime.fromtimestamp(start, zone).date()
    core_end = _local_time(day, clock_seconds(core["end"]), zone)
    return core_end if start < core_end else _local_time(day, 86400, zone)


def checkout_vacant(store: Store, now: float, after: float) -> int:
    """End check-ins whose desk has been vacant for ``after`` seconds (see module doc)."""
    with store.transaction() as db:
        cursor = db.execute(
            'UPDATE checkins SET "end" = MAX(start, (SELECT since FROM desk_state s '
            "WHERE s.desk = checkins.desk)), end_reason = 'vacant' "
            'WHERE "end" IS NULL AND EXISTS (SELECT 1 FROM desk_state s WHERE '
            "s.desk = checkins.desk AND s.state = 'vacant' AND MAX(s.since, checkins.start) "
            "<= ?)", [now - after],
        )
    return max(cursor.rowcount, 0)


def checkout_core_end(store: Store, now: float) -> int:
    """End open check-ins whose core-hours cutoff (see :func:`core_end_after`) has passed."""
    sites = {row["id"]: row for row in store.db.query(
        "SELECT id, timezone, core_hours FROM sites")}
    due: list[tuple[float, int]] = []
    for checkin_id, site, start in store.db.execute(
        'SELECT id, site, start FROM checkins WHERE "end" IS NULL'
    ).fetchall():
        row = sites.get(site)
        if row is None:
            continue
        core = json.loads(row["core_hours"]) if row["core_hours"] else None
        cutoff = core_end_after(float(start), row["timezone"], core)
        if cutoff <= now:
            due.append((cutoff, int(checkin_id)))
    if due:
        with store.transaction() as db:
            db.conn.executemany(
                "UPDATE checkins SET \"end\" = MAX(start, ?), end_reason = 'core_hours_end' "
                'WHERE id = ? AND "end" IS NULL', due,
            )
    return len(due)


class CheckinJobs(PeriodicJob):
    """A thread that runs :meth:`tick` every ``interval`` seconds until stopped."""

    thread_name = "checkin-jobs"
    failure = "automatic check-out failed"

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings.rollup_interval if interval is None else interval)
        self.settings = settings
        self.store = store
        self.clock = clock

    def tick(self) -> dict[str, int]:
        now = self.clock()
        return {
            "vacant": checkout_vacant(self.store, now,
                                      self.settings.checkout_after_vacant_seconds),
            "core_hours_end": checkout_core_end(self.store, now),
            "tokens_forgotten": purge_used_tokens(self.store, now),
        }

