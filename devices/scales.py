"""Dock scales: MT-SICS and Toledo 8217 codecs, and a reader that waits for a stable weight.

A codec turns requests into bytes and received bytes into `WeightReading`s (always in kg, as
Decimal). `ScaleReader` polls a scale over a `Transport` and only ever hands out a stable
weight from `wait_for_stable`: moving, overloaded or underloaded readings are never booked.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal, Protocol

from devices.errors import (
    FrameError,
    ScaleCommandError,
    ScaleError,
    ScaleNoReply,
    ScaleOverload,
    ScaleUnderload,
    StableWeightTimeout,
)
from devices.transport import SerialSettings, Transport

logger = logging.getLogger(__name__)

KG_PER_UNIT: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "mg": Decimal("0.000001"),
    "t": Decimal(1000),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class WeightReading:
    """One weight from the scale, normalised to kg; `raw` is the frame it came from."""

    kg: Decimal
    stable: bool
    raw: bytes


class ScaleCodec(Protocol):
    """Bytes of one scale protocol."""

    serial_settings: ClassVar[SerialSettings]

    def weight_request(self) -> bytes:
        """The command asking for the current weight."""
        ...

    def feed(self, data: bytes) -> list[WeightReading]:
        """Add received bytes; return the weights in the complete frames.

        Raises FrameError, ScaleOverload, ScaleUnderload or ScaleCommandError for such a frame.
        Frames after the failing one stay buffered; weights before it come with the next call.
        """
        ...

    def zero(self) -> bytes:
        """The command to zero the scale."""
        ...

    def tare(self) -> bytes:
        """The command to tare the scale."""
        ...


def _to_kg(value: str, unit: str, raw: bytes) -> Decimal:
    if not _NUMBER.match(value):
        raise FrameError(f"scale sent a weight that is not a number: {value!r}", raw)
    factor = KG_PER_UNIT.get(unit)
    if factor is None:
        raise FrameError(f"scale sent an unknown unit {unit!r}", raw)
    return Decimal(value) * factor


class _FramedCodec(ABC):
    """Buffering shared by the codecs: cut frames, decode each, keep weights across errors."""

    _max_pending = 256

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ready: list[WeightReading] = []

    @abstractmethod
    def _next_frame(self) -> bytes | None:
        """Remove and return the next complete frame, None if there is none yet."""

    @abstractmethod
    def _decode(self, frame: bytes) -> WeightReading | None:
        """The weight in `frame`, None for a frame without one (an acknowledgement)."""

    def feed(self, data: bytes) -> list[WeightReading]:
        """Add received bytes; return the weights in the complete frames."""
        self._buffer += data
        readings, self._ready = self._ready, []
        try:
            while (frame := self._next_frame()) is not None:
                reading = self._decode(frame)
                if reading is not None:
                    readings.append(reading)
            if len(self._buffer) > self._max_pending:
                garbage = bytes(self._buffer)
                self._buffer.clear()
                raise FrameError(
                    f"{len(garbage)} bytes from the scale without an end of frame: "
                    "check the scale's protocol and line settings",
                    garbage,
                )
        except (FrameError, ScaleError):
            self._ready = readings
            raise
        return readings


class MtSicsCodec(_FramedCodec):
    """Mettler Toledo MT-SICS: `SI` asks for the weight now, replies are `S S|D value unit`."""

    serial_settings: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 1)

    _command_errors: ClassVar[dict[str, str]] = {
        "ES": "the scale did not understand the command (syntax error)",
        "ET": "transmission error: check the scale's baud rate and parity",
        "EL": "the scale cannot run this command now (logical error)",
    }

    def __init__(self, unit_default: str = "kg") -> None:
        """Args:
        unit_default: Unit assumed when a weight reply carries none.
        """
        super().__init__()
        if unit_default not in KG_PER_UNIT:
            raise ValueError(f"unknown unit {unit_default!r}, expected one of {list(KG_PER_UNIT)}")
        self.unit_default = unit_default

    def weight_request(self) -> bytes:
        """`SI`: the current weight, stable or not, without waiting."""
        return b"SI\r\n"

    def stable_weight_request(self) -> bytes:
        """`S`: the scale answers once the weight is stable (or `S I` after its own timeout)."""
        return b"S\r\n"

    def zero(self) -> bytes:
        """`Z`: zero once stable."""
        return b"Z\r\n"

    def tare(self) -> bytes:
        """`T`: tare once stable."""
        return b"T\r\n"

    def _next_frame(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            return None
        frame = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return frame

    def _decode(self, frame: bytes) -> WeightReading | None:
        try:
            text = frame.decode("ascii")
        except UnicodeDecodeError as err:
            raise FrameError("scale reply is not ASCII: check line settings", frame) from err
        if not text.rstrip("\r\n").isprintable():
            raise FrameError("scale reply holds control bytes: check line settings", frame)
        tokens = text.split()
        if not tokens:
            return None
        ident, status = tokens[0], tokens[1] if len(tokens) > 1 else ""
        if ident in self._command_errors and len(tokens) == 1:
            raise ScaleCommandError(self._command_errors[ident])
        if ident in ("S", "SI", "SIR"):
            return self._weight(tokens, frame)
        if ident in ("Z", "T"):
            action = "zero" if ident == "Z" else "tare"
            if status == "I":
                raise ScaleCommandError(f"{action} not done: the scale is busy or not stable")
            if status in ("+", "-"):
                raise ScaleCommandError(f"{action} refused: the load is outside the {action} range")
            if status not in ("A", "S"):
                raise FrameError(f"unexpected {action} reply from the scale", frame)
            return None
        if re.fullmatch(r"@|[A-Z][A-Z0-9]{0,3}", ident) and status in ("A", "B", "L", "I"):
            logger.debug("scale reply ignored: %r", text)
            return None
        raise FrameError("unexpected reply from the scale", frame)

    def _weight(self, tokens: list[str], frame: bytes) -> WeightReading:
        status = tokens[1] if len(tokens) > 1 else ""
        if status == "+":
            raise ScaleOverload("scale overloaded: take weight off the platform")
        if status == "-":
            raise ScaleUnderload("scale below zero: clear the platform and zero it")
        if status == "I":
            raise ScaleCommandError("scale busy, no weight now")
        if status not in ("S", "D") or len(tokens) not in (3, 4):
            raise FrameError("malformed weight reply from the scale", frame)
        unit = tokens[3] if len(tokens) == 4 else self.unit_default
        return WeightReading(kg=_to_kg(tokens[2], unit, frame), stable=status == "S", raw=frame)


STX = 0x02
CR = 0x0D


@dataclass(frozen=True)
class Toledo8217Status:
    """The status byte a Toledo 8217 scale sends instead of a weight (`STX ? s CR`)."""

    motion: bool
    over_capacity: bool
    under_zero: bool
    outside_zero_capture: bool
    centre_of_zero: bool
    net_weight: bool
    bad_command: bool

    @classmethod
    def from_byte(cls, value: int) -> Toledo8217Status:
        """Decode the status byte; bit 7 is parity and is ignored."""
        return cls(
            motion=bool(value & 0x01),
            over_capacity=bool(value & 0x02),
            under_zero=bool(value & 0x04),
            outside_zero_capture=bool(value & 0x08),
            centre_of_zero=bool(value & 0x10),
            net_weight=bool(value & 0x20),
            bad_command=bool(value & 0x40),
        )

    def to_byte(self) -> int:
        """Encode the status byte (parity bit clear)."""
        flags = (
            self.motion,
            self.over_capacity,
            self.under_zero,
            self.outside_zero_capture,
            self.centre_of_zero,
            self.net_weight,
            self.bad_command,
        )
        return sum(1 << bit for bit, flag in enumerate(flags) if flag)


_TOLEDO_WEIGHT = re.compile(rb"^\x02\s*(\d+(?:\.\d*)?|\.\d+)N?\r$")


class Toledo8217Codec(_FramedCodec):
    """Toledo 8217: `W` asks for the weight; a stable weight comes as `STX digits CR`.

    While the load moves (or is over or under range) the scale sends a status frame
    `STX ? s CR` instead. The 8217 sends no weight then, so a motion status becomes an
    unstable reading that repeats the last weight seen.
    """

    serial_settings: ClassVar[SerialSettings] = SerialSettings(9600, 7, "E", 1)
    _max_pending = 64

    def __init__(self, unit: Literal["kg", "lb"] = "kg") -> None:
        """Args:
        unit: The unit the scale is set up for (the frames carry none).
        """
        super().__init__()
        if unit not in ("kg", "lb"):
            raise ValueError(f"Toledo 8217 unit must be kg or lb, not {unit!r}")
        self.unit = unit
        self._last_kg = Decimal(0)

    def weight_request(self) -> bytes:
        """`W`: no terminator."""
        return b"W"

    def zero(self) -> bytes:
        """`Z`."""
        return b"Z"

    def tare(self) -> bytes:
        """`T`."""
        return b"T"

    def clear_tare(self) -> bytes:
        """`C`."""
        return b"C"

    def _next_frame(self) -> bytes | None:
        start = self._buffer.find(STX)
        if start < 0:
            if self._buffer:
                junk = bytes(self._buffer)
                self._buffer.clear()
                raise FrameError("bytes from the scale outside a frame", junk)
            return None
        if start > 0:
            junk = bytes(self._buffer[:start])
            del self._buffer[:start]
            raise FrameError("bytes from the scale outside a frame", junk)
        if self._buffer[1:2] == b"?":
            # The status byte may itself be CR or STX, so a status frame is cut by length.
            if len(self._buffer) < 4:
                return None
            frame = bytes(self._buffer[:4])
            if frame[3] != CR:
                del self._buffer[:2]
                raise FrameError("malformed status frame from the scale", frame)
            del self._buffer[:4]
            return frame
        end = self._buffer.find(CR, 1)
        restart = self._buffer.find(STX, 1)
        if restart > 0 and (end < 0 or restart < end):
            partial = bytes(self._buffer[:restart])
            del self._buffer[:restart]
            raise FrameError("incomplete frame from the scale", partial)
        if end < 0:
            return None
        frame = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return frame

    def _decode(self, frame: bytes) -> WeightReading | None:
        if len(frame) == 4 and frame[1:2] == b"?":
            return self._status(Toledo8217Status.from_byte(frame[2]), frame)
        match = _TOLEDO_WEIGHT.match(frame)
        if match is None:
            raise FrameError("malformed weight frame from the scale", frame)
        kg = _to_kg(match.group(1).decode("ascii"), self.unit, frame)
        self._last_kg = kg
        return WeightReading(kg=kg, stable=True, raw=frame)

    def _status(self, status: Toledo8217Status, frame: bytes) -> WeightReading | None:
        if status.bad_command:
            raise ScaleCommandError("the scale did not understand the command")
        if status.over_capacity:
            raise ScaleOverload("scale overloaded: take weight off the platform")
        if status.under_zero:
            raise ScaleUnderload("scale below zero: clear the platform and zero it")
        if status.motion:
            return WeightReading(kg=self._last_kg, stable=False, raw=frame)
        if status.outside_zero_capture:
            raise ScaleCommandError("zero refused: the load is outside the zero-capture range")
        logger.debug("Toledo status without a weight: %s", status)
        return None


SCALE_CODECS: dict[str, type[MtSicsCodec] | type[Toledo8217Codec]] = {
    "mt-sics": MtSicsCodec,
    "toledo-8217": Toledo8217Codec,
}

SCALE_SERIAL_SETTINGS: dict[str, SerialSettings] = {
    name: codec.serial_settings for name, codec in SCALE_CODECS.items()
}
"""Factory line settings per protocol: MT-SICS 9600 8N1, Toledo 8217 9600 7E1."""


class ScaleReader:
    """Polls one scale through its codec."""

    def __init__(
        self,
        transport: Transport,
        codec: ScaleCodec,
        *,
        poll_interval_s: float = 0.2,
        on_frame_error: Callable[[FrameError], None] | None = None,
    ) -> None:
        """Args:
        transport: The link to the scale.
        codec: The scale's protocol.
        poll_interval_s: Pause between weight requests while waiting for a stable weight.
        on_frame_error: Told about each unparseable frame seen while waiting (the edge turns
            it into a device.error event); by default it is logged.
        """
        self.transport = transport
        self.codec = codec
        self.poll_interval_s = poll_interval_s
        self._on_frame_error = on_frame_error or self._log_frame_error

    @staticmethod
    def _log_frame_error(err: FrameError) -> None:
        logger.warning("scale sent an unparseable frame: %s", err)

    def _drain(self) -> None:
        """Drop replies to earlier requests that came too late, so they are not taken as new."""
        while True:
            try:
                stale = self.transport.read(timeout=0.0)
                self.codec.feed(stale)
            except FrameError as err:
                self._on_frame_error(err)
                continue
            except ScaleError:
                continue
            if not stale:
                return

    def read_once(self, timeout_s: float = 1.0) -> WeightReading:
        """Ask for the weight and return the reply, stable or not.

        Raises:
            ScaleNoReply: No weight within `timeout_s`.
            FrameError, ScaleOverload, ScaleUnderload, ScaleCommandError: The reply was such.
            PortUnavailable: The port is gone.
        """
        deadline = time.monotonic() + timeout_s
        self._drain()
        self.transport.write(self.codec.weight_request())
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ScaleNoReply(f"the scale did not answer within {timeout_s:g} s")
            readings = self.codec.feed(self.transport.read(timeout=min(remaining, 0.1)))
            if readings:
                return readings[-1]

    def wait_for_stable(
        self, *, timeout_s: float, min_kg: Decimal = Decimal("0.5")
    ) -> WeightReading:
        """Poll until the first stable weight of at least `min_kg`.

        Moving, overloaded and underloaded readings are skipped, never returned.

        Raises:
            StableWeightTimeout: None came within `timeout_s`; the message says why.
            PortUnavailable: The port is gone.
        """
        deadline = time.monotonic() + timeout_s
        last: WeightReading | None = None
        why = "no reply from the scale"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StableWeightTimeout(
                    last, f"no stable weight of at least {min_kg} kg within {timeout_s:g} s: {why}"
                )
            try:
                reading = self.read_once(timeout_s=min(remaining, 1.0))
            except FrameError as err:
                self._on_frame_error(err)
                why = "the scale sends unreadable data"
            except ScaleError as err:
                why = str(err)
            else:
                last = reading
                if reading.stable and reading.kg >= min_kg:
                    return reading
                if reading.stable:
                    why = f"stable at {reading.kg} kg, below the {min_kg} kg minimum"
                else:
                    why = f"the load is still moving (last {reading.kg} kg)"
            pause = min(self.poll_interval_s, deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)
