"""The agent against a real Mosquitto, real SQLite files and a plain paho subscriber."""

from __future__ import annotations

import getpass
import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import __version__
from edge.agent import Agent
from edge.protocol import (
    Config,
    DeskAssignment,
    DeskEvent,
    DesksMessage,
    Feedback,
    Health,
    Status,
    decode,
    encode,
    parse_topic,
    topic_for,
)
from edge.sensors.base import Reading
from tests.broker import Mosquitto
from tests.edge.helpers import ConfigFactory, Received, ScriptedSensor, Subscriber

pytestmark = pytest.mark.broker
T = 1_790_000_000.0  # a set clock (2026)


def desks_seqs(messages: list[Received]) -> list[int]:
    return [m.decoded().seq for m in messages if m.topic.endswith("/desks")]  # type: ignore[union-attr]


def keep_sessions_across_restart(broker: Mosquitto) -> None:
    """Run as root, mosquitto drops to the `mosquitto` user and cannot write its
    persistence file into a private tmp dir, so a restart would forget every session.
    ``user <us>`` keeps our own user (it has no effect when not run as root)."""
    if "\nuser " not in "\n" + broker.conf.read_text():
        broker.extra_conf += f"user {getpass.getuser()}\n"
        broker.restart()


@pytest.fixture
def cleanup() -> Iterator[list[Agent | Subscriber]]:
    things: list[Agent | Subscriber] = []
    yield things
    for thing in reversed(things):
        thing.close() if isinstance(thing, Subscriber) else thing.stop(drain_seconds=0)


def test_step_builds_one_message_per_change_and_a_subscriber_decodes_it(
    broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    config = make_config(broker.port)
    sensors = {"d1": ScriptedSensor("present"), "d2": ScriptedSensor("absent")}
    sub = Subscriber(broker.port, f"deskpulse/v1/{config.site}/{config.agent}/#")
    cleanup.append(sub)
    agent = Agent(config, sensors)
    cleanup.append(agent)
    assert agent.boot == 1
    agent.start()

    status = sub.wait_for(lambda ms: [m for m in ms if m.topic.endswith("/status")])[0]
    assert status.decoded() == Status(online=True, boot=1, version=__version__)
    assert agent.wait_connected(5)

    t0 = time.time()
    first = agent.step(t0)
    assert first == DesksMessage(
        agent=config.agent, boot=1, seq=1, sent=t0,
        events=(DeskEvent("d1", "occupied", t0), DeskEvent("d2", "vacant", t0)),
    )
    assert agent.step(t0 + 1) is None  # nothing changed
    sensors["d1"].presence = "absent"
    assert agent.step(t0 + 2) is None  # still within the hold time (5 s)
    assert agent.states == {"d1": "occupied", "d2": "vacant"}
    second = agent.step(t0 + 7)
    assert second is not None and second.seq == 2
    assert second.events == (DeskEvent("d1", "vacant", t0 + 2),)

    sub.wait_for(lambda ms: desks_seqs(ms) == [1, 2])
    assert sub.of_kind("desks") == [first, second]
    assert agent.wait_drained(5)
    assert agent.outbox_depth() == 0


def test_stop_publishes_retained_offline_and_the_next_boot_counts_on(
    broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    config = make_config(broker.port)
    sensors = {"d1": ScriptedSensor("present"), "d2": ScriptedSensor("present")}
    agent = Agent(config, sensors)
    agent.start()
    assert agent.wait_connected(5)
    agent.step(time.time())
    agent.stop()
    assert agent.outbox_depth() == 0  # stop drained it first

    status_topic = topic_for(config.site, config.agent, "status")
    late = Subscriber(broker.port, status_topic)
    cleanup.append(late)
    retained = late.wait_for(lambda ms: ms)[0]
    assert retained.retain
    assert retained.decoded() == Status(online=False, boot=1)

    again = Agent(config, sensors)
    cleanup.append(again)
    assert again.boot == 2
    message = again.step(time.time())
    assert message is not None and (message.boot, message.seq) == (2, 1)


def test_reconnect_sends_a_snapshot_of_every_desk(
    broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    config = make_config(broker.port, desks=3)
    sensors = {"d1": ScriptedSensor("present"), "d2": ScriptedSensor("absent"),
               "d3": ScriptedSensor("present")}
    sub = Subscriber(broker.port, topic_for(config.site, config.agent, "desks"))
    cleanup.append(sub)
    agent = Agent(config, sensors)
    cleanup.append(agent)
    before = time.time()
    agent.step(before)  # queued before the agent ever connected
    agent.start()
    sub.wait_for(lambda ms: desks_seqs(ms) == [1, 2])
    first, snapshot = sub.of_kind("desks")
    assert isinstance(snapshot, DesksMessage)
    assert [(e.desk, e.state) for e in snapshot.events] == [
        ("d1", "occupied"), ("d2", "vacant"), ("d3", "occupied")
    ]
    assert all(e.at >= before for e in snapshot.events)


def test_many_messages_through_a_small_inflight_window_arrive_once_in_order(
    broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    config = make_config(broker.port, desks=1, max_inflight=2, hold_seconds=0.5)
    sensor = ScriptedSensor("present")
    sub = Subscriber(broker.port, topic_for(config.site, config.agent, "desks"))
    cleanup.append(sub)
    agent = Agent(config, {"d1": sensor})
    cleanup.append(agent)
    agent.start()
    assert agent.wait_connected(5)
    t0 = time.time()
    for i in range(30):
        sensor.presence = "present"
        assert agent.step(t0 + 2 * i) is not None
        sensor.presence = "absent"
        assert agent.step(t0 + 2 * i + 0.5) is None
        assert agent.step(t0 + 2 * i + 1) is not None
    sub.wait_for(lambda ms: len(desks_seqs(ms)) >= 60)
    assert agent.wait_drained(5)
    assert desks_seqs(sub.messages) == list(range(1, 61))  # none lost, none doubled


def test_outbox_drains_after_the_broker_comes_back(
    fresh_broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    keep_sessions_across_restart(fresh_broker)
    config = make_config(fresh_broker.port)
    sensors = {"d1": ScriptedSensor("present"), "d2": ScriptedSensor("absent")}
    # A persistent session: the broker keeps what arrives for it while it is away too.
    sub = Subscriber(fresh_broker.port, topic_for(config.site, config.agent, "desks"),
                     client_id="edge-test-durable")
    cleanup.append(sub)
    agent = Agent(config, sensors)
    cleanup.append(agent)
    agent.start()
    assert agent.wait_connected(5)
    t0 = time.time()
    agent.step(t0)
    sub.wait_for(lambda ms: desks_seqs(ms) == [1])
    assert agent.wait_drained(5)

    fresh_broker.stop()
    deadline = time.monotonic() + 5
    while agent.link.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not agent.link.connected
    for i in range(1, 4):
        sensors["d2"].presence = "present" if i % 2 else "absent"
        sensors["d1"].presence = "fault" if i == 2 else "present"
        assert agent.step(t0 + 10 * i) is not None
    assert agent.outbox_depth() == 3
    assert not agent.wait_drained(0.3)

    fresh_broker.start()
    assert agent.wait_drained(15)
    assert agent.seq == 5  # 2-4 made offline, 5 = the snapshot after reconnecting
    sub.wait_for(lambda ms: set(desks_seqs(ms)) == {1, 2, 3, 4, 5})
    got = desks_seqs(sub.messages)
    assert got == [1, 2, 3, 4, 5]  # in order, and none twice: nothing was in flight
    snapshot = sub.of_kind("desks")[-1]
    assert isinstance(snapshot, DesksMessage)
    assert {e.desk: e.state for e in snapshot.events} == agent.states == {
        "d1": "occupied", "d2": "occupied"
    }


def test_unacknowledged_publishes_are_sent_again_after_a_broker_crash(
    fresh_broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    keep_sessions_across_restart(fresh_broker)
    config = make_config(fresh_broker.port)
    sub = Subscriber(fresh_broker.port, topic_for(config.site, config.agent, "desks"),
                     client_id="edge-test-crash")
    cleanup.append(sub)
    fresh_broker.restart()  # SIGTERM saves the subscriber's session before the crash
    sensors = {"d1": ScriptedSensor("present"), "d2": ScriptedSensor("absent")}
    agent = Agent(config, sensors)
    cleanup.append(agent)
    agent.start()
    assert agent.wait_connected(10)

    assert fresh_broker.proc is not None
    fresh_broker.proc.send_signal(signal.SIGSTOP)  # frozen: takes bytes, sends no PUBACK
    try:
        first = agent.step(time.time())
        assert first is not None
        assert not agent.wait_drained(0.3)  # published, but not acknowledged
    finally:
        fresh_broker.kill()  # SIGKILL works on a stopped process: a crash mid-flight
    fresh_broker.start()
    assert agent.wait_drained(15)
    got = sub.wait_for(lambda ms: desks_seqs(ms))
    assert got[0] == 1
    assert sub.of_kind("desks")[0] == first


def test_a_broken_sensor_makes_its_desk_unknown_and_shows_in_health(
    broker: Mosquitto, make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(broker.port, desks=3)

    class Junk:
        def read(self, now: float) -> Reading:
            return "present"  # type: ignore[return-value]

    broken = ScriptedSensor("present")
    broken.error = OSError("i2c bus error")
    agent = Agent(config, {"d1": broken, "d2": Junk(), "d3": ScriptedSensor("present")})
    try:
        with caplog.at_level(logging.WARNING, logger="edge.agent"):
            message = agent.step(T + 100.0)
            agent.step(T + 101.0)
        assert message is not None
        assert [(e.desk, e.state) for e in message.events] == [
            ("d1", "unknown"), ("d2", "unknown"), ("d3", "occupied")
        ]
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert warnings == [
            "sensor of desk d1 failed (OSError: i2c bus error); desk is unknown",
            "sensor of desk d2 failed (TypeError: read() returned str, not a valid Reading); "
            "desk is unknown",
        ]  # once per fault, not once per poll
        assert agent.health(T + 160.0).sensor_faults == ("d1", "d2")
        broken.error = None
        recovered = agent.step(T + 102.0)
        assert recovered is not None
        assert recovered.events == (DeskEvent("d1", "occupied", T + 102.0),)
        health = agent.health(T + 200.0)
        assert isinstance(health, Health) and health.sensor_faults == ("d2",)
        assert health.outbox_depth == 2 and health.boot == agent.boot
    finally:
        agent.stop()


def test_nothing_is_stamped_while_the_clock_is_not_set(
    broker: Mosquitto, make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 24, item 1: a Pi boots at 1970 until NTP answers; its events would be refused
    by the hub. They are held, and the first step with a set clock sends every desk."""
    config = make_config(broker.port, desks=2)
    d1, d2 = ScriptedSensor("present"), ScriptedSensor("absent")
    agent = Agent(config, {"d1": d1, "d2": d2})
    try:
        with caplog.at_level(logging.WARNING, logger="edge.agent"):
            assert agent.step(40.0) is None
            d2.presence = "present"
            assert agent.step(50.0) is None
            assert agent.snapshot(55.0) is None  # as on a reconnect
        assert agent.outbox_depth() == 0
        assert agent.states == {"d1": "occupied", "d2": "occupied"}
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
            "the clock is not set (it reads before 2020): desk changes, zone counts and scans "
            "are held back until it is; check NTP"]
        message = agent.step(T)
        assert message is not None
        assert message.sent == T and message.events == (
            DeskEvent("d1", "occupied", T), DeskEvent("d2", "occupied", T))
        assert agent.outbox_depth() == 1
        assert agent.step(T + 1) is None  # nothing changed since
    finally:
        agent.stop()


def test_config_and_feedback_from_the_hub_reach_the_agent_and_junk_is_dropped(
    broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(broker.port)
    feedback: list[Feedback] = []
    agent = Agent(config, {"d1": ScriptedSensor(), "d2": ScriptedSensor()},
                  on_feedback=feedback.append)
    cleanup.append(agent)
    hub = Subscriber(broker.port, "deskpulse/v1/none/none/none")  # just a connected client
    cleanup.append(hub)
    site, name = config.site, config.agent
    hub_config = Config(agent=name, issued=time.time(), key_epoch=3,
                        desks=(DeskAssignment("d1", "z1"),))
    caplog.set_level(logging.WARNING, logger="edge.mqtt")
    agent.start()
    assert agent.wait_connected(5)
    publish = hub.client.publish
    publish(topic_for(site, name, "feedback"), b"\xff not json", 1).wait_for_publish(5)
    publish(topic_for(site, name, "config"), encode(hub_config), 1, True).wait_for_publish(5)
    publish(
        topic_for(site, name, "feedback"),
        encode(Feedback(agent=name, boot=1, seq=1, desk="d1", result="accepted")), 1,
    ).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while not feedback and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feedback == [Feedback(agent=name, boot=1, seq=1, desk="d1", result="accepted")]
    assert agent.last_config == hub_config
    assert "dropped an invalid message from the hub: payload is not UTF-8" in caplog.messages
    assert agent.link.connected
    publish(topic_for(site, name, "config"), b"", 1, True).wait_for_publish(5)  # clear it


def test_run_polls_sensors_and_reports_health_until_stopped(
    broker: Mosquitto, make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    config = make_config(broker.port, desks=1, poll_seconds=0.05, health_seconds=0.2)
    sensor = ScriptedSensor("present")
    sub = Subscriber(broker.port, f"deskpulse/v1/{config.site}/{config.agent}/+")
    cleanup.append(sub)
    agent = Agent(config, {"d1": sensor})
    cleanup.append(agent)
    agent.start()
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,))
    runner.start()
    try:
        sub.wait_for(lambda ms: len(sub.of_kind("health")) >= 2)
        sensor.presence = "fault"
        sub.wait_for(lambda ms: [
            m for m in sub.of_kind("desks")
            if isinstance(m, DesksMessage) and m.events[0].state == "unknown"
        ])
        faulty = sub.wait_for(lambda ms: [
            h for h in sub.of_kind("health") if isinstance(h, Health) and h.sensor_faults
        ])
        assert faulty[0].sensor_faults == ("d1",)
    finally:
        stop.set()
        runner.join(5)
    assert not runner.is_alive()


def test_agent_refuses_a_config_without_a_sensor_per_desk(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="no sensor for desk"):
        Agent(make_config(1883), {"d1": ScriptedSensor()})


def test_the_outbox_bounds_of_edge_toml_apply_and_drops_show_in_health(
    make_config: ConfigFactory, cleanup: list[Agent | Subscriber]
) -> None:
    config = make_config(1, desks=1, outbox={"max_messages": 2})  # never connected
    sensor = ScriptedSensor("present")
    agent = Agent(config, {"d1": sensor})
    cleanup.append(agent)
    t0 = time.time()
    for i in range(4):  # four changes while the broker is out of reach
        sensor.presence = "fault" if i % 2 else "present"  # unknown, occupied, ...
        assert agent.step(t0 + 10 * i) is not None
    health = agent.health(t0 + 60)
    assert isinstance(health, Health)
    assert (health.outbox_depth, health.dropped) == (2, 2)  # the two oldest went
    kept = [decode(parse_topic(row.topic), row.payload, now=t0 + 60)
            for row in agent.outbox.pending(10)]
    assert [m.seq for m in kept if isinstance(m, DesksMessage)] == [3, 4]


class MotionDriver:
    """A PIR output that saw motion at the given seconds (one sample a second)."""

    def __init__(self, motion: set[float]) -> None:
        self.motion = motion

    def sample(self, now: float) -> bool:
        return now in self.motion


def test_a_pir_desk_publishes_late_corrections_when_a_vacancy_proves_false(
    broker: Mosquitto, make_config: ConfigFactory,
) -> None:
    """A reader settles in, sits 25 minutes without moving (the live state turns vacant
    after the PIR hold and the agent's 5 s), then stirs every 50 s: once the hindsight
    horizon has passed, the agent publishes an ``occupied`` at the vacancy's own time,
    in a desks message after the live events, and the live state stays as it was."""
    from edge.hindsight import Rules
    from edge.sensors.pipeline import DetectingSensor
    from edge.sensors.pir import ADAPTIVE_HOLD, PirDetector

    config = make_config(broker.port, desks=1)
    t0 = 1_750_000_000.0  # a set clock: nothing is stamped before 2020
    settle = {t0 + t for t in range(0, 40)}
    end = 1500.0 + Rules().horizon + 900.0
    stirs = {t0 + 1500.0 + 50.0 * n for n in range(int((end - 1500.0) // 50.0))}
    low, high = ADAPTIVE_HOLD
    sensor = DetectingSensor(MotionDriver(settle | stirs),
                             PirDetector(min_hold_seconds=low, max_hold_seconds=high))
    agent = Agent(config, {"d1": sensor})
    try:
        live: list[DeskEvent] = []
        late: list[DeskEvent] = []
        for second in range(0, int(end)):
            t = t0 + second
            message = agent.step(t)
            if message is None:
                continue
            for event in message.events:
                (late if event.at < t - 60 and live and event.state == "occupied"
                 and any(e.state == "vacant" and e.at == event.at for e in live)
                 else live).append(event)
        vacancies = [e for e in live if e.state == "vacant" and t0 < e.at < t0 + 1500.0]
        assert len(vacancies) == 1  # the live state let the still reader go
        assert vacancies[0].at in [e.at for e in late]  # and the history takes it back
        # (the other correction dates the arrival at the first motion, 0 s, not at 15 s
        # when the live state believed it)
        assert agent.states == {"d1": "occupied"}
    finally:
        agent.stop(drain_seconds=0)
