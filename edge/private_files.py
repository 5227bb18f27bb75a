"""Owner-only directories and files for everything Deskpulse creates on disk.

Why: data directories, databases, outboxes and key files hold state an attacker on the
same machine must not read (dead letters' hashes, accounts, the MQTT password next to an
outbox). ``hub serve`` made its data directory 0700, but other commands created theirs
with the process umask (0755 and 0644: issue 24, item 8). Every creator goes through here.
Existing directories and files keep the mode their owner gave them.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; an existing one is left as it is."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(directory, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened
    return path


def private_file(path: Path) -> Path:
    """Create an empty ``path`` owner-only if it does not exist (its directory too), so
    that whatever opens it next (SQLite, a writer) finds the mode already set. SQLite gives
    a database's -wal and -shm files the database file's mode."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` owner-only (an existing file is narrowed to 0600 too)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
