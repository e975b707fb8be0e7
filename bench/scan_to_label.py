"""Scan-to-label latency at the dock, through the whole embedded stack.

A simulated worker scans a pallet and puts it on the scale; the scale settles after a fixed
time. The label cannot print before the weight is stable, so the baseline measured in the
same run is that settle time, and the figure is the overhead on top of it: weight read,
outbox, broker, central's transaction, command back, ESC/POS job, printer status checks.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from central.settings import CentralSettings
from firmware_sim.scenario import DockWorker, SimulatedDock, inbound_truck
from wms.central_runner import CentralServer
from wms.demo import EdgeThread, edge_config_for
from wms.embedded_broker import EmbeddedBroker, free_port
from wms.seed import Layout, seed_site, seed_truck, wait_dock_online

SITE = "LAT"
DOCK = "dock-1"
SETTLE_S = 0.5


@dataclass(frozen=True)
class LatencyFigures:
    """Scan-to-label figures over one truck."""

    pallets: int
    settle_s: float
    median_s: float
    p95_s: float
    median_overhead_s: float
    ratio_to_settle: float


def run(pallets: int = 30) -> LatencyFigures:
    """Receive a truck in-process and time each pallet from scan to its bin label."""
    with TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        workdir = Path(tmp)
        port = free_port()
        central = CentralServer(
            CentralSettings(
                database_url=f"sqlite:///{workdir / 'central.db'}",
                mqtt_url=broker.url,
                api_port=port,
            )
        )
        central.start()
        try:
            manifest = inbound_truck(site=SITE, dock=DOCK, pallets=pallets, seed=5)
            with httpx.Client(base_url=central.url, timeout=30) as client:
                seed_site(client, site=SITE, docks=[DOCK], layout=Layout())
                seed_truck(client, manifest)
            with SimulatedDock(out_dir=workdir / "labels", render_png=False) as sim:
                edge = EdgeThread(
                    edge_config_for(
                        site=SITE,
                        dock=DOCK,
                        broker_url=broker.url,
                        data_dir=workdir / "edge",
                        sim=sim,
                    )
                )
                edge.start()
                try:
                    with httpx.Client(base_url=central.url, timeout=30) as client:
                        wait_dock_online(client, site=SITE, dock=DOCK)
                    report = DockWorker(sim, settle_after_s=SETTLE_S).receive(manifest)
                finally:
                    edge.stop()
        finally:
            central.stop()
    latencies = sorted(
        p.label_seen_at[-1] - p.scanned_at for p in report.pallets if p.label_seen_at
    )
    median = statistics.median(latencies)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    return LatencyFigures(
        pallets=len(latencies),
        settle_s=SETTLE_S,
        median_s=round(median, 3),
        p95_s=round(p95, 3),
        median_overhead_s=round(median - SETTLE_S, 3),
        ratio_to_settle=round(median / SETTLE_S, 2),
    )


def main(results_dir: Path) -> LatencyFigures:
    """Run and write results/scan_to_label.json."""
    figures = run()
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "scan_to_label.json").write_text(json.dumps(asdict(figures), indent=2))
    return figures
