"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from central.domain.accounting import LedgerConfig
from central.ingest import IngestService
from central.route_control import RouteControl
from central.route_tokens import RouteLinks
from central.store.db import UnitOfWork


def get_engine(request: Request) -> Engine:
    """The engine the app's lifespan created."""
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session per request; routes that change data commit it themselves."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def get_write_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session for a request that writes: on SQLite it takes the write lock at BEGIN, so a
    check-then-insert cannot be overtaken by the ingest committing in between."""
    with UnitOfWork(engine, write_lock=True) as uow:
        yield uow.session


def get_ingest(request: Request) -> IngestService:
    """The app's ingest service (for re-applying dead letters)."""
    service: IngestService = request.app.state.ingest
    return service


def get_ledger_config(request: Request) -> LedgerConfig:
    """How the app's movements post to the books."""
    config: LedgerConfig = request.app.state.ledger_config
    return config


def get_route_control(request: Request) -> RouteControl:
    """The app's route control (driver reports, ETAs, route alerts)."""
    control: RouteControl = request.app.state.route_control
    return control


def get_route_links(request: Request) -> RouteLinks:
    """Makes and checks the driver tokens of route sheets."""
    links: RouteLinks = request.app.state.route_links
    return links


SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]
IngestDep = Annotated[IngestService, Depends(get_ingest)]
LedgerConfigDep = Annotated[LedgerConfig, Depends(get_ledger_config)]
RouteControlDep = Annotated[RouteControl, Depends(get_route_control)]
RouteLinksDep = Annotated[RouteLinks, Depends(get_route_links)]
