"""How hard the fuzzers try: a short run in `make test`, a long one in `make fuzz`.

``DESKPULSE_FUZZ=long`` (set by `make fuzz`) multiplies every example budget; the
default keeps the whole tests/fuzz directory well under a minute on a small machine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("DESKPULSE_FUZZ", "").lower() == "long"


def examples(short: int, long: int) -> int:
    return long if LONG else short


def budget(short: int, long: int) -> settings:
    """Hypothesis settings for one harness: no deadline (a loaded CI box is slow), no
    example database (runs stay independent of the working tree)."""
    return settings(max_examples=examples(short, long), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
