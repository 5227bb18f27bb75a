"""The agent's ``[ble]`` table: a frozen :class:`BleConfig`, validated with readable errors.

Example (every key optional; ``[ble]`` alone turns counting on with the defaults)::

    [ble]
    zone = "hq-f1-z1"          # default: the zone of this agent's desks, if they share one
    bin_seconds = 900          # must match the hub's bin width
    adapter = "hci0"           # default: BlueZ's default adapter
    enter_metres = 5.0         # or enter_dbm / exit_dbm (default -75 / -85 dBm)
    exit_metres = 8.0
    enter_dwell_seconds = 3.0
    exit_dwell_seconds = 10.0
    path_loss_exponent = 2.2   # from `calibrate`, see docs/ble.md
    rssi_at_1m = -59.0
    desk = "hq-d1"             # opt-in badge check-in at this desk (needs badge_key)
    badge_key = "<64 hex>"     # from `deskpulse hub badge-key`; never logged
    badge_dwell_seconds = 60.0 # an enrolled badge must stay this long ...
    badge_enter_dbm = -65.0    # ... at least this strong (leaves below badge_exit_dbm, -75)

Distances are turned into RSSI thresholds with the receiver's calibration
(``rssi = rssi_at_1m - 10 n log10(d)``): phones do not advertise their transmit power, so
one calibration per receiver stands for a typical phone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.ble.badges import DEFAULT_BADGE_POLICY, KEY_BYTES
from edge.ble.rssi import Calibration, PresencePolicy, rssi_at
from edge.ble.zones import DEFAULT_BIN_SECONDS
from edge.errors import ConfigError
from edge.protocol import is_id

_KEYS = {
    "enabled", "zone", "bin_seconds", "adapter", "enter_dbm", "exit_dbm", "enter_metres",
    "exit_metres", "enter_dwell_seconds", "exit_dwell_seconds", "path_loss_exponent",
    "rssi_at_1m", "desk", "badge_key", "badge_dwell_seconds", "badge_enter_dbm",
    "badge_exit_dbm",
}


@dataclass(frozen=True)
class BleConfig:
    """Anonymous zone counting on this agent (``zone`` is always resolved)."""

    zone: str
    enabled: bool = True
    bin_seconds: int = DEFAULT_BIN_SECONDS
    adapter: str | None = None
    policy: PresencePolicy = field(default_factory=PresencePolicy)
    calibration: Calibration = field(default_factory=Calibration)
    desk: str | None = None  # badge check-in desk; None: badges are not watched
    badge_key: bytes | None = field(default=None, repr=False)
    badge_policy: PresencePolicy = DEFAULT_BADGE_POLICY


def parse_ble(data: Any, *, source: str, desk_zones: Sequence[str]) -> BleConfig:
    """Validate a parsed ``[ble]`` table; ``desk_zones`` are the zones of the agent's desks."""

    def fail(text: str) -> ConfigError:
        return ConfigError(f"{source}: {text}")

    if not isinstance(data, Mapping):
        raise fail("ble must be a table: write [ble] on its own line")
    for key in data:
        if key not in _KEYS:
            raise fail(f"unknown key 'ble.{key}': remove it or check its spelling "
                       f"(allowed: {', '.join(sorted(_KEYS))})")

    def number(key: str, default: float, lo: float, hi: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"ble.{key} must be a number")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise fail(f"ble.{key} must be between {lo:g} and {hi:g}, got {value}")
        return float(value)

    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("ble.enabled must be true or false")
    zone = data.get("zone")
    if zone is None:
        zones = sorted(set(desk_zones))
        if len(zones) != 1:
            raise fail(f"ble.zone is missing and this agent's desks are in {len(zones)} "
                       f"zones ({', '.join(zones)}): set ble.zone to the zone the receiver "
                       "stands in")
        zone = zones[0]
    if not isinstance(zone, str) or not is_id(zone):
        raise fail(f"ble.zone {zone!r} is not a valid id: use lowercase letters, digits, '-'")
    bins = data.get("bin_seconds", DEFAULT_BIN_SECONDS)
    if isinstance(bins, bool) or not isinstance(bins, int) or not 60 <= bins <= 86_400 \
            or 86_400 % bins:
        raise fail(f"ble.bin_seconds must be a whole number of seconds that divides a day "
                   f"(e.g. 900), got {bins!r}")
    adapter = data.get("adapter")
    if adapter is not None and not (isinstance(adapter, str) and adapter.isalnum()):
        raise fail(f"ble.adapter must be an adapter name such as \"hci0\", got {adapter!r}")

    try:
        calibration = Calibration(
            exponent=number("path_loss_exponent", 2.0, 0.5, 10.0),
            offset=number("rssi_at_1m", -59.0, -130.0, 20.0),
        )
    except ValueError as exc:
        raise fail(f"ble calibration: {exc}") from None
    defaults = PresencePolicy()
    enter, exit_ = defaults.enter_dbm, defaults.exit_dbm
    metres = [k for k in ("enter_metres", "exit_metres") if k in data]
    dbm = [k for k in ("enter_dbm", "exit_dbm") if k in data]
    if metres and dbm:
        raise fail("ble: give thresholds either in metres or in dBm, not both")
    if metres:
        if len(metres) != 2:
            raise fail("ble.enter_metres and ble.exit_metres go together: set both")
        enter = rssi_at(number("enter_metres", 0, 0.1, 100.0), 0.0, calibration)
        exit_ = rssi_at(number("exit_metres", 0, 0.1, 100.0), 0.0, calibration)
    elif dbm:
        enter = number("enter_dbm", enter, -127.0, 20.0)
        exit_ = number("exit_dbm", exit_, -127.0, 20.0)
    if not exit_ < enter:
        raise fail("ble: the exit threshold must be weaker (farther) than the enter threshold")
    policy = PresencePolicy(
        enter_dbm=enter, exit_dbm=exit_,
        enter_dwell_s=number("enter_dwell_seconds", defaults.enter_dwell_s, 0.0, 600.0),
        exit_dwell_s=number("exit_dwell_seconds", defaults.exit_dwell_s, 0.0, 600.0),
    )
    desk, key = data.get("desk"), data.get("badge_key")
    if desk is not None and not is_id(desk):
        raise fail(f"ble.desk {desk!r} is not a valid desk id")
    if (desk is None) != (key is None):
        raise fail("ble.desk and ble.badge_key go together: set both for badge check-in")
    badge_key = None
    if key is not None:
        try:
            badge_key = bytes.fromhex(key) if isinstance(key, str) else b""
        except ValueError:
            badge_key = b""
        if len(badge_key) != KEY_BYTES:
            raise fail(f"ble.badge_key must be {2 * KEY_BYTES} hex characters "
                       "(from `deskpulse hub badge-key`)")
    badge_base = DEFAULT_BADGE_POLICY
    badge_enter = number("badge_enter_dbm", badge_base.enter_dbm, -127.0, 20.0)
    badge_exit = number("badge_exit_dbm", min(badge_base.exit_dbm, badge_enter - 10.0),
                        -127.0, 20.0)
    if not badge_exit < badge_enter:
        raise fail("ble.badge_exit_dbm must be weaker than ble.badge_enter_dbm")
    badge_policy = PresencePolicy(
        enter_dbm=badge_enter, exit_dbm=badge_exit,
        enter_dwell_s=number("badge_dwell_seconds", badge_base.enter_dwell_s, 0.0, 3600.0),
        exit_dwell_s=badge_base.exit_dwell_s,
    )
    return BleConfig(zone=zone, enabled=enabled, bin_seconds=bins, adapter=adapter,
                     policy=policy, calibration=calibration, desk=desk, badge_key=badge_key,
                     badge_policy=badge_policy)
