"""systemd's notify protocol, without a dependency: one datagram to ``$NOTIFY_SOCKET``.

deploy/systemd/deskpulse-edge.service runs the agent with ``Type=notify`` and
``WatchdogSec=``: ``READY=1`` once the agent has started, then ``WATCHDOG=1`` from the main
loop, so a loop that hangs (a stuck sensor read, a deadlock) gets the agent restarted.
Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


def _address(raw: str) -> str:
    """An abstract socket is written ``@name``; on the wire it starts with a NUL byte."""
    return "\0" + raw[1:] if raw.startswith("@") else raw


class Notifier:
    """Sends notify messages; ``watchdog()`` is rate-limited to half the watchdog period."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.socket_path = env.get("NOTIFY_SOCKET") or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() and mine else None
        self._last_ping = float("-inf")

    @property
    def enabled(self) -> bool:
        return self.socket_path is not None

    def send(self, message: str) -> bool:
        """Send one state line; False (logged) if systemd cannot be reached."""
        if self.socket_path is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), _address(self.socket_path))
        except OSError as exc:
            log.warning("cannot notify systemd (%s): %s", message, exc)
            return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """``WATCHDOG=1`` when a watchdog is set and half its period has passed."""
        if self.watchdog_seconds is None:
            return False
        now = time.monotonic()
        if now - self._last_ping < self.watchdog_seconds / 2:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")
