"""The test suite stays extendable: fixtures come from conftest.py files through pytest,
helpers from plain modules (tests/support/, or a directory's own helper module), and no
test module imports a conftest or another test module (importing one runs its fixtures'
definitions twice and ties the two files' names together)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def forbidden_imports(source: str, path: Path) -> list[str]:
    """Each ``tests.*`` module ``source`` imports that is a test module or a conftest."""
    package = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            # ``from tests.x import test_y`` imports the module test_y too
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            last = target.rsplit(".", 1)[-1]
            if target.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                found.append(target)
    return found


def test_no_test_module_imports_a_test_module_or_a_conftest() -> None:
    offenders = {
        str(path.relative_to(TESTS)): bad
        for path in sorted(TESTS.rglob("*.py"))
        if "vendor" not in path.parts
        and (bad := forbidden_imports(path.read_text(), path))
    }
    assert not offenders, (
        f"move what these import into tests/support/ (helpers) or a conftest (fixtures): "
        f"{offenders}")


def test_the_check_sees_each_kind_of_forbidden_import() -> None:
    here = TESTS / "hub" / "test_example.py"
    assert forbidden_imports("from tests.hub.conftest import StoreFactory", here)
    assert forbidden_imports("from tests.api.test_api import helper", here)
    assert forbidden_imports("import tests.edge.test_cli", here)
    assert forbidden_imports("from tests.hub import test_store", here)
    assert forbidden_imports("from .conftest import x", here) == ["tests.hub.conftest"]
    assert forbidden_imports("from . import test_store", here) == ["tests.hub.test_store"]
    assert not forbidden_imports("from tests.support.web import login", here)
    assert not forbidden_imports("from tests.hub.batches import NOW\nimport pytest", here)
