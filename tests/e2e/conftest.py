"""End-to-end stack: central and the edge agent as processes, the dock simulated in-process.

The test process plays the physical world: the simulated scanner, scale and printer on real
pty pairs, and the dock worker who reads the printed labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from firmware_sim.scenario import SimulatedDock, TruckManifest, inbound_truck
from tests.support.processes import (
    ManagedProcess,
    central_process,
    edge_process,
    wait_healthy,
)
from wms.demo import edge_config_for
from wms.embedded_broker import free_port
from wms.mqtt_admin import clear_retained, clear_session
from wms.seed import Layout, seed_site, seed_truck, wait_dock_online

DOCK = "dock-1"


@dataclass
class Stack:
    """A running central + edge for one site, and the simulated dock."""

    site: str
    api: str
    mqtt_url: str
    central: ManagedProcess
    edge: ManagedProcess
    dock: SimulatedDock
    tmp: Path

    def client(self) -> httpx.Client:
        """An HTTP client for central's API."""
        return httpx.Client(base_url=self.api, timeout=15)

    def truck(self, pallets: int, *, seed: int = 7) -> TruckManifest:
        """A truck for this site, loaded into central as items + ASN."""
        manifest = inbound_truck(site=self.site, dock=DOCK, pallets=pallets, seed=seed)
        with self.client() as client:
            seed_truck(client, manifest)
        return manifest

    def stock_by_sscc(self) -> dict[str, tuple[str, str]]:
        """SSCC → (location, quantity) for every stock row of the site."""
        with self.client() as client:
            rows = client.get("/stock", params={"site": self.site}).json()
        return {r["sscc"]: (r["location"], r["quantity"]) for r in rows}

    def logs(self) -> str:
        """Both processes' log tails, for assertion messages."""
        return f"--- central ---\n{self.central.tail()}\n--- edge ---\n{self.edge.tail()}"


def start_stack(*, site: str, database_url: str, mqtt_url: str, tmp: Path) -> Iterator[Stack]:
    """Start central, seed the site, start the simulated dock and the edge; tear all down."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    central_id = f"central-{site}"
    central = central_process(
        database_url=database_url,
        mqtt_url=mqtt_url,
        port=port,
        log=tmp / "central.log",
        client_id=central_id,
    )
    central.start()
    dock = SimulatedDock(out_dir=tmp / "labels", seed=3)
    edge: ManagedProcess | None = None
    try:
        wait_healthy(api, central)
        with httpx.Client(base_url=api, timeout=15) as client:
            seed_site(client, site=site, docks=[DOCK], layout=Layout())
        config = edge_config_for(
            site=site, dock=DOCK, broker_url=mqtt_url, data_dir=tmp / "edge", sim=dock
        )
        config_path = tmp / "edge.yaml"
        config_path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        edge = edge_process(config=config_path, log=tmp / "edge.log")
        edge.start()
        with httpx.Client(base_url=api, timeout=15) as client:
            wait_dock_online(client, site=site, dock=DOCK, timeout_s=60)
        yield Stack(site, api, mqtt_url, central, edge, dock, tmp)
    finally:
        if edge is not None:
            edge.stop()
        central.stop()
        dock.close()
        clear_session(mqtt_url, central_id)
        clear_session(mqtt_url, f"edge-{site}")
        clear_retained(mqtt_url, f"wms/{site}/status")


@pytest.fixture(params=["mosquitto+postgres", "amqtt+sqlite"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, site_code: str) -> Iterator[Stack]:
    """The whole system on the real services, then on the embedded default."""
    broker, db = request.param.split("+")
    mqtt_url = request.getfixturevalue(
        "mosquitto_url" if broker == "mosquitto" else "embedded_broker_url"
    )
    database_url = request.getfixturevalue(f"{db}_url")
    yield from start_stack(
        site=site_code, database_url=database_url, mqtt_url=mqtt_url, tmp=tmp_path
    )
