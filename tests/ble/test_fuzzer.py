"""Seeded fuzzer: 20,000 random and mutated frames through every parser, none may raise.

Replay a failure with ``DESKPULSE_FUZZ_SEED=<seed from the message> pytest tests/ble``.
"""

from __future__ import annotations

import os
import random

from edge.ble.parsers import APPLE_COMPANY_ID, EDDYSTONE_SERVICE_UUID
from tests.ble import check_eddystone, check_manufacturer, load_frames

DEFAULT_SEED = 20261122
FRAMES = 20_000


def _corpus() -> list[tuple[int, bytes]]:
    """Real fixture payloads, tagged with company id (-1 for Eddystone service data)."""
    corpus: list[tuple[int, bytes]] = []
    for frame in load_frames():
        corpus.extend(frame.manufacturer_data.items())
        corpus.extend((-1, data) for uuid, data in frame.service_data.items()
                      if uuid == EDDYSTONE_SERVICE_UUID)
    return corpus


def _mutate(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        at = rng.randint(0, len(data))
        if op == 0 and data:  # flip one bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # overwrite a byte with an edge value
            data[rng.randrange(len(data))] = rng.choice((0x00, 0x7F, 0x80, 0xFF, 0x15, 0x20))
        elif op == 2:  # truncate
            del data[at:]
        elif op == 3:  # insert random bytes
            data[at:at] = rng.randbytes(rng.randint(1, 3))
        elif op == 4 and data:  # delete a run
            del data[at:at + rng.randint(1, 3)]
        else:  # duplicate a slice
            data[at:at] = data[rng.randint(0, len(data)):][:rng.randint(1, 4)]
    return bytes(data)


def test_parsers_survive_seeded_fuzzing() -> None:
    seed = int(os.environ.get("DESKPULSE_FUZZ_SEED", DEFAULT_SEED))
    rng = random.Random(seed)
    corpus = _corpus()
    accepted = 0
    for n in range(FRAMES):
        if rng.random() < 0.25:
            company, payload = rng.choice((APPLE_COMPANY_ID, 0x0118, -1)), rng.randbytes(
                rng.randint(0, 40))
        else:
            company, payload = rng.choice(corpus)
            payload = _mutate(rng, payload)
        try:
            accepted += check_manufacturer(
                APPLE_COMPANY_ID if company < 0 else company, payload)
            accepted += check_eddystone(payload)
        except Exception as err:
            raise AssertionError(f"seed {seed}, frame {n}: {payload.hex()}") from err
    # Mutations that keep a frame's shape (bit flips in ids) must reach the accept path too.
    assert accepted > FRAMES // 100, f"seed {seed}: only {accepted} frames decoded"
