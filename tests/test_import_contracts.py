"""The import contracts (pyproject.toml, docs/architecture.md) hold, and do fail.

Why a copy: a contract that cannot fail proves nothing, so each case adds one wrong
import to a copy of the tree and expects `lint-imports` to refuse it, naming the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy(tmp_path: Path) -> Path:
    for package in ("hub", "edge", "firmware_sim"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("edge/agent.py", "import hub.errors  # noqa", "the edge never imports the hub"),
    ("edge/protocol.py", "import edge.config  # noqa",
     "the wire protocol imports nothing of the project"),
    ("hub/metrics/kernel.py", "import sqlite_utils  # noqa", "only hub.db knows a database engine"),
    ("hub/reports/csv_export.py", "import sqlite3  # noqa", "only hub.db knows a database engine"),
    ("hub/db/protocol.py", "import hub.api.app  # noqa", "hub layers"),
    ("hub/metrics/kernel.py", "import hub.metrics.report  # noqa", "no import cycle"),
    ("hub/reports/csv_export.py", "import hub.metrics.kernel  # noqa", None),  # downward: fine
    ("hub/server.py", "import hub.cli  # noqa", "hub layers"),
])
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str | None
) -> None:
    tree = _copy(tmp_path)
    _append(tree / module, line)
    result = _lint(tree)
    if contract is None:
        assert result.returncode == 0, result.stdout
        return
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in result.stdout.splitlines() if "BROKEN" in row), (
        broken, result.stdout)
