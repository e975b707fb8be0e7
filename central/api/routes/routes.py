"""Route control: delivery vehicles and orders, route plans, driver route sheets at a dock."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import Engine
from sqlmodel import Session

from central.api.deps import SessionDep, WriteSessionDep, get_engine
from central.route_service import (
    create_order,
    create_vehicle,
    list_orders,
    list_vehicles,
    plan_routes,
    plan_view,
    print_route_sheet,
)
from central.routes_schemas import (
    OrderCreate,
    OrderPublic,
    PlanRequest,
    RoutePlanPublic,
    RouteSheetQueued,
    RouteSheetRequest,
    VehicleCreate,
    VehiclePublic,
)
from contracts.envelope import utc_now

router = APIRouter(tags=["routes"])


@router.post("/vehicles", response_model=VehiclePublic, status_code=201)
def post_vehicle(session: WriteSessionDep, vehicle_in: VehicleCreate) -> VehiclePublic:
    """Add a delivery vehicle to a site (409 if the site has one with this ref)."""
    created = create_vehicle(session, vehicle_in)
    session.commit()
    return created


@router.get("/vehicles", response_model=list[VehiclePublic])
def get_vehicles(session: SessionDep, site: str) -> list[VehiclePublic]:
    """The site's delivery vehicles."""
    return list_vehicles(session, site)


@router.post("/orders", response_model=OrderPublic, status_code=201)
def post_order(session: WriteSessionDep, order_in: OrderCreate) -> OrderPublic:
    """Add a delivery order (409 if the site has one with this reference)."""
    created = create_order(session, order_in)
    session.commit()
    return created


@router.get("/orders", response_model=list[OrderPublic])
def get_orders(session: SessionDep, site: str, date: date | None = None) -> list[OrderPublic]:
    """The site's delivery orders, of one day if `date` is given."""
    return list_orders(session, site, date)


@router.post("/routes/plan", response_model=RoutePlanPublic, status_code=201)
def post_plan(
    engine: Annotated[Engine, Depends(get_engine)], request: PlanRequest
) -> RoutePlanPublic:
    """Plan the day's deliveries of a site within the time limit: a route per vehicle used,
    stops in delivery order with ETAs. Orders no vehicle can take are listed as dropped."""
    plan_id = plan_routes(engine, request, now=utc_now())
    with Session(engine) as session:
        return plan_view(session, plan_id)


@router.get("/routes/plans/{plan_id}", response_model=RoutePlanPublic)
def get_plan(session: SessionDep, plan_id: int) -> RoutePlanPublic:
    """A route plan with its routes and stops."""
    return plan_view(session, plan_id)


@router.post(
    "/routes/plans/{plan_id}/routes/{route_id}/print",
    response_model=RouteSheetQueued,
    status_code=202,
)
def post_print(
    session: WriteSessionDep, plan_id: int, route_id: int, request: RouteSheetRequest
) -> RouteSheetQueued:
    """Print the route's driver sheet at a dock (print.route_sheet to the site's edge)."""
    queued = print_route_sheet(session, plan_id, route_id, request.dock, now=utc_now())
    session.commit()
    return queued
