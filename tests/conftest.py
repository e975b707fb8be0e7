"""Shared fixtures: the real services (Mosquitto, PostgreSQL) and the embedded defaults.

Integration tests take `mqtt_url` and `database_url`, which are parametrised so that each
such test runs against the real service and against the embedded default.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.amqtt_broker import AmqttProcess
from tests.support.mosquitto import MosquittoProcess
from tests.support.services import MOSQUITTO_URL, POSTGRES_ADMIN_URL, require


@pytest.fixture(scope="session")
def embedded_broker_url() -> Iterator[str]:
    """The embedded default's amqtt broker, shared by the session (in a child process)."""
    broker = AmqttProcess()
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_url() -> str:
    """The shared Mosquitto on 127.0.0.1:1883 (fails in CI if it is down)."""
    require(MOSQUITTO_URL, 1883, "Mosquitto")
    return MOSQUITTO_URL


@pytest.fixture(params=["mosquitto", "amqtt"])
def mqtt_url(request: pytest.FixtureRequest) -> str:
    """A broker URL: the real Mosquitto, then the embedded amqtt broker."""
    if request.param == "mosquitto":
        return str(request.getfixturevalue("mosquitto_url"))
    return str(request.getfixturevalue("embedded_broker_url"))


@pytest.fixture
def private_mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A Mosquitto of this test's own, on a free port, that the test may stop and start."""
    broker = MosquittoProcess(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the shared server, dropped afterwards."""
    require(POSTGRES_ADMIN_URL, 5432, "PostgreSQL")
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"wms_test_{secrets.token_hex(6)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'central.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database: SQLite (the embedded default), then PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def site_code() -> str:
    """A site code unique to this test, so tests sharing a broker never see each other."""
    return "T" + secrets.token_hex(4).upper()
