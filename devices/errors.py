"""Errors raised by device transports and codecs.

DeviceError
 ├── TransportError
 │    └── PortUnavailable
 ├── FrameError
 ├── ScanRejected
 ├── ScaleError
 │    ├── StableWeightTimeout
 │    ├── ScaleOverload
 │    ├── ScaleUnderload
 │    ├── ScaleCommandError
 │    └── ScaleNoReply
 └── PrinterError
      ├── PrinterNotReady
      └── PrinterNoReply
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.printer import PrinterStatus
    from devices.scales import WeightReading


class DeviceError(Exception):
    """Something went wrong talking to a device."""


class TransportError(DeviceError):
    """The byte link to a device (serial port, TCP socket) failed."""


class PortUnavailable(TransportError):
    """The port is missing, vanished or refused: check the cable, power and the port name."""


class FrameError(DeviceError):
    """The device sent bytes that cannot be parsed; `raw` keeps them for the device.error event."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(f"{reason} (raw bytes: {raw[:64].hex(' ')})")
        self.reason = reason
        self.raw = raw


class ScanRejected(DeviceError):
    """A barcode was read cleanly but cannot be used (bad check digit, not a pallet label...)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(f"{reason}: {code!r}")
        self.reason = reason
        self.code = code


class ScaleError(DeviceError):
    """The scale could not give a usable weight."""


class StableWeightTimeout(ScaleError):
    """No stable weight at or above the minimum arrived in time; `last` is the last reading seen."""

    def __init__(self, last: WeightReading | None, message: str | None = None) -> None:
        super().__init__(message or f"no stable weight in time (last reading: {last})")
        self.last = last


class ScaleOverload(ScaleError):
    """The load is above the scale's capacity: take weight off the platform."""


class ScaleUnderload(ScaleError):
    """The scale reads below zero: clear the platform and zero the scale."""


class ScaleCommandError(ScaleError):
    """The scale refused a command: syntax, transmission or logical error, or busy."""


class ScaleNoReply(ScaleError):
    """The scale did not answer a weight request: check power, cable and line settings."""


class PrinterError(DeviceError):
    """The label printer failed."""


class PrinterNotReady(PrinterError):
    """The printer is offline, out of paper, has its cover open or reports an error."""

    def __init__(self, status: PrinterStatus, message: str | None = None) -> None:
        super().__init__(message or f"printer not ready: {status}")
        self.status = status


class PrinterNoReply(PrinterError):
    """The printer did not answer a status request: check power and cable."""
