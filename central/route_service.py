"""Route control: a site's vehicles and delivery orders, route plans, and driver route sheets.

* `plan_routes` reads the site's usable data (its vehicles, the day's open or planned orders),
  builds a `RoutingProblem` with the site as the depot, solves it
  (`central.optimizers.routing.solve`) outside any write transaction, then stores the plan:
  one route per vehicle used, its stops in delivery order with their ETAs. Orders on the plan
  become `planned`; planning the day again plans them again (the newest plan counts).
* Each vehicle is its own vehicle type (count 1, named by its fleet ref), so a vehicle that is
  unavailable or due for maintenance on the day is simply not planned.
* Times: windows are UTC times of day; the optimizer works in seconds from 00:00 UTC of the
  plan date, and ETAs are stored as UTC datetimes.
* `print_route_sheet` queues a `print.route_sheet` command for the site's edge in the command
  outbox (resent until the edge answers command.done, the same path as print.label).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from central.command_outbox import new_command, store_command
from central.domain.errors import AlreadyExists, NotFound, UnknownDock, UnknownSite
from central.optimizers.routing import (
    Break,
    Depot,
    Haversine,
    LatLon,
    Route,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    VehicleType,
    Visit,
    solve,
)
from central.route_control import planned_stop_public, route_status
from central.route_tokens import RouteLinks
from central.routes_schemas import (
    OrderCreate,
    OrderPublic,
    PlannedRoutePublic,
    PlanRequest,
    RoutePlanPublic,
    RouteSheetQueued,
    RouteStatusPublic,
    VehicleCreate,
    VehiclePublic,
)
from central.store import tables as t
from central.store.db import UnitOfWork
from central.store.types import plain_decimal
from contracts import Command, CommandType, PrintRouteSheet

logger = logging.getLogger(__name__)

_DEGREES = Decimal("0.000001")  # the precision lat/lon are stored with
_PLANNABLE_ORDERS = ("open", "planned")
_CENTS = Decimal("0.01")


class UnknownRoutePlan(NotFound):
    """No route plan (or no route in that plan) with this id."""


# ----------------------------------------------------------------------------- master data


def create_vehicle(session: Session, vehicle_in: VehicleCreate) -> VehiclePublic:
    """Store a vehicle of a site; AlreadyExists if the site has one with this ref."""
    _site(session, vehicle_in.site)
    data = vehicle_in.model_dump(exclude={"site"})
    row = t.Vehicle(site_code=vehicle_in.site, **data)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as err:
        raise AlreadyExists(
            f"site {vehicle_in.site} already has a vehicle {vehicle_in.ref}"
        ) from err
    logger.info("vehicle %s added to site %s", vehicle_in.ref, vehicle_in.site)
    return _vehicle_public(row)


def list_vehicles(session: Session, site: str) -> list[VehiclePublic]:
    """The site's vehicles by ref."""
    rows = session.exec(
        select(t.Vehicle).where(t.Vehicle.site_code == site).order_by(col(t.Vehicle.ref))
    ).all()
    return [_vehicle_public(row) for row in rows]


def create_order(session: Session, order_in: OrderCreate) -> OrderPublic:
    """Store a delivery order; AlreadyExists if the site has one with this reference."""
    _site(session, order_in.site)
    data = order_in.model_dump(exclude={"site", "lat", "lon"})
    row = t.DeliveryOrder(
        site_code=order_in.site,
        lat=order_in.lat.quantize(_DEGREES),
        lon=order_in.lon.quantize(_DEGREES),
        status="open",
        **data,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as err:
        raise AlreadyExists(
            f"site {order_in.site} already has an order {order_in.reference}"
        ) from err
    logger.info("delivery order %s added to site %s", order_in.reference, order_in.site)
    return _order_public(row)


def list_orders(session: Session, site: str, day: date | None = None) -> list[OrderPublic]:
    """The site's delivery orders (of one day if given), by date and reference."""
    query = select(t.DeliveryOrder).where(t.DeliveryOrder.site_code == site)
    if day is not None:
        query = query.where(t.DeliveryOrder.delivery_date == day)
    rows = session.exec(
        query.order_by(col(t.DeliveryOrder.delivery_date), col(t.DeliveryOrder.reference))
    ).all()
    return [_order_public(row) for row in rows]


# ----------------------------------------------------------------------------- planning


def plan_routes(engine: Engine, request: PlanRequest, *, now: datetime) -> int:
    """Plan the site's deliveries of the day and store the plan; returns its id."""
    depot_lat = request.depot_lat.quantize(_DEGREES)
    depot_lon = request.depot_lon.quantize(_DEGREES)
    with Session(engine) as session:
        _site(session, request.site)
        vehicles = _vehicles(session, request.site)
        orders = session.exec(
            select(t.DeliveryOrder)
            .where(t.DeliveryOrder.site_code == request.site)
            .where(t.DeliveryOrder.delivery_date == request.date)
            .where(col(t.DeliveryOrder.status).in_(_PLANNABLE_ORDERS))
            .order_by(col(t.DeliveryOrder.id))
        ).all()
    travel = Haversine(circuity=float(request.circuity), speed_kmh=float(request.speed_kmh))
    problem = build_problem(
        request.site, request.date, depot_lat, depot_lon, vehicles, orders, travel
    )
    logger.info(
        "planning %d orders of %s on %s with %d vehicles (time limit %s s)",
        len(orders),
        request.site,
        request.date,
        len(vehicles),
        request.time_limit_s,
    )
    result = solve(problem, time_limit_s=request.time_limit_s)
    by_ref = {v.ref: v for v in vehicles}
    day_start = _day_start(request.date)
    with UnitOfWork(engine, write_lock=True) as uow:
        session = uow.session
        plan = t.RoutePlan(
            site_code=request.site,
            plan_date=request.date,
            depot_lat=depot_lat,
            depot_lon=depot_lon,
            circuity=request.circuity,
            speed_kmh=request.speed_kmh,
            engine=result.engine,
            status=result.status.value,
            cost=money(result.cost),
            dropped=json.dumps([int(stop_id) for stop_id in result.dropped]),
            notes="\n".join(result.notes),
            created_at=now,
        )
        session.add(plan)
        session.flush()
        assert plan.id is not None
        for route in result.routes:
            vehicle_id = by_ref[route.vehicle_type].id
            assert vehicle_id is not None
            row = new_planned_route(plan.id, vehicle_id, route, day_start)
            session.add(row)
            session.flush()
            assert row.id is not None
            for sequence, visit in enumerate(route.visits, start=1):
                session.add(
                    t.PlannedStop(
                        route_id=row.id,
                        sequence=sequence,
                        order_id=int(visit.stop_id),
                        eta=day_start + timedelta(seconds=visit.arrival_s),
                        departure_at=day_start + timedelta(seconds=visit.departure_s),
                    )
                )
        routed = [int(v.stop_id) for r in result.routes for v in r.visits]
        for order in orders:
            order_row = session.get(t.DeliveryOrder, order.id)
            assert order_row is not None
            order_row.status = "planned" if order.id in routed else "open"
            session.add(order_row)
        uow.commit()
        plan_id = plan.id
    logger.info(
        "route plan %d of %s on %s: %s, %d routes, cost %s (%s)",
        plan_id,
        request.site,
        request.date,
        result.status.value,
        len(result.routes),
        result.cost,
        result.engine,
    )
    return plan_id


@dataclass(frozen=True)
class StoredPlan:
    """A stored plan as the optimizer sees it, for checking it (`check_routes`) or re-planning."""

    problem: RoutingProblem
    result: RoutingResult


def stored_plan(session: Session, plan_id: int) -> StoredPlan:
    """Rebuild the problem (the plan's orders, the site's vehicles as they are now) and the
    result of a stored plan."""
    plan = _plan(session, plan_id)
    routes = _routes(session, plan_id)
    stops = {r.id: _stops(session, r.id) for r in routes if r.id is not None}
    order_ids = [s.order_id for rows in stops.values() for s in rows]
    order_ids += json.loads(plan.dropped)
    orders = session.exec(
        select(t.DeliveryOrder)
        .where(col(t.DeliveryOrder.id).in_(order_ids))
        .order_by(col(t.DeliveryOrder.id))
    ).all()
    vehicles = _vehicles(session, plan.site_code)
    refs = {v.id: v.ref for v in vehicles}
    problem = build_problem(
        plan.site_code,
        plan.plan_date,
        plan.depot_lat,
        plan.depot_lon,
        vehicles,
        orders,
        plan_travel(plan),
    )
    day_start = _day_start(plan.plan_date)
    result_routes = []
    for route in routes:
        assert route.id is not None
        result_routes.append(
            Route(
                vehicle_type=refs[route.vehicle_id],
                vehicle_index=0,
                site=plan.site_code,
                start_s=_seconds(route.start_at, day_start),
                end_s=_seconds(route.end_at, day_start),
                visits=tuple(
                    Visit(
                        str(s.order_id),
                        _seconds(s.eta, day_start),
                        _seconds(s.departure_at, day_start),
                    )
                    for s in stops[route.id]
                ),
                breaks=tuple(Break(*b) for b in json.loads(route.breaks)),
                distance_m=route.distance_m,
                load_kg=route.load_kg,
                load_pallets=route.load_pallets,
            )
        )
    result = RoutingResult(
        status=RoutingStatus(plan.status),
        routes=tuple(result_routes),
        dropped=tuple(str(i) for i in json.loads(plan.dropped)),
        cost=plan.cost,
        engine=plan.engine,
        solve_time_s=0.0,
    )
    return StoredPlan(problem, result)


def plan_view(session: Session, plan_id: int) -> RoutePlanPublic:
    """A stored plan with its routes and their stops in delivery order."""
    plan = _plan(session, plan_id)
    assert plan.id is not None
    dropped_ids: list[int] = json.loads(plan.dropped)
    dropped = [o.reference for i in dropped_ids if (o := session.get(t.DeliveryOrder, i))]
    return RoutePlanPublic(
        id=plan.id,
        site=plan.site_code,
        date=plan.plan_date,
        engine=plan.engine,
        status=plan.status,
        circuity=plain_decimal(plan.circuity),
        speed_kmh=plain_decimal(plan.speed_kmh),
        cost=plain_decimal(plan.cost),
        created_at=plan.created_at,
        notes=[n for n in plan.notes.split("\n") if n],
        dropped=dropped,
        routes=[_route_public(session, r) for r in _routes(session, plan.id)],
    )


# ----------------------------------------------------------------------------- route sheet


def print_route_sheet(
    session: Session,
    route_id: int,
    dock: str,
    *,
    links: RouteLinks,
    now: datetime,
    plan_id: int | None = None,
) -> RouteSheetQueued:
    """Queue a print.route_sheet command for a route at a dock of its site; the QR code on
    the sheet opens the route's driver page (`links`)."""
    command = route_sheet_command(session, route_id, dock, links=links, now=now, plan_id=plan_id)
    store_command(session, command)
    payload = PrintRouteSheet.model_validate(command.data)
    logger.info(
        "route sheet of route %d queued for %s %s (command %s)",
        route_id,
        command.site,
        dock,
        command.id,
    )
    return RouteSheetQueued(
        command_id=command.id,
        site=command.site,
        dock=dock,
        route_id=route_id,
        lines=payload.lines,
        qr=payload.qr,
    )


def route_sheet_command(
    session: Session,
    route_id: int,
    dock: str,
    *,
    links: RouteLinks,
    now: datetime,
    plan_id: int | None = None,
) -> Command:
    """The print.route_sheet command of a route at a dock of its site (not yet stored)."""
    route = session.get(t.PlannedRoute, route_id)
    if route is None or (plan_id is not None and route.plan_id != plan_id):
        raise UnknownRoutePlan(f"route plan {plan_id} has no route {route_id}")
    plan = _plan(session, route.plan_id)
    has_dock = session.exec(
        select(t.Dock.id).where(t.Dock.site_code == plan.site_code).where(t.Dock.code == dock)
    ).first()
    if has_dock is None:
        raise UnknownDock(f"site {plan.site_code} has no dock {dock}")
    payload = PrintRouteSheet(
        dock=dock,
        route_id=str(route_id),
        lines=route_sheet_lines(route_status(session, route_id)),
        qr=links.driver_url(route_id),
    )
    return new_command(
        site=plan.site_code, type=CommandType.PRINT_ROUTE_SHEET, payload=payload, now=now
    )


def route_sheet_lines(route: RouteStatusPublic) -> list[str]:
    """The driver's sheet on a receipt printer: vehicle and times, then each stop in delivery
    order with its window, ETA, pallets (SSCCs) and instructions."""
    lines = [
        f"Route {route.route_id}  vehicle {route.vehicle_ref}  {route.date.isoformat()}",
        f"Depart {route.start_at:%H:%M}  back {route.end_at:%H:%M} UTC",
        f"{route.km.quantize(Decimal('0.1'))} km  {route.load_pallets} pal  {route.load_kg} kg",
    ]
    for stop in route.stops:
        latest = "end" if stop.window_latest is None else f"{stop.window_latest:%H:%M}"
        lines.append(f"{stop.sequence}. {stop.customer} ({stop.reference})")
        if stop.address:
            lines.append(f"   {stop.address}")
        lines.append(
            f"   window {stop.window_earliest:%H:%M}-{latest}  ETA {stop.eta:%H:%M}"
            f"  {stop.demand_pallets} pal"
        )
        lines.extend(f"   SSCC {sscc}" for sscc in stop.pallets)
        if stop.instructions:
            lines.append(f"   NOTE {stop.instructions}")
    return lines


# ----------------------------------------------------------------------------- helpers


def _site(session: Session, site: str) -> t.Site:
    row = session.get(t.Site, site)
    if row is None:
        raise UnknownSite(f"no site {site}; create it through POST /sites first")
    return row


def _plan(session: Session, plan_id: int) -> t.RoutePlan:
    plan = session.get(t.RoutePlan, plan_id)
    if plan is None:
        raise UnknownRoutePlan(f"no route plan {plan_id}")
    return plan


def _vehicles(session: Session, site: str) -> list[t.Vehicle]:
    return list(
        session.exec(
            select(t.Vehicle).where(t.Vehicle.site_code == site).order_by(col(t.Vehicle.id))
        ).all()
    )


def _routes(session: Session, plan_id: int) -> list[t.PlannedRoute]:
    return list(
        session.exec(
            select(t.PlannedRoute)
            .where(t.PlannedRoute.plan_id == plan_id)
            .order_by(col(t.PlannedRoute.id))
        ).all()
    )


def _stops(session: Session, route_id: int) -> list[t.PlannedStop]:
    return list(
        session.exec(
            select(t.PlannedStop)
            .where(t.PlannedStop.route_id == route_id)
            .order_by(col(t.PlannedStop.sequence))
        ).all()
    )


def build_problem(
    site: str,
    day: date,
    depot_lat: Decimal,
    depot_lon: Decimal,
    vehicles: Sequence[t.Vehicle],
    orders: Sequence[t.DeliveryOrder],
    travel: Haversine,
) -> RoutingProblem:
    """The optimizer's problem: the site as the depot, each vehicle its own type, the orders
    as stops with their windows (UTC seconds of the day), optional ones with their penalty."""
    return RoutingProblem(
        depots=(Depot(site, LatLon(float(depot_lat), float(depot_lon))),),
        vehicle_types=tuple(
            VehicleType(
                name=v.ref,
                capacity_kg=v.capacity_kg,
                capacity_pallets=v.capacity_pallets,
                fixed_cost=v.fixed_cost,
                cost_per_km=v.cost_per_km,
                cost_per_hour=v.cost_per_hour,
                site=site,
                available=v.available,
                maintenance_due=v.maintenance_due,
                shift_length_s=v.shift_length_s,
                break_after_driving_s=v.break_after_driving_s,
                break_duration_s=v.break_duration_s,
            )
            for v in vehicles
        ),
        stops=tuple(
            Stop(
                id=str(o.id),
                location=LatLon(float(o.lat), float(o.lon)),
                demand_kg=o.demand_kg,
                demand_pallets=o.demand_pallets,
                earliest_s=_time_s(o.window_earliest),
                latest_s=None if o.window_latest is None else _time_s(o.window_latest),
                service_s=o.service_s,
                optional=o.optional,
                penalty=o.penalty,
            )
            for o in orders
        ),
        travel=travel,
        plan_date=day,
    )


def plan_travel(plan: t.RoutePlan) -> Haversine:
    """The travel model a plan was made with."""
    return Haversine(circuity=float(plan.circuity), speed_kmh=float(plan.speed_kmh))


def new_planned_route(
    plan_id: int, vehicle_id: int, route: Route, day_start: datetime
) -> t.PlannedRoute:
    """The row of a vehicle's route in a plan."""
    row = t.PlannedRoute(
        plan_id=plan_id,
        vehicle_id=vehicle_id,
        start_at=day_start,
        end_at=day_start,
        distance_m=0,
        load_kg=Decimal(0),
        load_pallets=0,
    )
    set_route_plan(row, route, day_start)
    return row


def set_route_plan(row: t.PlannedRoute, route: Route, day_start: datetime) -> None:
    """Copy a planned route's times, distance, load and breaks onto its row."""
    row.start_at = day_start + timedelta(seconds=route.start_s)
    row.end_at = day_start + timedelta(seconds=route.end_s)
    row.distance_m = route.distance_m
    row.load_kg = route.load_kg
    row.load_pallets = route.load_pallets
    row.breaks = json.dumps([[b.leg, b.start_s, b.duration_s] for b in route.breaks])


def money(amount: Decimal) -> Decimal:
    """A plan's cost in whole cents (the optimizers compute it to many places)."""
    return amount.quantize(_CENTS)


def _time_s(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _seconds(when: datetime, day_start: datetime) -> int:
    return round((when - day_start).total_seconds())


def _route_public(session: Session, route: t.PlannedRoute) -> PlannedRoutePublic:
    assert route.id is not None
    vehicle = session.get(t.Vehicle, route.vehicle_id)
    assert vehicle is not None
    stops = []
    for stop in _stops(session, route.id):
        order = session.get(t.DeliveryOrder, stop.order_id)
        assert order is not None
        stops.append(planned_stop_public(stop, order))
    hours = Decimal((route.end_at - route.start_at).total_seconds()) / 3600
    return PlannedRoutePublic(
        id=route.id,
        vehicle_id=route.vehicle_id,
        vehicle_ref=vehicle.ref,
        start_at=route.start_at,
        end_at=route.end_at,
        km=plain_decimal(Decimal(route.distance_m) / 1000),
        hours=hours.quantize(Decimal("0.01")),
        load_kg=plain_decimal(route.load_kg),
        load_pallets=route.load_pallets,
        stops=stops,
    )


def _vehicle_public(row: t.Vehicle) -> VehiclePublic:
    assert row.id is not None
    return VehiclePublic(
        id=row.id,
        site=row.site_code,
        ref=row.ref,
        capacity_kg=plain_decimal(row.capacity_kg),
        capacity_pallets=row.capacity_pallets,
        fixed_cost=plain_decimal(row.fixed_cost),
        cost_per_km=plain_decimal(row.cost_per_km),
        cost_per_hour=plain_decimal(row.cost_per_hour),
        shift_length_s=row.shift_length_s,
        break_after_driving_s=row.break_after_driving_s,
        break_duration_s=row.break_duration_s,
        available=row.available,
        maintenance_due=row.maintenance_due,
    )


def _order_public(row: t.DeliveryOrder) -> OrderPublic:
    assert row.id is not None
    return OrderPublic(
        id=row.id,
        site=row.site_code,
        reference=row.reference,
        customer=row.customer,
        address=row.address,
        lat=plain_decimal(row.lat),
        lon=plain_decimal(row.lon),
        demand_kg=plain_decimal(row.demand_kg),
        demand_pallets=row.demand_pallets,
        window_earliest=row.window_earliest,
        window_latest=row.window_latest,
        service_s=row.service_s,
        delivery_date=row.delivery_date,
        instructions=row.instructions,
        optional=row.optional,
        penalty=plain_decimal(row.penalty),
        status=row.status,
    )
