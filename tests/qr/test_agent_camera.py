"""A desk camera on a real agent: video frames -> decode -> `checkins` over real Mosquitto."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import protocol as p
from edge.agent import Agent
from edge.config import AgentConfig
from edge.errors import ConfigError
from edge.sensors.base import Reading
from firmware_sim.camera import camera_frame, sample_token
from tests.broker import Mosquitto

TOKEN = sample_token(random.Random(21))


class Absent:
    def read(self, now: float) -> Reading:
        return Reading(now, "absent")


def config(tmp_path: Path, port: int, camera: dict[str, Any]) -> AgentConfig:
    return AgentConfig.from_dict({
        "site": "camsite", "agent": "cam-agent", "data_dir": str(tmp_path / "agent"),
        "mqtt": {"port": port, "keepalive": 5},
        "desks": [{"id": "cam-d1", "zone": "z1"}], "camera": camera,
    })


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_a_scanned_token_is_published_once_on_checkins(
        tmp_path: Path, fresh_broker: Mosquitto) -> None:
    frames = [camera_frame([TOKEN], seed=i).image for i in range(6)]
    frames = [f if f.ndim == 3 else cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in frames]
    video = write_video(tmp_path / "desk.avi", frames)
    received: list[p.Message] = []
    got = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        received.append(p.decode(msg.topic, msg.payload, now=time.time()))
        got.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cam-sub")
    sub.on_message = on_message
    sub.connect("127.0.0.1", fresh_broker.port)
    sub.subscribe("deskpulse/v1/camsite/cam-agent/checkins", qos=1)
    sub.loop_start()
    agent = Agent(config(tmp_path, fresh_broker.port,
                         {"desk": "cam-d1", "source": str(video), "fps": 20}),
                  {"cam-d1": Absent()})
    agent.start()
    try:
        assert got.wait(15), "no check-in scan arrived"
        time.sleep(1.0)  # the video loops: the same token must not be sent again
    finally:
        agent.stop()
        sub.loop_stop()
        sub.disconnect()
    scans = [s for m in received if isinstance(m, p.CheckinsMessage) for s in m.scans]
    assert [(s.desk, s.token, s.via) for s in scans] == [("cam-d1", TOKEN, "qr")]


def test_frames_without_a_token_publish_nothing(tmp_path: Path, broker: Mosquitto) -> None:
    agent = Agent(config(tmp_path, broker.port, {"desk": "cam-d1", "source": 0}),
                  {"cam-d1": Absent()})
    blank = np.full((480, 640, 3), 200, np.uint8)
    assert agent.observe_frame(blank, time.time()) is None
    assert agent.outbox_depth() == 0
    assert agent.observe_frame(camera_frame([TOKEN], seed=3).image, time.time()) is not None
    assert agent.outbox_depth() == 1
    agent.outbox.close()


@pytest.mark.parametrize(("camera", "message"), [
    ({"desk": "other"}, "camera.desk must be one of this agent's desk ids"),
    ({"desk": "cam-d1", "fps": 0}, "camera.fps must be a number above 0 and at most 60"),
    ({"desk": "cam-d1", "source": True},
     "camera.source must be a device index 0..63 or a non-empty path/URL"),
    ({"desk": "cam-d1", "flash": 1},
     "camera has unknown key(s) flash; allowed: desk, enabled, fps, source"),
])
def test_bad_camera_tables_are_refused(tmp_path: Path, camera: dict[str, Any],
                                       message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, 1883, camera)
    assert str(caught.value) == f"config: {message}"
