"""Route control through the API: vehicles, orders, a day's route plan, a driver route sheet."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.exceptions import StarletteDeprecationWarning

from central.app import create_app
from central.optimizers.routing import ViolationKind, check_routes
from central.route_service import stored_plan
from central.settings import CentralSettings
from central.store import tables as t
from contracts import Command, PrintRouteSheet, command_payload

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

DAY = date(2026, 12, 1)
DEPOT = {"depot_lat": "52.520000", "depot_lon": "13.405000"}
# Eight customers around the depot (a few km), morning and afternoon windows, 2 pallets each.
ORDERS = [
    ("SO-1", "Bakery Miller", "52.541", "13.412", "08:00", "10:00"),
    ("SO-2", "Cafe Rosa", "52.548", "13.389", "08:00", "11:00"),
    ("SO-3", "Kiosk Ali", "52.530", "13.447", "09:00", "12:00"),
    ("SO-4", "Hotel Spree", "52.509", "13.452", "10:00", "14:00"),
    ("SO-5", "Deli Hahn", "52.497", "13.421", "12:00", "16:00"),
    ("SO-6", "Market 24", "52.489", "13.383", "13:00", "17:00"),
    ("SO-7", "School Canteen", "52.503", "13.350", "07:30", "09:30"),
    ("SO-8", "Office Park", "52.533", "13.362", "14:00", "17:30"),
]


@pytest.fixture
def client(engine: Engine, database_url: str, site_code: str) -> Iterator[TestClient]:
    app = create_app(CentralSettings(database_url=database_url))
    with TestClient(app) as test_client:
        response = test_client.post(
            "/sites",
            json={
                "code": site_code,
                "name": "Route test",
                "docks": [{"code": "dock-1", "receiving_location": "RCV-1"}],
            },
        )
        assert response.status_code == 201, response.text
        yield test_client


def _vehicle(client: TestClient, site: str, ref: str, **fields: Any) -> dict[str, Any]:
    body = {
        "site": site,
        "ref": ref,
        "capacity_kg": "2000",
        "capacity_pallets": 10,
        "fixed_cost": "80",
        "cost_per_km": "0.45",
        "cost_per_hour": "28",
        "shift_length_s": 10 * 3600,
        **fields,
    }
    response = client.post("/vehicles", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _orders(client: TestClient, site: str) -> None:
    for ref, customer, lat, lon, earliest, latest in ORDERS:
        response = client.post(
            "/orders",
            json={
                "site": site,
                "reference": ref,
                "customer": customer,
                "address": f"{customer} street 1",
                "lat": lat,
                "lon": lon,
                "demand_kg": "480.5",
                "demand_pallets": 2,
                "window_earliest": earliest,
                "window_latest": latest,
                "service_s": 600,
                "delivery_date": DAY.isoformat(),
            },
        )
        assert response.status_code == 201, response.text


def _clock(value: str) -> time:
    return datetime.fromisoformat(value).time()


def test_a_day_is_planned_checked_and_its_route_sheet_queued(
    client: TestClient, engine: Engine, site_code: str
):
    van1 = _vehicle(client, site_code, "VAN-1")
    van2 = _vehicle(client, site_code, "VAN-2")
    # Free and roomy, so the planner would take it if it ignored the maintenance date.
    _vehicle(
        client,
        site_code,
        "TRUCK-9",
        capacity_kg="20000",
        capacity_pallets=33,
        fixed_cost="0",
        cost_per_km="0",
        cost_per_hour="0",
        maintenance_due=DAY.isoformat(),
    )
    _orders(client, site_code)
    assert len(client.get("/vehicles", params={"site": site_code}).json()) == 3
    duplicate = client.post(
        "/vehicles", json={"site": site_code, "ref": "VAN-1", "capacity_kg": "900"}
    )
    assert duplicate.status_code == 409

    response = client.post(
        "/routes/plan",
        json={"site": site_code, "date": DAY.isoformat(), "time_limit_s": 2, **DEPOT},
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["status"] == "feasible" and plan["dropped"] == []
    routed = [s["reference"] for r in plan["routes"] for s in r["stops"]]
    assert sorted(routed) == sorted(o[0] for o in ORDERS)
    # 16 pallets on 10-pallet vans: both run, the truck due for maintenance does not.
    assert {r["vehicle_id"] for r in plan["routes"]} == {van1["id"], van2["id"]}
    windows = {o[0]: (time.fromisoformat(o[4]), time.fromisoformat(o[5])) for o in ORDERS}
    for route in plan["routes"]:
        assert [s["sequence"] for s in route["stops"]] == list(range(1, len(route["stops"]) + 1))
        assert route["load_pallets"] == 2 * len(route["stops"]) <= 10
        assert float(route["km"]) > 0 and float(route["hours"]) > 0
        etas = [datetime.fromisoformat(s["eta"]) for s in route["stops"]]
        assert etas == sorted(etas) and all(e.date() == DAY for e in etas)
        for stop in route["stops"]:
            earliest, latest = windows[stop["reference"]]
            assert earliest <= _clock(stop["eta"]) <= latest
    assert client.get(f"/routes/plans/{plan['id']}").json() == plan

    with Session(engine) as session:
        stored = stored_plan(session, plan["id"])
        assert check_routes(stored.problem, stored.result) == []
        statuses = session.exec(
            select(t.DeliveryOrder.status).where(t.DeliveryOrder.site_code == site_code)
        ).all()
        assert set(statuses) == {"planned"}

    route = plan["routes"][0]
    printed = client.post(
        f"/routes/plans/{plan['id']}/routes/{route['id']}/print", json={"dock": "dock-1"}
    )
    assert printed.status_code == 202, printed.text
    with Session(engine) as session:
        (row,) = session.exec(
            select(t.CommandOutbox)
            .where(t.CommandOutbox.site_code == site_code)
            .where(t.CommandOutbox.type == "print.route_sheet")
        ).all()
    assert row.done_at is None and str(row.command_id) == printed.json()["command_id"]
    sheet = command_payload(Command.from_json(row.payload))
    assert isinstance(sheet, PrintRouteSheet)
    assert sheet.dock == "dock-1" and sheet.route_id == str(route["id"])
    # The QR code opens this route's driver page, with the route's own token.
    assert sheet.qr.startswith(f"http://127.0.0.1:8000/driver/routes/{route['id']}?token=")
    token = sheet.qr.split("token=")[1]
    page = client.get(f"/driver/routes/{route['id']}", params={"token": token})
    assert page.status_code == 200 and route["stops"][0]["customer"] in page.text
    assert client.get(f"/driver/routes/{route['id']}", params={"token": "x"}).status_code == 403
    assert "VAN-" in sheet.lines[0]
    # The customers appear on the sheet in delivery order, each with its window and ETA.
    text = "\n".join(sheet.lines)
    positions = [text.index(f"{s['customer']} ({s['reference']})") for s in route["stops"]]
    assert positions == sorted(positions)
    for stop in route["stops"]:
        assert f"ETA {_clock(stop['eta']):%H:%M}" in text

    elsewhere = client.post(
        f"/routes/plans/{plan['id']}/routes/{route['id']}/print", json={"dock": "dock-9"}
    )
    assert elsewhere.status_code == 404
    assert client.get("/routes/plans/999999").status_code == 404

    # Dispatching the plan prints every route's sheet at the dispatch dock.
    dispatched = client.post(f"/routes/plans/{plan['id']}/dispatch", json={"dock": "dock-1"})
    assert dispatched.status_code == 202, dispatched.text
    assert sorted(s["route_id"] for s in dispatched.json()) == sorted(
        r["id"] for r in plan["routes"]
    )
    with Session(engine) as session:
        sheets = session.exec(
            select(t.CommandOutbox)
            .where(t.CommandOutbox.site_code == site_code)
            .where(t.CommandOutbox.type == "print.route_sheet")
        ).all()
    assert len(sheets) == 1 + len(plan["routes"])


def test_a_vehicle_due_for_maintenance_is_not_planned(
    client: TestClient, engine: Engine, site_code: str
):
    _vehicle(client, site_code, "VAN-1", maintenance_due="2026-11-30")
    _orders(client, site_code)
    response = client.post(
        "/routes/plan",
        json={"site": site_code, "date": DAY.isoformat(), "time_limit_s": 1, **DEPOT},
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["routes"] == [] and plan["status"] != "feasible"
    assert sorted(plan["dropped"]) == sorted(o[0] for o in ORDERS)
    with Session(engine) as session:
        stored = stored_plan(session, plan["id"])
        violations = check_routes(stored.problem, stored.result)
        # Nothing is wrong with the plan but the orders it could not serve.
        assert {v.kind for v in violations} == {ViolationKind.MANDATORY_STOP_UNSERVED}
        assert len(violations) == len(ORDERS)
        statuses = session.exec(
            select(t.DeliveryOrder.status).where(t.DeliveryOrder.site_code == site_code)
        ).all()
        assert set(statuses) == {"open"}


def test_an_optional_order_is_left_out_when_it_does_not_pay_and_the_travel_model_is_kept(
    client: TestClient, site_code: str
):
    # One van with room for the mandatory orders' 16 pallets only: the optional one stays home.
    _vehicle(client, site_code, "VAN-1", capacity_pallets=16, capacity_kg="20000")
    _orders(client, site_code)
    optional = {
        "site": site_code,
        "reference": "SO-X",
        "customer": "Far Farm",
        "lat": "52.60",
        "lon": "13.60",
        "demand_kg": "100",
        "demand_pallets": 2,
        "delivery_date": DAY.isoformat(),
        "optional": True,
        "penalty": "5",
    }
    assert client.post("/orders", json=optional).status_code == 201
    refused = client.post("/orders", json={**optional, "reference": "SO-Y", "optional": False})
    assert refused.status_code == 422 and "only applies to an optional order" in refused.text
    response = client.post(
        "/routes/plan",
        json={
            "site": site_code,
            "date": DAY.isoformat(),
            "time_limit_s": 2,
            "circuity": "1.5",
            "speed_kmh": "40",
            **DEPOT,
        },
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    # Leaving the optional order out is allowed: the plan is complete without it.
    assert plan["dropped"] == ["SO-X"] and plan["status"] == "feasible"
    assert (plan["circuity"], plan["speed_kmh"]) == ("1.5", "40")
    (route,) = plan["routes"]
    assert len(route["stops"]) == len(ORDERS)
