"""The `wms` commands a newcomer runs, as processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import WMS
from wms.embedded_broker import free_port

pytestmark = pytest.mark.slow


def test_demo_receives_a_truck_and_shows_where_the_labels_are(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MQTT_URL"}
    done = subprocess.run(
        [
            WMS,
            "demo",
            "--pallets",
            "4",
            "--no-serve",
            "--port",
            str(free_port()),
            "--workdir",
            str(tmp_path / "demo"),
            "--speedup",
            "3000",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4/4 pallets put away" in done.stdout
    # The outbound truck: planned, loaded by the printed sheet after one wrong-order alarm,
    # dispatched into the books.
    assert "WRONG ORDER" in done.stdout
    assert "shipment dispatched" in done.stdout
    assert "Stock in transit" in done.stdout
    assert (tmp_path / "demo" / "outbound-floor.svg").read_text().startswith("<")
    labels = sorted((tmp_path / "demo" / "labels").glob("job-*.png"))
    assert len(labels) >= 4
    assert "PUT AWAY TO" in (tmp_path / "demo" / "labels" / "job-0001.txt").read_text()
    # The delivery day: every route's sheet came out of the dispatch dock's printer with the
    # driver QR code, the vehicles drove, deliveries were posted, and the late one was seen
    # coming before it arrived.
    sheets = [
        job
        for job in sorted((tmp_path / "demo" / "labels").glob("job-*.txt"))
        if job.read_text().lstrip().startswith("ROUTE")
    ]
    routes = int(done.stdout.split(" routes, cost")[0].rsplit(", ", 1)[1])
    assert len(sheets) == routes >= 2
    assert all("ETA" in job.read_text() for job in sheets)
    assert "/driver/routes/" in done.stdout and "token=" in done.stdout
    assert "route_predicted_late (open)" in done.stdout
    assert "route_late (open)" in done.stdout
    assert "route_delivery_failed" in done.stdout
    assert "Cost of goods sold" in done.stdout


def test_sim_dock_prints_the_device_urls_for_the_edge_config(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [WMS, "sim", "dock", "--out-dir", str(tmp_path / "labels")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()
    devices = dict(line.split(": ", 1) for line in lines)
    assert set(devices) == {"scanner", "scale", "printer"}
    assert devices["scanner"].startswith("/dev/pts/")
    assert devices["scale"].endswith("(mt-sics)")


def test_edge_refuses_a_config_it_cannot_use_and_says_why(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("site: wh 1\nbroker: {url: 'http://x'}\ndocks: []\n")
    done = subprocess.run(
        [WMS, "edge", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "site" in (done.stdout + done.stderr)
