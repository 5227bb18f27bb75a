"""deploy/prometheus: the alerting rules and scrape configuration, checked by Prometheus's
own tool (promtool, Debian package ``prometheus``, installed by ``make test``).

- The rules and the configuration load (``promtool check rules|config``).
- Each alert fires in the situation it is written for, with the labels and the rendered
  text an operator gets, and none fires on a healthy hub (``promtool test rules``, which
  evaluates the real PromQL over series given here).
- Every metric the rules name is one the hub's ``GET /metrics`` serves, and that output
  passes ``promtool check metrics`` (format and naming conventions).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from edge.protocol import Health, Status
from hub.db.sqlite.store import SqliteStore
from tests.support.building import AGENT, SITE, Desks, incoming

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = DEPLOY / "deskpulse-alerts.yml"
CONFIG = DEPLOY / "prometheus.yml"
HUB = 'job="deskpulse", instance="hub:443"'
PI = f'{HUB}, site="hq", agent="hq-pi-01"'


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: `make test` installs it (Debian package prometheus)")
    return subprocess.run([binary, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"]]


@dataclass
class Case:
    """Series (promtool's expanding notation, one sample a minute) and, at ``at``
    minutes, the alerts expected to fire: name -> (labels, {template field: value})."""

    series: dict[str, str]
    at: int
    firing: dict[str, tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)


HEALTHY = {
    f"up{{{HUB}}}": "1x40",
    f"deskpulse_agents_known{{{HUB}}}": "3x40",
    f"deskpulse_agents_online{{{HUB}}}": "3x40",
    f"deskpulse_ingest_messages_total{{{HUB}}}": "0+180x40",  # 3 agents, a message a minute
    f"deskpulse_dead_letters_total{{{HUB}}}": "4x40",  # old refusals, none new
    f"deskpulse_ingest_gaps_total{{{HUB}}}": "1x40",
    f"deskpulse_clock_rejected_total{{{HUB}}}": "0x40",
    f"deskpulse_rollup_lag_seconds{{{HUB}}}": "8 4 9 6x37",
    f"deskpulse_transitions_pending{{{HUB}}}": "0 20000 300 0 15000 0x35",
    f"deskpulse_agent_gaps_total{{{PI}}}": "1x40",  # a gap long ago
    f"deskpulse_agent_outbox_depth{{{PI}}}": "0 2 1 0x37",
    f"deskpulse_agent_outbox_dropped{{{PI}}}": "5x40",  # dropped long ago, nothing since
    f"deskpulse_agent_clock_offset_seconds{{{PI}}}": "-3 2 45 1x37",
}
SERVICE = {"job": "deskpulse", "instance": "hub:443"}
AGENT_LABELS = {**SERVICE, "site": "hq", "agent": "hq-pi-01"}


def _with(**changes: str) -> dict[str, str]:
    """HEALTHY with some series replaced; keys are metric names (labels as in HEALTHY)."""
    out = dict(HEALTHY)
    for name, values in changes.items():
        (key,) = [k for k in HEALTHY if k.startswith(name + "{")]
        out[key] = values
    return out


CASES = [
    Case(HEALTHY, 39),
    Case(_with(up="1x10 0x20"), 17, {"DeskpulseHubDown": (SERVICE, {})}),
    Case(_with(up="1x10 0x20"), 14),  # down for 4 minutes: not yet
    Case(_with(deskpulse_ingest_messages_total="0+180x10 1800x30"), 31,
         {"DeskpulseNoMessages": (SERVICE, {})}),
    Case(_with(deskpulse_agents_online="3x10 2x30"), 26,
         {"DeskpulseAgentsOffline": (SERVICE, {"value": "1"})}),
    Case(_with(deskpulse_dead_letters_total="4x20 7x20"), 25,
         {"DeskpulseDeadLetters": (SERVICE, {"value": "3"})}),
    Case(_with(deskpulse_agent_gaps_total="1x20 2x20"), 30,
         {"DeskpulseMessageGaps": (AGENT_LABELS, {"agent": "hq-pi-01"})}),
    Case(_with(deskpulse_agent_outbox_depth="0x5 0+100x35"), 38,
         {"DeskpulseOutboxBacklog": (AGENT_LABELS, {"value": "3200", "agent": "hq-pi-01"})}),
    Case(_with(deskpulse_agent_outbox_dropped="5x20 9x20"), 30,
         {"DeskpulseOutboxDropped": (AGENT_LABELS, {"agent": "hq-pi-01"})}),
    Case(_with(deskpulse_agent_clock_offset_seconds="1x10 -90x30"), 25,
         {"DeskpulseAgentClockSkew": (AGENT_LABELS, {"value": "90", "agent": "hq-pi-01"})}),
    Case(_with(deskpulse_clock_rejected_total="0x20 12x20"), 25,
         {"DeskpulseClockRejected": (SERVICE, {})}),
    Case(_with(deskpulse_rollup_lag_seconds="6x10 0+60x30"), 38,
         {"DeskpulseRollupLag": (SERVICE, {"value": "1620"})}),
    Case(_with(deskpulse_transitions_pending="0x10 20000+500x30"), 38,
         {"DeskpulseIndexingStuck": (SERVICE, {})}),
]


def _render(text: str, values: dict[str, str]) -> str:
    """The rule's annotation as Prometheus renders it, for the two template fields the
    rules use (``$value``, ``$labels.NAME``); anything else fails the test here."""
    def field_value(match: re.Match[str]) -> str:
        return values["value" if match.group(1) == "$value" else match.group(1)[8:]]
    rendered = re.sub(r"\{\{ (\$value|\$labels\.\w+) \}\}", field_value, text)
    assert "{{" not in rendered, f"a template the test cannot render: {text}"
    return rendered


def _unit_tests() -> dict[str, Any]:
    by_name = {rule["alert"]: rule for rule in rules()}
    tests = []
    for case in CASES:
        checks = []
        for name, rule in by_name.items():
            expected = []
            if name in case.firing:
                labels, values = case.firing[name]
                expected.append({
                    "exp_labels": {**labels, **rule["labels"]},
                    "exp_annotations": {key: _render(text, {**labels, **values})
                                        for key, text in rule["annotations"].items()},
                })
            checks.append({"eval_time": f"{case.at}m", "alertname": name, "exp_alerts": expected})
        tests.append({"interval": "1m",
                      "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                      "alert_rule_test": checks})
    return {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests}


def test_the_rules_and_the_configuration_load(tmp_path: Path) -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The configuration as installed: its token file and rules beside it.
    (tmp_path / "deskpulse.token").write_text("token\n")
    shutil.copy(RULES, tmp_path / RULES.name)
    config = yaml.safe_load(CONFIG.read_text())
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(
        tmp_path / "deskpulse.token")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert config["scrape_configs"][0]["job_name"] == "deskpulse"  # what the rules select


def test_each_alert_fires_when_it_should_and_none_on_a_healthy_hub(tmp_path: Path) -> None:
    fired = {name for case in CASES for name in case.firing}
    assert fired == {rule["alert"] for rule in rules()}, "an alert without a case"
    path = tmp_path / "deskpulse-alerts.test.yml"
    path.write_text(yaml.safe_dump(_unit_tests(), sort_keys=False))
    tested = promtool("test", "rules", str(path))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_rules_name_only_metrics_the_hub_serves_and_its_output_passes_promtool(
    client: TestClient, auth: dict[str, str], store: SqliteStore, desks: Desks
) -> None:
    now = time.time()
    desks.send(("hq-d1", "occupied", now - 100))
    store.apply([incoming("status", Status(online=True, boot=1, version="t"))])
    store.apply([incoming("health", Health(agent=AGENT, boot=1, sent=now - 2, uptime=5.0,
                                           outbox_depth=7, dropped=2))])
    text = client.get("/metrics", headers=auth).text
    served = set(re.findall(r"^([a-z_]+)[{ ]", text, flags=re.MULTILINE))
    assert f'site="{SITE}",agent="{AGENT}"' in text  # the per-agent gauges are there too
    named = {name for rule in rules()
             for name in re.findall(r"\b(deskpulse_[a-z_]+)\b", rule["expr"])}
    assert named and named <= served, f"not served: {sorted(named - served)}"
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
