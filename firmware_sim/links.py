"""The device side of a byte link: a pty pair or a TCP device server.

A simulated device reads and writes the master end of a pty (`PtyLink`) or the accepted socket
of a small TCP server (`TcpLink`). The edge opens `.device_url` through pyserial exactly as it
would open `/dev/ttyUSB0` or a serial-to-Ethernet converter.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import socket
import threading
import time
import tty
from types import TracebackType
from typing import Protocol, Self

logger = logging.getLogger(__name__)

_WRITE_TIMEOUT_S = 5.0


class Link(Protocol):
    """The device end of a byte link."""

    @property
    def device_url(self) -> str:
        """What the edge passes to `serial.serial_for_url`."""
        ...

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Bytes the edge sent, b"" if none within `timeout`."""
        ...

    def write(self, data: bytes) -> None:
        """Send bytes to the edge."""
        ...

    def close(self) -> None:
        """Tear the link down."""
        ...


class PtyLink:
    """A pseudo-terminal pair: the sim owns the master, the edge opens the slave path."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        # Raw mode: no echo, no CR/LF translation, so frames arrive byte for byte.
        tty.setraw(self._slave)
        tty.setraw(self._master)
        flags = fcntl.fcntl(self._master, fcntl.F_GETFL)
        fcntl.fcntl(self._master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._path = os.ttyname(self._slave)
        self._closed = False

    @property
    def device_url(self) -> str:
        """The slave device path, e.g. /dev/pts/7."""
        return self._path

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Bytes written by the edge to the slave, b"" if none within `timeout`."""
        if self._closed:
            return b""
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self._master, size)
        except BlockingIOError:
            return b""
        except OSError as err:
            # EIO: no process holds the slave open any more; for the sim that is just silence.
            if err.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes) -> None:
        """Write all of `data` to the edge; raises TimeoutError if nobody drains the pty."""
        view = memoryview(data)
        deadline = time.monotonic() + _WRITE_TIMEOUT_S
        while view:
            _, ready, _ = select.select([], [self._master], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise TimeoutError(f"pty {self._path}: the edge is not reading")
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                continue
            view = view[written:]

    def close(self) -> None:
        """Close both ends; the edge's open slave then reports the port gone."""
        if self._closed:
            return
        self._closed = True
        os.close(self._master)
        os.close(self._slave)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TcpLink:
    """A one-client TCP server, like a serial device server on port 4001.

    A new connection replaces the previous one. `stop()` makes the server go away (listener and
    client closed) and `start()` brings it back on the same port, to test reconnecting.
    Bytes written while no client is connected are discarded, as a real device server would.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Condition()
        self._server: socket.socket | None = None
        self._client: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._closed = False
        self.start()

    @property
    def device_url(self) -> str:
        """`socket://host:port` for pyserial."""
        return f"socket://{self.host}:{self.port}"

    def start(self) -> None:
        """Listen (again) on the same port."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"tcp link {self.port} is closed")
            if self._server is not None:
                return
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((self.host, self.port))
            server.listen(4)
            self.port = server.getsockname()[1]
            self._server = server
            self._accept_thread = threading.Thread(
                target=self._accept_loop, args=(server,), name=f"tcplink-{self.port}", daemon=True
            )
            self._accept_thread.start()

    def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                ready, _, _ = select.select([server], [], [], 0.05)
            except (OSError, ValueError):
                return
            with self._lock:
                if self._server is not server:
                    return
            if not ready:
                continue
            try:
                conn, _addr = server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._server is not server:
                    conn.close()
                    return
                if self._client is not None:
                    self._client.close()
                self._client = conn
                self._lock.notify_all()

    def wait_for_client(self, timeout: float) -> bool:
        """Block until an edge is connected; False if none came within `timeout`."""
        with self._lock:
            return self._lock.wait_for(lambda: self._client is not None, timeout)

    @property
    def connected(self) -> bool:
        """True while a client is connected."""
        return self._client is not None

    def _drop_client(self, conn: socket.socket) -> None:
        with self._lock:
            if self._client is conn:
                self._client = None
            conn.close()

    def read(self, size: int = 4096, timeout: float = 0.1) -> bytes:
        """Bytes from the connected edge, b"" on timeout or when no edge is connected."""
        deadline = time.monotonic() + timeout
        if not self.wait_for_client(timeout):
            return b""
        conn = self._client
        if conn is None:
            return b""
        try:
            ready, _, _ = select.select([conn], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                return b""
            data = conn.recv(size)
        except (OSError, ValueError):
            self._drop_client(conn)
            return b""
        if not data:
            self._drop_client(conn)
        return data

    def write(self, data: bytes) -> None:
        """Send `data` to the connected edge, or discard it if none is connected."""
        conn = self._client
        if conn is None:
            logger.debug("tcp link %s: no client, %d bytes discarded", self.port, len(data))
            return
        try:
            conn.settimeout(_WRITE_TIMEOUT_S)
            conn.sendall(data)
        except OSError:
            self._drop_client(conn)

    def stop(self) -> None:
        """Make the server go away: close the listener and the client."""
        with self._lock:
            server, self._server = self._server, None
            client, self._client = self._client, None
            thread, self._accept_thread = self._accept_thread, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        if server is not None:
            server.close()
        if thread is not None:
            thread.join(timeout=2.0)

    def close(self) -> None:
        """Stop for good."""
        self._closed = True
        self.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
