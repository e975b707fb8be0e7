"""`wms demo`: a simulated warehouse day on the embedded default, in one process.

Composition root for the demo: embedded broker (unless MQTT_URL is set), central (API +
ingest on SQLite), a simulated dock on pty pairs, an edge agent, master data loaded through
the API, a slotting plan computed through the API (putaway follows it), a dock worker
receiving an inbound truck, then the delivery day (`wms.demo_routes`): routes planned, the
fullest route's truck loaded and dispatched, every route sheet printed at the dock, and the
vehicles driven with one of them late.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from central.settings import CentralSettings
from edge_agent.agent import run_edge
from edge_agent.config import EdgeConfig
from firmware_sim.dock_sensors import SimDockSensors
from firmware_sim.scenario import (
    DockWorker,
    LoadingReport,
    LoadingWorker,
    ReceivingReport,
    SimulatedDock,
    TruckManifest,
    inbound_truck,
)
from wms.central_runner import CentralServer
from wms.demo_routes import (
    DeliveryResult,
    drive_day,
    outbound_route,
    pallets_by_order,
    plan_day,
    print_other_sheets,
    route_alerts,
    seed_day,
    wait_for_positions,
    wait_for_sheets,
)
from wms.embedded_broker import EmbeddedBroker
from wms.seed import Layout, plan_slotting, seed_site, seed_truck, wait_dock_online

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    """What `wms demo` runs."""

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    site: str = "WH1"
    dock: str = "dock-1"
    pallets: int = 40
    seed: int = 1
    mqtt_url: str | None = None
    serve: bool = True
    outbound_pallets: int = 12
    delivery_orders: int = 20
    """Orders of the delivery day (0: no delivery day; the outbound truck needs one)."""
    delivery_speedup: float = 600.0
    """How much faster than real time the vehicles drive the day (600: 10 h in 1 min)."""


@dataclass(frozen=True)
class OutboundResult:
    """The outbound truck: its plan, what the dock saw, and the shipment's end state."""

    reference: str
    load_id: int
    placements: list[dict[str, Any]]
    solver_status: str
    axle_loads: list[dict[str, str]]
    loading: LoadingReport
    status: str
    floor_svg: Path


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the closing summary."""

    manifest: TruckManifest
    report: ReceivingReport
    labels_dir: Path
    edge_config: Path
    api_url: str
    stock_rows: int
    trial_balance: list[dict[str, str]]
    planned_bins: dict[str, str]
    """GTIN -> bin of the slotting plan computed before the truck arrived."""
    outbound: OutboundResult | None
    """The outbound truck loaded after the receipts (None when the demo ships nothing)."""
    deliveries: DeliveryResult | None
    """The day's routes as planned, printed and driven (None without a delivery day)."""


@dataclass(frozen=True)
class SensorTopics:
    """Where a simulated dock's door contact and presence sensor publish."""

    door: str
    presence: str

    @classmethod
    def for_dock(cls, site: str, dock: str) -> SensorTopics:
        """Topics unique to the site and dock (Zigbee2MQTT-style friendly names)."""
        name = f"{site.lower()}-{dock}"
        return cls(door=f"zigbee2mqtt/{name}-door", presence=f"sensors/{name}-distance")


def edge_config_for(
    *,
    site: str,
    dock: str,
    broker_url: str,
    data_dir: Path,
    sim: SimulatedDock,
    sensors: SensorTopics | None = None,
) -> EdgeConfig:
    """The edge agent's config for a simulated dock (what `wms sim dock` prints)."""
    urls = sim.urls
    sensor_profiles = (
        []
        if sensors is None
        else [
            {"kind": "zigbee2mqtt_contact", "topic": sensors.door, "role": "door"},
            {
                "kind": "presence",
                "topic": sensors.presence,
                "field": "distance",
                "present_below_m": "2.0",
                "role": "vehicle",
            },
        ]
    )
    return EdgeConfig.model_validate(
        {
            "site": site,
            "broker": {"url": broker_url},
            "data_dir": str(data_dir),
            "docks": [
                {
                    "id": dock,
                    "scanner": {"url": urls.scanner},
                    "scale": {"url": urls.scale, "protocol": sim.scale_protocol},
                    "printer": {"url": urls.printer},
                    "sensors": sensor_profiles,
                }
            ],
        }
    )


class EdgeThread:
    """Runs an edge agent on its own event loop in a thread, until stopped."""

    def __init__(self, config: EdgeConfig) -> None:
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-agent", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._ready.set()
            await run_edge(self._config, stop=self._stop)

        try:
            self._loop.run_until_complete(main())
        except BaseException as err:  # surfaced to the demo's main thread
            self.error = err
            logger.exception("edge agent stopped with an error")
        finally:
            self._ready.set()
            self._loop.close()

    def start(self) -> None:
        """Start the agent."""
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        """Ask the agent to stop and wait for it."""
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)


@contextmanager
def _broker(mqtt_url: str | None) -> Iterator[str]:
    if mqtt_url:
        yield mqtt_url
        return
    with EmbeddedBroker() as broker:
        yield broker.url


def run_demo(
    options: DemoOptions, *, on_done: Callable[[DemoResult], None] | None = None
) -> DemoResult:
    """Run the simulated day; `on_done` sees the result while everything still runs.

    With `options.serve`, central, the edge and the simulated dock keep running until Ctrl-C.
    """
    workdir = options.workdir
    if workdir.exists():
        shutil.rmtree(workdir)  # every demo starts from an empty warehouse
    workdir.mkdir(parents=True)
    labels_dir = workdir / "labels"
    api_url = f"http://{options.host}:{options.port}"
    manifest = inbound_truck(
        site=options.site, dock=options.dock, pallets=options.pallets, seed=options.seed
    )
    with ExitStack() as stack:
        broker_url = stack.enter_context(_broker(options.mqtt_url))
        central = CentralServer(
            CentralSettings(
                database_url=f"sqlite:///{workdir / 'central.db'}",
                mqtt_url=broker_url,
                api_host=options.host,
                api_port=options.port,
                public_url=api_url,
            )
        )
        central.start()
        stack.callback(central.stop)
        with httpx.Client(base_url=api_url, timeout=30) as client:
            seed_site(client, site=options.site, docks=[options.dock], layout=Layout())
            seed_truck(client, manifest)
            planned_bins = plan_slotting(client, site=options.site)
        sim = stack.enter_context(SimulatedDock(out_dir=labels_dir, seed=options.seed))
        topics = SensorTopics.for_dock(options.site, options.dock)
        sensors = SimDockSensors(broker_url, door_topic=topics.door, presence_topic=topics.presence)
        stack.callback(sensors.close)
        sensors.close_door()
        sensors.vehicle_leaves()
        config = edge_config_for(
            site=options.site,
            dock=options.dock,
            broker_url=broker_url,
            data_dir=workdir / "edge",
            sim=sim,
            sensors=topics,
        )
        config_path = workdir / "edge.yaml"
        config_path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        edge = EdgeThread(config)
        edge.start()
        stack.callback(edge.stop)
        with httpx.Client(base_url=api_url, timeout=30) as client:
            wait_dock_online(client, site=options.site, dock=options.dock)
        report = DockWorker(sim).receive(manifest)
        stock_rows = _wait_for_putaways(api_url, options.site, report)
        outbound = deliveries = None
        if options.outbound_pallets and options.delivery_orders:
            outbound, deliveries = _delivery_day(
                options,
                api_url=api_url,
                broker_url=broker_url,
                sim=sim,
                worker=LoadingWorker(sim, sensors),
                pallets=[p.sscc for p in report.pallets if p.location][: options.outbound_pallets],
            )
        with httpx.Client(base_url=api_url, timeout=30) as client:
            balance = client.get("/trial-balance", params={"site": options.site}).json()
        result = DemoResult(
            manifest,
            report,
            labels_dir,
            config_path,
            api_url,
            stock_rows,
            balance["rows"],
            planned_bins,
            outbound,
            deliveries,
        )
        if on_done is not None:
            on_done(result)
        if options.serve:
            _serve_forever(result)
        return result


def _delivery_day(
    options: DemoOptions,
    *,
    api_url: str,
    broker_url: str,
    sim: SimulatedDock,
    worker: LoadingWorker,
    pallets: list[str],
) -> tuple[OutboundResult, DeliveryResult]:
    """Plan the day's routes, load the fullest route's truck at the dock (its sheet prints
    as it leaves), print the other sheets there, and drive every route."""
    day = datetime.now(UTC).date()
    with httpx.Client(base_url=api_url, timeout=60) as client:
        seed_day(
            client, site=options.site, day=day, seed=options.seed, orders=options.delivery_orders
        )
        plan = plan_day(client, site=options.site, day=day, time_limit_s=5)
        route = outbound_route(plan)
        outbound = ship_truck(
            client,
            site=options.site,
            dock=options.dock,
            worker=worker,
            pallets=pallets_by_order(route, pallets),
            route_id=int(route["id"]),
            svg_path=options.workdir / "outbound-floor.svg",
        )
        print_other_sheets(client, plan=plan, dock=options.dock, shipped_route=int(route["id"]))
        sheets = wait_for_sheets(sim.printer, {int(r["id"]) for r in plan["routes"]})
        drive = drive_day(sheets=sheets, broker_url=broker_url, speedup=options.delivery_speedup)
        routes = wait_for_positions(
            client, plan_id=int(plan["id"]), sent_last=drive.last_position_at
        )
        alerts = route_alerts(client, site=options.site)
    return outbound, DeliveryResult(
        plan=plan,
        shipped_route=int(route["id"]),
        sheets=sheets,
        drive=drive,
        routes=routes,
        alerts=alerts,
    )


def ship_truck(
    client: httpx.Client,
    *,
    site: str,
    dock: str,
    worker: LoadingWorker,
    pallets: list[dict[str, Any]],
    route_id: int,
    svg_path: Path,
    reference: str = "OUT-0001",
) -> OutboundResult:
    """Plan the load of a route's truck (each pallet for its order's stop), send it to the
    dock, load it, dispatch it."""
    worker.dock_truck()
    created = client.post(
        "/loads",
        json={
            "site": site,
            "reference": reference,
            "dock": dock,
            "trailer": "semi_trailer_33_eur",
            "route_id": route_id,
            "pallets": pallets,
            "time_limit_s": 10,
        },
    )
    if created.status_code != 201:
        raise RuntimeError(f"central refused the load plan: {created.text}")
    load = created.json()
    svg_path.write_text(client.get(f"/loads/{load['id']}/floor.svg").text)
    sent = client.post(f"/loads/{load['id']}/send")
    if sent.status_code != 202:
        raise RuntimeError(f"central could not send the load plan: {sent.text}")
    loading = worker.load(reference, one_out_of_order=True)
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline:
        status = str(client.get(f"/loads/{load['id']}").json()["status"])
        if status == "dispatched":
            break
        time.sleep(0.2)
    worker.truck_leaves()
    plan: dict[str, Any] = load["plan"] or {}
    return OutboundResult(
        reference=reference,
        load_id=int(load["id"]),
        placements=sorted(plan.get("placements", []), key=lambda p: int(p["sequence"])),
        solver_status=str(plan.get("solver_status")),
        axle_loads=list(plan.get("axle_loads", [])),
        loading=loading,
        status=status,
        floor_svg=svg_path,
    )


def _wait_for_putaways(api_url: str, site: str, report: ReceivingReport) -> int:
    """Wait until central has booked every putaway the worker scanned; return stock rows."""
    expected = {p.sscc: p.location for p in report.pallets if p.location}
    deadline = time.monotonic() + 30
    rows: list[dict[str, object]] = []
    with httpx.Client(base_url=api_url, timeout=10) as client:
        while time.monotonic() < deadline:
            rows = client.get("/stock", params={"site": site}).json()
            placed = {str(r["sscc"]): r["location"] for r in rows}
            if all(placed.get(sscc) == loc for sscc, loc in expected.items()):
                break
            time.sleep(0.2)
    return len(rows)


def _serve_forever(result: DemoResult) -> None:
    logger.warning("serving %s/docs until Ctrl-C", result.api_url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return
