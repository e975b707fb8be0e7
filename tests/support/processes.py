"""Central and edge agents as real OS processes, the way production runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

WMS = str(Path(sys.executable).with_name("wms"))


class ManagedProcess:
    """A `wms ...` subprocess whose output goes to a log file (read on failure)."""

    def __init__(self, name: str, args: list[str], *, env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = {**os.environ, **env}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the process."""
        handle = self.log.open("ab")
        try:
            self.proc = subprocess.Popen(
                [WMS, *self.args], env=self.env, stdout=handle, stderr=subprocess.STDOUT
            )
        finally:
            handle.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye (a power cut, an OOM kill)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 60) -> str:
        """The end of the process's log, for failure messages."""
        if not self.log.exists():
            return "<no log>"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def central_process(
    *, database_url: str, mqtt_url: str, port: int, log: Path, client_id: str
) -> ManagedProcess:
    """`wms central` (API + ingest) on `port`."""
    return ManagedProcess(
        "central",
        ["central", "--port", str(port), "--log-format", "text"],
        env={
            "DATABASE_URL": database_url,
            "MQTT_URL": mqtt_url,
            "MQTT_CLIENT_ID": client_id,
            "COMMAND_RESEND_AFTER_S": "2",
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
        log=log,
    )


def edge_process(*, config: Path, log: Path) -> ManagedProcess:
    """`wms edge --config ...`."""
    return ManagedProcess(
        "edge", ["edge", "--config", str(config), "--log-format", "text"], env={}, log=log
    )


def wait_healthy(base_url: str, process: ManagedProcess, timeout_s: float = 60.0) -> None:
    """Wait until `GET /healthz` answers 200; fail with the process log otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.proc is not None and process.proc.poll() is not None:
            raise AssertionError(f"{process.name} exited early:\n{process.tail()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{process.name} not healthy in {timeout_s} s:\n{process.tail()}")


def wait_until(predicate: object, *, timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll `predicate()` until it is true or the timeout passes."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())
