"""Dock sensors on MQTT: decode their payloads into typed readings (reference §2.8).

Each codec knows the topics one device publishes on and turns `(topic, payload)` into a reading.
They are pure: no MQTT client, no clock. A payload that cannot be understood raises FrameError
with the raw bytes; a topic that is not the codec's returns None.

- `Zigbee2MqttContact`: state JSON on `zigbee2mqtt/<name>` (`contact: true` = closed), the
  attribute output `zigbee2mqtt/<name>/contact` (`true`/`false`), and the retained availability
  on `zigbee2mqtt/<name>/availability` (`online`/`offline`, plain or `{"state": "online"}`).
- `ShellyDoorWindow2`: Shelly Door/Window 2 Gen1, `shellies/<id>/sensor/state` (`open`/`close`),
  `shellies/<id>/sensor/battery` (%), and its last-will topic `shellies/<id>/online`.
- `PresenceSensor`: a JSON distance (or boolean) field; present when nearer than a threshold.
- `TemperatureSensor`: a JSON temperature field (°C).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, Protocol

from devices.errors import FrameError

_MAX_PAYLOAD = 4096
_UNIT_TO_M = {"m": Decimal(1), "cm": Decimal("0.01"), "mm": Decimal("0.001")}


@dataclass(frozen=True)
class DoorReading:
    """A door contact: open or closed, with what else the device said."""

    open: bool
    battery_pct: int | None = None
    link_quality: int | None = None


@dataclass(frozen=True)
class PresenceReading:
    """A vehicle presence sensor: present, and the measured distance if it gives one."""

    present: bool
    distance_m: Decimal | None = None


@dataclass(frozen=True)
class TemperatureReading:
    """A dock temperature in °C."""

    celsius: Decimal


@dataclass(frozen=True)
class BatteryReading:
    """A battery level report on its own (the device said nothing else)."""

    percent: int


@dataclass(frozen=True)
class AvailabilityReading:
    """The device's (or its bridge's) own statement of being online or offline."""

    online: bool


@dataclass(frozen=True)
class Heartbeat:
    """The device spoke, but about nothing this codec uses (e.g. link quality only)."""


SensorReading = (
    DoorReading
    | PresenceReading
    | TemperatureReading
    | BatteryReading
    | AvailabilityReading
    | Heartbeat
)


class SensorCodec(Protocol):
    """Turns one device's MQTT messages into readings."""

    @property
    def topics(self) -> tuple[str, ...]:
        """The exact topics to subscribe to for this device."""
        ...

    def decode(self, topic: str, payload: bytes) -> SensorReading | None:
        """The reading in a message; None if `topic` is not this device's.

        Raises:
            FrameError: The payload cannot be understood (not text, bad JSON, wrong type).
        """
        ...


# Helpers --------------------------------------------------------------------------------------


def _text(payload: bytes) -> str:
    if len(payload) > _MAX_PAYLOAD:
        raise FrameError(f"sensor payload of {len(payload)} bytes is too long", payload)
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise FrameError("sensor payload is not UTF-8 text", payload) from err


def _json_object(payload: bytes) -> dict[str, object]:
    text = _text(payload)
    try:
        value = json.loads(text)
    except ValueError as err:
        raise FrameError(f"sensor payload is not valid JSON ({err})", payload) from err
    if not isinstance(value, dict):
        raise FrameError("sensor payload is JSON but not an object", payload)
    return value


def _bool_word(text: str, payload: bytes, *, true: set[str], false: set[str]) -> bool:
    word = text.strip().strip('"').lower()
    if word in true:
        return True
    if word in false:
        return False
    raise FrameError(
        f"expected one of {sorted(true | false)}, got {text[:40]!r}",
        payload,
    )


def _optional_int(obj: dict[str, object], key: str, payload: bytes) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrameError(f"field {key!r} must be a number, got {value!r:.40}", payload)
    if isinstance(value, float) and not math.isfinite(value):
        raise FrameError(f"field {key!r} is not a finite number", payload)
    return int(value)


def _number(value: object, key: str, payload: bytes) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FrameError(f"field {key!r} must be a number, got {value!r:.40}", payload)
    try:
        number = Decimal(str(value))
    except InvalidOperation as err:
        raise FrameError(f"field {key!r} is not a number: {value!r:.40}", payload) from err
    if not number.is_finite():
        raise FrameError(f"field {key!r} is not a finite number", payload)
    return number


def _availability(payload: bytes) -> AvailabilityReading:
    """Zigbee2MQTT availability: plain `online`/`offline` (legacy) or `{"state": "online"}`."""
    text = _text(payload)
    if text.startswith("{"):
        state = _json_object(payload).get("state")
        if not isinstance(state, str):
            raise FrameError("availability JSON has no 'state' string", payload)
        text = state
    return AvailabilityReading(online=_bool_word(text, payload, true={"online"}, false={"offline"}))


# Codecs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zigbee2MqttContact:
    """A Zigbee contact sensor (e.g. SNZB-04) behind Zigbee2MQTT; `topic` = zigbee2mqtt/<name>."""

    topic: str

    @property
    def topics(self) -> tuple[str, ...]:
        """State, attribute-output contact and availability topics."""
        return (self.topic, f"{self.topic}/contact", f"{self.topic}/availability")

    def decode(self, topic: str, payload: bytes) -> SensorReading | None:
        """See `SensorCodec.decode`."""
        if topic == f"{self.topic}/availability":
            return _availability(payload)
        if topic == f"{self.topic}/contact":
            closed = _bool_word(_text(payload), payload, true={"true"}, false={"false"})
            return DoorReading(open=not closed)
        if topic != self.topic:
            return None
        state = _json_object(payload)
        battery = _optional_int(state, "battery", payload)
        contact = state.get("contact")
        if contact is None:
            return Heartbeat() if battery is None else BatteryReading(battery)
        if not isinstance(contact, bool):
            raise FrameError(f"'contact' must be true or false, got {contact!r:.40}", payload)
        return DoorReading(
            open=not contact,  # Zigbee2MQTT: contact true = magnet near = door closed
            battery_pct=battery,
            link_quality=_optional_int(state, "linkquality", payload),
        )


@dataclass(frozen=True)
class ShellyDoorWindow2:
    """A Shelly Door/Window 2 (Gen1 MQTT); `device_id` like shellydw2-A1B2C3."""

    device_id: str

    @property
    def _base(self) -> str:
        return f"shellies/{self.device_id}"

    @property
    def topics(self) -> tuple[str, ...]:
        """Door state, battery and the online (last will) topics."""
        return (
            f"{self._base}/sensor/state",
            f"{self._base}/sensor/battery",
            f"{self._base}/online",
        )

    def decode(self, topic: str, payload: bytes) -> SensorReading | None:
        """See `SensorCodec.decode`."""
        if topic == f"{self._base}/sensor/state":
            is_open = _bool_word(_text(payload), payload, true={"open"}, false={"close", "closed"})
            return DoorReading(open=is_open)
        if topic == f"{self._base}/sensor/battery":
            value = _number(_text(payload), "battery", payload)
            if not 0 <= value <= 100:
                raise FrameError(f"battery {value} % is out of range", payload)
            return BatteryReading(int(value))
        if topic == f"{self._base}/online":
            online = _bool_word(_text(payload), payload, true={"true"}, false={"false"})
            return AvailabilityReading(online=online)
        return None


@dataclass(frozen=True)
class PresenceSensor:
    """A vehicle presence sensor publishing JSON on `topic`.

    With `present_below_m`, `field` is a distance (in `unit`) and a vehicle is present when it
    is nearer than the threshold; without it, `field` is a boolean (e.g. `occupancy`).
    """

    topic: str
    field: str = "distance"
    present_below_m: Decimal | None = None
    unit: Literal["m", "cm", "mm"] = "m"

    @property
    def topics(self) -> tuple[str, ...]:
        """State and availability topics."""
        return (self.topic, f"{self.topic}/availability")

    def decode(self, topic: str, payload: bytes) -> SensorReading | None:
        """See `SensorCodec.decode`."""
        if topic == f"{self.topic}/availability":
            return _availability(payload)
        if topic != self.topic:
            return None
        state = _json_object(payload)
        value = state.get(self.field)
        if value is None:
            return Heartbeat()
        if self.present_below_m is None:
            if not isinstance(value, bool):
                raise FrameError(
                    f"{self.field!r} must be true or false, got {value!r:.40}", payload
                )
            return PresenceReading(present=value)
        distance = _number(value, self.field, payload) * _UNIT_TO_M[self.unit]
        if distance < 0:
            raise FrameError(f"negative distance {distance} m", payload)
        return PresenceReading(present=distance < self.present_below_m, distance_m=distance)


@dataclass(frozen=True)
class TemperatureSensor:
    """A temperature sensor publishing JSON with `field` in °C on `topic`."""

    topic: str
    field: str = "temperature"

    @property
    def topics(self) -> tuple[str, ...]:
        """State and availability topics."""
        return (self.topic, f"{self.topic}/availability")

    def decode(self, topic: str, payload: bytes) -> SensorReading | None:
        """See `SensorCodec.decode`."""
        if topic == f"{self.topic}/availability":
            return _availability(payload)
        if topic != self.topic:
            return None
        value = _json_object(payload).get(self.field)
        if value is None:
            return Heartbeat()
        return TemperatureReading(celsius=_number(value, self.field, payload))
