"""The dock sensors and signal lights on the site broker: one MQTT client of its own.

Why a second client rather than the uplink's connection:
- the uplink's session is persistent (clean_session=False) so central's commands queue while
  the edge is away; sensor messages must not queue (a backlog of stale door states replayed
  after an outage would be wrong), so this client uses a clean session and learns the current
  state from the retained messages on subscribe;
- per-site broker ACLs give the edge's uplink user `wms/<site>/#` only, while sensors publish
  under `zigbee2mqtt/…` or `shellies/…`: `sensor_broker` in the config may name another user;
- sensor traffic never sits in the ordered event pump, and a burst of sensor chatter cannot
  delay an ack.

Each configured sensor is a `SensorBinding` (dock, role, codec from `devices.dock_sensors`). A
payload that cannot be decoded becomes a `device.error` with the raw bytes; a sensor that stays
silent longer than its `max_silence_s` (or whose bridge says it is offline) becomes
`device.status` offline, once, and online again with its next message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contracts.events import DeviceState
from devices.dock_sensors import (
    AvailabilityReading,
    PresenceSensor,
    SensorCodec,
    SensorReading,
    ShellyDoorWindow2,
    TemperatureSensor,
    Zigbee2MqttContact,
)
from devices.errors import FrameError
from edge_agent.config import (
    BrokerConfig,
    PresenceConfig,
    SensorConfig,
    ShellyDw2Config,
    TemperatureConfig,
    Zigbee2MqttContactConfig,
)
from edge_agent.coordinators import DeviceHealth, report_frame_error
from edge_agent.outbox import Outbox

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_BACKOFF_MAX_S = 30.0


def signal_topic(site: str, dock: str) -> str:
    """Where a dock's signal light listens: `{"alarm": "<reason>"}`, `{"alarm": null}` = clear."""
    return f"wms/{site}/dock/{dock}/signal"


def sensor_codec(config: SensorConfig) -> SensorCodec:
    """The codec for a configured sensor."""
    match config:
        case Zigbee2MqttContactConfig():
            return Zigbee2MqttContact(config.topic)
        case ShellyDw2Config():
            return ShellyDoorWindow2(config.device_id)
        case PresenceConfig():
            return PresenceSensor(
                config.topic,
                field=config.field,
                present_below_m=config.present_below_m,
                unit=config.unit,
            )
        case TemperatureConfig():
            return TemperatureSensor(config.topic, field=config.field)


@dataclass
class SensorBinding:
    """One configured sensor at a dock, with its health and when it last spoke."""

    dock: str
    role: str
    codec: SensorCodec
    max_silence_s: float
    health: DeviceHealth
    last_seen: float

    @property
    def device(self) -> str:
        """Device id, e.g. dock-1/door."""
        return self.health.device


Deliver = Callable[[SensorBinding, SensorReading], None]


class DockSensorBus:
    """Subscribes the dock sensors' topics and publishes to the signal lights."""

    def __init__(
        self,
        *,
        broker: BrokerConfig,
        client_id: str,
        site: str,
        outbox: Outbox,
        deliver: Deliver,
        silence_check_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._client_id = client_id
        self._site = site
        self._outbox = outbox
        self._deliver = deliver
        self._silence_check_s = silence_check_s
        self._clock = clock
        self.bindings: list[SensorBinding] = []
        self._by_topic: dict[str, list[SensorBinding]] = {}
        self._client: mqtt.Client | None = None
        self.connected = False

    def add(self, dock: str, config: SensorConfig) -> SensorBinding:
        """Listen to a configured sensor of `dock`."""
        binding = SensorBinding(
            dock=dock,
            role=config.role,
            codec=sensor_codec(config),
            max_silence_s=config.max_silence_s,
            health=DeviceHealth(f"{dock}/{config.role}", self._outbox),
            last_seen=self._clock(),
        )
        self.bindings.append(binding)
        for topic in binding.codec.topics:
            self._by_topic.setdefault(topic, []).append(binding)
        return binding

    # Messages (on the event loop) ---------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        """Decode one message for every sensor listening on `topic` and deliver the reading."""
        for binding in self._by_topic.get(topic, ()):
            binding.last_seen = self._clock()
            try:
                reading = binding.codec.decode(topic, payload)
            except FrameError as err:
                binding.health.set(DeviceState.ONLINE)
                report_frame_error(self._outbox, binding.device, err)
                continue
            if reading is None:
                continue
            if isinstance(reading, AvailabilityReading):
                if reading.online:
                    binding.health.set(DeviceState.ONLINE)
                else:
                    binding.health.set(DeviceState.OFFLINE, f"{topic} says offline")
                continue
            binding.health.set(DeviceState.ONLINE)
            self._deliver(binding, reading)

    def check_silence(self) -> None:
        """Mark sensors silent longer than their profile allows as offline."""
        now = self._clock()
        for binding in self.bindings:
            silent = now - binding.last_seen
            if silent > binding.max_silence_s and binding.health.available:
                binding.health.set(
                    DeviceState.OFFLINE,
                    f"no message for {silent:.0f} s (allowed {binding.max_silence_s:.0f} s): "
                    "check its battery and radio range",
                )

    # Signal lights ------------------------------------------------------------------------

    def publish_signal(self, dock: str, payload: bytes) -> None:
        """Set a dock's signal light (QoS 1, retained so a light that reconnects shows it)."""
        client = self._client
        if client is None or not self.connected:
            logger.warning("signal for %s not sent: the sensor broker is not connected", dock)
            return
        client.publish(signal_topic(self._site, dock), payload, qos=1, retain=True)

    # Connection ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe, deliver; reconnect with capped jittered backoff until cancelled."""
        loop = asyncio.get_running_loop()
        failures = 0
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._watch_silence(), name="sensors.silence")
            while True:
                try:
                    await self._session(loop)
                    failures = 0
                except (ConnectionError, OSError, TimeoutError) as err:
                    if failures == 0:
                        logger.warning("sensor broker %s unreachable: %s", self._broker.url, err)
                failures += 1
                ceiling = min(_BACKOFF_MAX_S, 0.5 * 2 ** min(failures, 10))
                await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    async def _watch_silence(self) -> None:
        while True:
            await asyncio.sleep(self._silence_check_s)
            self.check_silence()

    async def _session(self, loop: asyncio.AbstractEventLoop) -> None:
        connack: asyncio.Future[ReasonCode] = loop.create_future()
        lost = asyncio.Event()
        inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        def on_connect(
            client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
        ) -> None:
            loop.call_soon_threadsafe(_resolve, connack, rc)

        def on_disconnect(
            client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
        ) -> None:
            loop.call_soon_threadsafe(lost.set)

        def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
            item = (message.topic, bytes(message.payload))
            loop.call_soon_threadsafe(inbox.put_nowait, item)

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if self._broker.username:
            client.username_pw_set(self._broker.username, self._broker.password)
        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        started = False
        lost_wait: asyncio.Future[bool] = asyncio.ensure_future(lost.wait())
        getter: asyncio.Future[tuple[str, bytes]] | None = None
        try:
            client.connect_async(self._broker.host, self._broker.port, self._broker.keepalive)
            client.loop_start()
            started = True
            connecting: list[asyncio.Future[Any]] = [connack, lost_wait]
            await asyncio.wait(
                connecting,
                timeout=_CONNECT_TIMEOUT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not connack.done():
                raise ConnectionError("no CONNACK from the sensor broker")
            if connack.result().is_failure:
                raise ConnectionError(f"sensor broker refused: {connack.result()}")
            topics = sorted(self._by_topic)
            if topics:
                client.subscribe([(t, 1) for t in topics])
            self._client = client
            self.connected = True
            logger.info("sensor bus connected to %s: %d topic(s)", self._broker.url, len(topics))
            while not lost.is_set():
                getter = asyncio.ensure_future(inbox.get())
                waiting: list[asyncio.Future[Any]] = [getter, lost_wait]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    self._handle_safely(*getter.result())
                getter.cancel()
            logger.warning("sensor bus lost the broker %s", self._broker.url)
        finally:
            self.connected = False
            self._client = None
            lost_wait.cancel()
            if getter is not None:
                getter.cancel()
            if not connack.done():
                connack.cancel()
            await asyncio.shield(asyncio.to_thread(_stop, client, started=started))

    def _handle_safely(self, topic: str, payload: bytes) -> None:
        try:
            self.handle(topic, payload)
        except Exception:
            # One message must not stop the bus (e.g. a full disk for a moment).
            logger.exception("handling a message on %s failed", topic)


def _resolve(future: asyncio.Future[ReasonCode], rc: ReasonCode) -> None:
    if not future.done():
        future.set_result(rc)


def _stop(client: mqtt.Client, *, started: bool) -> None:
    client.disconnect()
    if started:
        client.loop_stop()
    # Close paho's sockets now rather than in its __del__ (ResourceWarning).
    client._reset_sockets()
