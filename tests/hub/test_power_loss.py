"""A power cut at the hub in the middle of a batch's commit: the batch is wholly absent,
every batch before it wholly present, and the broker's redelivery (the torn batch was
never acknowledged) makes the database exactly what it would have been without the cut.

The hub acknowledges a batch only after its commit returned (WAL, ``synchronous = FULL``),
so "present" is what matters for every acknowledged message. The files are made as in
tests/edge/test_outbox_power_loss.py: the WAL as it was after each commit, cut short or
filled with garbage inside the next one, then opened as the hub opens them after a
restart. The ingest path is the hub's own (``Ingestor._process`` on real payloads).
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from edge.protocol import DeskEvent, DesksMessage, encode, topic_for
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor, _Received
from tests.support.building import BUILDING

DESKS = {"hq-agent-1": ["hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"]}
TABLES = {
    "messages": "agent, boot, seq, kind",
    "transitions": "id, desk, state, at, agent, boot, seq",
    "desk_state": "desk, state, since, last_at, agent",
    "counters": "name, value",
    "agents": "id, boot, gaps",
}
State = dict[str, list[tuple[object, ...]]]


def _state(path: Path) -> State:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {table: conn.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
                for table, columns in TABLES.items()}
    finally:
        conn.close()


def _batches(now: float) -> list[list[_Received]]:
    """Eight batches of real `desks` payloads, one seq skipped (a gap) on the way."""
    rng = random.Random(5)
    batches, seq, mid = [], 0, 0
    for _ in range(8):
        batch = []
        for _ in range(rng.randint(3, 12)):
            seq += 2 if seq == 17 else 1
            mid += 1
            desks = rng.sample(DESKS["hq-agent-1"], rng.randint(1, 3))
            events = tuple(DeskEvent(d, rng.choice(["occupied", "vacant"]), now - 900 + seq)
                           for d in desks)
            payload = encode(DesksMessage("hq-agent-1", 1, seq, now, events))
            batch.append(_Received(topic_for("hq", "hq-agent-1", "desks"), payload, mid, 1,
                                   now, 1))
        batches.append(batch)
    return batches


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, list[int],
                                                               list[State], list[list[_Received]]]:
    """The hub's files after eight committed batches, the WAL size and tables after each."""
    work = tmp_path_factory.mktemp("hub")
    settings = HubSettings(data_dir=work)
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    ingest = Ingestor(settings, store)
    database = settings.database_path
    wal = database.with_name(database.name + "-wal")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL starts empty from here
    main_file = database.read_bytes()
    sizes, states = [wal.stat().st_size], [_state(database)]
    batches = _batches(time.time())
    for batch in batches:
        ingest._process(batch)  # one transaction, committed: the hub would ack it now
        sizes.append(wal.stat().st_size)
        states.append(_state(database))
    assert database.read_bytes() == main_file, "a checkpoint ran: the test's model is off"
    whole_wal = wal.read_bytes()
    store.close()
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    return main_file, whole_wal, sizes, states, batches


def _restart(tmp_path: Path, main: bytes, wal: bytes) -> tuple[SqliteStore, Ingestor, Path]:
    settings = HubSettings(data_dir=tmp_path)
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    settings.database_path.write_bytes(main)
    settings.database_path.with_name(settings.database_path.name + "-wal").write_bytes(wal)
    store = SqliteStore(settings.database_path)  # as `hub serve` opens it, migrations too
    return store, Ingestor(settings, store), settings.database_path


def test_a_batch_torn_by_a_power_cut_is_absent_and_its_redelivery_is_exact(
    history: tuple[bytes, bytes, list[int], list[State], list[list[_Received]]],
    tmp_path: Path,
) -> None:
    main, wal, sizes, states, batches = history
    rng = random.Random(3)
    assert ("hq-agent-1", 1, 1) in states[-1]["agents"]  # the gap was counted once
    for k in range(1, len(sizes)):
        for n, cut in enumerate(sorted({sizes[k - 1] + 1, sizes[k] - 1,
                                        rng.randrange(sizes[k - 1] + 1, sizes[k])})):
            torn = wal[:cut]
            if n == 1:  # garbage where the rest of the batch was going
                torn += rng.randbytes(sizes[k] - cut)
            store, ingest, database = _restart(tmp_path / f"cut-{k}-{n}", main, torn)
            try:
                assert _state(database) == states[k - 1]
                ingest._process(batches[k - 1])  # the broker delivers it again
                assert _state(database) == states[k]
                ingest._process(batches[k - 1])  # and once more: only duplicates
                after = _state(database)
            finally:
                store.close()
            assert after["transitions"] == states[k]["transitions"]
            duplicates = dict(after["counters"])["duplicates"]
            assert duplicates == dict(states[k]["counters"]).get("duplicates", 0) + len(
                batches[k - 1])
