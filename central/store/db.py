"""Engines, migrations and the unit of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on; a write transaction there
starts with BEGIN IMMEDIATE so that two writers never both read a cursor and then both try to
advance it. PostgreSQL gets row locks (SELECT ... FOR UPDATE) from the callers instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_WRITE_LOCK_OPTION = "wms_write_lock"
# Any fixed number: it only has to be the same for every process that migrates this database.
_MIGRATION_LOCK_KEY = 7_311_042


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_LOCK_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url` (sqlite:///... or postgresql+psycopg://...)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _prepare_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(database_url: str) -> None:
    """Bring the database schema to the newest migration (`alembic upgrade head`)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes starting at once must not both create the tables.
                connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
                connection.commit()
            try:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS_DIR))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                    connection.commit()
    finally:
        engine.dispose()
    logger.info("database schema is up to date")


class UnitOfWork:
    """One database transaction: commit explicitly, or everything is rolled back on exit.

    Args:
        engine: where the session connects.
        write_lock: take the database's write lock at BEGIN (SQLite only; PostgreSQL callers
            lock the rows they change).
    """

    def __init__(self, engine: Engine, *, write_lock: bool = False) -> None:
        self._engine = engine
        self._write_lock = write_lock
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The session of this unit of work (only inside the `with` block)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use it in a `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = Session(self._engine, expire_on_commit=False)
        if self._write_lock:
            self._session.connection(execution_options={_WRITE_LOCK_OPTION: True})
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        """Make the transaction's changes durable."""
        self.session.commit()

    def rollback(self) -> None:
        """Undo the transaction's changes."""
        self.session.rollback()
