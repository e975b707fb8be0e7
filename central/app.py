"""The composition root of the central service: settings in, a FastAPI app out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from central.api.errors import install_error_handlers
from central.api.main import api_router
from central.ingest import IngestService
from central.ledger import ledger_config
from central.route_control import RouteControl
from central.route_tokens import route_links
from central.settings import CentralSettings
from central.store.db import make_engine, upgrade

logger = logging.getLogger(__name__)

Background = Callable[[IngestService], AbstractAsyncContextManager[object]]


def create_app(settings: CentralSettings, *, background: Background | None = None) -> FastAPI:
    """Build the API. The lifespan migrates the database and owns the engine and ingest service.

    Args:
        settings: the process's settings.
        background: optional; given the app's IngestService, returns an async context manager
            that runs alongside the API for the app's lifetime (e.g. the MQTT ingest adapter).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        books = ledger_config(settings)
        ingest = IngestService(engine, ledger_config=books, route_links=route_links(settings))
        app.state.engine = engine
        app.state.ledger_config = books
        app.state.ingest = ingest
        app.state.settings = settings
        app.state.route_control = RouteControl(engine, ledger_config=books)
        app.state.route_links = route_links(settings)
        try:
            async with AsyncExitStack() as stack:
                if background is not None:
                    await stack.enter_async_context(background(ingest))
                logger.info("central API ready (%s)", settings.environment)
                yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="wms-edge central",
        description="Stock, receiving and device health of every site.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(api_router)
    return app
