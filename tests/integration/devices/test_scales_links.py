"""ScaleReader against the simulated scales through real pty pairs (and one TCP link)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from devices.errors import FrameError, ScaleNoReply, StableWeightTimeout
from devices.scales import MtSicsCodec, ScaleReader, Toledo8217Codec, WeightReading
from devices.transport import SerialTransport
from firmware_sim.links import PtyLink, TcpLink
from firmware_sim.scales import SimMtSicsScale, SimToledo8217Scale

Sim = SimMtSicsScale | SimToledo8217Scale


@pytest.fixture(params=["mt-sics", "toledo-8217"])
def scale(request: pytest.FixtureRequest) -> Iterator[tuple[Sim, ScaleReader]]:
    """A simulated scale on a pty pair and a reader on the pty's slave path."""
    codec: MtSicsCodec | Toledo8217Codec
    with PtyLink() as link:
        if request.param == "mt-sics":
            sim: Sim = SimMtSicsScale(link, seed=1)
            codec = MtSicsCodec()
        else:
            sim = SimToledo8217Scale(link, seed=1)
            codec = Toledo8217Codec()
        with sim, SerialTransport.open(link.device_url, codec.serial_settings) as transport:
            yield sim, ScaleReader(transport, codec, poll_interval_s=0.05)


def test_first_stable_weight_after_the_load_settles(scale: tuple[Sim, ScaleReader]) -> None:
    sim, reader = scale
    assert reader.read_once().kg == 0
    sim.place(Decimal("612.4"), settle_after_s=0.8)
    assert not reader.read_once().stable
    reading = reader.wait_for_stable(timeout_s=5.0)
    assert reading.stable
    assert reading.kg == Decimal("612.4")


def test_a_load_that_never_settles_times_out(scale: tuple[Sim, ScaleReader]) -> None:
    sim, reader = scale
    sim.place(Decimal("300"), settle_after_s=0.0)
    sim.unstable_forever()
    with pytest.raises(StableWeightTimeout, match="moving") as info:
        reader.wait_for_stable(timeout_s=0.5)
    assert info.value.last is not None
    assert not info.value.last.stable


def test_an_overloaded_scale_never_gives_a_weight(scale: tuple[Sim, ScaleReader]) -> None:
    sim, reader = scale
    sim.place(Decimal("2000"), settle_after_s=0.0)
    with pytest.raises(StableWeightTimeout, match="overloaded"):
        reader.wait_for_stable(timeout_s=0.5)
    sim.remove()
    sim.place(Decimal("20"), settle_after_s=0.0)
    assert reader.wait_for_stable(timeout_s=5.0).kg == Decimal(20)


def test_garbage_replies_are_reported_and_skipped(scale: tuple[Sim, ScaleReader]) -> None:
    sim, reader = scale
    errors: list[FrameError] = []
    reader = ScaleReader(
        reader.transport, reader.codec, poll_interval_s=0.05, on_frame_error=errors.append
    )
    sim.place(Decimal("15.5"), settle_after_s=0.2)
    sim.garbage_every(2)
    assert reader.wait_for_stable(timeout_s=5.0).kg == Decimal("15.5")
    assert errors
    assert all(b"\xff" in err.raw for err in errors)


def test_a_scale_that_stops_answering(scale: tuple[Sim, ScaleReader]) -> None:
    sim, reader = scale
    sim.stop()
    with pytest.raises(ScaleNoReply):
        reader.read_once(timeout_s=0.3)


def test_partial_frames_in_grams_are_joined_and_converted() -> None:
    with (
        PtyLink() as link,
        SimMtSicsScale(link, unit="g", chunked=True) as sim,
        SerialTransport.open(link.device_url) as transport,
    ):
        sim.place(Decimal("1.25"), settle_after_s=0.0)
        reading = ScaleReader(transport, MtSicsCodec()).read_once()
    assert reading.raw == b"S S    1250.00 g\r\n"
    assert reading.kg == Decimal("1.25")
    assert reading.stable


def test_mt_sics_zero_and_tare_over_tcp() -> None:
    codec = MtSicsCodec()
    with (
        TcpLink() as link,
        SimMtSicsScale(link) as sim,
        SerialTransport.open(link.device_url) as transport,
    ):
        reader = ScaleReader(transport, codec, poll_interval_s=0.05)
        sim.place(Decimal("25"), settle_after_s=0.0)
        assert reader.wait_for_stable(timeout_s=5.0).kg == Decimal(25)
        transport.write(codec.tare())
        # Wait for the acknowledgement: the new load must not land before the tare is taken.
        reply = b""
        while not reply.endswith(b"kg\r\n"):
            chunk = transport.read(timeout=2.0)
            assert chunk, "no answer to T"
            reply += chunk
        assert reply.startswith(b"T S")
        sim.place(Decimal("125"), settle_after_s=0.0)
        assert reader.wait_for_stable(timeout_s=5.0).kg == Decimal(100)
    assert sim.commands[-2:] == [b"T", b"SI"]


def test_toledo_echo_probe() -> None:
    with (
        PtyLink() as link,
        SimToledo8217Scale(link),
        SerialTransport.open(link.device_url, Toledo8217Codec.serial_settings) as transport,
    ):
        transport.write(b"Ehello")
        reply = b""
        while len(reply) < 8:
            chunk = transport.read(8 - len(reply), timeout=2.0)
            assert chunk, "the scale stopped answering the probe"
            reply += chunk
        transport.write(b"F")
    assert reply == b"\x02E\rhello"


def test_mt_sics_s_command_answers_once_stable() -> None:
    codec = MtSicsCodec()
    with (
        PtyLink() as link,
        SimMtSicsScale(link) as sim,
        SerialTransport.open(link.device_url) as transport,
    ):
        sim.place(Decimal("7.5"), settle_after_s=0.3)
        transport.write(codec.stable_weight_request())
        readings: list[WeightReading] = []
        while not readings:
            chunk = transport.read(timeout=2.0)
            assert chunk, "no answer to S"
            readings = codec.feed(chunk)
    assert readings[0].stable
    assert readings[0].kg == Decimal("7.50")
