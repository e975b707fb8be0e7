"""A route driven against central as processes: `wms sim drive` reads the driver link, sends the
vehicle's positions over MQTT and the driver's reports through the route page."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import WMS, ManagedProcess, central_process, wait_healthy, wait_until
from wms.embedded_broker import free_port
from wms.mqtt_admin import clear_session

pytestmark = pytest.mark.slow

DAY = "2031-05-06"
# Three customers 3-8 km east of the depot (Rotterdam), in a line.
CUSTOMERS = [("SO-1", "51.9225", "4.52"), ("SO-2", "51.9225", "4.56"), ("SO-3", "51.93", "4.60")]


@pytest.fixture(params=["mosquitto+postgres", "amqtt+sqlite"])
def central(
    request: pytest.FixtureRequest, tmp_path: Path, site_code: str
) -> Iterator[tuple[str, str, ManagedProcess]]:
    broker, db = request.param.split("+")
    mqtt_url = request.getfixturevalue(
        "mosquitto_url" if broker == "mosquitto" else "embedded_broker_url"
    )
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    client_id = f"central-{site_code}"
    process = central_process(
        database_url=request.getfixturevalue(f"{db}_url"),
        mqtt_url=mqtt_url,
        port=port,
        log=tmp_path / "central.log",
        client_id=client_id,
    )
    process.start()
    try:
        wait_healthy(api, process)
        yield api, mqtt_url, process
    finally:
        process.stop()
        clear_session(mqtt_url, client_id)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_route_driven_by_the_simulator_is_tracked_to_the_end(
    central: tuple[str, str, ManagedProcess], site_code: str
) -> None:
    api, mqtt_url, process = central
    with httpx.Client(base_url=api, timeout=30) as client:
        _post(client, "/sites", {"code": site_code, "name": "Drive", "docks": []})
        _post(
            client,
            "/vehicles",
            {"site": site_code, "ref": "VAN-1", "capacity_kg": "2000", "cost_per_hour": "30"},
        )
        for ref, lat, lon in CUSTOMERS:
            _post(
                client,
                "/orders",
                {
                    "site": site_code,
                    "reference": ref,
                    "customer": f"Customer {ref}",
                    "lat": lat,
                    "lon": lon,
                    "demand_kg": "300",
                    "demand_pallets": 1,
                    "window_earliest": "08:00",
                    "window_latest": "17:00",
                    "service_s": 600,
                    "delivery_date": DAY,
                },
            )
        plan = _post(
            client,
            "/routes/plan",
            {
                "site": site_code,
                "date": DAY,
                "depot_lat": "51.9225",
                "depot_lon": "4.47917",
                "time_limit_s": 1,
            },
        )
        (route,) = plan["routes"]
        link = client.get(f"/routes/{route['id']}/driver-link").json()["url"]
    assert link.startswith(f"{api}/driver/routes/{route['id']}?token=")

    # Stuck 40 minutes in traffic on the way to the first customer.
    drove = subprocess.run(
        [WMS, "sim", "drive", link, "--broker", mqtt_url, "--speedup", "3000",
         "--delay", f"{route['id']}:0:40", "--sample-every", "120"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert drove.returncode == 0, drove.stdout + drove.stderr
    assert "drove 1 routes" in drove.stdout

    def status() -> dict[str, Any]:
        with httpx.Client(base_url=api, timeout=30) as client:
            answer: dict[str, Any] = client.get(f"/routes/{route['id']}").json()
        return answer

    # The reports went through the API synchronously; the positions come through the broker.
    done = status()
    assert done["state"] == "completed"
    assert [s["state"] for s in done["stops"]] == ["delivered"] * 3
    assert all(s["received_by"] for s in done["stops"])
    assert wait_until(
        lambda: (
            status()["position"] is not None and status()["position"]["at"] >= done["completed_at"]
        ),
        timeout_s=60,
    ), process.tail()
    with httpx.Client(base_url=api, timeout=30) as client:
        alerts = client.get("/alerts", params={"site": site_code}).json()
    kinds = {a["kind"] for a in alerts}
    assert "route_vehicle_idle" in kinds, alerts
