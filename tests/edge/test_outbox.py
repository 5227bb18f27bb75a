"""The SQLite outbox: persistence across re-opens, FIFO order, drop-oldest, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from edge.errors import OutboxError
from edge.outbox import Outbox, OutboxRow


def test_boot_counter_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    first = Outbox(path)
    assert first.boot == 0
    assert first.start_boot() == 1
    first.close()
    second = Outbox(path)
    assert second.start_boot() == 2
    assert second.start_boot() == 3
    second.close()
    assert Outbox(path).boot == 3


def test_pending_rows_survive_reopen_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "outbox.sqlite"
    box = Outbox(path)
    ids = [box.enqueue(f"t/{i}", f"p{i}".encode(), 1) for i in range(5)]
    box.ack(ids[1])
    box.close()

    box = Outbox(path)
    assert box.depth() == 4
    assert box.pending(10) == [
        OutboxRow(ids[i], f"t/{i}", f"p{i}".encode(), 1) for i in (0, 2, 3, 4)
    ]
    assert [r.id for r in box.pending(2, exclude={ids[0], ids[3]})] == [ids[2], ids[4]]
    assert [r.id for r in box.pending(1, exclude={ids[0]})] == [ids[2]]
    # WAL + synchronous=FULL, as the brief promises for power cuts.
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_ack_is_idempotent_and_ids_are_never_reused(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    first = box.enqueue("t", b"x", 1)
    box.ack(first)
    box.ack(first)
    assert box.depth() == 0
    assert box.enqueue("t", b"y", 1) > first


def test_full_outbox_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_rows=3)
    ids = [box.enqueue("t", bytes([i]), 1) for i in range(5)]
    assert box.depth() == 3
    assert box.dropped == 2
    assert [r.id for r in box.pending(10)] == ids[2:]
    box.close()
    box = Outbox(path, max_rows=3)
    assert box.dropped == 2
    box.enqueue("t", b"z", 1)
    assert box.dropped == 3
    assert [r.payload for r in box.pending(10)] == [bytes([3]), bytes([4]), b"z"]


def test_concurrent_writers_and_ackers(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    written: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        for i in range(50):
            row = box.enqueue("t", str(i).encode(), 1)
            with lock:
                written.append(row)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box.depth() == 200 == len(set(written))
    for row in box.pending(500):
        box.ack(row.id)
    assert box.depth() == 0


def test_unusable_path_is_an_outbox_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot open the outbox at"):
        Outbox(blocker / "outbox.sqlite")
