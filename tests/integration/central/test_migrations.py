"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import central.store.tables  # noqa: F401  (registers the tables)
from central.store.db import upgrade


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrading_twice_is_harmless(engine: Engine, database_url: str) -> None:
    upgrade(database_url)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0006"
