"""The docker-compose layout as plain processes: an API process and two ingest workers.

The two workers share the sites' events through an MQTT v5 shared subscription on the real
Mosquitto and apply them to PostgreSQL; per-site order holds because each locks the site's
row. Every event must be applied exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml

from firmware_sim.scenario import DockWorker, SimulatedDock, inbound_truck
from tests.support.processes import ManagedProcess, edge_process, wait_healthy, wait_until
from wms.demo import edge_config_for
from wms.embedded_broker import free_port
from wms.mqtt_admin import clear_retained, clear_session
from wms.seed import Layout, seed_site, seed_truck, wait_dock_online

pytestmark = pytest.mark.slow
DOCK = "dock-1"


@pytest.fixture
def layout(
    tmp_path: Path, site_code: str, mosquitto_url: str, postgres_url: str
) -> Iterator[tuple[str, list[ManagedProcess], SimulatedDock]]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": postgres_url, "MQTT_URL": mosquitto_url, "COMMAND_RESEND_AFTER_S": "2"}
    api = ManagedProcess(
        "central-api",
        ["central", "--no-ingest", "--port", str(port), "--log-format", "text"],
        env=env,
        log=tmp_path / "api.log",
    )
    workers = [
        ManagedProcess(
            f"ingest-{n}",
            ["central", "--ingest-only", "--log-format", "text"],
            env={**env, "INGEST_SHARED": "true", "MQTT_CLIENT_ID": f"ingest-{site_code}-{n}"},
            log=tmp_path / f"ingest-{n}.log",
        )
        for n in (1, 2)
    ]
    dock = SimulatedDock(out_dir=tmp_path / "labels", seed=5)
    processes = [api, *workers]
    try:
        api.start()
        wait_healthy(api_url, api)
        for worker in workers:
            worker.start()
        with httpx.Client(base_url=api_url, timeout=15) as client:
            seed_site(client, site=site_code, docks=[DOCK], layout=Layout())
        config = edge_config_for(
            site=site_code,
            dock=DOCK,
            broker_url=mosquitto_url,
            data_dir=tmp_path / "edge",
            sim=dock,
        )
        path = tmp_path / "edge.yaml"
        path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        edge = edge_process(config=path, log=tmp_path / "edge.log")
        edge.start()
        processes.append(edge)
        with httpx.Client(base_url=api_url, timeout=15) as client:
            wait_dock_online(client, site=site_code, dock=DOCK, timeout_s=60)
        yield api_url, processes, dock
    finally:
        for process in reversed(processes):
            process.stop()
        dock.close()
        for n in (1, 2):
            clear_session(mosquitto_url, f"ingest-{site_code}-{n}")
        clear_session(mosquitto_url, f"edge-{site_code}")
        clear_retained(mosquitto_url, f"wms/{site_code}/status")


def test_two_ingest_workers_on_a_shared_subscription_apply_each_event_once(
    layout: tuple[str, list[ManagedProcess], SimulatedDock], site_code: str
) -> None:
    api_url, processes, dock = layout
    logs = "\n".join(f"--- {p.name} ---\n{p.tail(30)}" for p in processes)
    manifest = inbound_truck(site=site_code, dock=DOCK, pallets=10, seed=9)
    with httpx.Client(base_url=api_url, timeout=15) as client:
        seed_truck(client, manifest)
        report = DockWorker(dock, label_timeout_s=60).receive(manifest)
        assert report.put_away == 10, logs

        def stock() -> dict[str, tuple[str, str]]:
            rows = client.get("/stock", params={"site": site_code}).json()
            return {r["sscc"]: (r["location"], r["quantity"]) for r in rows}

        expected = {p.sscc: p.location for p in report.pallets}
        assert wait_until(
            lambda: {s: loc for s, (loc, _) in stock().items()} == expected, timeout_s=30
        ), logs
        for pallet in manifest.pallets:
            assert Decimal(stock()[pallet.sscc][1]) == pallet.count
        events = client.get("/events", params={"site": site_code}).json()
        last_seq = client.get(f"/sites/{site_code}").json()["last_seq"]
    assert sorted(e["seq"] for e in events) == list(range(1, last_seq + 1))
