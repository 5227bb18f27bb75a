"""The agent's ``[camera]`` table: one desk camera that reads personal check-in QR codes.

Example::

    [camera]
    desk = "hq-f1-z1-d01"      # the desk this camera looks at (one of the agent's desks)
    source = 0                 # a V4L2 device index, or a path/URL OpenCV can open
    fps = 5.0                  # frames decoded per second (a Pi 4 manages about 5-10)

Frames are decoded in memory and dropped; only opaque tokens leave the Pi (docs/checkin.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.errors import ConfigError

_KEYS = {"desk", "source", "fps", "enabled"}


@dataclass(frozen=True)
class CameraConfig:
    desk: str
    source: int | str = 0
    fps: float = 5.0
    enabled: bool = True


def parse_camera(data: Any, *, source: str, desks: Sequence[str]) -> CameraConfig:
    """Validate a parsed ``[camera]`` table against the agent's desk ids."""

    def fail(text: str) -> ConfigError:
        return ConfigError(f"{source}: {text}")

    if not isinstance(data, Mapping):
        raise fail("camera must be a table: write [camera] on its own line")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise fail(f"camera has unknown key(s) {', '.join(unknown)}; "
                   f"allowed: {', '.join(sorted(_KEYS))}")
    desk = data.get("desk")
    if desk not in desks:
        raise fail("camera.desk must be one of this agent's desk ids")
    cam_source = data.get("source", 0)
    if isinstance(cam_source, bool) or not isinstance(cam_source, int | str) or (
            isinstance(cam_source, int) and not 0 <= cam_source <= 63) or cam_source == "":
        raise fail("camera.source must be a device index 0..63 or a non-empty path/URL")
    fps = data.get("fps", 5.0)
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps <= 60:
        raise fail("camera.fps must be a number above 0 and at most 60")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("camera.enabled must be true or false")
    return CameraConfig(desk=str(desk), source=cam_source, fps=float(fps), enabled=enabled)
