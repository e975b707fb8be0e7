"""Ports that vanish and come back: a TCP device server restarting, a pty going away."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from devices.errors import PortUnavailable, ScaleNoReply
from devices.scales import MtSicsCodec, ScaleReader, WeightReading
from devices.transport import ReconnectingTransport, SerialTransport
from firmware_sim.links import PtyLink, TcpLink
from firmware_sim.scales import SimMtSicsScale


def _read_until_available(reader: ScaleReader, guard_s: float = 5.0) -> WeightReading:
    deadline = time.monotonic() + guard_s
    while True:
        try:
            return reader.read_once(timeout_s=0.3)
        except (PortUnavailable, ScaleNoReply):
            if time.monotonic() > deadline:
                raise


def test_reconnecting_transport_survives_the_device_server_going_away() -> None:
    with TcpLink() as link, SimMtSicsScale(link) as sim:
        sim.place(Decimal("40"), settle_after_s=0.0)
        with ReconnectingTransport(link.device_url, backoff_max_s=0.2) as transport:
            reader = ScaleReader(transport, MtSicsCodec(), poll_interval_s=0.05)
            assert transport.available
            assert reader.read_once().kg == Decimal(40)

            link.stop()
            with pytest.raises(PortUnavailable):
                for _ in range(10):
                    reader.read_once(timeout_s=0.3)
            assert not transport.available
            # Still down: further attempts fail fast with the same typed error.
            with pytest.raises(PortUnavailable):
                transport.read(timeout=0.05)

            link.start()
            sim.place(Decimal("41"), settle_after_s=0.0)
            assert _read_until_available(reader).kg == Decimal(41)
            assert transport.available


def test_a_pty_that_disappears_raises_port_unavailable() -> None:
    link = PtyLink()
    try:
        transport = SerialTransport.open(link.device_url)
    finally:
        link.close()
    with transport, pytest.raises(PortUnavailable):
        transport.read(timeout=0.5)


def test_reconnecting_transport_on_a_vanished_pty_reports_unavailable() -> None:
    with PtyLink() as link:
        transport = ReconnectingTransport(link.device_url, backoff_max_s=0.1)
    with transport:
        with pytest.raises(PortUnavailable):
            transport.read(timeout=0.2)
        assert not transport.available
        with pytest.raises(PortUnavailable):
            transport.write(b"SI\r\n")
