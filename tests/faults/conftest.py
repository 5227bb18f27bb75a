"""Fixtures of the fault-injection suite: a broker, a hub process and a journaled fleet each.

Every test gets its own Mosquitto (it may stop or kill it), its own hub database and
process, and agents whose outboxes journal what they committed (see harness.py).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.config import MqttConfig
from firmware_sim.building import Building, generate_building
from firmware_sim.fleet import FleetRunner
from firmware_sim.people import PeopleModel
from tests.broker import Mosquitto
from tests.faults.harness import (
    HOLD,
    MISS_RATE,
    STEP,
    HubProcess,
    Plain,
    fault_seed,
    install_journal,
    outboxes,
)

_SEED: list[int] = []  # the run's seed, once a test asked for it


@pytest.fixture(scope="session")
def seed() -> int:
    _SEED.append(fault_seed())
    return _SEED[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing fault test says how to replay it, even when output is captured."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and _SEED:
        report.sections.append(("fault injection", f"replay: DESKPULSE_FAULT_SEED={_SEED[0]}"))


@pytest.fixture
def rng(seed: int, request: pytest.FixtureRequest) -> random.Random:
    """A per-test RNG derived from the run's seed (a test replays alone with the same seed)."""
    return random.Random(f"{seed}:{request.node.name}")


@pytest.fixture
def building(seed: int) -> Building:
    site = f"fx-{uuid.uuid4().hex[:6]}"
    return generate_building(seed=seed % 1000, site_id=site, floors=1, desks=40,
                             desks_per_agent=10)


@pytest.fixture
def sim_start() -> float:
    """A past midnight (UTC) far enough back for days of accelerated traffic."""
    return (time.time() // 86400 - 10) * 86400


@pytest.fixture
def hub(tmp_path: Path, fresh_broker: Mosquitto, building: Building) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "hub", fresh_broker.port, building.to_dict())
    process.data_dir.mkdir(parents=True, exist_ok=True)
    process.start()
    yield process
    process.kill()




@pytest.fixture
def make_fleet(
    tmp_path: Path, fresh_broker: Mosquitto, building: Building, seed: int
) -> Iterator[Callable[..., FleetRunner]]:
    """Build (once) the fleet of real agents over journaled outboxes in ``tmp/agents``."""
    made: list[FleetRunner] = []

    def make(hold_seconds: float = HOLD, miss_rate: float = MISS_RATE) -> FleetRunner:
        data = tmp_path / "agents"
        for path in outboxes(data, building):
            install_journal(path)
        fleet = FleetRunner(
            building, PeopleModel(building, seed=seed, schedule="shifts"),
            mqtt=MqttConfig(host="127.0.0.1", port=fresh_broker.port), data_dir=data,
            hold_seconds=hold_seconds, poll_seconds=STEP, miss_rate=miss_rate, seed=seed,
        )
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.stop()




@pytest.fixture
def plain(fresh_broker: Mosquitto) -> Iterator[Plain]:
    client = Plain(fresh_broker.port)
    yield client
    client.close()
