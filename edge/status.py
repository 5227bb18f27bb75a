"""``deskpulse edge status``: what an installer on site asks of a Pi.

Is its outbox draining or filling, how old is the oldest message still waiting, has it
dropped any, is it near a bound; and, with ``--broker``, can it reach the broker with
its own credentials. The hub cannot answer these while the Pi cannot reach the broker,
which is exactly when they matter. Read-only, so it is safe beside a running agent, and
it never shows a message's content.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import AgentConfig, OutboxConfig
from edge.outbox import OutboxSummary, summarize

NEAR = 0.8  # a bound this full is worth a warning: the next outage may cross it


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def describe_outbox(status: OutboxSummary | None, bounds: OutboxConfig, path: Path,
                    now: float) -> tuple[list[str], list[str]]:
    """(lines, warnings) for the outbox: plain words, each warning saying what to do."""
    if status is None:
        return [f"Outbox: none yet at {path} (the agent has not run with this data_dir)"], []
    lines = [f"Outbox: {path}", f"  boot counter: {status.boot}"]
    warnings: list[str] = []
    megabytes = status.size_bytes / 1e6
    lines.append(f"  waiting for the broker: {status.depth} message(s), {megabytes:.2f} MB "
                 f"(bounds: {bounds.max_messages} messages, {bounds.max_megabytes:g} MB)")
    if status.depth:
        if status.oldest_queued is not None:
            age = max(now - status.oldest_queued, 0.0)
            lines.append(f"  oldest waiting: written {_age(age)} ago "
                         f"(bound: {bounds.max_age_days:g} days)")
            if age >= NEAR * bounds.max_age_days * 86400:
                warnings.append(
                    f"the oldest waiting message is {_age(age)} old: past "
                    f"{bounds.max_age_days:g} days it is dropped; get this Pi to the broker")
        if status.undated:
            lines.append(f"  {status.undated} waiting message(s) written while the clock was "
                         "not set: their age is unknown (never dropped for age)")
    if status.depth >= NEAR * bounds.max_messages or megabytes >= NEAR * bounds.max_megabytes:
        warnings.append("the outbox is nearly full: the oldest messages will be dropped; "
                        "get this Pi to the broker, or raise [outbox] bounds in edge.toml")
    lines.append(f"  dropped over its life: {status.dropped}")
    if status.dropped:
        warnings.append(f"{status.dropped} message(s) were dropped (outbox full or too old): "
                        "those desk events are lost; the hub shows them as gaps")
    return lines, warnings


@dataclass(frozen=True)
class BrokerCheck:
    ok: bool
    detail: str


def _ca_problem(ca_file: Path | None) -> str | None:
    """Why the configured CA file cannot be used, before any connection is tried."""
    if ca_file is None:
        return None
    if not ca_file.exists():
        return (f"the CA file {ca_file} does not exist: copy the hub's ca.crt there "
                "(deploy/mosquitto) or fix mqtt.ca_file")
    try:
        head = ca_file.read_bytes()[:4096]
    except OSError as exc:
        return (f"the CA file {ca_file} cannot be read ({exc.strerror or exc}): let the "
                "agent's user read it (chmod 644, or chgrp deskpulse)")
    if b"-----BEGIN CERTIFICATE-----" not in head:
        return (f"the CA file {ca_file} is not a PEM certificate: copy the hub's ca.crt "
                "there again")
    return None


def _connect(config: AgentConfig, client_id: str, password: str | None,
             timeout: float) -> tuple[Any, str | None]:
    """One connection attempt: (the broker's CONNACK reason or None, a failure line)."""
    mqtt = config.mqtt
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=True, protocol=paho.MQTTv311)
    if mqtt.username is not None:
        client.username_pw_set(mqtt.username, password)
    answered = threading.Event()
    outcome: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome["reason"] = reason
        answered.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.setdefault("reason", reason)
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        if mqtt.tls:
            client.tls_set(ca_certs=str(mqtt.ca_file) if mqtt.ca_file else None)
        client.connect(mqtt.host, mqtt.port, keepalive=10)
    except ssl.SSLError as exc:
        return None, (f"TLS failed ({exc.reason or exc}): check mqtt.ca_file and that "
                      "mqtt.host is the name in the broker's certificate")
    except OSError as exc:
        return None, (f"cannot connect ({exc.strerror or exc}): check mqtt.host, mqtt.port "
                      "and the network; is the broker running?")
    client.loop_start()
    try:
        if not answered.wait(timeout):
            return None, (f"no answer within {timeout:g} s: check mqtt.port (TLS or plain?) "
                          "and firewalls")
        return outcome["reason"], None
    finally:
        client.disconnect()
        client.loop_stop()


def check_broker(config: AgentConfig, timeout: float = 5.0) -> BrokerCheck:
    """Connect to the broker with the agent's credentials and TLS settings, then leave.

    Its own client id (the agent's plus ``-status``): connecting as the agent itself would
    make the broker drop a running agent's session. Nothing is published. When the agent
    has credentials and they are accepted, a second attempt with a wrong password tells
    whether the broker checked them at all: one that lets anybody in (``allow_anonymous``
    without a password file) would accept any agent under any name."""
    mqtt = config.mqtt
    if mqtt.tls:
        problem = _ca_problem(mqtt.ca_file)
        if problem is not None:
            return BrokerCheck(False, problem)
    client_id = f"deskpulse-{config.site}-{config.agent}-status"
    reason, failure = _connect(config, client_id, mqtt.password, timeout)
    if failure is not None:
        return BrokerCheck(False, failure)
    if getattr(reason, "is_failure", True):
        return BrokerCheck(False, f"credentials refused ({reason}): check mqtt.username and "
                                  "mqtt.password against `deskpulse hub agents add`")
    if mqtt.username is None:
        return BrokerCheck(True, "reachable (no credentials configured)")
    wrong, failure = _connect(config, client_id + "-probe",
                              (mqtt.password or "") + "-not-the-password", timeout)
    if failure is None and not getattr(wrong, "is_failure", True):
        return BrokerCheck(False, "the broker accepts any password (anonymous access): the "
                                  "credentials were not checked; set allow_anonymous false "
                                  "and a password_file (deploy/mosquitto)")
    return BrokerCheck(True, "reachable, credentials accepted")


def report(config: AgentConfig, *, broker: bool, now: float | None = None) -> tuple[str, int]:
    """The whole report and the exit code: 0 all well, 1 a warning or a broker failure."""
    now = time.time() if now is None else now
    path = config.outbox_path
    lines = [f"Agent {config.agent} of site {config.site}"]
    outbox, warnings = describe_outbox(summarize(path), config.outbox, path, now)
    lines += outbox
    where = f"{config.mqtt.host}:{config.mqtt.port}{' (TLS)' if config.mqtt.tls else ''}"
    if broker:
        checked = check_broker(config)
        lines.append(f"Broker {where}: {checked.detail}")
        if not checked.ok:
            warnings.append(f"the broker check failed: {checked.detail}")
    else:
        lines.append(f"Broker {where}: not checked (add --broker to try a connection)")
    lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines) + "\n", 1 if warnings else 0
