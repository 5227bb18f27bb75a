"""``deskpulse edge status``: the outbox's figures as an installer reads them on the Pi,
read beside a running agent (the outbox open and writing), with a warning and exit 1
where something needs doing. (The broker check: tests/security/test_edge_status_broker.py.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import AgentConfig
from edge.outbox import Outbox
from edge.status import report

DAY = 86400.0
NOW = 1_790_000_000.0  # 2026


def write_config(tmp_path: Path, outbox: str = "") -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f'site = "hq"\nagent = "pi-1"\ndata_dir = {json.dumps(str(tmp_path / "data"))}\n'
        f"{outbox}\n"
        '[mqtt]\nhost = "127.0.0.1"\nport = 1\n\n'
        '[[desks]]\nid = "hq-d1"\nzone = "hq-z1"\nsensor = "file:/run/deskpulse/hq-d1"\n')
    return path


def status(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["status", "--config", str(config)])
    return code, capsys.readouterr().out


def test_a_pi_where_the_agent_never_ran_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = status(write_config(tmp_path), capsys)
    assert code == 0
    assert "Agent pi-1 of site hq" in out
    assert "Outbox: none yet at" in out and "the agent has not run" in out
    assert "Broker 127.0.0.1:1: not checked (add --broker" in out


def test_a_draining_outbox_reads_as_healthy_beside_the_running_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    box = Outbox(tmp_path / "data" / "outbox.sqlite", clock=lambda: time.time() - 600.0)
    box.start_boot()
    box.start_boot()
    ids = [box.enqueue("deskpulse/v1/hq/pi-1/desks", b'{"secret": "content"}', 1)
           for _ in range(3)]
    box.ack(ids[0])  # the agent keeps the file open and writing while status reads it
    try:
        code, out = status(config, capsys)
    finally:
        box.close()
    assert code == 0, out
    assert "boot counter: 2" in out
    assert "waiting for the broker: 2 message(s), 0.00 MB (bounds: 100000 messages, 64 MB)" in out
    assert "oldest waiting: written 10 min ago (bound: 7 days)" in out
    assert "dropped over its life: 0" in out and "warning" not in out
    assert "secret" not in out and "content" not in out  # never a message's content


def test_drops_an_old_backlog_and_a_near_full_outbox_are_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "[outbox]\nmax_messages = 10\nmax_age_days = 7\n")
    clock = [NOW - 6.5 * DAY]
    box = Outbox(tmp_path / "data" / "outbox.sqlite", max_rows=10, clock=lambda: clock[0])
    box.start_boot()
    for _ in range(12):  # two over the bound: the two oldest are dropped
        box.enqueue("deskpulse/v1/hq/pi-1/desks", b"{}", 1)
    box.close()
    text, code = report(AgentConfig.from_toml(config), broker=False, now=NOW)
    assert code == 1
    assert "waiting for the broker: 10 message(s)" in text
    assert "oldest waiting: written 6.5 days ago (bound: 7 days)" in text
    assert "dropped over its life: 2" in text
    warnings = [line for line in text.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3
    assert "past 7 days it is dropped" in warnings[0]
    assert "nearly full" in warnings[1] and "raise [outbox] bounds" in warnings[1]
    assert "2 message(s) were dropped" in warnings[2] and "gaps" in warnings[2]


def test_messages_written_before_the_clock_was_set_have_no_age(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    box = Outbox(tmp_path / "data" / "outbox.sqlite", clock=lambda: 1000.0)  # 1970: no RTC
    box.start_boot()
    box.enqueue("deskpulse/v1/hq/pi-1/desks", b"{}", 1)
    box.close()
    code, out = status(config, capsys)
    assert code == 0
    assert "oldest waiting" not in out
    assert "1 waiting message(s) written while the clock was not set" in out


def test_a_broken_edge_toml_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('site = "hq"\n')
    assert main(["status", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ")
    assert len(captured.err.strip().splitlines()) == 1
