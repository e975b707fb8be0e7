"""The edge's MQTT uplink: sends the outbox to central in seq order and receives acks and commands.

`MqttSession` is the one async context manager that owns a broker connection (paho-mqtt 2.x,
MQTT 3.1.1, persistent session). paho's network thread only hands messages over to the event
loop with `call_soon_threadsafe`; nothing else runs in it. `Uplink.run` is the reconnect loop
around `async with MqttSession(...)`, with capped, jittered backoff.

Delivery (DESIGN.md §3, "the broker is not a store"): an event leaves the outbox only when
central's ack covers its seq. At most `max_inflight` events are sent and not yet acked; the
window is resent from the oldest when the oldest was last sent `resend_after_s` ago (the
interval doubles while resends bring no progress, so a central that is down is not flooded),
at once after a reconnect, and at once when an ack stops below an event sent a while ago (central
saw a gap). Every event is resent at most once per `gap_grace_s`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from contracts.envelope import Ack
from contracts.errors import ContractError
from contracts.topics import Topics
from edge_agent.config import BrokerConfig
from edge_agent.errors import OutboxError, UplinkDisconnected, UplinkError
from edge_agent.outbox import Outbox

logger = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"
_CONNACK_TIMEOUT_S = 10.0
_BACKOFF_INITIAL_S = 0.5


@dataclass(frozen=True)
class InboundCommand:
    """A command message from central; call `ack()` once it is durably handled."""

    raw: bytes
    _ack: Callable[[], None]

    def ack(self) -> None:
        """Send the MQTT PUBACK; before it, the broker redelivers the command after a reconnect."""
        self._ack()


@dataclass(frozen=True)
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int


class MqttSession:
    """One connection to the broker: connects on enter, disconnects (clean, `offline`) on exit."""

    def __init__(
        self, broker: BrokerConfig, *, client_id: str, topics: Topics, max_inflight: int = 20
    ) -> None:
        """Args:
        broker: Where the broker is and the credentials.
        client_id: Fixed per site, so the broker keeps our subscriptions and queued commands.
        topics: The site's topics.
        max_inflight: Unacknowledged QoS 1 publishes paho puts on the wire at once.
        """
        self._broker = broker
        self._topics = topics
        self._loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[_Inbound] = asyncio.Queue()
        self.lost = asyncio.Event()
        self.lost_reason = ""
        self._connack: asyncio.Future[ReasonCode] = self._loop.create_future()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        client.will_set(topics.status, OFFLINE, qos=1, retain=True)
        client.max_inflight_messages_set(max_inflight)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._started = False

    # paho thread → event loop ------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        self._loop.call_soon_threadsafe(self._connected, reason_code)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        self._loop.call_soon_threadsafe(self._set_lost, "cannot connect to the broker")

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        self._loop.call_soon_threadsafe(self._set_lost, f"disconnected ({reason_code})")

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        inbound = _Inbound(message.topic, bytes(message.payload), message.mid, message.qos)
        self._loop.call_soon_threadsafe(self.inbox.put_nowait, inbound)

    def _connected(self, reason_code: ReasonCode) -> None:
        if not self._connack.done():
            self._connack.set_result(reason_code)

    def _set_lost(self, reason: str) -> None:
        if not self.lost.is_set():
            self.lost_reason = reason
            self.lost.set()
        if not self._connack.done():
            self._connack.set_exception(UplinkError(reason))

    # connection ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        client = self._client
        try:
            client.connect_async(self._broker.host, self._broker.port, self._broker.keepalive)
            client.loop_start()
            self._started = True
            reason = await asyncio.wait_for(asyncio.shield(self._connack), _CONNACK_TIMEOUT_S)
            if reason.is_failure:
                raise UplinkError(f"broker refused the connection: {reason}")
            client.subscribe(
                [(self._topics.down_ack, 1), (self._topics.down_cmd, 1)],
            )
            client.publish(self._topics.status, ONLINE, qos=1, retain=True)
        except TimeoutError as err:
            await self._shutdown(clean=False)
            raise UplinkError(f"no CONNACK from the broker within {_CONNACK_TIMEOUT_S} s") from err
        except BaseException:
            await self._shutdown(clean=False)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown(clean=not self.lost.is_set())

    async def _shutdown(self, *, clean: bool) -> None:
        if not self._connack.done():
            self._connack.cancel()
        # paho's thread may sit in its (1 s granular) connect-retry sleep, so stopping it is
        # blocking work; shielded so a second cancellation cannot leave sockets open.
        await asyncio.shield(asyncio.to_thread(self._stop_client, clean=clean))

    def _stop_client(self, *, clean: bool) -> None:
        client = self._client
        if clean:
            info = client.publish(self._topics.status, OFFLINE, qos=1, retain=True)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                try:
                    info.wait_for_publish(timeout=1.0)
                except (RuntimeError, ValueError) as err:
                    logger.debug("offline status not confirmed: %s", err)
        client.disconnect()
        if self._started:
            client.loop_stop()
        # paho leaves loop_start's wake-up socketpair and the socket to its __del__; close them
        # now so no socket is left to the garbage collector (ResourceWarning).
        client._reset_sockets()

    # operations -----------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1; UplinkDisconnected if the connection is gone."""
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise UplinkDisconnected(f"publish failed: {mqtt.error_string(info.rc)}")

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge (PUBACK) a received message of this session."""
        if not self.lost.is_set():
            self._client.ack(mid, qos)


@dataclass
class UplinkStats:
    """What the uplink has done, for health reporting and tests."""

    connected: bool = False
    connects: int = 0
    published: int = 0
    resent: int = 0
    acks: int = 0


class Uplink:
    """Keeps the site's outbox flowing to central; yields central's commands via `commands()`."""

    def __init__(
        self,
        *,
        broker: BrokerConfig,
        client_id: str,
        outbox: Outbox,
        resend_after_s: float = 5.0,
        max_inflight: int = 500,
        backoff_max_s: float = 30.0,
        gap_grace_s: float | None = None,
        max_resend_interval_s: float = 120.0,
    ) -> None:
        """Args:
        broker: The site's broker.
        client_id: The fixed MQTT client id.
        outbox: Where events wait for central's ack.
        resend_after_s: Resend the unacked window when its oldest event was sent this long ago.
        max_inflight: Most events sent and not yet acked by central.
        backoff_max_s: Cap of the delay between reconnect attempts.
        gap_grace_s: Minimum age of an event before a short ack makes it resend (and minimum
            time between two sends of one event); defaults to min(1 s, resend_after_s).
        max_resend_interval_s: Cap of the resend interval while resends bring no progress.
        """
        self._broker = broker
        self._client_id = client_id
        self._outbox = outbox
        self._topics = Topics(outbox.site)
        self._resend_after_s = resend_after_s
        self._max_inflight = max_inflight
        self._backoff_max_s = backoff_max_s
        self._gap_grace_s = gap_grace_s if gap_grace_s is not None else min(1.0, resend_after_s)
        self._max_resend_interval_s = max(max_resend_interval_s, resend_after_s)
        self._commands: asyncio.Queue[InboundCommand] = asyncio.Queue()
        self._wake = asyncio.Event()
        self.stats = UplinkStats()
        self._loop = asyncio.get_running_loop()
        outbox.add_listener(self._outbox_changed)

    def _outbox_changed(self) -> None:
        # Called from whichever thread committed; the loop may already be closed at shutdown.
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self.stats.connected

    async def commands(self) -> AsyncGenerator[InboundCommand, None]:
        """Central's commands as they arrive (across reconnects)."""
        while True:
            yield await self._commands.get()

    async def run(self) -> None:
        """Connect, pump, reconnect with capped jittered backoff; runs until cancelled."""
        failures = 0
        down_logged = False
        while True:
            try:
                async with MqttSession(
                    self._broker,
                    client_id=self._client_id,
                    topics=self._topics,
                    max_inflight=self._max_inflight,
                ) as session:
                    failures = 0
                    down_logged = False
                    self.stats.connected = True
                    self.stats.connects += 1
                    logger.info(
                        "connected to broker %s as %s (outbox depth %d)",
                        self._broker.url,
                        self._client_id,
                        self._outbox.depth(),
                    )
                    try:
                        await _Pump(self, session).run()
                    finally:
                        self.stats.connected = False
                    logger.warning(
                        "lost the broker %s: %s; events keep queueing in the outbox",
                        self._broker.url,
                        session.lost_reason,
                    )
                    down_logged = True
            except (UplinkError, OSError) as err:
                if not down_logged:
                    logger.warning(
                        "broker %s unreachable (%s); events keep queueing in the outbox, "
                        "retrying with backoff",
                        self._broker.url,
                        err,
                    )
                    down_logged = True
                else:
                    logger.debug("reconnect to %s failed: %s", self._broker.url, err)
            except Exception:
                # The outbox keeps everything; reconnecting resends from the oldest unacked.
                logger.exception("uplink failed; reconnecting")
                down_logged = True
            failures += 1
            ceiling = min(self._backoff_max_s, _BACKOFF_INITIAL_S * 2 ** min(failures, 20))
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))


class _Pump:
    """Moves events and acks over one session."""

    def __init__(self, uplink: Uplink, session: MqttSession) -> None:
        self._u = uplink
        self._session = session
        self._outbox = uplink._outbox
        # seq -> monotonic time it was last sent, in seq order (events sent and not acked).
        self._sent: dict[int, float] = {}
        self._highest_sent = self._outbox.last_acked()
        self._resend_interval = uplink._resend_after_s

    async def run(self) -> None:
        session = self._session
        lost: asyncio.Future[object] = asyncio.ensure_future(session.lost.wait())
        try:
            while not session.lost.is_set():
                self._drain_inbox()
                self._fill()
                self._resend_if_due()
                if session.inbox.empty():
                    await self._wait(lost)
        except UplinkDisconnected as err:
            session.lost_reason = str(err)
        finally:
            lost.cancel()

    async def _wait(self, lost: asyncio.Future[object]) -> None:
        self._u._wake.clear()
        wake: asyncio.Future[object] = asyncio.ensure_future(self._u._wake.wait())
        inbox: asyncio.Future[_Inbound] = asyncio.ensure_future(self._session.inbox.get())
        try:
            waiting: list[asyncio.Future[Any]] = [wake, inbox, lost]
            await asyncio.wait(
                waiting,
                timeout=self._next_timeout(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            wake.cancel()
            if inbox.done() and not inbox.cancelled():
                self._handle([inbox.result()])
            else:
                inbox.cancel()

    def _next_timeout(self) -> float | None:
        if not self._sent:
            return None
        oldest = next(iter(self._sent.values()))
        return max(0.05, oldest + self._resend_interval - time.monotonic())

    def _drain_inbox(self) -> None:
        batch = []
        while not self._session.inbox.empty():
            batch.append(self._session.inbox.get_nowait())
        if batch:
            self._handle(batch)

    def _handle(self, batch: list[_Inbound]) -> None:
        topics = self._u._topics
        upto: int | None = None
        for msg in batch:
            if msg.topic == topics.down_ack:
                try:
                    got = Ack.from_json(msg.payload).upto
                except ContractError as err:
                    logger.error("ignoring a malformed ack from central: %s", err)
                else:
                    upto = got if upto is None else max(upto, got)
                self._session.ack(msg.mid, msg.qos)
            elif msg.topic == topics.down_cmd:
                ack = functools.partial(self._session.ack, msg.mid, msg.qos)
                self._u._commands.put_nowait(InboundCommand(msg.payload, ack))
            else:
                self._session.ack(msg.mid, msg.qos)
        if upto is not None:
            self._acked(upto)

    def _acked(self, upto: int) -> None:
        self._u.stats.acks += 1
        try:
            deleted = self._outbox.ack(upto)
        except OutboxError as err:
            logger.error("could not record central's ack up to %d: %s", upto, err)
            return
        progressed = False
        for seq in list(self._sent):
            if seq > upto:
                break
            del self._sent[seq]
            progressed = True
        if progressed or deleted:
            self._resend_interval = self._u._resend_after_s
        nxt = self._sent.get(upto + 1)
        now = time.monotonic()
        if nxt is not None and now - nxt >= self._u._gap_grace_s:
            # Central acked below an event it should have had by now: it is waiting for a gap.
            self._resend(now, reason=f"central acked up to {upto} only")

    def _fill(self) -> None:
        room = self._u._max_inflight - len(self._sent)
        if room <= 0:
            return
        events = self._outbox.unacked(after_seq=self._highest_sent, limit=room)
        now = time.monotonic()
        for envelope in events:
            self._session.publish(self._u._topics.up_events, envelope.to_json())
            self._sent[envelope.seq] = now
            self._highest_sent = envelope.seq
            self._u.stats.published += 1

    def _resend_if_due(self) -> None:
        if not self._sent:
            return
        oldest = next(iter(self._sent.values()))
        now = time.monotonic()
        if now - oldest >= self._resend_interval:
            self._resend(now, reason=f"no ack for {self._resend_interval:.1f} s")
            self._resend_interval = min(self._resend_interval * 2, self._u._max_resend_interval_s)

    def _resend(self, now: float, *, reason: str) -> None:
        first = next(iter(self._sent))
        events = self._outbox.unacked(after_seq=first - 1, limit=len(self._sent))
        due = [e for e in events if now - self._sent.get(e.seq, 0.0) >= self._u._gap_grace_s]
        if not due:
            return
        logger.info("resending %d events from seq %d: %s", len(due), due[0].seq, reason)
        for envelope in due:
            self._session.publish(self._u._topics.up_events, envelope.to_json())
            self._sent[envelope.seq] = now
            self._u.stats.resent += 1
