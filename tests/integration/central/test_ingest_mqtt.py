"""Central's MQTT adapter against real brokers: events in, acks and commands out."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from central.ingest import IngestService
from central.ingest_mqtt import BrokerAddress, MqttIngest, running_ingest
from contracts import Ack, Command, Topics
from tests.integration.central.scenario import PALLET_QTY, EdgeStream, bin_code, sscc
from tests.integration.central.test_ingest import stock_by_location
from wms.mqtt_admin import clear_session


class EdgeSide:
    """The edge's end of the wire: publishes events, collects acks and commands."""

    def __init__(self, url: str, site: str) -> None:
        parts = urlsplit(url)
        self.topics = Topics(site)
        self.acks: queue.Queue[int] = queue.Queue()
        self.commands: queue.Queue[Command] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-edge-{site}")
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        self.client.subscribe([(self.topics.down_ack, 1), (self.topics.down_cmd, 1)])
        time.sleep(0.3)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.down_ack:
            self.acks.put(Ack.from_json(msg.payload).upto)
        else:
            self.commands.put(Command.from_json(msg.payload))

    def publish(self, payload: bytes) -> None:
        self.client.publish(self.topics.up_events, payload, qos=1).wait_for_publish(5)

    def wait_ack(self, upto: int, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.acks.get(timeout=0.2) >= upto:
                    return
            except queue.Empty:
                pass
        raise AssertionError(f"no ack up to {upto} within {timeout_s} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def ingest(mqtt_url: str, seeded: Engine, site_code: str) -> Iterator[MqttIngest]:
    client_id = f"central-{site_code}"
    adapter = MqttIngest(
        IngestService(seeded),
        BrokerAddress.from_url(mqtt_url),
        client_id=client_id,
        command_resend_after_s=1.0,
    )
    with running_ingest(adapter, wait_s=10):
        assert adapter.connected
        yield adapter
    clear_session(mqtt_url, client_id)


def test_events_are_acked_and_a_receipt_is_answered_with_a_print_command(
    ingest: MqttIngest, mqtt_url: str, site_code: str
) -> None:
    edge = EdgeSide(mqtt_url, site_code)
    stream = EdgeStream(site_code)
    try:
        edge.publish(stream.goods_received(1))
        edge.wait_ack(1)
        command = edge.commands.get(timeout=10)
        assert command.type == "print.label"
        assert command.data["in_reply_to"] == str(stream.ids[1])
        edge.publish(stream.putaway(1, bin_code(1, 1)))
        edge.wait_ack(2)
    finally:
        edge.close()


def test_an_unconfirmed_command_is_sent_again_until_the_edge_confirms(
    ingest: MqttIngest, mqtt_url: str, site_code: str
) -> None:
    edge = EdgeSide(mqtt_url, site_code)
    stream = EdgeStream(site_code)
    try:
        edge.publish(stream.goods_received(1))
        first = edge.commands.get(timeout=10)
        again = edge.commands.get(timeout=10)
        assert again.id == first.id  # same id, so the edge executes it once
        edge.publish(stream.event("command.done", {"command_id": str(first.id), "ok": True}))
        edge.wait_ack(2)
        time.sleep(0.5)
        while not edge.commands.empty():  # resends already on the wire before the ack
            edge.commands.get()
        time.sleep(2.5)  # more than two resend periods
        assert edge.commands.empty(), "the command was sent again after command.done"
    finally:
        edge.close()


def test_a_gap_is_acked_up_to_the_last_applied_event_so_the_edge_resends(
    ingest: MqttIngest, mqtt_url: str, site_code: str
) -> None:
    edge = EdgeSide(mqtt_url, site_code)
    stream = EdgeStream(site_code)
    try:
        first = stream.goods_received(1)
        second = stream.goods_received(2)
        edge.publish(second)
        assert edge.acks.get(timeout=10) == 0
        edge.publish(first)
        edge.wait_ack(2)
    finally:
        edge.close()


def test_every_event_published_twice_leaves_the_stock_as_if_sent_once(
    ingest: MqttIngest, mqtt_url: str, site_code: str, seeded: Engine
) -> None:
    edge = EdgeSide(mqtt_url, site_code)
    stream = EdgeStream(site_code)
    try:
        for serial in range(1, 7):
            raw = stream.goods_received(serial)
            edge.publish(raw)
            edge.publish(raw)
            edge.wait_ack(stream.seq)
            raw = stream.putaway(serial, bin_code(1, serial))
            edge.publish(raw)
            edge.publish(raw)
        edge.wait_ack(stream.seq)
        deadline = time.monotonic() + 10
        while ingest.handled[site_code] < 2 * stream.seq and time.monotonic() < deadline:
            time.sleep(0.05)  # the second copy of the last event may still be in flight
        assert ingest.handled[site_code] == 2 * stream.seq
    finally:
        edge.close()
    stock = stock_by_location(seeded, site_code)
    assert stock == {(bin_code(1, s), sscc(s)): PALLET_QTY for s in range(1, 7)}
