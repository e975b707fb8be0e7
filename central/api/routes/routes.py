"""Route control: delivery vehicles and orders, route plans, driver route sheets at a dock."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import Engine
from sqlmodel import Session

from central.api.deps import (
    RouteControlDep,
    RouteLinksDep,
    SessionDep,
    WriteSessionDep,
    get_engine,
)
from central.api.routes.driver import pdf_response
from central.route_control import route_status, routes_of_plan
from central.route_replan import replan_plan
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
    DriverEventIn,
    DriverLink,
    OrderCreate,
    OrderPublic,
    PlanRequest,
    ReplanPublic,
    ReplanRequest,
    RoutePlanPublic,
    RouteSheetQueued,
    RouteSheetRequest,
    RouteStatusPublic,
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


@router.get("/routes/plans/{plan_id}/status", response_model=list[RouteStatusPublic])
def get_plan_status(session: SessionDep, plan_id: int) -> list[RouteStatusPublic]:
    """Every route of a plan as it is driven: stop states, ETAs, positions, open alerts."""
    plan_view(session, plan_id)  # 404 for an unknown plan
    return routes_of_plan(session, plan_id)


@router.post(
    "/routes/plans/{plan_id}/routes/{route_id}/print",
    response_model=RouteSheetQueued,
    status_code=202,
)
def post_print(
    session: WriteSessionDep,
    links: RouteLinksDep,
    plan_id: int,
    route_id: int,
    request: RouteSheetRequest,
) -> RouteSheetQueued:
    """Print the route's driver sheet at a dock (print.route_sheet to the site's edge)."""
    queued = print_route_sheet(
        session, route_id, request.dock, links=links, now=utc_now(), plan_id=plan_id
    )
    session.commit()
    return queued


@router.post(
    "/routes/plans/{plan_id}/dispatch", response_model=list[RouteSheetQueued], status_code=202
)
def post_dispatch(
    session: WriteSessionDep, links: RouteLinksDep, plan_id: int, request: RouteSheetRequest
) -> list[RouteSheetQueued]:
    """Dispatch a plan: every route sheet prints at the dispatch dock, each with the QR code
    of its driver page (a route whose truck is loaded at a dock also gets its sheet there
    when the truck leaves)."""
    now = utc_now()
    queued = [
        print_route_sheet(session, route.id, request.dock, links=links, now=now, plan_id=plan_id)
        for route in plan_view(session, plan_id).routes
    ]
    session.commit()
    return queued


@router.post("/routes/plans/{plan_id}/replan", response_model=ReplanPublic)
def post_replan(
    engine: Annotated[Engine, Depends(get_engine)],
    control: RouteControlDep,
    plan_id: int,
    request: ReplanRequest,
) -> ReplanPublic:
    """Re-plan the stops not reached yet, in place (route ids and driver links stay): routes
    under way keep the stops they reached and the one they head to; promised ETAs are kept
    where it costs little. Lists what changed."""
    outcome = replan_plan(engine, plan_id, request)
    for route in outcome.plan.routes:
        control.refresh(route.id, outcome.as_of)
    return outcome


@router.get("/routes/{route_id}", response_model=RouteStatusPublic)
def get_route(session: SessionDep, route_id: int) -> RouteStatusPublic:
    """A route as it is driven: stop states, ETAs, the vehicle's position, open alerts."""
    return route_status(session, route_id)


@router.post("/routes/{route_id}/events", response_model=RouteStatusPublic, status_code=201)
def post_route_event(
    control: RouteControlDep, route_id: int, event: DriverEventIn
) -> RouteStatusPublic:
    """Report on a route for its driver (ops on the phone with the driver): departed, arrived,
    delivered with proof of delivery, failed with a reason, returned. Sending a report's `id`
    again changes nothing."""
    return control.report(route_id, event, source="ops")


@router.get("/routes/{route_id}/driver-link", response_model=DriverLink)
def get_driver_link(session: SessionDep, links: RouteLinksDep, route_id: int) -> DriverLink:
    """The driver page link of a route (what the QR code on its sheet holds)."""
    route_status(session, route_id)  # 404 for an unknown route
    return DriverLink(route_id=route_id, url=links.driver_url(route_id))


@router.get("/routes/{route_id}/sheet.pdf", response_class=Response)
def get_route_sheet_pdf(session: SessionDep, links: RouteLinksDep, route_id: int) -> Response:
    """The route sheet as a PDF (A4), with the QR code to the driver page."""
    return pdf_response(route_status(session, route_id), links)
