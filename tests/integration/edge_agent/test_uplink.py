"""The uplink against real brokers: complete, ordered delivery through outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import uuid4

import pytest

from contracts import Command, DeviceState, DeviceStatus, EventType
from contracts.envelope import utc_now
from edge_agent.config import BrokerConfig
from edge_agent.outbox import Outbox
from edge_agent.uplink import Uplink
from tests.integration.edge_agent.fake_central import FakeCentral
from tests.support.mosquitto import MosquittoProcess


async def eventually(check: Callable[[], bool], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def status(n: int) -> DeviceStatus:
    return DeviceStatus(device=f"dock-1/scale-{n}", state=DeviceState.ONLINE)


@asynccontextmanager
async def running(uplink: Uplink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(uplink.run(), name="uplink")
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
def outbox(tmp_path: Path, site_code: str):
    with Outbox(tmp_path / "outbox.sqlite3", site_code) as box:
        yield box


def make_uplink(url: str, outbox: Outbox, **kw) -> Uplink:
    return Uplink(
        broker=BrokerConfig(url=url),
        client_id=f"edge-{outbox.site}",
        outbox=outbox,
        backoff_max_s=1.0,
        **kw,
    )


async def test_every_event_reaches_central_in_order_and_leaves_the_outbox(
    mqtt_url: str, outbox: Outbox
) -> None:
    central = FakeCentral(mqtt_url, outbox.site)
    try:
        for n in range(30):
            outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
        uplink = make_uplink(mqtt_url, outbox, max_inflight=7)
        async with running(uplink):
            for n in range(30, 60):
                outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
            await eventually(lambda: outbox.depth() == 0)
            assert central.applied_seqs() == list(range(1, 61))
            assert outbox.last_acked() == 60
            await eventually(lambda: "online" in central.statuses)
        # A clean stop says so (the will message covers unclean ones).
        await eventually(lambda: central.statuses[-1:] == ["offline"])
    finally:
        central.close()


async def test_edge_catches_up_after_the_broker_was_down(
    private_mosquitto: MosquittoProcess, outbox: Outbox
) -> None:
    url = private_mosquitto.url
    central = FakeCentral(url, outbox.site)
    try:
        uplink = make_uplink(url, outbox)
        async with running(uplink):
            for n in range(5):
                outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
            await eventually(lambda: outbox.depth() == 0)
            private_mosquitto.stop()
            await eventually(lambda: not uplink.connected)
            for n in range(5, 25):
                outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
            assert outbox.depth() == 20
            private_mosquitto.start()
            await eventually(lambda: outbox.depth() == 0, within_s=60)
            assert central.applied_seqs() == list(range(1, 26))
    finally:
        central.close()


async def test_lost_events_are_resent_until_central_acks_them(
    mqtt_url: str, outbox: Outbox
) -> None:
    """Central down (nobody acks): the edge resends the window, nothing is lost or reordered."""
    uplink = make_uplink(mqtt_url, outbox, resend_after_s=0.3)
    async with running(uplink):
        for n in range(10):
            outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
        await eventually(lambda: uplink.stats.published >= 10)
        central = FakeCentral(mqtt_url, outbox.site)
        try:
            await eventually(lambda: outbox.depth() == 0)
            assert central.applied_seqs() == list(range(1, 11))
            assert uplink.stats.resent >= 1
        finally:
            central.close()


async def test_a_short_ack_makes_the_edge_resend_the_gap_at_once(
    mqtt_url: str, outbox: Outbox
) -> None:
    uplink = make_uplink(mqtt_url, outbox, resend_after_s=600, gap_grace_s=0.2)
    central = FakeCentral(mqtt_url, outbox.site, ack=False)
    try:
        async with running(uplink):
            for n in range(6):
                outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
            await eventually(lambda: len(central.applied_seqs()) == 6)
            await asyncio.sleep(0.3)
            central.send_ack(2)  # "I have 1..2 only": a gap signal
            await eventually(lambda: uplink.stats.resent >= 4)
            assert outbox.depth() == 4
    finally:
        central.close()


async def test_commands_arrive_through_the_async_iterator(mqtt_url: str, outbox: Outbox) -> None:
    uplink = make_uplink(mqtt_url, outbox)
    central = FakeCentral(mqtt_url, outbox.site)
    try:
        async with running(uplink):
            await eventually(lambda: uplink.connected)
            command = Command(
                id=uuid4(),
                site=outbox.site,
                type="alarm",
                at=utc_now(),
                data={"dock": "dock-1", "reason": "wrong truck"},
            )
            await asyncio.to_thread(central.send_command, command)
            commands = uplink.commands()
            got = await asyncio.wait_for(anext(commands), 20)
            got.ack()
            assert Command.from_json(got.raw) == command
            await commands.aclose()
    finally:
        central.close()


async def test_a_burst_reaches_a_slow_central_complete_and_in_order(
    mqtt_url: str, outbox: Outbox
) -> None:
    """The edge bounds what is in flight, so a slow subscriber cannot make the broker drop."""
    with outbox.transaction() as tx:
        for n in range(1000):
            tx.append(EventType.DEVICE_STATUS, "dock-1/scale", status(n))
    central = FakeCentral(mqtt_url, outbox.site, apply_delay_s=0.001)
    try:
        uplink = make_uplink(mqtt_url, outbox, max_inflight=50)
        async with running(uplink):
            await eventually(lambda: outbox.depth() == 0, within_s=120)
        assert central.applied_seqs() == list(range(1, 1001))
    finally:
        central.close()
