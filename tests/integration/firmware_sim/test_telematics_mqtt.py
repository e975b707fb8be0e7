"""Simulated vehicles publishing their positions through real brokers, as central receives them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contracts.telematics import VehiclePosition, vehicle_of_topic
from firmware_sim.driver import DriverReport
from firmware_sim.telematics import (
    BrokerUnavailable,
    Delay,
    DriveInput,
    MqttPositionPublisher,
    Point,
    RouteStop,
    Timeline,
    plan_drive,
    play,
)
from wms.embedded_broker import free_port

START = datetime(2025, 3, 14, 7, 0, tzinfo=UTC)


class PositionWatcher:
    """Subscribes to every vehicle position of one site and keeps them, in arrival order."""

    def __init__(self, url: str, site: str) -> None:
        self.received: list[tuple[str, VehiclePosition]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._site = site
        parts = urlsplit(url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"positions-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self._client.on_connect = lambda c, *a: c.subscribe(f"wms/{site}/vehicles/+/position", 1)
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, 30)
        self._client.loop_start()
        assert self._subscribed.wait(10), "the watcher's subscription was not acknowledged"

    def _on_message(self, client, userdata, message) -> None:
        owner = vehicle_of_topic(message.topic)
        if owner is None or owner[0] != self._site:
            return  # another test's traffic on the shared broker
        with self._lock:
            self.received.append((owner[1], VehiclePosition.from_json(message.payload)))

    def wait_for(self, count: int, timeout_s: float = 20) -> list[tuple[str, VehiclePosition]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()


@pytest.fixture
def watcher(mqtt_url: str, site_code: str) -> Iterator[PositionWatcher]:
    watching = PositionWatcher(mqtt_url, site_code)
    try:
        yield watching
    finally:
        watching.close()


class DriverLog:
    """Stands in for the driver page clients: central's side of that API is tested end to end."""

    def __init__(self) -> None:
        self.reports: list[DriverReport] = []

    def report(self, event: DriverReport) -> None:
        self.reports.append(event)


def short_drives(site: str) -> list[Timeline]:
    """Two vans on short routes around the depot, one stuck in traffic for a while."""
    depot = Point(55.6761, 12.5683)
    first = DriveInput(
        route_id=1,
        site=site,
        vehicle="VAN-1",
        depot=depot,
        start_at=START,
        stops=(
            RouteStop(1, Point(55.6900, 12.5900), service_s=120),
            RouteStop(2, Point(55.6800, 12.6100), service_s=60),
        ),
    )
    second = DriveInput(
        route_id=2,
        site=site,
        vehicle="VAN-2",
        depot=depot,
        start_at=START + timedelta(minutes=1),
        stops=(RouteStop(1, Point(55.6600, 12.5500), service_s=180),),
    )
    return [
        plan_drive(first, sample_every_s=20),
        plan_drive(second, sample_every_s=20, disturbances=[Delay(0, 3)]),
    ]


def test_every_sample_arrives_parsed_and_in_order_per_vehicle(
    mqtt_url: str, site_code: str, watcher: PositionWatcher
) -> None:
    timelines = short_drives(site_code)
    drivers = {t.route_id: DriverLog() for t in timelines}
    with MqttPositionPublisher(mqtt_url) as publisher:
        stats = play(timelines, publisher=publisher, drivers=drivers, speedup=None)

    expected = sum(len(t.positions) for t in timelines)
    assert stats.positions == expected
    received = watcher.wait_for(expected)
    assert len(received) == expected
    for timeline in timelines:
        assert [p for vehicle, p in received if vehicle == timeline.vehicle] == list(
            timeline.positions
        )
        assert drivers[timeline.route_id].reports == list(timeline.reports)


def test_more_samples_than_the_unacknowledged_bound_all_arrive_in_order(
    mqtt_url: str, site_code: str, watcher: PositionWatcher
) -> None:
    """The publisher waits for acknowledgements past its bound and loses nothing doing so."""
    (timeline, _) = short_drives(site_code)
    with MqttPositionPublisher(mqtt_url, max_unacknowledged=5) as publisher:
        for position in timeline.positions:
            publisher.publish(position)
    received = watcher.wait_for(len(timeline.positions))
    assert [p for _, p in received] == list(timeline.positions)


def test_publisher_without_a_broker_says_where_it_tried() -> None:
    port = free_port()
    with (
        pytest.raises(BrokerUnavailable, match=f"127.0.0.1:{port}"),
        MqttPositionPublisher(f"mqtt://127.0.0.1:{port}", connect_timeout_s=2),
    ):
        pass
