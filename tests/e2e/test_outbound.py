"""Outbound at the dock, end to end: central and the edge as processes, the dock's scanner,
scale, printer, door contact and presence sensor simulated. A truck is received, its pallets
are planned onto an outbound trailer, the plan goes to the dock, the worker loads (once out of
order), the door closes and the shipment is dispatched into the books."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from firmware_sim.dock_sensors import SimDockSensors
from firmware_sim.scenario import DockWorker, SimulatedDock, TruckManifest
from tests.e2e.conftest import DOCK, Stack
from tests.support.processes import (
    ManagedProcess,
    central_process,
    edge_process,
    wait_healthy,
    wait_until,
)
from wms.demo import edge_config_for
from wms.embedded_broker import free_port
from wms.mqtt_admin import clear_retained, clear_session
from wms.seed import Layout, seed_site, wait_dock_online

pytestmark = pytest.mark.slow


@dataclass
class Outbound:
    """The running stack and the dock's sensors."""

    stack: Stack
    sensors: SimDockSensors


def _start(*, site: str, database_url: str, mqtt_url: str, tmp: Path) -> Iterator[Outbound]:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    central_id = f"central-{site}"
    door_topic = f"zigbee2mqtt/{site.lower()}-dock1-door"
    presence_topic = f"sensors/{site.lower()}-dock1-distance"
    central = central_process(
        database_url=database_url,
        mqtt_url=mqtt_url,
        port=port,
        log=tmp / "central.log",
        client_id=central_id,
    )
    central.start()
    dock = SimulatedDock(out_dir=tmp / "labels", seed=3)
    sensors: SimDockSensors | None = None
    edge: ManagedProcess | None = None
    try:
        wait_healthy(api, central)
        with httpx.Client(base_url=api, timeout=15) as client:
            seed_site(client, site=site, docks=[DOCK], layout=Layout())
        sensors = SimDockSensors(mqtt_url, door_topic=door_topic, presence_topic=presence_topic)
        sensors.close_door()
        sensors.vehicle_leaves()
        config = edge_config_for(
            site=site, dock=DOCK, broker_url=mqtt_url, data_dir=tmp / "edge", sim=dock
        ).model_dump(mode="json")
        config["docks"][0]["sensors"] = [
            {"kind": "zigbee2mqtt_contact", "topic": door_topic, "role": "door"},
            {
                "kind": "presence",
                "topic": presence_topic,
                "field": "distance",
                "present_below_m": "2.0",
                "role": "vehicle",
            },
        ]
        config_path = tmp / "edge.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        edge = edge_process(config=config_path, log=tmp / "edge.log")
        edge.start()
        with httpx.Client(base_url=api, timeout=15) as client:
            wait_dock_online(client, site=site, dock=DOCK, timeout_s=60)
        yield Outbound(Stack(site, api, mqtt_url, central, edge, dock, tmp), sensors)
    finally:
        if edge is not None:
            edge.stop()
        central.stop()
        if sensors is not None:
            sensors.close()
        dock.close()
        clear_session(mqtt_url, central_id)
        clear_session(mqtt_url, f"edge-{site}")
        for topic in (f"wms/{site}/status", door_topic, presence_topic):
            clear_retained(mqtt_url, topic)


@pytest.fixture(params=["mosquitto+postgres", "amqtt+sqlite"])
def outbound(request: pytest.FixtureRequest, tmp_path: Path, site_code: str) -> Iterator[Outbound]:
    broker, db = request.param.split("+")
    mqtt_url = request.getfixturevalue(
        "mosquitto_url" if broker == "mosquitto" else "embedded_broker_url"
    )
    database_url = request.getfixturevalue(f"{db}_url")
    yield from _start(site=site_code, database_url=database_url, mqtt_url=mqtt_url, tmp=tmp_path)


def test_a_load_is_planned_loaded_in_order_at_the_dock_and_dispatched(outbound: Outbound) -> None:
    stack, sensors = outbound.stack, outbound.sensors
    manifest = stack.truck(6, seed=11)
    report = DockWorker(stack.dock, label_timeout_s=30).receive(manifest)
    assert report.put_away == 6, stack.logs()
    in_bins = {p.sscc: p.location for p in report.pallets}
    assert wait_until(
        lambda: {s: loc for s, (loc, _) in stack.stock_by_sscc().items()} == in_bins,
        timeout_s=30,
    ), stack.logs()

    client = stack.client()
    with client:
        # The outbound trailer docks and the door opens.
        sensors.vehicle_arrives()
        sensors.open_door()
        assert wait_until(
            lambda: _dock(client, stack.site)["phase"] == "door_open", timeout_s=30
        ), f"{_dock(client, stack.site)}\n{stack.logs()}"

        pallets = [p.sscc for p in manifest.pallets]
        created = client.post(
            "/loads",
            json={
                "site": stack.site,
                "reference": "OUT-1",
                "dock": DOCK,
                "trailer": "semi_trailer_33_eur",
                "pallets": [
                    {"sscc": sscc, "stop_index": 1 if n < 3 else 2}
                    for n, sscc in enumerate(pallets)
                ],
                "time_limit_s": 5,
            },
        )
        assert created.status_code == 201, created.text
        load = created.json()
        assert load["plan"]["loadable"], load["plan"]
        order = sorted(load["plan"]["placements"], key=lambda p: p["sequence"])
        assert client.post(f"/loads/{load['id']}/send").status_code == 202
        # The edge prints the loading sheet and confirms the command.
        assert wait_until(lambda: _load_command_done(client, stack.site), timeout_s=60), (
            stack.logs()
        )

        # The worker takes the last pallet of the plan first: the dock stops it.
        last = order[-1]
        assert last["row"] != order[0]["row"]
        stack.dock.scanner.scan(_label(manifest, last["sscc"]))
        assert wait_until(lambda: _alerts(client, stack.site, "loading_alarm"), timeout_s=30), (
            stack.logs()
        )
        [alarm] = _alerts(client, stack.site, "loading_alarm")
        assert last["sscc"] in alarm["message"] and "wrong order" in alarm["message"]

        # Then loads them all in plan order.
        for placement in order:
            stack.dock.scanner.scan(_label(manifest, placement["sscc"]))
        assert wait_until(
            lambda: (
                {p["status"] for p in client.get(f"/loads/{load['id']}").json()["pallets"]}
                == {"loaded"}
            ),
            timeout_s=30,
        ), stack.logs()
        board = _dock(client, stack.site)
        assert (board["shipment"], board["pallets_loaded"]) == ("OUT-1", 6)

        sensors.close_door()
        assert wait_until(
            lambda: client.get(f"/loads/{load['id']}").json()["status"] == "dispatched",
            timeout_s=30,
        ), stack.logs()
        stock = stack.stock_by_sscc()
        assert not set(pallets) & set(stock), stock
        journal = client.get("/journal", params={"site": stack.site}).json()
        issues = [e for e in journal if e["movement_type"] == "delivery_dispatch"]
        assert len(issues) == 6, journal
        assert client.get("/dead-letters", params={"site": stack.site}).json() == []
        assert len(_alerts(client, stack.site, "loading_alarm")) == 1


def _label(manifest: TruckManifest, sscc: str) -> str:
    return next(p.label for p in manifest.pallets if p.sscc == sscc)


def _dock(client: httpx.Client, site: str) -> dict[str, object]:
    board: list[dict[str, object]] = client.get("/docks", params={"site": site}).json()
    return next(d for d in board if d["dock"] == DOCK)


def _alerts(client: httpx.Client, site: str, kind: str) -> list[dict[str, str]]:
    alerts: list[dict[str, str]] = client.get("/alerts", params={"site": site, "kind": kind}).json()
    return alerts


def _load_command_done(client: httpx.Client, site: str) -> bool:
    commands = client.get("/commands", params={"site": site}).json()
    return any(c["type"] == "load.plan" and c["done_at"] and c["ok"] for c in commands)
