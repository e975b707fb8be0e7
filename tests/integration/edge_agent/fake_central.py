"""A small stand-in for central in edge tests: applies a site's events in seq order and acks.

It is a plain paho client, so the edge is tested against a real broker end to end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import Ack, Command, Envelope, Topics


class FakeCentral:
    """Applies events of one site in seq order (holding back those after a gap) and acks."""

    def __init__(
        self,
        url: str,
        site: str,
        *,
        on_event: Callable[[FakeCentral, Envelope], None] | None = None,
        ack: bool = True,
        apply_delay_s: float = 0.0,
    ) -> None:
        self.site = site
        self.topics = Topics(site)
        self.applied: list[Envelope] = []
        self.received = 0
        self.duplicates = 0
        self.statuses: list[str] = []
        self.ack_enabled = ack
        self.apply_delay_s = apply_delay_s
        self._held: dict[int, Envelope] = {}
        self._on_event = on_event
        self._lock = threading.Lock()
        parts = urlsplit(url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"central-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, 30)
        self._client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(self.topics.up_events, 1), (self.topics.status, 1)])

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self.topics.status:
            with self._lock:
                self.statuses.append(message.payload.decode())
            return
        if message.topic != self.topics.up_events:
            # amqtt 0.12 was seen delivering another site's retained status here.
            return
        envelope = Envelope.from_json(message.payload)
        if self.apply_delay_s:
            time.sleep(self.apply_delay_s)  # a central slower than the edge
        newly: list[Envelope] = []
        with self._lock:
            self.received += 1
            last = self.applied[-1].seq if self.applied else 0
            if envelope.seq <= last:
                self.duplicates += 1
            else:
                self._held[envelope.seq] = envelope
                while last + 1 in self._held:
                    nxt = self._held.pop(last + 1)
                    self.applied.append(nxt)
                    newly.append(nxt)
                    last = nxt.seq
            upto = last
        if self.ack_enabled:
            client.publish(self.topics.down_ack, Ack(upto=upto).to_json(), qos=1)
        if self._on_event is not None:
            for env in newly:
                self._on_event(self, env)

    def send_command(self, command: Command, *, wait: bool = True) -> None:
        """Publish a command to the edge (QoS 1); never wait inside a paho callback."""
        info = self._client.publish(self.topics.down_cmd, command.to_json(), qos=1)
        if wait:
            info.wait_for_publish(5)

    def send_ack(self, upto: int) -> None:
        """Publish an ack."""
        self._client.publish(self.topics.down_ack, Ack(upto=upto).to_json(), qos=1)

    def applied_of(self, type_: str) -> list[Envelope]:
        with self._lock:
            return [e for e in self.applied if e.type == type_]

    def applied_seqs(self) -> list[int]:
        with self._lock:
            return [e.seq for e in self.applied]

    def wait_applied(self, n: int, timeout: float = 30.0) -> list[Envelope]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.applied) >= n:
                    return list(self.applied)
            time.sleep(0.05)
        raise AssertionError(f"central applied {len(self.applied)} of {n} events in {timeout} s")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()
