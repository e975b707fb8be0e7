"""Runs central as a process: the API (uvicorn) with the MQTT ingest in its lifespan."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from central.app import create_app
from central.ingest import IngestService
from central.ingest_mqtt import BrokerAddress, MqttIngest
from central.ledger import ledger_config
from central.route_control import RouteControl
from central.route_tokens import route_links
from central.settings import CentralSettings
from central.store.db import make_engine, upgrade
from central.telematics_ingest import TelematicsIngest

logger = logging.getLogger(__name__)


def build_mqtt_ingest(service: IngestService, settings: CentralSettings) -> MqttIngest:
    """The MQTT adapter for `service`, configured from settings."""
    broker = BrokerAddress.from_url(
        settings.mqtt_url, username=settings.mqtt_username, password=settings.mqtt_password
    )
    control = RouteControl(service.engine, ledger_config=service.ledger_config)
    return MqttIngest(
        service,
        broker,
        client_id=settings.mqtt_client_id,
        shared=settings.ingest_shared,
        command_resend_after_s=settings.command_resend_after_s,
        telematics=TelematicsIngest(control, service),
    )


class CentralServer:
    """Central in a background thread: API and/or ingest. `start()` returns once it serves."""

    def __init__(self, settings: CentralSettings, *, api: bool = True, ingest: bool = True) -> None:
        if not api and not ingest:
            raise ValueError("central needs the API, the ingest, or both")
        self.settings = settings
        self._api = api
        self._ingest = ingest
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._mqtt: MqttIngest | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start serving; raise RuntimeError if the API does not answer within the timeout."""
        if self._api:
            self._start_api(timeout_s)
        else:
            self._start_ingest_only()

    def _start_api(self, timeout_s: float) -> None:
        background = self._mqtt_background if self._ingest else None
        app = create_app(self.settings, background=background)
        config = uvicorn.Config(
            app,
            host=self.settings.api_host,
            port=self.settings.api_port,
            log_config=None,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="central-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError(f"central API failed to start on {self.url}; see the log")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    logger.info("central API serving on %s", self.url)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"central API did not answer on {self.url} within {timeout_s} s")

    @asynccontextmanager
    async def _mqtt_background(self, service: IngestService) -> AsyncIterator[MqttIngest]:
        ingest = build_mqtt_ingest(service, self.settings)
        ingest.start()
        self._mqtt = ingest
        try:
            yield ingest
        finally:
            await asyncio.to_thread(ingest.stop)

    def _start_ingest_only(self) -> None:
        upgrade(self.settings.database_url)
        engine = make_engine(self.settings.database_url)
        service = IngestService(
            engine,
            ledger_config=ledger_config(self.settings),
            route_links=route_links(self.settings),
        )
        self._mqtt = build_mqtt_ingest(service, self.settings)
        self._mqtt.start()
        self._engine = engine

    def stop(self) -> None:
        """Stop serving and release the database."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        elif self._mqtt is not None:
            self._mqtt.stop()
            self._engine.dispose()
