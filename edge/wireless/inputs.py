"""The agent's wireless inputs: every desk's wireless sensor gets a Channel here, and the
adapters that fill them (BTHome receiver, device-broker subscriber, serial radars) are
built from the channels' configs and started and stopped with the agent.

Built by :func:`edge.sensor_factory.build_sensors`; the agent forwards BLE adverts to
:meth:`WirelessInputs.observe_advert` and reports :meth:`health` on its ``health`` topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from edge.config import DeviceMqttConfig, SensorConfig
from edge.wireless.bthome import BthomeReceiver, BthomeSensor
from edge.wireless.channel import Channel, ChannelHealth
from edge.wireless.mqtt_devices import MqttDevice, MqttDevices
from edge.wireless.serial_radar import SerialRadar

__all__ = ["WirelessInputs"]


class WirelessInputs:
    """Channels per (desk, sensor) and the adapters feeding them."""

    def __init__(self, broker: DeviceMqttConfig | None = None, *, client_id: str = "deskpulse",
                 clock: Callable[[], float] = time.time) -> None:
        self.broker = broker or DeviceMqttConfig()
        self.client_id = client_id
        self.clock = clock
        self.channels: list[tuple[str, Channel]] = []
        self._bthome: list[BthomeSensor] = []
        self._mqtt: list[MqttDevice] = []
        self.radars: list[SerialRadar] = []
        self.bthome: BthomeReceiver | None = None
        self.devices: MqttDevices | None = None
        self._started = False

    def add(self, desk: str, sensor: SensorConfig) -> Channel:
        """A Channel for one wireless sensor table of ``desk`` (validated config)."""
        channel = Channel(f"{sensor.type} sensor of desk {desk}",
                          timeout_seconds=sensor.timeout_seconds
                          if sensor.timeout_seconds is not None else _default_timeout(sensor),
                          pulses=sensor.motion)
        self.channels.append((desk, channel))
        if sensor.type == "bthome":
            assert sensor.ble_address is not None and sensor.measure is not None
            self._bthome.append(BthomeSensor(sensor.ble_address, sensor.measure, channel,
                                             bind_key=sensor.bind_key, invert=sensor.invert))
            self.bthome = BthomeReceiver(self._bthome)
        elif sensor.type in ("zigbee", "mqtt"):
            base = self.broker.base_topic
            topic = f"{base}/{sensor.device}" if sensor.type == "zigbee" else sensor.topic
            assert topic is not None
            availability = f"{topic}/availability" if sensor.type == "zigbee" \
                else sensor.availability_topic
            self._mqtt.append(MqttDevice(topic, channel, field=sensor.payload_field,
                                         on_value=sensor.on_value,
                                         availability_topic=availability,
                                         invert=sensor.invert))
            self.devices = MqttDevices(
                self._mqtt, host=self.broker.host, port=self.broker.port,
                username=self.broker.username, password=self.broker.password,
                client_id=f"{self.client_id}-devices", clock=self.clock)
        elif sensor.type == "radar":
            assert sensor.port is not None
            self.radars.append(SerialRadar(sensor.port, channel, baudrate=sensor.baudrate,
                                           clock=self.clock))
        else:
            raise ValueError(f"{sensor.type} is not a wireless sensor type")
        return channel

    def observe_advert(self, address: str, rssi: int, service_data: Mapping[str, bytes],
                       now: float) -> bool:
        """True if the advert came from one of our BTHome sensors (see BthomeReceiver)."""
        receiver = self.bthome
        return receiver is not None and receiver.observe(address, rssi, service_data, now)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.devices is not None:
            self.devices.start()
        for radar in self.radars:
            radar.start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.devices is not None:
            self.devices.stop()
        for radar in self.radars:
            radar.stop()

    def health(self, now: float) -> list[tuple[str, ChannelHealth]]:
        return [(desk, channel.health(now)) for desk, channel in self.channels]


def _default_timeout(sensor: SensorConfig) -> float | None:
    """BTHome devices beacon at least every few minutes; a radar reports ~10 times a
    second; zigbee2mqtt devices report on change only (their availability says more)."""
    if sensor.type == "bthome":
        return 900.0
    if sensor.type == "radar":
        return 10.0
    return None
