"""Scale codecs against the reference frames, fuzzing, and ScaleReader over a FakeTransport."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import (
    FrameError,
    ScaleCommandError,
    ScaleError,
    ScaleNoReply,
    ScaleOverload,
    ScaleUnderload,
    StableWeightTimeout,
)
from devices.scales import (
    SCALE_CODECS,
    SCALE_SERIAL_SETTINGS,
    MtSicsCodec,
    ScaleReader,
    Toledo8217Codec,
    Toledo8217Status,
    WeightReading,
)
from devices.transport import FakeTransport, SerialSettings

# --- MT-SICS ---------------------------------------------------------------------------------


def test_mt_sics_stable_weight_from_the_reference() -> None:
    frame = b"S S     100.00 g\r\n"
    assert MtSicsCodec().feed(frame) == [WeightReading(Decimal("0.1"), True, frame)]


@pytest.mark.parametrize(
    ("frame", "kg", "stable"),
    [
        (b"S D      12.34 kg\r\n", Decimal("12.34"), False),
        (b"S S    1234.5 kg\r\n", Decimal("1234.5"), True),
        (b"S S      10.00 lb\r\n", Decimal("4.5359237"), True),
        (b"S S       -0.02 kg\r\n", Decimal("-0.02"), True),
        (b"S S     500\r\n", Decimal(500), True),
    ],
)
def test_mt_sics_weights_are_normalised_to_kg(frame: bytes, kg: Decimal, stable: bool) -> None:
    [reading] = MtSicsCodec().feed(frame)
    assert reading.kg == kg
    assert reading.stable is stable


def test_mt_sics_unit_default_applies_when_the_reply_has_no_unit() -> None:
    [reading] = MtSicsCodec(unit_default="g").feed(b"S S     500\r\n")
    assert reading.kg == Decimal("0.5")


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"S +\r\n", ScaleOverload),
        (b"S -\r\n", ScaleUnderload),
        (b"S I\r\n", ScaleCommandError),
        (b"ES\r\n", ScaleCommandError),
        (b"ET\r\n", ScaleCommandError),
        (b"EL\r\n", ScaleCommandError),
        (b"Z I\r\n", ScaleCommandError),
        (b"T I\r\n", ScaleCommandError),
        (b"S S  abc kg\r\n", FrameError),
        (b"S S  NaN kg\r\n", FrameError),
        (b"S S  1.0 stone\r\n", FrameError),
        (b"S X 1.0 kg\r\n", FrameError),
        (b"\xff\xfe\r\n", FrameError),
    ],
)
def test_mt_sics_error_frames(frame: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        MtSicsCodec().feed(frame)


def test_mt_sics_acknowledgements_carry_no_weight() -> None:
    codec = MtSicsCodec()
    assert codec.feed(b'Z A\r\nT S      1.20 kg\r\nI4 A "0123456789"\r\n') == []


def test_mt_sics_partial_frames_are_joined() -> None:
    codec = MtSicsCodec()
    assert codec.feed(b"S S    ") == []
    assert codec.feed(b" 42.00 k") == []
    [reading] = codec.feed(b"g\r\n")
    assert reading.kg == Decimal("42.00")


def test_mt_sics_weights_before_an_error_are_kept_for_the_next_feed() -> None:
    codec = MtSicsCodec()
    with pytest.raises(ScaleOverload):
        codec.feed(b"S D 1.0 kg\r\nS +\r\nS S 2.0 kg\r\n")
    readings = codec.feed(b"")
    assert [r.kg for r in readings] == [Decimal("1.0"), Decimal("2.0")]


def test_mt_sics_commands() -> None:
    codec = MtSicsCodec()
    assert codec.weight_request() == b"SI\r\n"
    assert codec.stable_weight_request() == b"S\r\n"
    assert codec.zero() == b"Z\r\n"
    assert codec.tare() == b"T\r\n"


# --- Toledo 8217 -----------------------------------------------------------------------------


def test_toledo_weight_frame() -> None:
    frame = b"\x02  1.25\r"
    assert Toledo8217Codec().feed(frame) == [WeightReading(Decimal("1.25"), True, frame)]


def test_toledo_net_weight_frame_and_lb_unit() -> None:
    [reading] = Toledo8217Codec(unit="lb").feed(b"\x02010.00N\r")
    assert reading.kg == Decimal("4.5359237")


def test_toledo_reference_status_d_is_under_zero_and_bad_command() -> None:
    # "?D": 0x44 = bit 2 (under zero) + bit 6 (bad command); bad command wins.
    assert Toledo8217Status.from_byte(ord("D")).under_zero
    with pytest.raises(ScaleCommandError):
        Toledo8217Codec().feed(b"\x02?D\r")


def test_toledo_motion_status_is_an_unstable_reading_of_the_last_weight() -> None:
    codec = Toledo8217Codec()
    codec.feed(b"\x02 812.40\r")
    [reading] = codec.feed(b"\x02?\x01\r")
    assert reading == WeightReading(Decimal("812.40"), False, b"\x02?\x01\r")


def test_toledo_status_parity_bit_is_ignored() -> None:
    [reading] = Toledo8217Codec().feed(b"\x02?\x81\r")
    assert not reading.stable


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"\x02?\x02\r", ScaleOverload),
        (b"\x02?\x04\r", ScaleUnderload),
        (b"\x02?\x08\r", ScaleCommandError),
        (b"\x02?\x40\r", ScaleCommandError),
        (b"\x02 1.2.3\r", FrameError),
        (b"\x02-1.25\r", FrameError),
        (b"junk\x02 1.25\r", FrameError),
        (b"\x02 1.2\x02 1.25\r", FrameError),
        (b"\x02?\x01X", FrameError),
    ],
)
def test_toledo_error_frames(frame: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Toledo8217Codec().feed(frame)


def test_toledo_status_byte_equal_to_cr_or_stx_is_framed_by_length() -> None:
    codec = Toledo8217Codec()
    # 0x0D = motion + under zero + outside zero capture: under zero is raised.
    with pytest.raises(ScaleUnderload):
        codec.feed(b"\x02?\x0d\r")
    with pytest.raises(ScaleOverload):
        codec.feed(b"\x02?\x02\r")
    assert codec.feed(b"\x02 3.5\r")[0].kg == Decimal("3.5")


def test_toledo_garbage_before_a_frame_is_reported_and_the_frame_still_read() -> None:
    codec = Toledo8217Codec()
    with pytest.raises(FrameError) as info:
        codec.feed(b"\xff\x13\x02 2.50\r")
    assert info.value.raw == b"\xff\x13"
    assert codec.feed(b"")[0].kg == Decimal("2.50")


def test_toledo_status_roundtrip() -> None:
    for value in range(128):
        assert Toledo8217Status.from_byte(value).to_byte() == value


def test_codec_registry_and_line_settings() -> None:
    assert SCALE_CODECS["mt-sics"] is MtSicsCodec
    assert SCALE_CODECS["toledo-8217"] is Toledo8217Codec
    assert SCALE_SERIAL_SETTINGS["toledo-8217"] == SerialSettings(9600, 7, "E", 1)
    assert SCALE_SERIAL_SETTINGS["mt-sics"] == SerialSettings(9600, 8, "N", 1)


# --- fuzzing ---------------------------------------------------------------------------------

_TYPED = (FrameError, ScaleError)
_frames = st.sampled_from(
    [b"S S     100.00 g\r\n", b"S D 1.2 kg\r\n", b"S +\r\n", b"ES\r\n", b"\x02  1.25\r"]
)


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40) | _frames, max_size=8),
    codec_name=st.sampled_from(sorted(SCALE_CODECS)),
)
def test_random_bytes_never_crash_a_scale_codec(chunks: list[bytes], codec_name: str) -> None:
    codec = SCALE_CODECS[codec_name]()
    for chunk in chunks:
        try:
            readings = codec.feed(chunk)
        except _TYPED:
            continue
        for reading in readings:
            assert isinstance(reading.kg, Decimal)
            assert reading.kg.is_finite()


@settings(max_examples=200, deadline=None)
@given(
    frame=st.sampled_from(
        [b"S S     100.00 g\r\n", b"S D  1234.5 kg\r\n", b"\x02  1.25\r", b"\x02?\x01\r"]
    ),
    cut=st.integers(min_value=0, max_value=20),
)
def test_truncated_frames_wait_for_the_rest(frame: bytes, cut: int) -> None:
    codec: MtSicsCodec | Toledo8217Codec = (
        Toledo8217Codec() if frame.startswith(b"\x02") else MtSicsCodec()
    )
    head, tail = frame[:cut], frame[cut:]
    first = codec.feed(head)
    second = codec.feed(tail)
    assert len(first) + len(second) == 1


# --- ScaleReader -----------------------------------------------------------------------------


def _scripted(replies: list[bytes]) -> FakeTransport:
    """A scale answering each weight request with the next reply, the last one repeating."""
    script: Iterator[bytes] = iter(replies)
    last = [b""]

    def handler(_request: bytes) -> bytes:
        last[0] = next(script, last[0])
        return last[0]

    return FakeTransport(handler)


def test_wait_for_stable_skips_moving_light_and_overloaded_readings() -> None:
    transport = _scripted(
        [
            b"S S 0.10 kg\r\n",
            b"S D 300.00 kg\r\n",
            b"S +\r\n",
            b"\xff\xfe\r\n",
            b"S D 612.20 kg\r\n",
            b"S S 612.40 kg\r\n",
        ]
    )
    frame_errors: list[FrameError] = []
    reader = ScaleReader(
        transport, MtSicsCodec(), poll_interval_s=0.0, on_frame_error=frame_errors.append
    )
    reading = reader.wait_for_stable(timeout_s=5.0, min_kg=Decimal("0.5"))
    assert reading.kg == Decimal("612.40")
    assert reading.stable
    assert len(frame_errors) == 1
    assert all(w == b"SI\r\n" for w in transport.writes)


def test_wait_for_stable_times_out_on_a_moving_load_with_the_last_reading() -> None:
    reader = ScaleReader(_scripted([b"S D 80.00 kg\r\n"]), MtSicsCodec(), poll_interval_s=0.01)
    with pytest.raises(StableWeightTimeout, match="still moving") as info:
        reader.wait_for_stable(timeout_s=0.2)
    assert info.value.last is not None
    assert not info.value.last.stable


def test_wait_for_stable_times_out_on_overload_and_says_so() -> None:
    reader = ScaleReader(_scripted([b"\x02?\x02\r"]), Toledo8217Codec(), poll_interval_s=0.01)
    with pytest.raises(StableWeightTimeout, match="overloaded") as info:
        reader.wait_for_stable(timeout_s=0.2)
    assert info.value.last is None


def test_read_once_raises_no_reply_when_the_scale_is_silent() -> None:
    reader = ScaleReader(FakeTransport(), MtSicsCodec())
    with pytest.raises(ScaleNoReply):
        reader.read_once(timeout_s=0.1)


def test_read_once_returns_a_dynamic_reading() -> None:
    reader = ScaleReader(_scripted([b"S D 5.0 kg\r\n"]), MtSicsCodec())
    assert not reader.read_once().stable


def test_a_late_reply_to_an_earlier_request_is_not_taken_as_the_answer() -> None:
    transport = FakeTransport(lambda _request: b"S S 1.00 kg\r\n")
    transport.inject(b"S S 99.00 kg\r\n")
    reader = ScaleReader(transport, MtSicsCodec())
    assert reader.read_once().kg == Decimal("1.00")
