"""A power cut in the middle of an outbox write loses nothing the outbox had committed.

The outbox commits every write (WAL, ``synchronous=FULL``) before the agent publishes
what it wrote, so a write that returned is on the card. A power cut tears the write in
progress: only part of its WAL frames, or garbage where they were going, reach the card.
These tests make such files from a real outbox (the main file and the WAL as they were
after each write, the WAL cut short or filled with garbage inside the next write) and
open them the way the agent does after the power comes back: every committed message
and the boot counter must be there, in order, and the torn write must be wholly absent.

What they cannot show: a card that acknowledges a flush it has not done (some cheap SD
cards do) loses committed writes whatever the software does; docs/operations.md says so.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.outbox import Outbox, OutboxRow

NAME = "outbox.sqlite"


@dataclass(frozen=True)
class Committed:
    """What the outbox held after one write returned, and how long its WAL was then."""

    wal_size: int
    boot: int
    pending: tuple[OutboxRow, ...]


def _state(box: Outbox, wal: Path) -> Committed:
    return Committed(wal.stat().st_size, box.boot, tuple(box.pending(1000)))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, list[Committed]]:
    """A working life of an outbox: boots, messages of different sizes, acks.

    Returns the main file, the whole WAL and the committed state after each write (the
    first entry: freshly opened). No checkpoint runs (the WAL stays far below SQLite's
    1,000 pages), so the main file never changes and each write only appends frames."""
    path = tmp_path_factory.mktemp("live") / NAME
    wal = path.with_name(NAME + "-wal")
    box = Outbox(path)
    main_before = path.read_bytes()
    states = [_state(box, wal)]
    rng = random.Random(7)
    ids: list[int] = []
    for step in range(40):
        if step in (0, 17):
            box.start_boot()
        elif step % 5 == 4 and ids:
            box.ack(ids.pop(rng.randrange(len(ids))))
        else:  # a desk message, now and then one larger than a page
            size = 9000 if step % 7 == 3 else rng.randrange(40, 400)
            ids.append(box.enqueue(f"deskpulse/v1/hq/pi-1/desks/{step}",
                                   rng.randbytes(size), 1))
        states.append(_state(box, wal))
    assert path.read_bytes() == main_before, "a checkpoint ran: the test's model is off"
    whole_wal = wal.read_bytes()
    box.close()
    sizes = [s.wal_size for s in states]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)  # every write appended
    return main_before, whole_wal, states


def _after_power_cut(tmp_path: Path, main: bytes, wal: bytes) -> Outbox:
    """The files as the card holds them when the power comes back, opened by the agent
    (no shared-memory index: it did not survive, SQLite rebuilds it from the WAL)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / NAME).write_bytes(main)
    (tmp_path / (NAME + "-wal")).write_bytes(wal)
    return Outbox(tmp_path / NAME)


def _assert_holds(box: Outbox, expected: Committed) -> None:
    assert box.boot == expected.boot
    assert tuple(box.pending(1000)) == expected.pending
    assert box.depth() == len(expected.pending)


def test_a_write_torn_anywhere_leaves_every_earlier_write_and_none_of_itself(
    history: tuple[bytes, bytes, list[Committed]], tmp_path: Path
) -> None:
    main, wal, states = history
    rng = random.Random(11)
    for k in range(1, len(states)):
        before, after = states[k - 1], states[k]
        cuts = {before.wal_size + 1, after.wal_size - 1,
                *(rng.randrange(before.wal_size + 1, after.wal_size) for _ in range(3))}
        for cut in sorted(cuts):
            box = _after_power_cut(tmp_path / f"cut-{k}-{cut}", main, wal[:cut])
            _assert_holds(box, before)
            box.close()
        # The write's own bytes all reached the card: it counts, and so does all before.
        box = _after_power_cut(tmp_path / f"whole-{k}", main, wal[:after.wal_size])
        _assert_holds(box, after)
        box.close()


def test_garbage_where_a_torn_write_was_going_is_ignored(
    history: tuple[bytes, bytes, list[Committed]], tmp_path: Path
) -> None:
    """A card that loses power mid-sector may leave random bytes instead of a short file."""
    main, wal, states = history
    rng = random.Random(13)
    for k in range(1, len(states), 3):
        before, after = states[k - 1], states[k]
        cut = rng.randrange(before.wal_size, after.wal_size)
        torn = wal[:cut] + rng.randbytes(after.wal_size - cut)
        box = _after_power_cut(tmp_path / f"garbage-{k}", main, torn)
        _assert_holds(box, before)
        box.close()


def test_after_a_power_cut_the_outbox_goes_on_and_the_next_boot_is_new(
    history: tuple[bytes, bytes, list[Committed]], tmp_path: Path
) -> None:
    """The agent starts again: a new boot number (so its seqs cannot collide with those of
    the boot the cut ended), new messages after the old ones, acks as before."""
    main, wal, states = history
    middle = states[len(states) // 2]
    cut = middle.wal_size + 100  # the next write torn after its first 100 bytes
    box = _after_power_cut(tmp_path / "again", main, wal[:cut])
    _assert_holds(box, middle)
    boot = box.start_boot()
    assert boot == middle.boot + 1
    new = box.enqueue("deskpulse/v1/hq/pi-1/desks/new", b"after the cut", 1)
    rows = box.pending(1000)
    assert rows[:-1] == list(middle.pending) and rows[-1].id == new
    assert new > max((row.id for row in middle.pending), default=0)
    box.ack(rows[0].id)
    box.close()
    reopened = Outbox(tmp_path / "again" / NAME)
    assert reopened.boot == boot
    assert reopened.pending(1000) == rows[1:]
    reopened.close()
    shutil.rmtree(tmp_path / "again")
