"""The camera adapter on a real video file (MJPG/AVI written with cv2.VideoWriter from
simulated frames): the same cv2.VideoCapture path a USB camera uses, end to end through
decode_frame and ScanFilter; reopen with back-off; release on stop; privacy."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.protocol import Scan
from edge.qr.camera import Camera
from edge.qr.decode import decode_frame
from edge.qr.scans import ScanFilter, ScanPolicy
from firmware_sim.camera import camera_frame, sample_token

TOKEN_A = sample_token(random.Random(11))
TOKEN_B = sample_token(random.Random(12))


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 frames showing token A, 10 of an empty desk, 10 showing B and a desk label."""
    a = camera_frame([TOKEN_A], seed=1, size=120, rotation=20).image
    empty = camera_frame([], seed=2).image
    b = camera_frame([TOKEN_B, "https://hub.example/d/Xy7Qk2Xy7Qk2"], seed=3, size=110).image
    path = tmp_path_factory.mktemp("video") / "desk.avi"
    return _write_video(path, [a] * 10 + [empty] * 10 + [b] * 10)


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Recorder:
    """A real cv2.VideoCapture, recording whether it was released."""

    def __init__(self) -> None:
        self.captures: list[Any] = []

    def __call__(self, source: int | str) -> Any:
        capture = cv2.VideoCapture(source)
        self.captures.append(capture)
        return capture


def test_a_video_file_goes_through_decode_and_scans_like_a_camera(video: Path) -> None:
    scans = ScanFilter("desk-3", ScanPolicy(repeat_seconds=30))
    published: list[Scan] = []
    lock = threading.Lock()

    def on_frame(frame: np.ndarray, now: float) -> None:
        found = scans.accept(decode_frame(frame), now)
        with lock:
            published.extend(found)

    recorder = Recorder()
    camera = Camera(str(video), on_frame, fps=200, backoff_min=0.05, backoff_max=0.1,
                    capture_factory=recorder)
    camera.start()
    try:
        # Wait for the whole file, its end (a read failure) and a reopen.
        assert _wait_for(lambda: camera.opens >= 2 and camera.frames >= 40)
    finally:
        camera.stop()
    assert not camera.running
    with lock:
        tokens = [s.token for s in published]
    # A then B, once each: the reopened file shows them again within the window.
    assert tokens == [TOKEN_A, TOKEN_B]
    assert all(s.desk == "desk-3" and s.via == "qr" for s in published)
    assert scans.ignored >= 1  # the desk label URL
    assert camera.failures >= 1 and camera.handler_errors == 0
    assert recorder.captures and not any(c.isOpened() for c in recorder.captures)


def test_frames_are_paced_at_the_target_rate(video: Path) -> None:
    camera = Camera(str(video), lambda frame, now: None, fps=20)
    camera.start()
    time.sleep(0.5)
    camera.stop()
    assert 3 <= camera.frames <= 0.5 * 20 + 3


def test_a_missing_camera_is_retried_with_growing_back_off(tmp_path: Path) -> None:
    camera = Camera(str(tmp_path / "no-such-camera.avi"), lambda frame, now: None,
                    fps=30, backoff_min=0.02, backoff_max=0.08)
    camera.start()
    assert _wait_for(lambda: camera.failures >= 4)
    started = time.monotonic()
    camera.stop()
    assert time.monotonic() - started < 1.0  # stop interrupts the back-off wait
    assert camera.opens == 0 and camera.frames == 0
    assert camera.backoff == pytest.approx(0.08)  # doubled up to the cap


def test_a_camera_that_comes_back_is_picked_up(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "late.avi"
    seen: list[float] = []
    camera = Camera(str(path), lambda frame, now: seen.append(now), fps=100,
                    backoff_min=0.02, backoff_max=0.05)
    camera.start()
    try:
        assert _wait_for(lambda: camera.failures >= 2)
        assert seen == []
        path.write_bytes(video.read_bytes())  # "plugged in"
        assert _wait_for(lambda: len(seen) >= 5)
    finally:
        camera.stop()
    assert camera.opens >= 1
    assert camera.backoff <= 0.05


def test_a_failing_handler_does_not_stop_the_camera_and_logs_no_content(
    video: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    def on_frame(frame: np.ndarray, now: float) -> None:
        texts = decode_frame(frame)
        raise RuntimeError(f"handler bug while holding {texts}")

    caplog.set_level(logging.DEBUG)
    camera = Camera(str(video), on_frame, fps=200, backoff_min=0.05)
    camera.start()
    try:
        assert _wait_for(lambda: camera.handler_errors >= 25)
    finally:
        camera.stop()
    assert camera.frames >= 25
    assert "RuntimeError" in caplog.text
    assert TOKEN_A not in caplog.text and TOKEN_B not in caplog.text
    assert str(video) not in caplog.text  # a path or URL may carry credentials


def test_no_frame_is_written_anywhere(
    video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    sizes: list[int] = []
    camera = Camera(str(video), lambda frame, now: sizes.append(frame.nbytes), fps=200,
                    backoff_min=0.05)
    camera.start()
    try:
        assert _wait_for(lambda: camera.frames >= 30)
    finally:
        camera.stop()
    assert sizes[0] == 640 * 480 * 3
    assert list(tmp_path.iterdir()) == []
    assert all(len(record.getMessage()) < 200 for record in caplog.records)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fps": 0}, "fps"),
    ({"backoff_min": 0}, "backoff"),
    ({"backoff_min": 5, "backoff_max": 1}, "backoff"),
])
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Camera(0, lambda frame, now: None, **kwargs)  # type: ignore[arg-type]


def test_a_device_index_with_no_camera_behind_it_is_retried() -> None:
    camera = Camera(99, lambda frame, now: None, backoff_min=0.02, backoff_max=0.04)
    camera.start()
    try:
        assert _wait_for(lambda: camera.failures >= 2)
        assert camera.running
    finally:
        camera.stop()
    assert camera.opens == 0


def test_a_driver_that_raises_on_open_does_not_kill_the_thread() -> None:
    # cv2.VideoCapture itself raising (here: given a source it cannot take).
    camera = Camera(0, lambda frame, now: None, backoff_min=0.02, backoff_max=0.04,
                    capture_factory=lambda source: cv2.VideoCapture(object()))  # type: ignore[call-overload]
    camera.start()
    try:
        assert _wait_for(lambda: camera.failures >= 3)
        assert camera.running
    finally:
        camera.stop()
