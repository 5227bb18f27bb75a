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


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_outbox_past_its_byte_bound_drops_the_oldest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=1000)
    ids = [box.enqueue("t", bytes(300), 1) for _ in range(5)]
    assert (box.depth(), box.size(), box.dropped) == (3, 900, 2)
    assert [r.id for r in box.pending(10)] == ids[2:]
    box.ack(ids[2])
    assert (box.depth(), box.size()) == (2, 600)
    box.close()
    box = Outbox(tmp_path / "o.sqlite", max_bytes=1000)  # the totals come back from the file
    assert (box.depth(), box.size(), box.dropped) == (2, 600, 2)


def test_outbox_drops_messages_older_than_max_age(tmp_path: Path) -> None:
    clock = Clock()
    box = Outbox(tmp_path / "o.sqlite", max_age=3600.0, clock=clock)
    old = [box.enqueue("t", b"old", 1) for _ in range(3)]
    clock.now += 1800
    recent = box.enqueue("t", b"recent", 1)
    clock.now += 1801  # the first three are now older than an hour, the fourth is not
    assert [r.id for r in box.pending(10)] == [recent]  # dropped before anything is sent
    assert (box.depth(), box.dropped) == (1, 3)
    assert old[0] not in [r.id for r in box.pending(10)]
    clock.now += 3601
    newest = box.enqueue("t", b"new", 1)  # enqueueing drops what aged meanwhile, too
    assert [r.id for r in box.pending(10)] == [newest]
    assert box.dropped == 4


def test_outbox_does_not_drop_by_age_while_the_clock_is_not_set(tmp_path: Path) -> None:
    clock = Clock(86400.0)  # a Pi without a real-time clock, before NTP: 1970
    box = Outbox(tmp_path / "o.sqlite", max_age=3600.0, clock=clock)
    early = box.enqueue("t", b"written in 1970", 1)
    clock.now += 7200
    assert [r.id for r in box.pending(10)] == [early]
    clock.now = 1_800_000_000.0  # NTP sets the clock: the early row's age is unknown
    later = box.enqueue("t", b"written later", 1)
    clock.now += 7200
    assert [r.id for r in box.pending(10)] == [early]
    assert box.dropped == 1 and later not in [r.id for r in box.pending(10)]


def test_an_outbox_from_before_the_age_bound_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
        "payload BLOB NOT NULL, qos INTEGER NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO outbox (topic, payload, qos) VALUES ('t', x'0102', 1), ('t', x'03', 1);"
        "INSERT INTO meta VALUES ('boot', 4);")
    old.commit()
    old.close()
    clock = Clock()
    box = Outbox(path, max_age=3600.0, clock=clock)
    assert (box.boot, box.depth(), box.size()) == (4, 2, 3)
    assert [r.payload for r in box.pending(10)] == [b"\x01\x02", b"\x03"]
    clock.now += 3601  # counted as written when this version opened the file
    assert box.pending(10) == [] and box.dropped == 2


def test_lowering_a_bound_applies_to_what_the_outbox_already_holds(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    ids = [box.enqueue("t", bytes([i]), 1) for i in range(6)]
    box.close()
    box = Outbox(path, max_rows=2)
    assert [r.id for r in box.pending(10)] == ids[4:]
    assert box.dropped == 4
