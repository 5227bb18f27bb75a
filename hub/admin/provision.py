"""Agent provisioning: per-agent MQTT credentials, the broker's ACL, and a ready edge.toml.

Every agent gets its own random password, shown once. The broker's own tool
(``mosquitto_passwd``, fed on stdin so the password never appears in a process list)
stores only its salted hash. The ACL gets one ``user`` block per agent that names the
agent's site and id literally: a Mosquitto ``pattern`` can only substitute the username,
so it could not stop an agent from publishing under another site (docs/security.md).
After a change the broker must reload (SIGHUP) to see it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from edge.protocol import EDGE_TO_HUB, HUB_TO_EDGE, TOPIC_ROOT, is_id
from hub.admin.edge_config import host_lines, outbox_section
from hub.building import desk_sensors
from hub.errors import ConfigError, DeskpulseError

log = logging.getLogger(__name__)

HUB_ACCOUNT = "deskpulse-hub"
PASSWORD_BYTES = 24  # 32 URL-safe characters, 192 bits
TABLE = "provisioned_agents"


class ProvisionError(DeskpulseError):
    """Provisioning cannot do what was asked (name taken, tool missing, file unwritable)."""


# -- pure: ACL text and edge.toml ---------------------------------------------------------

def hub_acl() -> str:
    """The hub reads everything edges send and writes what it sends them, nothing else."""
    lines = [f"user {HUB_ACCOUNT}"]
    lines += [f"topic read {TOPIC_ROOT}/+/+/{kind}" for kind in EDGE_TO_HUB]
    lines += [f"topic write {TOPIC_ROOT}/+/+/{kind}" for kind in HUB_TO_EDGE]
    return "\n".join(lines) + "\n"


def agent_acl(name: str, site: str) -> str:
    """Publish its own edge->hub topics; subscribe to its own config and feedback only."""
    prefix = f"{TOPIC_ROOT}/{site}/{name}"
    lines = [f"user {name}"]
    lines += [f"topic write {prefix}/{kind}" for kind in EDGE_TO_HUB]
    lines += [f"topic read {prefix}/{kind}" for kind in HUB_TO_EDGE]
    return "\n".join(lines) + "\n"


def split_acl(text: str) -> tuple[str, dict[str, str]]:
    """(text before the first ``user`` line, {user: its block}), in file order."""
    preamble: list[str] = []
    blocks: dict[str, list[str]] = {}
    current: list[str] = preamble
    for line in text.splitlines(keepends=True):
        words = line.split()
        if len(words) == 2 and words[0] == "user":
            current = blocks.setdefault(words[1], [])
        current.append(line)
    return "".join(preamble), {user: "".join(lines) for user, lines in blocks.items()}


def edit_acl(text: str, *, add: tuple[str, str] | None = None, remove: str | None = None) -> str:
    """The ACL with agent ``add`` = (name, site) added or ``remove`` removed.

    The hub's block is always rewritten to the current one; other users' blocks are kept.
    """
    preamble, blocks = split_acl(text)
    blocks[HUB_ACCOUNT] = hub_acl()
    if remove is not None:
        blocks.pop(remove, None)
    if add is not None:
        blocks[add[0]] = agent_acl(*add)
    parts = [preamble.rstrip("\n") + "\n\n" if preamble.strip() else ""]
    parts += [block.rstrip("\n") + "\n\n" for block in blocks.values()]
    return "".join(parts).rstrip("\n") + "\n"


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def edge_toml(
    name: str, site: str, password: str, *, broker_host: str, broker_port: int, tls: bool,
    ca_file: str | Path | None, desks: Sequence[tuple[str, str]] = (),
    sensors: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> str:
    """A complete edge.toml for the agent; ``desks`` are (desk id, zone) pairs, ``sensors``
    the sensors recorded in the building by desk id (hub/building/desk_sensors.py)."""
    lines = [
        f"# Deskpulse agent {name} of site {site}: made by `deskpulse hub agents add`.",
        "# It holds the agent's MQTT password: keep it owner-only (chmod 600).",
        f"site = {_toml_str(site)}",
        f"agent = {_toml_str(name)}",
        'data_dir = "/var/lib/deskpulse-edge"',
        "",
        "[mqtt]",
        *host_lines(broker_host),
        f"port = {broker_port}",
        f"username = {_toml_str(name)}",
        f"password = {_toml_str(password)}",
        f"tls = {'true' if tls else 'false'}",
    ]
    if ca_file is not None:
        lines.append(f"ca_file = {_toml_str(str(ca_file))}")
    lines += outbox_section()
    for desk, zone in desks:
        lines += ["", "[[desks]]", f"id = {_toml_str(desk)}", f"zone = {_toml_str(zone)}"]
        lines += desk_sensors.toml_tables((sensors or {}).get(desk, ()))
    if not desks:
        desk = "desk-1"
        lines += ["", "# No desks are assigned to this agent in the hub yet: replace this one.",
                  "# A file sensor that does not exist reads as a fault: the desk stays unknown.",
                  "[[desks]]", f"id = {_toml_str(desk)}", 'zone = "zone-1"',
                  f'sensor = "file:/run/deskpulse/{desk}"']
    return "\n".join(lines) + "\n"


def check_site(db: Database, site: str) -> None:
    """ConfigError naming the known sites when ``site`` is not one of them."""
    known = [str(row[0]) for row in db.execute("SELECT id FROM sites ORDER BY id")]
    if site not in known:
        listed = ", ".join(known) if known else "none yet"
        raise ConfigError(f"unknown site '{site}' (known sites: {listed}): import the "
                          "building first (`deskpulse hub import-building`) or pick a known "
                          "site")


def check_name(name: str, site: str) -> None:
    if not is_id(name) or not is_id(site):
        raise ConfigError(
            f"agent '{name}' and site '{site}' must be ids: lowercase letters, digits and '-'"
        )
    if name == HUB_ACCOUNT:
        raise ConfigError(f"'{HUB_ACCOUNT}' is the hub's own account: choose another agent name")


# -- I/O: the broker's files --------------------------------------------------------------

@contextlib.contextmanager
def _locked(acl_file: Path) -> Iterator[None]:
    """One provisioning at a time: two concurrent edits would lose one agent."""
    acl_file.parent.mkdir(parents=True, exist_ok=True)
    with open(acl_file.with_name(acl_file.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_keeping_owner(path: Path, text: str) -> None:
    """Replace atomically, keeping the old file's mode and owner (mosquitto must read it)."""
    old = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, (old.st_mode & 0o777) if old else 0o640)
        if old is not None and os.geteuid() == 0:
            os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _passwd_tool() -> str:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        raise ProvisionError("mosquitto_passwd is not installed: install the mosquitto package")
    return tool


def passwd_users(passwd_file: Path) -> set[str]:
    if not passwd_file.exists():
        return set()
    return {line.split(":", 1)[0] for line in passwd_file.read_text().splitlines() if ":" in line}


def _set_password(passwd_file: Path, user: str, password: str) -> None:
    if not passwd_file.exists():
        fd = os.open(passwd_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
    result = subprocess.run(  # password on stdin (twice: entry and confirmation), not argv
        [_passwd_tool(), str(passwd_file), user], input=f"{password}\n{password}\n",
        capture_output=True, text=True, timeout=30, check=False,
    )
    if result.returncode != 0 or user not in passwd_users(passwd_file):
        raise ProvisionError(
            f"mosquitto_passwd could not write {passwd_file}: {result.stderr.strip()}"
        )


def _delete_password(passwd_file: Path, user: str) -> None:
    if user not in passwd_users(passwd_file):
        return
    subprocess.run([_passwd_tool(), "-D", str(passwd_file), user],
                   capture_output=True, timeout=30, check=False)
    if user in passwd_users(passwd_file):
        raise ProvisionError(f"mosquitto_passwd could not remove {user} from {passwd_file}")


def add_agent(
    name: str, site: str, *, passwd_file: Path, acl_file: Path, broker_host: str,
    broker_port: int = 8883, tls: bool = True, ca_file: str | Path | None = None,
    desks: Sequence[tuple[str, str]] = (),
    sensors: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> tuple[str, str]:
    """Create the agent's account and ACL; returns (password, edge.toml text).

    The password exists only in the return value: show it once, store it nowhere else.
    """
    check_name(name, site)
    with _locked(acl_file):
        if name in passwd_users(passwd_file):
            raise ProvisionError(
                f"agent '{name}' already has broker credentials: revoke it first to re-issue"
            )
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        _set_password(passwd_file, name, password)
        try:
            text = acl_file.read_text() if acl_file.exists() else ""
            _write_keeping_owner(acl_file, edit_acl(text, add=(name, site)))
        except BaseException:
            _delete_password(passwd_file, name)  # no half-provisioned agent left behind
            raise
    log.info("provisioned agent %s of site %s", name, site)
    return password, edge_toml(name, site, password, broker_host=broker_host,
                               broker_port=broker_port, tls=tls, ca_file=ca_file, desks=desks,
                               sensors=sensors)


def revoke_agent(name: str, *, passwd_file: Path, acl_file: Path) -> bool:
    """Remove the agent's password and ACL block; False if it had none. Reload the broker."""
    if name == HUB_ACCOUNT:
        raise ConfigError(f"'{HUB_ACCOUNT}' is the hub's own account, not an agent")
    if not is_id(name):
        raise ConfigError(f"agent '{name}' is not an id: lowercase letters, digits and '-'")
    with _locked(acl_file):
        known = name in passwd_users(passwd_file)
        _delete_password(passwd_file, name)
        text = acl_file.read_text() if acl_file.exists() else ""
        _, blocks = split_acl(text)
        known = known or name in blocks
        _write_keeping_owner(acl_file, edit_acl(text, remove=name))
    log.info("revoked agent %s", name)
    return known


def ensure_hub_account(*, passwd_file: Path, acl_file: Path) -> str | None:
    """Create the hub's own account once; returns its new password, or None if it exists."""
    with _locked(acl_file):
        text = acl_file.read_text() if acl_file.exists() else ""
        _write_keeping_owner(acl_file, edit_acl(text))
        if HUB_ACCOUNT in passwd_users(passwd_file):
            return None
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        _set_password(passwd_file, HUB_ACCOUNT, password)
    return password


# -- the hub database's record (who was provisioned, when; never a password) -------------

def record_added(db: Database, name: str, site: str, now: float | None = None) -> None:
    """Call inside a store transaction (``SqliteStore.transaction``)."""
    db.execute(
        f"INSERT INTO {TABLE} (name, site, created, revoked) VALUES (?, ?, ?, NULL) "  # noqa: S608
        "ON CONFLICT(name) DO UPDATE SET site = excluded.site, created = excluded.created, "
        "revoked = NULL",
        [name, site, time.time() if now is None else now],
    )


def record_revoked(db: Database, name: str, now: float | None = None) -> None:
    db.execute(
        f"UPDATE {TABLE} SET revoked = ? WHERE name = ? AND revoked IS NULL",  # noqa: S608
        [time.time() if now is None else now, name],
    )


def agent_desks(db: Database, name: str, site: str) -> list[tuple[str, str]]:
    """(desk, zone) of the desks the building assigns to this agent."""
    rows = db.execute(
        "SELECT id, zone FROM desks WHERE agent = ? AND site = ? ORDER BY id", [name, site]
    ).fetchall()
    return [(str(desk), str(zone)) for desk, zone in rows]
