"""The hub's fast ingest paths give exactly the answers of the plain ones.

hub/ingest/fast_decode.py must accept only what edge.protocol.decode accepts, with the same
message; hub/db/sqlite/apply_set.py must leave every table as hub/db/apply.py's message-by-message
apply does, for batches mixing duplicates, gaps, late and out-of-order messages,
last-wills, clock skew, unknown desks and agents speaking for the wrong site.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import protocol as p
from hub.db import apply as rules
from hub.db.apply import ClockPolicy, Incoming
from hub.db.sqlite import apply_set
from hub.db.sqlite.store import SqliteStore
from hub.errors import ProtocolError
from hub.ingest.fast_decode import decode_desks
from tests.hub.batches import BUILDING, NOW, TABLES, _random_batch

TOPIC = p.Topic("s1", "a1", "desks")
GOOD = {"v": 1, "agent": "a1", "boot": 2, "seq": 7, "sent": NOW - 5,
        "events": [{"desk": "d1", "state": "occupied", "at": NOW - 6}]}


def _strict(payload: bytes) -> p.Message | None:
    try:
        return p.decode(TOPIC, payload, now=NOW)
    except ProtocolError:
        return None


def _variants() -> list[bytes]:
    out = [orjson.dumps(GOOD), b"\xef\xbb\xbf" + orjson.dumps(GOOD), b"{", b"[]", b"\xff"]
    edits: list[tuple[str, object]] = [
        ("v", 1.0), ("v", 2), ("v", True), ("agent", "a2"), ("agent", "A1"), ("boot", -1),
        ("boot", True), ("seq", 2**53), ("seq", 1.0), ("sent", NOW + 301), ("sent", NOW + 299),
        ("sent", 1e12), ("sent", "1"), ("events", []), ("events", {}), ("extra", 1),
    ]
    for key, value in edits:
        out.append(orjson.dumps({**GOOD, key: value}))
    event = GOOD["events"][0]  # type: ignore[index]
    for key, value in [("desk", "D1"), ("desk", 5), ("state", "gone"), ("state", None),
                       ("at", -1), ("at", NOW + 400), ("at", 12), ("x", 1)]:
        out.append(orjson.dumps({**GOOD, "events": [{**event, key: value}]}))
    missing = {k: v for k, v in GOOD.items() if k != "sent"}
    out.append(orjson.dumps(missing))
    out.append(orjson.dumps({**GOOD, "events": [{"desk": "d1", "state": "vacant", "y": 1}]}))
    out.append(b'{"v":1,"agent":"a1","boot":1,"seq":1,"sent":NaN,"events":[]}')
    out.append(b'{"v":1,"v":1,"agent":"a1","boot":1,"seq":1,"sent":5,'
               b'"events":[{"desk":"d1","state":"vacant","at":4}]}')
    out.extend(DUPLICATES)
    return out


# Valid but for a repeated key: orjson keeps the last copy, the strict decoder refuses.
_SENT, _AT = int(NOW - 5), int(NOW - 6)
DUPLICATES = [
    f'{{"v":1,"v":1,"agent":"a1","boot":1,"seq":1,"sent":{_SENT},'
    f'"events":[{{"desk":"d1","state":"vacant","at":{_AT}}}]}}'.encode(),
    f'{{"v":1,"agent":"a1","boot":1,"seq":1,"sent":{_SENT},"sent":{_SENT},'
    f'"events":[{{"desk":"d1","state":"vacant","at":{_AT}}}]}}'.encode(),
    f'{{"v":1,"agent":"a1","boot":1,"seq":1,"sent":{_SENT},'
    f'"events":[{{"desk":"d1","state":"vacant","at":{_AT}}},'
    f'{{"desk":"d2","desk":"d1","state":"occupied","at":{_AT}}}]}}'.encode(),
    f'{{"v":1,"agent":"a1","boot":1,"seq":1,"sent":{_SENT},'
    f'"events":[{{"desk":"d1","state":"vacant","at":{_AT}}}],"events":[]}}'.encode(),
]


@pytest.mark.parametrize("payload", DUPLICATES)
def test_both_decoders_refuse_a_repeated_key(payload: bytes) -> None:
    """Issue 24, item 9: the fast path hands it to the strict decoder, which refuses it."""
    assert decode_desks(TOPIC, payload, now=NOW) is None
    with pytest.raises(ProtocolError, match="appears more than once in an object"):
        p.decode(TOPIC, payload, now=NOW)


@pytest.mark.parametrize(("at", "max_age"), [
    (1000.0, None), (p.MIN_TIMESTAMP - 1, None), (NOW - 86401, 86400.0),
])
def test_both_decoders_refuse_times_before_the_clock_was_set_or_the_horizon(
    at: float, max_age: float | None
) -> None:
    """Issue 24, item 1: the fast path must not let a 1970 (or too old) event past."""
    payload = orjson.dumps({**GOOD, "events": [{"desk": "d1", "state": "occupied", "at": at}]})
    assert decode_desks(TOPIC, payload, now=NOW, max_age=max_age) is None
    with pytest.raises(ProtocolError):
        p.decode(TOPIC, payload, now=NOW, max_age=max_age)
    fresh = orjson.dumps({**GOOD, "events": [{"desk": "d1", "state": "occupied",
                                              "at": NOW - 86399}]})
    assert decode_desks(TOPIC, fresh, now=NOW, max_age=max_age) == p.decode(
        TOPIC, fresh, now=NOW, max_age=max_age)


@pytest.mark.parametrize("payload", _variants())
def test_fast_decode_accepts_only_what_the_strict_decoder_accepts(payload: bytes) -> None:
    fast = decode_desks(TOPIC, payload, now=NOW)
    if fast is not None:
        assert fast == _strict(payload)


def test_fast_decode_takes_the_common_message() -> None:
    assert decode_desks(TOPIC, orjson.dumps(GOOD), now=NOW) == _strict(orjson.dumps(GOOD))
    assert decode_desks(TOPIC, orjson.dumps(GOOD), now=NOW) is not None


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**60) | st.floats() | st.text(max_size=4)
    | st.sampled_from(["a1", "d1", "occupied", "vacant", "unknown"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["v", "agent", "boot", "seq", "sent", "events", "desk", "state", "at"]),
        inner, max_size=6),
    max_leaves=12,
))
def test_fast_decode_never_disagrees_on_random_json(body: object) -> None:
    try:
        payload = orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        return
    fast = decode_desks(TOPIC, payload, now=NOW)
    if fast is not None:
        assert fast == _strict(payload)


# -- set-wise apply ----------------------------------------------------------------------





def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(
            f"SELECT {columns} FROM {table} ORDER BY 1, 2"  # noqa: S608 - fixed names
        ).fetchall() for table, columns in TABLES.items()}
    finally:
        conn.close()


def _assert_same_tables(tmp_path: Path) -> None:
    """set.db holds what plain.db holds; and every gap was counted for its agent too (the
    random seqs jump now and then)."""
    tables = _dump(tmp_path / "set.db")
    assert tables == _dump(tmp_path / "plain.db")
    per_agent = sum(int(row[-1]) for row in tables["agents"])
    assert per_agent == dict(tables["counters"]).get("gaps", 0) > 0


@pytest.mark.parametrize("seed", range(12))
def test_set_wise_apply_leaves_the_tables_as_the_plain_apply(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    policy = ClockPolicy(120.0, "reject" if seed % 3 == 0 else "correct")
    stores = {name: SqliteStore(tmp_path / f"{name}.db") for name in ("plain", "set")}
    for store in stores.values():
        store.import_building(BUILDING)
        with store.transaction() as db:  # a4 may only speak for s2
            db.conn.execute("INSERT INTO provisioned_agents (name, site, created) "
                            "VALUES ('a4', 's2', 0)")
    sent: list[Incoming] = []
    for _ in range(15):
        batch = _random_batch(rng, sent)
        with stores["plain"].transaction() as db:
            plain = rules.apply_batch(db.conn, batch, policy)
        with stores["set"].transaction() as db:
            fast = apply_set.apply_batch(db.conn, batch, policy)
        assert fast == plain
    for store in stores.values():
        store.close()
    _assert_same_tables(tmp_path)



# Edits another connection makes between batches, each applied to both stores: the cached
# set-wise path must notice every one of them (a desk given to another agent or removed
# from it, an agent provisioned for the other site) and must not be fooled by commits
# that touch none of what it caches (a rollup's dirty marks being cleared).
EDITS = [
    "UPDATE desks SET agent = 'a2' WHERE id = 's1-d0'",
    "UPDATE desks SET agent = NULL WHERE id = 's1-d1'",
    "INSERT INTO provisioned_agents (name, site, created) VALUES ('a5', 's2', 0)",
    "UPDATE provisioned_agents SET site = 's1' WHERE name = 'a4'",
    "UPDATE agents SET site = 's2' WHERE id = 'a3'",
    "DELETE FROM dirty",
    "UPDATE desks SET agent = 'a1' WHERE id = 's1-d0'",
]


@pytest.mark.parametrize("seed", range(6))
def test_cached_set_wise_apply_sees_every_edit_made_by_another_connection(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(100 + seed)
    policy = ClockPolicy(120.0, "correct")
    stores = {name: SqliteStore(tmp_path / f"{name}.db") for name in ("plain", "set")}
    for store in stores.values():
        store.import_building(BUILDING)
        with store.transaction() as db:
            db.conn.execute("INSERT INTO provisioned_agents (name, site, created) "
                            "VALUES ('a4', 's2', 0)")
    sent: list[Incoming] = []
    edits = iter(EDITS)
    for step in range(20):
        batch = _random_batch(rng, sent)
        with stores["plain"].transaction() as db:
            plain = rules.apply_batch(db.conn, batch, policy)
        fast = stores["set"].apply(batch, policy)  # the store's cached path
        assert fast == plain, f"step {step}"
        if step % 3 == 1 and (edit := next(edits, None)) is not None:
            for name in stores:
                other = sqlite3.connect(tmp_path / f"{name}.db")
                with other:
                    other.execute(edit)
                other.close()
    for store in stores.values():
        store.close()
    _assert_same_tables(tmp_path)
