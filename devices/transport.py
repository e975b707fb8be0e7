"""Byte transports to devices: serial ports, pty pairs and TCP device servers via pyserial.

Every device codec talks to a `Transport`: write bytes, read bytes with a timeout, close.
`SerialTransport` opens anything `serial.serial_for_url` understands (`/dev/ttyUSB0`, a pty
slave path, `socket://host:port`, `rfc2217://host:port`). `ReconnectingTransport` wraps it and
reopens the port with capped, jittered backoff when it vanishes. `FakeTransport` is the test
double for our own port.
"""

from __future__ import annotations

import logging
import random
import socket
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

import serial

from devices.errors import PortUnavailable

logger = logging.getLogger(__name__)

_WRITE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class SerialSettings:
    """Line settings of a serial port; ignored by TCP (`socket://`) links."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


class Transport(Protocol):
    """A bidirectional byte link to one device."""

    def write(self, data: bytes) -> None:
        """Send all of `data`; raises PortUnavailable if the port is gone."""
        ...

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Return up to `size` bytes, b"" if none arrived within `timeout` seconds.

        Raises PortUnavailable if the port vanished.
        """
        ...

    def close(self) -> None:
        """Release the port."""
        ...


def _release(port: serial.Serial) -> None:
    """Close `port` and whatever socket it holds."""
    # pyserial's socket:// handler skips closing its socket when shutdown() fails (the peer is
    # gone) or when open() fails after connecting; close it here so no socket leaks.
    sock = getattr(port, "_socket", None)
    try:
        port.close()
    except (serial.SerialException, OSError) as err:
        logger.debug("closing %s failed: %s", port.port, err)
    if isinstance(sock, socket.socket):
        sock.close()


class SerialTransport:
    """A pyserial port opened with `serial.serial_for_url`."""

    def __init__(self, port: serial.Serial, url: str) -> None:
        self._port = port
        self.url = url
        self._timeout: float | None = port.timeout

    @classmethod
    def open(cls, url: str, settings: SerialSettings | None = None) -> SerialTransport:
        """Open `url` with `settings`; raises PortUnavailable if it is missing or refused."""
        settings = settings or SerialSettings()
        port: serial.Serial | None = None
        try:
            port = serial.serial_for_url(
                url,
                do_not_open=True,
                baudrate=settings.baudrate,
                bytesize=settings.bytesize,
                parity=settings.parity,
                stopbits=settings.stopbits,
                timeout=0.1,
                write_timeout=_WRITE_TIMEOUT_S,
                # A second process opening the same port would steal bytes from the first.
                exclusive=True,
            )
            port.open()
        except (serial.SerialException, OSError, ValueError) as err:
            if port is not None:
                _release(port)
            raise PortUnavailable(f"cannot open device port {url}: {err}") from err
        return cls(port, url)

    def write(self, data: bytes) -> None:
        """Send all of `data`."""
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as err:
            raise PortUnavailable(f"device port {self.url} failed while writing: {err}") from err

    def _set_timeout(self, timeout: float) -> None:
        # pyserial re-applies termios on every timeout change. A pty keeps its 8-bit framing and
        # rejects that re-apply for 7E1 settings (EINVAL) after pyserial has already stored the
        # new timeout, so the timeout is in effect either way.
        try:
            self._port.timeout = timeout
        except termios.error as err:
            logger.debug("%s: termios rejected re-applying line settings: %s", self.url, err)
        self._timeout = timeout

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Wait up to `timeout` for the first byte, then return what is already buffered."""
        if size <= 0:
            return b""
        try:
            if self._timeout != timeout:
                self._set_timeout(timeout)
            data = bytearray(self._port.read(1))
            while data and len(data) < size:
                waiting = self._port.in_waiting
                if not waiting:
                    break
                data += self._port.read(min(waiting, size - len(data)))
        except (serial.SerialException, OSError) as err:
            raise PortUnavailable(f"device port {self.url} vanished: {err}") from err
        return bytes(data)

    def close(self) -> None:
        """Close the port; safe to call twice."""
        _release(self._port)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ReconnectingTransport:
    """A SerialTransport that reopens its port after it vanishes.

    Reopen attempts are spaced by capped, jittered exponential backoff, so a missing USB
    adapter or a rebooting device server is not hammered. The port going offline and coming
    back are each logged once. While the port is down, `write` and `read` raise PortUnavailable;
    `read` first waits up to its timeout for a due reconnect attempt, so a polling loop won't spin.
    """

    def __init__(
        self,
        url: str,
        settings: SerialSettings | None = None,
        *,
        backoff_max_s: float = 10.0,
        backoff_initial_s: float = 0.1,
        opener: Callable[[str, SerialSettings], Transport] = SerialTransport.open,
    ) -> None:
        """Try to open `url` now; if that fails, the transport starts out unavailable.

        Args:
            url: Anything `serial.serial_for_url` accepts.
            settings: Serial line settings.
            backoff_max_s: Upper bound of the delay between reopen attempts.
            backoff_initial_s: Delay bound after the first failure; doubles per failure.
            opener: Opens the underlying port (tests may pass a factory of fakes).
        """
        self.url = url
        self.settings = settings or SerialSettings()
        self._backoff_max_s = backoff_max_s
        self._backoff_initial_s = backoff_initial_s
        self._opener = opener
        self._lock = threading.RLock()
        self._inner: Transport | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._closed = False
        # None until the first attempt, so both the first failure and the first success log.
        self._was_available: bool | None = None
        self._try_open()

    @property
    def available(self) -> bool:
        """True while the port is open."""
        return self._inner is not None

    def _delay(self) -> float:
        ceiling = min(self._backoff_max_s, self._backoff_initial_s * 2 ** min(self._failures, 30))
        # Jitter in [ceiling/2, ceiling]: never zero, and edges that lost a port together spread.
        return random.uniform(ceiling / 2, ceiling)

    def _try_open(self) -> Transport | None:
        with self._lock:
            if self._inner is not None or self._closed:
                return self._inner
            try:
                self._inner = self._opener(self.url, self.settings)
            except PortUnavailable as err:
                self._failures += 1
                self._next_attempt = time.monotonic() + self._delay()
                self._set_state(available=False, detail=str(err))
                return None
            self._failures = 0
            self._set_state(available=True, detail="")
            return self._inner

    def _set_state(self, *, available: bool, detail: str) -> None:
        if self._was_available == available:
            return
        if available:
            if self._was_available is None:
                logger.info("device port %s open", self.url)
            else:
                logger.warning("device port %s recovered", self.url)
        else:
            logger.warning("device port %s offline, will keep retrying: %s", self.url, detail)
        self._was_available = available

    def _lost(self, inner: Transport, err: PortUnavailable) -> None:
        with self._lock:
            if self._inner is inner:
                inner.close()
                self._inner = None
                self._failures = 0
                self._next_attempt = time.monotonic()
                self._set_state(available=False, detail=str(err))

    def _connected(self, wait_s: float) -> Transport:
        """The open port, reopening it if an attempt is due within `wait_s`."""
        if self._closed:
            raise PortUnavailable(f"device port {self.url} was closed")
        inner = self._inner
        if inner is not None:
            return inner
        remaining = self._next_attempt - time.monotonic()
        if remaining > wait_s:
            time.sleep(max(wait_s, 0.0))
            raise PortUnavailable(f"device port {self.url} is offline")
        if remaining > 0:
            time.sleep(remaining)
        inner = self._try_open()
        if inner is None:
            raise PortUnavailable(f"device port {self.url} is offline")
        return inner

    def write(self, data: bytes) -> None:
        """Send `data`; raises PortUnavailable while the port is down."""
        inner = self._connected(0.0)
        try:
            inner.write(data)
        except PortUnavailable as err:
            self._lost(inner, err)
            raise

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Read as `Transport.read`; raises PortUnavailable while the port is down."""
        deadline = time.monotonic() + timeout
        inner = self._connected(timeout)
        try:
            return inner.read(size, max(deadline - time.monotonic(), 0.0))
        except PortUnavailable as err:
            self._lost(inner, err)
            raise

    def close(self) -> None:
        """Close the port and stop reconnecting."""
        with self._lock:
            self._closed = True
            if self._inner is not None:
                self._inner.close()
                self._inner = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FakeTransport:
    """Test double: `handler(written_bytes)` gives the device's reply, queued for `read`.

    `inject` queues unsolicited bytes (a scanner pushes scans without being asked);
    `disconnect` makes the port vanish.
    """

    def __init__(self, handler: Callable[[bytes], bytes] | None = None) -> None:
        self._handler = handler or (lambda _data: b"")
        self._buffer = bytearray()
        self._cond = threading.Condition()
        self.writes: list[bytes] = []
        self.connected = True
        self.closed = False

    def inject(self, data: bytes) -> None:
        """Queue bytes as if the device had sent them on its own."""
        with self._cond:
            self._buffer += data
            self._cond.notify_all()

    def disconnect(self) -> None:
        """Make further reads and writes fail as if the cable was pulled."""
        with self._cond:
            self.connected = False
            self._cond.notify_all()

    def _check(self) -> None:
        if self.closed:
            raise PortUnavailable("fake port is closed")
        if not self.connected:
            raise PortUnavailable("fake port vanished")

    def write(self, data: bytes) -> None:
        """Record `data` and queue the handler's reply."""
        with self._cond:
            self._check()
            self.writes.append(bytes(data))
        reply = self._handler(bytes(data))
        if reply:
            self.inject(reply)

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Return queued bytes, waiting up to `timeout` for some."""
        with self._cond:
            self._check()
            if not self._buffer:
                self._cond.wait_for(lambda: bool(self._buffer) or not self.connected, timeout)
                self._check()
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data

    def close(self) -> None:
        """Mark the fake closed."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
