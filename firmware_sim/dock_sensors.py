"""Simulated dock sensors that publish what real ones publish, over MQTT to the site broker.

- `SimZigbeeContact`: a door contact behind Zigbee2MQTT: state JSON on `zigbee2mqtt/<name>`
  (`contact: true` = closed, battery, voltage, linkquality) and the retained availability on
  `…/availability` (`{"state": "online"}`; `offline` is its last will, as the bridge would say).
- `SimPresenceSensor`: a distance sensor publishing `{"<field>": <metres>}`.
- `SimDockSensors`: both at one dock, with `open_door()`, `vehicle_arrives()`, ... `go_silent()`.
"""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

logger = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_S = 5.0


class _SimMqttDevice:
    """One device's MQTT connection, with `offline` as its retained last will."""

    def __init__(self, url: str, availability_topic: str, *, client_prefix: str) -> None:
        parts = urlsplit(url)
        self._availability_topic = availability_topic
        self.silent = False
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{client_prefix}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self._client.will_set(availability_topic, b'{"state": "offline"}', qos=1, retain=True)
        self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, 30)
        self._client.loop_start()
        self.publish(availability_topic, b'{"state": "online"}', retain=True)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait until the broker has it (unless the device went silent)."""
        if self.silent:
            logger.debug("silent sensor drops %s", topic)
            return
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(_PUBLISH_TIMEOUT_S)

    def close(self) -> None:
        """Disconnect cleanly, saying `offline` first (as Zigbee2MQTT does for a removed device)."""
        if not self.silent:
            self.publish(self._availability_topic, b'{"state": "offline"}', retain=True)
        self._client.disconnect()
        self._client.loop_stop()
        # Close paho's sockets now rather than in its __del__ (ResourceWarning).
        self._client._reset_sockets()


class SimZigbeeContact(_SimMqttDevice):
    """A Zigbee door contact (SNZB-04 style) as Zigbee2MQTT publishes it."""

    def __init__(self, url: str, topic: str, *, battery: int = 91, retain: bool = True) -> None:
        """Args:
        url: The site broker, mqtt://host:port.
        topic: zigbee2mqtt/<friendly name>.
        battery: Battery percentage it reports.
        retain: Publish the state retained (the Zigbee2MQTT device option `retain`).
        """
        self.topic = topic
        self.battery = battery
        self.retain = retain
        self.closed = True
        super().__init__(url, f"{topic}/availability", client_prefix="z2m-sim")

    def report(self) -> None:
        """Publish the current state (a check-in, as the device does now and then)."""
        state = {
            "contact": self.closed,
            "battery": self.battery,
            "voltage": 2900,
            "battery_low": self.battery < 20,
            "linkquality": 120,
        }
        self.publish(self.topic, json.dumps(state).encode(), retain=self.retain)

    def set_closed(self, closed: bool) -> None:
        """Move the magnet: closed (contact true) or open."""
        self.closed = closed
        self.report()


class SimPresenceSensor(_SimMqttDevice):
    """A distance sensor above the dock leveller: `{"distance": 1.2}` (metres)."""

    def __init__(
        self, url: str, topic: str, *, field: str = "distance", empty_m: Decimal = Decimal("6.0")
    ) -> None:
        self.topic = topic
        self.field = field
        self.empty_m = empty_m
        self.distance_m = empty_m
        super().__init__(url, f"{topic}/availability", client_prefix="presence-sim")

    def report(self) -> None:
        """Publish the current distance."""
        payload = json.dumps({self.field: float(self.distance_m), "linkquality": 90})
        self.publish(self.topic, payload.encode(), retain=True)

    def measure(self, distance_m: Decimal) -> None:
        """Something is `distance_m` away now."""
        self.distance_m = distance_m
        self.report()


class SimDockSensors:
    """The door contact and presence sensor of one dock."""

    def __init__(
        self,
        url: str,
        *,
        door_topic: str,
        presence_topic: str,
        presence_field: str = "distance",
    ) -> None:
        self.door = SimZigbeeContact(url, door_topic)
        try:
            self.presence = SimPresenceSensor(url, presence_topic, field=presence_field)
        except BaseException:
            self.door.close()
            raise

    def open_door(self) -> None:
        """The dock door opens."""
        self.door.set_closed(False)

    def close_door(self) -> None:
        """The dock door closes."""
        self.door.set_closed(True)

    def vehicle_arrives(self, distance_m: Decimal = Decimal("0.4")) -> None:
        """A trailer backs onto the dock."""
        self.presence.measure(distance_m)

    def vehicle_leaves(self) -> None:
        """The trailer pulls away."""
        self.presence.measure(self.presence.empty_m)

    def send_raw(self, payload: bytes) -> None:
        """A payload the edge cannot parse, on the door sensor's topic (a firmware bug)."""
        self.door.publish(self.door.topic, payload)

    def go_silent(self) -> None:
        """Both sensors stop publishing without saying goodbye (flat battery, out of range)."""
        self.door.silent = True
        self.presence.silent = True

    def close(self) -> None:
        """Disconnect both sensors."""
        self.door.close()
        self.presence.close()
