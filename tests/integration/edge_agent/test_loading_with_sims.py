"""Loading at a dock end to end: simulated door contact and presence sensor on the real broker,
scanner and printer on real ptys, the edge agent, and a stand-in central sending a load plan."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contracts import (
    Command,
    CommandType,
    DockPhase,
    EventType,
    LoadingAlarmReason,
    LoadPlacement,
    LoadPlan,
    event_payload,
)
from contracts.envelope import utc_now
from edge_agent.agent import EdgeAgent
from edge_agent.config import PresenceConfig, Zigbee2MqttContactConfig
from edge_agent.sensors import signal_topic
from firmware_sim import gs1
from firmware_sim.dock_sensors import SimDockSensors
from tests.integration.edge_agent.fake_central import FakeCentral
from tests.integration.edge_agent.test_receiving_with_sims import Sims, edge_config, eventually

pytest_plugins = ["tests.integration.edge_agent.test_receiving_with_sims"]

P = [gs1.sscc("7613032", 7000 + n) for n in range(4)]


class SignalWatcher:
    """Records what the edge publishes to a dock's signal light."""

    def __init__(self, url: str, topic: str) -> None:
        self.messages: list[dict[str, object]] = []
        self._topic = topic
        self._lock = threading.Lock()
        parts = urlsplit(url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"light-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self._client.on_connect = lambda c, *a: c.subscribe(topic, 1)
        self._client.on_message = self._on_message
        self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, 30)
        self._client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic != self._topic:
            return  # amqtt 0.12 was seen delivering another topic's retained message here
        with self._lock:
            self.messages.append(json.loads(message.payload))

    def seen(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()


def load_plan_command(site: str, shipment: str) -> Command:
    plan = LoadPlan(
        dock="dock-1",
        shipment_id=shipment,
        trailer="semi-trailer 13.6 m, 33 EUR",
        vehicle_ref="TRUCK-7",
        route_ref="R-1",
        placements=[
            LoadPlacement(sscc=P[0], row=0, column=0, sequence=1, stop_index=2),
            LoadPlacement(sscc=P[1], row=0, column=1, sequence=2, stop_index=2),
            LoadPlacement(sscc=P[2], row=1, column=0, sequence=3, stop_index=1),
            LoadPlacement(sscc=P[3], row=1, column=1, sequence=4, stop_index=1),
        ],
        pallets_expected=4,
    )
    return Command(
        id=uuid.uuid4(),
        site=site,
        type=CommandType.LOAD_PLAN,
        at=utc_now(),
        data=plan.model_dump(mode="json"),
    )


@pytest.fixture
def dock_sensors(mqtt_url: str, site_code: str) -> Iterator[SimDockSensors]:
    sensors = SimDockSensors(
        mqtt_url,
        door_topic=f"zigbee2mqtt/{site_code}-dock1-door",
        presence_topic=f"sensors/{site_code}-dock1-distance",
    )
    yield sensors
    sensors.close()


def sensor_profiles(sensors: SimDockSensors, max_silence_s: float = 3600) -> list:
    return [
        Zigbee2MqttContactConfig(
            kind="zigbee2mqtt_contact", topic=sensors.door.topic, max_silence_s=max_silence_s
        ),
        PresenceConfig(
            kind="presence",
            topic=sensors.presence.topic,
            present_below_m="2.0",
            max_silence_s=max_silence_s,
        ),
    ]


def with_sensors(config, sensors: SimDockSensors, **kw):
    dock = config.docks[0].model_copy(update={"sensors": sensor_profiles(sensors, **kw)})
    return config.model_copy(update={"docks": [dock]})


async def load_a_truck(
    agent: EdgeAgent,
    central: FakeCentral,
    sims: Sims,
    sensors: SimDockSensors,
    light: SignalWatcher,
    site: str,
) -> None:
    control = agent.docks["dock-1"].control
    assert control is not None
    await asyncio.to_thread(sensors.vehicle_arrives)
    await asyncio.to_thread(sensors.open_door)
    await eventually(lambda: control.status.phase is DockPhase.DOOR_OPEN)
    command = load_plan_command(site, "SHIP-1")
    await asyncio.to_thread(central.send_command, command)
    await eventually(lambda: any("LOADING SHEET" in job.text for job in sims.printer.jobs))
    assert control.status.phase is DockPhase.LOADING
    sims.scanner.scan(f"00{P[1]}")
    sims.scanner.scan(f"00{P[3]}")  # row 2 before row 1 is complete: wrong order
    sims.scanner.scan(f"00{P[0]}")  # processed only after the alarm is out
    sims.scanner.scan(f"00{P[3]}")
    sims.scanner.scan(f"00{P[2]}")
    await eventually(lambda: len(control.load.loaded) == 4 if control.load else False)
    await eventually(lambda: any("WRONG ORDER" in job.text for job in sims.printer.jobs))
    await eventually(lambda: len(light.seen()) >= 2)
    await asyncio.to_thread(sensors.close_door)
    await eventually(lambda: control.load is None)
    await asyncio.to_thread(sensors.vehicle_leaves)
    await eventually(lambda: control.status.phase is DockPhase.EMPTY)


def check_outbound_events(envelopes, light: SignalWatcher) -> None:
    by_type = [(e.type, event_payload(e)) for e in envelopes]
    relevant = [
        (t, p)
        for t, p in by_type
        if t in (EventType.PALLET_LOADED, EventType.LOADING_ALARM, EventType.SHIPMENT_DISPATCHED)
    ]
    kinds = [(t, getattr(p, "sscc", None)) for t, p in relevant]
    assert kinds == [
        (EventType.PALLET_LOADED, P[1]),
        (EventType.LOADING_ALARM, P[3]),
        (EventType.PALLET_LOADED, P[0]),
        (EventType.PALLET_LOADED, P[3]),
        (EventType.PALLET_LOADED, P[2]),
        (EventType.SHIPMENT_DISPATCHED, None),
    ]
    alarm = relevant[1][1]
    assert alarm.reason is LoadingAlarmReason.WRONG_ORDER
    assert relevant[-1][1].pallets == [P[1], P[0], P[3], P[2]]
    # The light was set before the next scan was processed: its clear message (sent when the
    # next pallet loaded) comes after it on the same topic and connection.
    assert light.seen()[:2] == [{"alarm": "wrong_order"}, {"alarm": None}]
    types = [t for t, _ in by_type]
    assert EventType.DOCK_DOOR_CHANGED in types and EventType.DOCK_VEHICLE_CHANGED in types
    phases = [p.state for t, p in by_type if t == EventType.DOCK_STATE_CHANGED]
    assert phases[-3:] == [DockPhase.LOADING, DockPhase.DOOR_CLOSED, DockPhase.EMPTY]


async def test_a_truck_is_loaded_to_plan_with_an_alarm_for_the_pallet_out_of_order(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims, dock_sensors: SimDockSensors
) -> None:
    central = FakeCentral(mqtt_url, site_code)
    light = SignalWatcher(mqtt_url, signal_topic(site_code, "dock-1"))
    try:
        config = with_sensors(
            edge_config(mqtt_url, site_code, tmp_path / "edge", sims), dock_sensors
        )
        async with EdgeAgent(config) as agent:
            await eventually(
                lambda: (
                    agent.uplink.connected and agent.sensors is not None and agent.sensors.connected
                )
            )
            await load_a_truck(agent, central, sims, dock_sensors, light, site_code)
            await eventually(lambda: agent.outbox.depth() == 0)
        check_outbound_events(central.applied, light)
        done = [event_payload(e) for e in central.applied_of(EventType.COMMAND_DONE)]
        assert len(done) == 1 and done[0].ok
    finally:
        light.close()
        central.close()


async def test_loading_works_while_central_is_away_and_events_wait_in_the_outbox(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims, dock_sensors: SimDockSensors
) -> None:
    central = FakeCentral(mqtt_url, site_code, ack=False)
    light = SignalWatcher(mqtt_url, signal_topic(site_code, "dock-1"))
    try:
        config = with_sensors(
            edge_config(mqtt_url, site_code, tmp_path / "edge", sims), dock_sensors
        )
        async with EdgeAgent(config) as agent:
            await eventually(
                lambda: (
                    agent.uplink.connected and agent.sensors is not None and agent.sensors.connected
                )
            )
            await load_a_truck(agent, central, sims, dock_sensors, light, site_code)
            queued = agent.outbox.unacked(limit=10_000)
            check_outbound_events(queued, light)
            assert agent.outbox.depth() == len(queued)
    finally:
        light.close()
        central.close()


async def test_a_garbled_sensor_payload_is_a_device_error_and_a_silent_sensor_goes_offline(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims, dock_sensors: SimDockSensors
) -> None:
    central = FakeCentral(mqtt_url, site_code)
    try:
        config = with_sensors(
            edge_config(mqtt_url, site_code, tmp_path / "edge", sims),
            dock_sensors,
            max_silence_s=1.0,
        )
        async with EdgeAgent(config) as agent:
            assert agent.sensors is not None
            agent.sensors._silence_check_s = 0.2
            await eventually(lambda: agent.sensors.connected)
            await asyncio.to_thread(dock_sensors.send_raw, b"\x00garbage{")
            await eventually(lambda: bool(central.applied_of(EventType.DEVICE_ERROR)))
            await asyncio.to_thread(dock_sensors.go_silent)
            await eventually(
                lambda: (
                    {d.device: d.state for d in agent.health().devices}.get("dock-1/door")
                    == "offline"
                )
            )
        (error,) = [event_payload(e) for e in central.applied_of(EventType.DEVICE_ERROR)]
        assert error.device == "dock-1/door" and bytes.fromhex(error.raw_hex) == b"\x00garbage{"
    finally:
        central.close()
