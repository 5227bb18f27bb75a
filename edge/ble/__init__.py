"""BLE on the edge: pure beacon parsers, RSSI handling and in-memory pseudonyms.

Only counts and enrolled-badge matches ever leave this package's callers; MAC addresses,
device names and RSSI values stay in memory (see docs and PRIVACY.md items 1, 2, 17).
"""

from edge.ble.parsers import (
    AltBeacon,
    EddystoneTLM,
    EddystoneUID,
    IBeacon,
    parse_altbeacon,
    parse_eddystone,
    parse_ibeacon,
)
from edge.ble.pseudonym import PseudonymKey
from edge.ble.rssi import (
    Calibration,
    DeviceTrack,
    PresencePolicy,
    PresenceTracker,
    RssiSmoother,
    calibrate,
    distance_m,
    rssi_at,
)

__all__ = [
    "AltBeacon",
    "Calibration",
    "DeviceTrack",
    "EddystoneTLM",
    "EddystoneUID",
    "IBeacon",
    "PresencePolicy",
    "PresenceTracker",
    "PseudonymKey",
    "RssiSmoother",
    "calibrate",
    "distance_m",
    "parse_altbeacon",
    "parse_eddystone",
    "parse_ibeacon",
    "rssi_at",
]
