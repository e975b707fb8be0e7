"""Dock sensor codecs: the payloads of reference §2.8 become readings; anything else FrameError."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.dock_sensors import (
    AvailabilityReading,
    BatteryReading,
    DoorReading,
    Heartbeat,
    PresenceReading,
    PresenceSensor,
    ShellyDoorWindow2,
    TemperatureReading,
    TemperatureSensor,
    Zigbee2MqttContact,
)
from devices.errors import FrameError

Z2M = Zigbee2MqttContact("zigbee2mqtt/dock1-door")
SHELLY = ShellyDoorWindow2("shellydw2-A1B2C3")
PRESENCE = PresenceSensor("sensors/dock1", field="distance", present_below_m=Decimal("2.0"))


def test_zigbee2mqtt_contact_true_means_the_door_is_closed():
    payload = (
        b'{"contact": true, "battery": 91, "voltage": 2900, "battery_low": false,'
        b' "linkquality": 120}'
    )
    assert Z2M.decode(Z2M.topic, payload) == DoorReading(
        open=False, battery_pct=91, link_quality=120
    )
    assert Z2M.decode(Z2M.topic, b'{"contact": false}') == DoorReading(open=True)


def test_zigbee2mqtt_availability_plain_or_json_and_attribute_output():
    assert Z2M.decode(f"{Z2M.topic}/availability", b"offline") == AvailabilityReading(False)
    assert Z2M.decode(f"{Z2M.topic}/availability", b'{"state":"online"}') == AvailabilityReading(
        True
    )
    assert Z2M.decode(f"{Z2M.topic}/contact", b"true") == DoorReading(open=False)
    assert Z2M.decode(Z2M.topic, b'{"battery": 40}') == BatteryReading(40)
    assert Z2M.decode(Z2M.topic, b'{"linkquality": 40}') == Heartbeat()
    assert Z2M.decode("zigbee2mqtt/other", b"{}") is None
    assert set(Z2M.topics) == {Z2M.topic, f"{Z2M.topic}/contact", f"{Z2M.topic}/availability"}


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b"{not json",
        b"[1, 2]",
        b'{"contact": "yes"}',
        b'{"contact": true, "battery": "x"}',
    ],
)
def test_a_malformed_zigbee2mqtt_payload_is_a_frame_error_with_the_raw_bytes(payload: bytes):
    with pytest.raises(FrameError) as err:
        Z2M.decode(Z2M.topic, payload)
    assert err.value.raw == payload


def test_shelly_door_window_2_gen1_topics():
    base = "shellies/shellydw2-A1B2C3"
    assert SHELLY.decode(f"{base}/sensor/state", b"open") == DoorReading(open=True)
    assert SHELLY.decode(f"{base}/sensor/state", b"close") == DoorReading(open=False)
    assert SHELLY.decode(f"{base}/sensor/battery", b"87") == BatteryReading(87)
    assert SHELLY.decode(f"{base}/online", b"false") == AvailabilityReading(False)
    assert SHELLY.decode(f"{base}/sensor/lux", b"12") is None
    with pytest.raises(FrameError):
        SHELLY.decode(f"{base}/sensor/state", b"ajar")
    with pytest.raises(FrameError):
        SHELLY.decode(f"{base}/sensor/battery", b"140")


def test_presence_by_distance_threshold_and_by_boolean_field():
    assert PRESENCE.decode(PRESENCE.topic, b'{"distance": 0.4}') == PresenceReading(
        True, Decimal("0.4")
    )
    assert PRESENCE.decode(PRESENCE.topic, b'{"distance": 2.0}') == PresenceReading(
        False, Decimal("2.0")
    )
    in_cm = PresenceSensor("s/d", present_below_m=Decimal(2), unit="cm")
    assert in_cm.decode("s/d", b'{"distance": 150}') == PresenceReading(True, Decimal("1.50"))
    occupancy = PresenceSensor("s/o", field="occupancy")
    assert occupancy.decode("s/o", b'{"occupancy": true}') == PresenceReading(True)
    with pytest.raises(FrameError):
        PRESENCE.decode(PRESENCE.topic, b'{"distance": "near"}')
    with pytest.raises(FrameError):
        PRESENCE.decode(PRESENCE.topic, b'{"distance": -1}')


def test_temperature():
    sensor = TemperatureSensor("zigbee2mqtt/dock1-temp")
    assert sensor.decode(sensor.topic, b'{"temperature": 4.5}') == TemperatureReading(
        Decimal("4.5")
    )
    with pytest.raises(FrameError):
        sensor.decode(sensor.topic, b'{"temperature": NaN}')


CODECS = [Z2M, SHELLY, PRESENCE, TemperatureSensor("t/x"), PresenceSensor("p/b", field="occ")]


@settings(max_examples=200, deadline=None)
@given(codec=st.sampled_from(CODECS), which=st.integers(0, 2), payload=st.binary(max_size=200))
def test_random_bytes_give_a_reading_none_or_frame_error(codec, which: int, payload: bytes):
    topic = codec.topics[which % len(codec.topics)]
    try:
        codec.decode(topic, payload)
    except FrameError as err:
        assert err.raw == payload


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    codec=st.sampled_from(CODECS),
    fields=st.dictionaries(
        st.sampled_from(["contact", "battery", "linkquality", "distance", "temperature", "occ"]),
        json_values,
        max_size=4,
    ),
)
def test_random_json_objects_never_crash_a_codec(codec, fields: dict[str, object]):
    payload = json.dumps(fields).encode()
    try:
        codec.decode(codec.topics[0], payload)
    except FrameError as err:
        assert err.raw == payload
