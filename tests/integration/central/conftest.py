"""Fixtures for central's integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from central.ingest import IngestService
from tests.integration.central.scenario import EdgeStream, migrated_engine, seed_site


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database (SQLite, then PostgreSQL)."""
    with migrated_engine(database_url) as engine:
        yield engine


@pytest.fixture
def seeded(engine: Engine, site_code: str) -> Engine:
    """The database with the test's site, bins, items and a 40-pallet ASN."""
    seed_site(engine, site_code)
    return engine


@pytest.fixture
def service(seeded: Engine) -> IngestService:
    """An ingest service on the seeded database."""
    return IngestService(seeded)


@pytest.fixture
def stream(site_code: str) -> EdgeStream:
    """The test site's edge event stream."""
    return EdgeStream(site_code)
