"""A sensor that reads "present" or "absent" from a small text file: for demos and tests.

Anything else in the file, or a file that cannot be read, is a fault, as a real driver
would report a sensor it cannot read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edge.sensors.base import Reading

log = logging.getLogger(__name__)

MAX_BYTES = 64


class FileSensor:
    """``read`` returns the presence written in ``path`` (surrounding whitespace ignored)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self, now: float) -> Reading:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            log.debug("cannot read %s: %s", self.path, exc.strerror)
            return Reading(now, "fault")
        text = raw.decode("ascii", "replace").strip().lower()
        if len(raw) <= MAX_BYTES and text in ("present", "absent"):
            return Reading(now, "present" if text == "present" else "absent")
        return Reading(now, "fault")
