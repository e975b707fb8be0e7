"""A small delivery day for route control tests: one site, vans, three customers north of the
depot with windows that force the order A → B → C, and helpers to drive it through the API."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

from central.domain.route_tracking import GeoPoint, TrackingRules, travel_s
from central.ingest import IngestService
from contracts.telematics import VehiclePosition
from tests.integration.central.scenario import EdgeStream, sscc

if TYPE_CHECKING:  # importing the test client warns (starlette); the tests import it guarded
    from fastapi.testclient import TestClient
    from httpx import Response

# Far enough ahead that "now" (reports without a time, a re-plan with no facts) is before it.
DAY = date(2031, 3, 4)
DEPOT = GeoPoint(52.52, 13.405)
RULES = TrackingRules()  # what the app's route control runs with
_M_PER_DEG_LAT = 111_195.0


@dataclass(frozen=True)
class OrderSpec:
    """A delivery order of the day (window in UTC)."""

    reference: str
    customer: str
    lat: float
    lon: float
    earliest: str
    latest: str | None
    pallets: int = 2
    kg: str = "480"
    service_s: int = 600

    @property
    def point(self) -> GeoPoint:
        """Where the customer is."""
        return GeoPoint(self.lat, self.lon)


# 2.2, 4.4 and 6.7 km north of the depot. A closes before B's latest and C opens after it, so
# the only feasible order is A, B, C.
ORDER_A = OrderSpec("SO-A", "Bakery Nord", 52.540, 13.405, "08:00", "08:30")
ORDER_B = OrderSpec("SO-B", "Cafe Mitte", 52.560, 13.410, "08:00", "09:00")
ORDER_C = OrderSpec("SO-C", "Kiosk Pankow", 52.580, 13.405, "09:00", "12:00")
LINE = (ORDER_A, ORDER_B, ORDER_C)


def at(clock: str, day: date = DAY) -> datetime:
    """A UTC time of day on the plan's day, e.g. at("08:15:30")."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=UTC)


def moved(point: GeoPoint, *, north_m: float = 0.0, east_m: float = 0.0) -> GeoPoint:
    """A point `north_m` north and `east_m` east of `point` (negative: south / west)."""
    lat = point.lat + north_m / _M_PER_DEG_LAT
    lon = point.lon + east_m / (_M_PER_DEG_LAT * math.cos(math.radians(point.lat)))
    return GeoPoint(lat, lon)


def drive(a: GeoPoint, b: GeoPoint) -> int:
    """Seconds route control estimates for driving from a to b."""
    return travel_s(a, b, RULES)


def parse_time(value: str | None) -> datetime | None:
    """A datetime from the API's JSON (None stays None)."""
    return None if value is None else instant(value)


def instant(value: str) -> datetime:
    """A datetime from the API's JSON."""
    return datetime.fromisoformat(value)


@dataclass
class RouteApi:
    """One site's deliveries through the API."""

    client: TestClient
    site: str
    vehicles: list[str] = field(default_factory=list)

    def vehicle(self, ref: str = "VAN-1", **fields: Any) -> dict[str, Any]:
        """Add a van (10 pallets, 2 t, 10 h shift) unless `fields` say otherwise."""
        body = {
            "site": self.site,
            "ref": ref,
            "capacity_kg": "2000",
            "capacity_pallets": 10,
            "fixed_cost": "80",
            "cost_per_km": "0.45",
            "cost_per_hour": "28",
            "shift_length_s": 10 * 3600,
            **fields,
        }
        response = self.client.post("/vehicles", json=body)
        assert response.status_code == 201, response.text
        self.vehicles.append(ref)
        created: dict[str, Any] = response.json()
        return created

    def order(self, spec: OrderSpec, *, day: date = DAY) -> dict[str, Any]:
        """Add a delivery order."""
        response = self.client.post(
            "/orders",
            json={
                "site": self.site,
                "reference": spec.reference,
                "customer": spec.customer,
                "address": f"{spec.customer} street 1",
                "lat": str(spec.lat),
                "lon": str(spec.lon),
                "demand_kg": spec.kg,
                "demand_pallets": spec.pallets,
                "window_earliest": spec.earliest,
                "window_latest": spec.latest,
                "service_s": spec.service_s,
                "delivery_date": day.isoformat(),
            },
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def plan(self, *, day: date = DAY, time_limit_s: float = 1) -> dict[str, Any]:
        """Plan the day from the depot; the plan as the API returns it."""
        response = self.client.post(
            "/routes/plan",
            json={
                "site": self.site,
                "date": day.isoformat(),
                "depot_lat": f"{DEPOT.lat:.6f}",
                "depot_lon": f"{DEPOT.lon:.6f}",
                "time_limit_s": time_limit_s,
            },
        )
        assert response.status_code == 201, response.text
        plan: dict[str, Any] = response.json()
        return plan

    def line_route(self) -> dict[str, Any]:
        """VAN-1 with orders A, B, C planned: its route (stops A, B, C)."""
        self.vehicle("VAN-1")
        for spec in LINE:
            self.order(spec)
        plan = self.plan()
        assert plan["status"] == "feasible", plan
        (route,) = plan["routes"]
        assert [s["reference"] for s in route["stops"]] == [o.reference for o in LINE]
        return dict(route, plan_id=plan["id"])

    def status(self, route_id: int) -> dict[str, Any]:
        """GET /routes/{id}."""
        response = self.client.get(f"/routes/{route_id}")
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        return status

    def token(self, route_id: int) -> str:
        """The route's driver token, from its driver link."""
        response = self.client.get(f"/routes/{route_id}/driver-link")
        assert response.status_code == 200, response.text
        url: str = response.json()["url"]
        assert urlsplit(url).path == f"/driver/routes/{route_id}"
        (token,) = parse_qs(urlsplit(url).query)["token"]
        return token

    def driver_report(
        self,
        route_id: int,
        token: str | None,
        event: str,
        *,
        stop: int | None = None,
        clock: str | None = None,
        report_id: UUID | None = None,
        **fields: str,
    ) -> Response:
        """POST a driver's report through the driver endpoint with the route's token."""
        body: dict[str, Any] = {"id": str(report_id or uuid4()), "type": event, **fields}
        if stop is not None:
            body["stop"] = stop
        if clock is not None:
            body["at"] = at(clock).isoformat()
        params = {} if token is None else {"token": token}
        response: Response = self.client.post(
            f"/driver/routes/{route_id}/events", params=params, json=body
        )
        return response

    def alerts(self, kind: str, *, status: str | None = None) -> list[dict[str, Any]]:
        """The site's alerts of a kind (newest first)."""
        params = {"site": self.site, "kind": kind}
        if status is not None:
            params["status"] = status
        response = self.client.get("/alerts", params=params)
        assert response.status_code == 200, response.text
        alerts: list[dict[str, Any]] = response.json()
        return alerts


def sample(
    site: str, vehicle: str, clock: str, point: GeoPoint, speed_kmh: float = 30.0
) -> VehiclePosition:
    """A telematics sample of the plan's day."""
    return VehiclePosition(
        site=site, vehicle=vehicle, at=at(clock), lat=point.lat, lon=point.lon, speed_kmh=speed_kmh
    )


def receive_into_stock(service: IngestService, stream: EdgeStream, serials: list[int]) -> None:
    """Receive pallets at dock-1 and put each away into the bin its label named."""
    for serial in serials:
        outcome = service.handle(stream.goods_received(serial), topic=stream.topic)
        assert outcome.ack_upto == stream.seq, outcome
        location = outcome.commands[0].data["label"]["location"]
        assert location is not None, f"no bin for pallet {sscc(serial)}"
        service.handle(stream.putaway(serial, location), topic=stream.topic)


def balance(client: TestClient, account: str, site: str) -> Decimal:
    """An account's balance at a site through the ledger API (0 when it has no lines)."""
    response = client.get(f"/accounts/{account}/ledger", params={"site": site})
    assert response.status_code == 200, response.text
    lines = response.json()["lines"]
    return Decimal(lines[-1]["balance"]) if lines else Decimal(0)
