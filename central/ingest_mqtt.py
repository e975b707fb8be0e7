"""Central's MQTT adapter: events in, acks and commands out.

All the rules (order, exactly once, dead letters) live in `central.ingest.IngestService`;
this module only moves bytes between the broker and that service. Messages are handled
one at a time on a worker thread, so paho's network thread never waits on the database.
The broker is not a store: paho acknowledges a message to the broker before the event
is committed, and that is safe because the edge resends until *our* ack covers it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.ingest import IngestOutcome, IngestService
from central.telematics_ingest import TelematicsIngest
from contracts import Ack, Command, Topics
from contracts.telematics import POSITIONS_ALL_SITES, vehicle_of_topic
from contracts.topics import UP_EVENTS_ALL_SITES, shared, site_of_topic

logger = logging.getLogger(__name__)

STATUS_ALL_SITES = "wms/+/status"
# How often a worker checks whether another worker filled a gap its early events wait on.
_DRAIN_EVERY_S = 0.1


@dataclass(frozen=True)
class BrokerAddress:
    """Host, port and credentials of an MQTT broker, from an `mqtt://` URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(
        cls, url: str, *, username: str | None = None, password: str | None = None
    ) -> BrokerAddress:
        """Parse `mqtt://[user:pass@]host[:port]`; explicit credentials win over the URL's."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"MQTT URL {url!r} must start with mqtt://")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 1883,
            username=username or parts.username,
            password=password or parts.password,
        )


class MqttIngest:
    """Subscribes to every site's events and feeds them to an IngestService.

    Args:
        service: applies events and tells what to ack and which commands to send.
        broker: where to connect.
        client_id: fixed, so the broker keeps our session across restarts.
        shared: use an MQTT v5 shared subscription so several workers split the load.
        command_resend_after_s: resend a command the edge has not confirmed after this long.
        telematics: when given, vehicle positions are subscribed to and applied through it.
    """

    def __init__(
        self,
        service: IngestService,
        broker: BrokerAddress,
        *,
        client_id: str = "central-ingest",
        shared: bool = False,
        command_resend_after_s: float = 5.0,
        telematics: TelematicsIngest | None = None,
    ) -> None:
        self._service = service
        self._telematics = telematics
        self._broker = broker
        self._shared = shared
        self._resend_after_s = command_resend_after_s
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._threads: list[threading.Thread] = []
        if shared:
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
            )
        else:
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
            )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self.handled: Counter[str] = Counter()
        """Event messages handled, per site (duplicates included)."""

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect (retrying in the background if the broker is down) and start the workers."""
        if self._shared:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
            self._client.connect_async(
                self._broker.host,
                self._broker.port,
                keepalive=30,
                clean_start=False,
                properties=props,
            )
        else:
            self._client.connect_async(self._broker.host, self._broker.port, keepalive=30)
        self._client.loop_start()
        for name, target in (("ingest-worker", self._work), ("command-resend", self._resend)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Finish the message in hand, disconnect and join the threads."""
        self._stop.set()
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected or the timeout passes; True if connected."""
        return self._connected.wait(timeout_s)

    # paho callbacks (network thread)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("broker refused central ingest: %s", reason)
            return
        topics = [UP_EVENTS_ALL_SITES]
        if self._telematics is not None:
            topics.append(POSITIONS_ALL_SITES)
        client.subscribe(
            [(shared(topic) if self._shared else topic, 1) for topic in topics]
            + [(STATUS_ALL_SITES, 1)]
        )
        self._connected.set()
        logger.info(
            "central ingest connected to %s:%s (session present: %s)",
            self._broker.host,
            self._broker.port,
            flags.session_present,
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set() and not self._stop.is_set():
            logger.warning("central ingest lost the broker: %s; reconnecting", reason)
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put((msg.topic, bytes(msg.payload)))

    # worker threads

    def _work(self) -> None:
        next_drain = time.monotonic()
        while True:
            if time.monotonic() >= next_drain:
                self._drain()
                next_drain = time.monotonic() + _DRAIN_EVERY_S
            try:
                item = self._inbox.get(timeout=_DRAIN_EVERY_S)
            except queue.Empty:
                continue
            if item is None:
                return
            topic, payload = item
            try:
                site = site_of_topic(topic)
                if self._telematics is not None and vehicle_of_topic(topic) is not None:
                    self._telematics.handle(payload, topic=topic)
                elif site is None or topic not in (Topics(site).status, Topics(site).up_events):
                    # amqtt has been seen delivering retained messages of topics we did not
                    # subscribe to; they are not ours to judge.
                    logger.debug("ignoring message on unsubscribed topic %s", topic)
                elif topic.endswith("/status"):
                    self._on_edge_status(topic, payload)
                else:
                    self._publish(self._service.handle(payload, topic=topic))
                    self.handled[site] += 1
            except Exception:
                # The event stays unacked, so the edge resends it; keep serving the others.
                logger.exception("could not handle message on %s", topic)

    def _drain(self) -> None:
        try:
            for outcome in self._service.drain_buffered():
                self._publish(outcome)
        except Exception:
            logger.exception("applying buffered events failed; the edge will resend them")

    def _on_edge_status(self, topic: str, payload: bytes) -> None:
        site = site_of_topic(topic)
        if site is None or payload != b"online":
            return
        # An edge that (re)connects may have missed commands sent while it was away.
        for command in self._service.pending_commands(older_than_s=0.0, site=site):
            self._send_command(command)

    def _resend(self) -> None:
        while not self._stop.wait(1.0):
            if not self._connected.is_set():
                continue
            try:
                for command in self._service.pending_commands(older_than_s=self._resend_after_s):
                    self._send_command(command)
            except Exception:
                logger.exception("command resend failed; retrying in a second")

    def _publish(self, outcome: IngestOutcome) -> None:
        if outcome.site is None:
            return
        for command in outcome.commands:
            self._send_command(command)
        if outcome.ack_upto is not None:
            self._client.publish(
                Topics(outcome.site).down_ack, Ack(upto=outcome.ack_upto).to_json(), qos=1
            )

    def _send_command(self, command: Command) -> None:
        self._client.publish(Topics(command.site).down_cmd, command.to_json(), qos=1)


@contextmanager
def running_ingest(ingest: MqttIngest, *, wait_s: float = 0.0) -> Iterator[MqttIngest]:
    """Start the ingest for the duration of a block; optionally wait for the broker."""
    ingest.start()
    try:
        if wait_s:
            deadline = time.monotonic() + wait_s
            while not ingest.connected and time.monotonic() < deadline:
                time.sleep(0.05)
        yield ingest
    finally:
        ingest.stop()
