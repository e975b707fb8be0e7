"""The embedded default's broker (amqtt) in a process of its own, for the test session.

The demo runs amqtt inside its process; the tests run the same broker code as a child
process so that amqtt's sockets are never garbage-collected inside pytest (where
`filterwarnings = error` would turn amqtt's unclosed-transport warnings into failures).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from wms.embedded_broker import free_port


class AmqttProcess:
    """`python -m wms.embedded_broker` on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wms.embedded_broker", "--port", str(self.port)]
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the amqtt broker process exited at start-up")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the amqtt broker did not listen on {self.port} within 20 s")

    def stop(self) -> None:
        """Terminate it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
