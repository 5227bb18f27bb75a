"""Entry point of the hub process the fault tests kill: ``python -m tests.faults.hub_process``.

Settings come from ``DESKPULSE_*`` environment variables only; SIGTERM stops cleanly,
SIGKILL (the point of the exercise) does not. With ``FAULT_CRASH_AFTER_COMMITS=n`` the
process SIGKILLs itself right after the n-th committed batch holding desks messages and
before acknowledging it: the narrowest window of the at-least-once design, which random
kills hit only by chance.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from hub.config import HubSettings
from hub.ingest.ingestor import Ingestor
from hub.server import HubServer


def crash_after_commits(count: int) -> None:
    """Make the count-th acknowledgement of a committed desks batch a SIGKILL instead."""
    original = Ingestor._ack
    seen = 0

    def ack(self: Ingestor, batch: list[Any]) -> None:
        nonlocal seen
        if any(item.topic.endswith("/desks") for item in batch):
            seen += 1
            if seen >= count:
                os.kill(os.getpid(), signal.SIGKILL)
        original(self, batch)

    Ingestor._ack = ack  # type: ignore[method-assign]


def main() -> int:
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    crash_after = os.environ.get("FAULT_CRASH_AFTER_COMMITS")
    if crash_after:
        crash_after_commits(int(crash_after))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = HubServer(HubSettings())
    server.start()
    print(f"hub ready on {server.url}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
