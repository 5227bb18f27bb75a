"""The Pi's install stays lean: `deskpulse edge ...` loads no hub code, no web stack, and
numpy only for a thermopile; every module the edge imports comes with core or [edge]
([camera] for edge/qr/); a missing extra is named in one line.

Each check runs in a fresh interpreter (subprocess): this test process has long since
imported the hub, numpy and cv2, so ``sys.modules`` here would prove nothing.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest

from edge.launcher import EXTRA_OF_MODULE

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("hub", "fastapi", "starlette", "pydantic", "sqlite_utils", "uvicorn", "numpy", "cv2",
         "psycopg", "PIL", "amqtt", "firmware_sim")

# Prints the top-level names of every module loaded after running the code in argv[1].
_PROBE = """
import json, sys
try:
    exec(sys.argv[1])
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def _loaded(code: str, cwd: Path = REPO) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, code], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=True)
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_importing_the_edge_cli_loads_no_hub_web_stack_or_numpy() -> None:
    loaded = _loaded("import edge.cli, edge.launcher")
    assert "edge" in loaded and "paho" in loaded  # the probe really imported the agent
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_launcher_answers_edge_commands_without_the_hub() -> None:
    loaded = _loaded("from edge.launcher import main; main(['edge', 'run', '--help'])")
    assert "argparse" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def _agent_code(tmp_path: Path, sensor: str) -> str:
    config = tmp_path / "edge.toml"
    config.write_text(f'site = "s"\nagent = "a"\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[[desks]]\nid = "d1"\nzone = "z"\n[[desks.sensors]]\n{sensor}\n')
    return ("from gpiozero import Device\nfrom gpiozero.pins.mock import MockFactory\n"
            "Device.pin_factory = MockFactory()\n"
            "from edge import cli\nfrom edge.agent import Agent\nfrom edge.config import "
            f"AgentConfig\nconfig = AgentConfig.from_toml({str(config)!r})\n"
            f"Agent(config, cli.build_sensors(config, {str(tmp_path)!r}, 'edge.toml'))\n")


@pytest.mark.parametrize("sensor", ['type = "pir"\npin = 4', 'type = "contact"\npin = 5',
                                    'type = "file"\npath = "d1"'])
def test_an_agent_without_thermopile_or_camera_never_loads_numpy(
    tmp_path: Path, sensor: str
) -> None:
    loaded = _loaded(_agent_code(tmp_path, sensor))
    assert "gpiozero" in loaded or "file" in sensor
    assert "numpy" not in loaded and "hub" not in loaded


def test_a_thermopile_agent_does_load_numpy(tmp_path: Path) -> None:
    """The control: the probe sees numpy when the config needs it."""
    assert "numpy" in _loaded(_agent_code(tmp_path, 'type = "thermopile"\nbus = 1'))


# -- every runtime requirement of the edge is declared ----------------------------------------

def _requirements() -> dict[str, set[str]]:
    """'core' and each extra -> the canonical distribution names it lists (own extras
    expanded one level, as pip does)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}

    def names(reqs: list[str]) -> set[str]:
        out: set[str] = set()
        for req in reqs:
            name = _canonical(re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0])
            if name == "deskpulse":
                for extra in re.search(r"\[(.*)\]", req).group(1).split(","):  # type: ignore[union-attr]
                    out |= names(groups[extra.strip()])
            else:
                out.add(name)
        return out

    return {group: names(reqs) for group, reqs in groups.items()}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of every import in the file, function-level and TYPE_CHECKING ones
    included, less the standard library and the project's own packages."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tops: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops - set(sys.stdlib_module_names) - {"edge", "__future__"}


def test_every_module_the_edge_imports_comes_with_its_install() -> None:
    reqs = _requirements()
    dists_of = packages_distributions()
    missing = []
    for path in sorted((REPO / "edge").rglob("*.py")):
        allowed = reqs["core"] | reqs["edge"]
        if "qr" in path.relative_to(REPO / "edge").parts:
            allowed |= reqs["camera"]
        for top in sorted(_third_party_imports(path)):
            dists = {_canonical(d) for d in dists_of.get(top, [top])}
            if not dists & allowed:
                missing.append(f"{path.relative_to(REPO)}: {top} ({', '.join(sorted(dists))})")
    assert missing == []


def test_edge_imports_no_hub_module_anywhere() -> None:
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "edge").rglob("*.py")
                 if {"hub", "firmware_sim"} & _third_party_imports(p)]
    assert offenders == []


def test_the_launchers_extra_table_matches_pyproject() -> None:
    reqs = _requirements()
    dists_of = packages_distributions()
    for module, extra in EXTRA_OF_MODULE.items():
        if module not in dists_of:  # an alternative name (python_multipart vs multipart)
            continue
        dists = {_canonical(d) for d in dists_of[module]}
        # starlette comes with fastapi: a requirement of a listed distribution counts
        brought = {_canonical(re.split(r"[\[<>=!~; (]", r, maxsplit=1)[0])
                   for d in reqs[extra] for r in (requires(d) or []) if "extra ==" not in r}
        assert dists & (reqs[extra] | brought), f"{module} ({dists}) is not in [{extra}]"
    assert reqs["edge"] >= {"gpiozero", "smbus2", "bleak"}
    assert not reqs["edge"] & {"fastapi", "uvicorn", "psycopg", "pillow", "amqtt",
                               "opencv-python-headless"}
    assert reqs["dev"] >= reqs["hub"] | reqs["edge"] | reqs["camera"] | reqs["postgres"]


# -- a missing extra is one line naming it ----------------------------------------------------

@pytest.mark.parametrize(("argv", "blocked", "line"), [
    (["hub", "serve"], "sqlite_utils",
     "error: `deskpulse hub serve` needs the [hub] extra (no module 'sqlite_utils'): "
     "pip install 'deskpulse[hub]'"),
    (["demo"], "sqlite_utils",
     "error: `deskpulse demo` needs the [demo] extra (no module 'sqlite_utils'): "
     "pip install 'deskpulse[demo]'"),
])
def test_a_command_whose_extra_is_missing_names_it(
    argv: list[str], blocked: str, line: str
) -> None:
    # None in sys.modules makes `import sqlite_utils` fail as if it were not installed
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            f"from edge.launcher import main; sys.exit(main({argv!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (2, line + "\n")


def test_a_camera_agent_without_the_camera_extra_names_it(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(f'site = "s"\nagent = "a"\ndata_dir = "{tmp_path / "data"}"\n'
                      '[[desks]]\nid = "d1"\nzone = "z"\nsensor = "file:d1"\n'
                      '[camera]\ndesk = "d1"\nsource = 0\n')
    code = ("import sys; sys.modules['cv2'] = None\n"
            f"from edge.launcher import main; sys.exit(main(['edge', 'run', '--config', "
            f"{str(config)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (
        2, "error: `deskpulse edge run` needs the [camera] extra (no module 'cv2'): "
           "pip install 'deskpulse[camera]'\n")


def test_a_missing_module_of_no_extra_is_left_to_raise() -> None:
    from edge.launcher import missing_extra_message

    assert missing_extra_message("edge run", ModuleNotFoundError("x", name="nosuch")) is None
