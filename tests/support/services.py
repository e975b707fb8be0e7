"""Where the shared test services are, and how a test asks for one.

With CI set, a service that cannot be reached fails the test: it is never skipped.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

IN_CI = bool(os.environ.get("CI"))
MOSQUITTO_URL = os.environ.get("TEST_MOSQUITTO_URL", "mqtt://127.0.0.1:1883")
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def reachable(url: str, default_port: int) -> bool:
    """True if a TCP connection to the URL's host and port succeeds within a second."""
    parts = urlsplit(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, 1):
            return True
    except OSError:
        return False


def require(url: str, default_port: int, what: str) -> None:
    """Fail (in CI) or skip (on a developer's machine) when a shared service is down."""
    if reachable(url, default_port):
        return
    message = f"{what} is not reachable at {url}"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it running", pytrace=False)
    pytest.skip(message)
