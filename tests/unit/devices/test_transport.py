"""Transports: the fake, opening errors, and ReconnectingTransport's backoff and logging."""

from __future__ import annotations

import logging
import time

import pytest

from devices.errors import PortUnavailable
from devices.transport import (
    FakeTransport,
    ReconnectingTransport,
    SerialSettings,
    SerialTransport,
    Transport,
)


def test_fake_transport_queues_the_handlers_reply_for_read() -> None:
    fake = FakeTransport(lambda data: b"echo:" + data)
    fake.write(b"W")
    assert fake.read(3) == b"ech"
    assert fake.read() == b"o:W"
    assert fake.read(timeout=0.01) == b""
    assert fake.writes == [b"W"]


def test_fake_transport_raises_port_unavailable_after_disconnect() -> None:
    fake = FakeTransport()
    fake.disconnect()
    with pytest.raises(PortUnavailable):
        fake.read(timeout=0.01)
    with pytest.raises(PortUnavailable):
        fake.write(b"x")


def test_opening_a_missing_port_raises_port_unavailable() -> None:
    with pytest.raises(PortUnavailable, match="/dev/does-not-exist"):
        SerialTransport.open("/dev/does-not-exist", SerialSettings())


def test_opening_a_refused_tcp_port_raises_port_unavailable() -> None:
    # Port 1 on localhost is closed on any sane test machine.
    with pytest.raises(PortUnavailable):
        SerialTransport.open("socket://127.0.0.1:1")


class _FlakyOpener:
    """Opens FakeTransports, failing while `up` is False."""

    def __init__(self) -> None:
        self.up = False
        self.attempts = 0
        self.opened: list[FakeTransport] = []

    def __call__(self, url: str, settings: SerialSettings) -> Transport:
        self.attempts += 1
        if not self.up:
            raise PortUnavailable(f"{url} missing")
        fake = FakeTransport(lambda data: b"ok")
        self.opened.append(fake)
        return fake


def test_reconnecting_transport_recovers_and_logs_each_state_change_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    opener = _FlakyOpener()
    caplog.set_level(logging.INFO, logger="devices.transport")
    transport = ReconnectingTransport(
        "fake://scale", backoff_initial_s=0.001, backoff_max_s=0.005, opener=opener
    )
    try:
        assert not transport.available
        for _ in range(5):
            with pytest.raises(PortUnavailable):
                transport.read(timeout=0.01)
        assert opener.attempts > 1

        opener.up = True
        time.sleep(0.01)  # past the (at most 5 ms) backoff
        transport.write(b"W")
        assert transport.available
        assert transport.read(timeout=0.01) == b"ok"

        opener.up = False
        opener.opened[-1].disconnect()
        for _ in range(3):
            with pytest.raises(PortUnavailable):
                transport.read(timeout=0.01)
        assert not transport.available
        opener.up = True
        time.sleep(0.01)  # past the (at most 5 ms) backoff
        transport.write(b"W")
        assert transport.read(timeout=0.01) == b"ok"
    finally:
        transport.close()

    messages = [r.getMessage() for r in caplog.records if r.name == "devices.transport"]
    assert sum("offline" in m for m in messages) == 2
    assert sum("recovered" in m for m in messages) == 2
    assert all(f.closed for f in opener.opened)


def test_reconnecting_transport_backoff_is_capped_and_jittered() -> None:
    opener = _FlakyOpener()
    transport = ReconnectingTransport(
        "fake://scale", backoff_initial_s=0.1, backoff_max_s=0.4, opener=opener
    )
    try:
        transport._failures = 20
        delays = {transport._delay() for _ in range(50)}
    finally:
        transport.close()
    assert all(0.2 <= d <= 0.4 for d in delays)
    assert len(delays) > 1


def test_closed_reconnecting_transport_stops_reopening() -> None:
    opener = _FlakyOpener()
    opener.up = True
    transport = ReconnectingTransport("fake://scale", opener=opener)
    transport.close()
    with pytest.raises(PortUnavailable):
        transport.write(b"W")
    assert opener.attempts == 1
