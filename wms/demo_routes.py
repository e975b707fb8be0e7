"""The demo's delivery day: plan the routes, load one truck by its route, print every route
sheet at the dispatch dock, and drive the vehicles (telematics over MQTT, drivers on their
route pages) with one vehicle stuck in traffic long enough to be late.

Everything goes through the same doors a real site uses: central's API for master data,
plans and sheets; the edge and its printer for the sheets; the QR code read off each printed
sheet for the driver's link; MQTT for positions.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

import httpx

from firmware_sim.deliveries import DeliveryDay, delivery_day
from firmware_sim.driver import DriverClient
from firmware_sim.printer import SimEscPosPrinter
from firmware_sim.telematics import (
    Delay,
    DriveInput,
    FailDelivery,
    MqttPositionPublisher,
    Point,
    Timeline,
    plan_drive,
    play,
)

logger = logging.getLogger(__name__)

DEPOT = Point(51.9225, 4.47917)  # the demo site, in Rotterdam
_DRIVER_PATH = "/driver/routes/"


class DeliveryDemoError(RuntimeError):
    """Central refused a step of the delivery day; the message carries its answer."""


@dataclass(frozen=True)
class RouteSheetPrinted:
    """A route sheet as it came out of the dispatch dock's printer."""

    route_id: int
    job: int
    qr: str


@dataclass(frozen=True)
class DeliveryResult:
    """What the delivery day did, for the closing summary."""

    plan: dict[str, Any]
    shipped_route: int
    sheets: list[RouteSheetPrinted]
    drive: DriveOutcome
    routes: list[dict[str, Any]]
    """RouteStatusPublic of every route at the end of the day."""
    alerts: list[dict[str, Any]]
    """Route alerts raised during the day (open or cleared)."""


def seed_day(client: httpx.Client, *, site: str, day: date, seed: int, orders: int) -> DeliveryDay:
    """Load the site's fleet and the day's orders through the API."""
    plan = delivery_day(depot=DEPOT, orders=orders, seed=seed)
    for vehicle in plan.vehicles:
        _expect(client.post("/vehicles", json=vehicle.body(site)), 201, "vehicle")
    for order in plan.orders:
        _expect(client.post("/orders", json=order.body(site, day)), 201, "order")
    return plan


def plan_day(client: httpx.Client, *, site: str, day: date, time_limit_s: float) -> dict[str, Any]:
    """Plan the day's deliveries (POST /routes/plan)."""
    body = {
        "site": site,
        "date": day.isoformat(),
        "depot_lat": str(DEPOT.lat),
        "depot_lon": str(DEPOT.lon),
        "time_limit_s": time_limit_s,
    }
    plan: dict[str, Any] = _expect(client.post("/routes/plan", json=body), 201, "route plan")
    return plan


def outbound_route(plan: dict[str, Any]) -> dict[str, Any]:
    """The route the outbound truck at the dock drives: the one with the most pallets."""
    routes: list[dict[str, Any]] = plan["routes"]
    if not routes:
        raise DeliveryDemoError(f"the route plan has no routes: {plan['notes']}")
    return max(routes, key=lambda r: (int(r["load_pallets"]), -int(r["id"])))


def pallets_by_order(route: dict[str, Any], ssccs: list[str]) -> list[dict[str, Any]]:
    """The truck's pallets, each for a stop of the route in delivery order (as many as the
    stop's order asks for, while pallets last)."""
    pallets: list[dict[str, Any]] = []
    left = list(ssccs)
    for stop in route["stops"]:
        for _ in range(int(stop["demand_pallets"])):
            if not left:
                return pallets
            pallets.append({"sscc": left.pop(0), "order": stop["reference"]})
    return pallets


def print_other_sheets(
    client: httpx.Client, *, plan: dict[str, Any], dock: str, shipped_route: int
) -> None:
    """Print the sheets of the routes the dock did not load (the shipped route's sheet came
    out when its truck left)."""
    for route in plan["routes"]:
        if int(route["id"]) == shipped_route:
            continue
        _expect(
            client.post(
                f"/routes/plans/{plan['id']}/routes/{route['id']}/print", json={"dock": dock}
            ),
            202,
            "route sheet",
        )


def wait_for_sheets(
    printer: SimEscPosPrinter, route_ids: set[int], *, timeout_s: float = 60
) -> list[RouteSheetPrinted]:
    """The printed route sheets, read off the printer: each one's QR code (driver link)."""
    deadline = time.monotonic() + timeout_s
    found: dict[int, RouteSheetPrinted] = {}
    while time.monotonic() < deadline:
        for job in printer.jobs:
            for qr in job.qr_payloads:
                if _DRIVER_PATH in qr:
                    route_id = int(qr.split(_DRIVER_PATH)[1].split("?")[0])
                    found.setdefault(route_id, RouteSheetPrinted(route_id, job.number, qr))
        if route_ids <= found.keys():
            return sorted(found.values(), key=lambda s: s.route_id)
        time.sleep(0.2)
    missing = sorted(route_ids - found.keys())
    raise DeliveryDemoError(f"route sheets of routes {missing} were not printed in {timeout_s} s")


@dataclass(frozen=True)
class DriveOutcome:
    """What the simulated vehicles and drivers did."""

    late_vehicle: str
    delay_min: int
    failed: str | None
    """`vehicle stop N`: the delivery the driver could not make, if any."""
    positions: int
    reports: int
    last_position_at: datetime


def drive_day(
    *,
    sheets: list[RouteSheetPrinted],
    broker_url: str,
    speedup: float,
    sample_every_s: float = 120,
) -> DriveOutcome:
    """Drive every route from its sheet's QR code; one vehicle is held up in traffic long
    enough to miss a window, and on another route the last customer is closed."""
    with ExitStack() as stack:
        drivers = {s.route_id: stack.enter_context(DriverClient.from_qr(s.qr)) for s in sheets}
        statuses = {route_id: client.status() for route_id, client in drivers.items()}
        late_id, delay_min = _late_route(statuses)
        failing = next((r for r in sorted(statuses) if r != late_id and statuses[r]["stops"]), None)
        failed: str | None = None
        timelines: list[Timeline] = []
        for route_id, status in statuses.items():
            drive = DriveInput.from_status(status)
            disturbances: list[Delay | FailDelivery] = []
            if route_id == late_id:
                disturbances.append(Delay(leg=0, minutes=delay_min))
            if route_id == failing:
                last = drive.stops[-1].sequence
                disturbances.append(FailDelivery(last, reason="customer closed"))
                failed = f"{status['vehicle_ref']} stop {last}"
            timelines.append(
                plan_drive(drive, sample_every_s=sample_every_s, disturbances=disturbances)
            )
        publisher = stack.enter_context(MqttPositionPublisher(broker_url))
        stats = play(timelines, publisher=publisher, drivers=drivers, speedup=speedup)
    return DriveOutcome(
        late_vehicle=str(statuses[late_id]["vehicle_ref"]),
        delay_min=delay_min,
        failed=failed,
        positions=stats.positions,
        reports=stats.reports,
        last_position_at=max(p.at for t in timelines for p in t.positions),
    )


def _late_route(statuses: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """The route to hold up, and by how long: 90 minutes more than the slack of its tightest
    stop, so that stop cannot be reached in its window even though the simulated driver skips
    the planned breaks (up to 45 minutes he could make up)."""
    best: tuple[int, int] | None = None
    for route_id, status in statuses.items():
        day = date.fromisoformat(status["date"])
        slacks = []
        for stop in status["stops"]:
            if stop["window_latest"] is None:
                continue
            latest = datetime.combine(
                day, clock_time.fromisoformat(stop["window_latest"]), tzinfo=UTC
            )
            slacks.append((latest - datetime.fromisoformat(stop["eta"])).total_seconds())
        if slacks and (best is None or min(slacks) < best[1]):
            best = (route_id, int(min(slacks)))
    if best is None:
        raise DeliveryDemoError("no route has a stop with a closing window to be late for")
    return best[0], best[1] // 60 + 90


def wait_for_positions(
    client: httpx.Client, *, plan_id: int, sent_last: datetime, timeout_s: float = 120
) -> list[dict[str, Any]]:
    """Wait until central has applied the vehicles' positions up to the last one sent."""
    deadline = time.monotonic() + timeout_s
    routes: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        routes = _expect(client.get(f"/routes/plans/{plan_id}/status"), 200, "route status")
        newest = [r["position"]["at"] for r in routes if r["position"] is not None]
        if newest and max(datetime.fromisoformat(a) for a in newest) >= sent_last:
            return routes
        time.sleep(0.5)
    return routes


def route_alerts(client: httpx.Client, *, site: str) -> list[dict[str, Any]]:
    """Every route alert of the site (open or cleared), oldest first."""
    alerts: list[dict[str, Any]] = _expect(
        client.get("/alerts", params={"site": site, "limit": 1000}), 200, "alerts"
    )
    ours = [a for a in alerts if str(a["kind"]).startswith("route_")]
    return sorted(ours, key=lambda a: int(a["id"]))


def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise DeliveryDemoError(f"central refused the {what}: {response.text}")
    return response.json()
