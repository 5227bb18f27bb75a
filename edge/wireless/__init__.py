"""Wireless desk sensors: BTHome over BLE, zigbee2mqtt / MQTT devices, UART mmWave radar.

Each adapter turns what a radio or a serial line delivers into the latest value of one
:class:`~edge.wireless.channel.Channel` per desk sensor; the channel is the *driver* the
existing detectors (edge/sensors/) read at every poll. Addresses, IEEE addresses and radar
readings stay in these objects' memory: only desk verdicts and levels (battery in tens of
percent, signal as a word) leave them (docs/sensors.md, PRIVACY.md).
"""
