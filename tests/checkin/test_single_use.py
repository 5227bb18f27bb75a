"""Single use holds across hub processes: two real processes race on one database (a
SQLite file, or one PostgreSQL database)."""

from __future__ import annotations

import multiprocessing
import time

from hub.checkin import service
from hub.config import HubSettings
from hub.db.protocol import Store
from tests.checkin.racer import redeem_all
from tests.support.web import SECRET

TOKENS = 40


def test_each_token_is_accepted_by_exactly_one_of_two_processes(
    settings: HubSettings, store: Store, ann: int,
) -> None:
    now = time.time()
    issued = [service.issue_token(store, settings, ann, now=now)[0] for _ in range(TOKENS)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=redeem_all,
                    args=(str(settings.data_dir), SECRET, order, barrier, results,
                          settings.database_url))
        for order in (issued, issued[::-1])
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    for token in issued:
        seen = sorted(o[token] for o in outcomes)
        assert seen[1] == "replayed" and seen[0] in ("checked_in", "checked_out"), seen
    accepted = sum(o != "replayed" for result in outcomes for o in result.values())
    assert accepted == TOKENS
    (used,) = store.db.execute("SELECT COUNT(*) FROM used_tokens").fetchone()
    assert used == TOKENS
    # 40 alternating scans at one desk: 20 stays, all ended by the second scan.
    rows = store.db.execute('SELECT COUNT(*), COUNT("end") FROM checkins').fetchone()
    assert tuple(rows) == (TOKENS // 2, TOKENS // 2)
