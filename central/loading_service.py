"""Outbound loading: shipments, their load plans, the load.plan command, and the dock's events.

* `create_load` takes pallets in stock at a site (handling units, by SSCC) with their stops,
  builds a `LoadProblem` from the weights measured at receipt and the trailer preset, solves it
  (`central.optimizers.loading.solve`) outside any write transaction, then stores the shipment,
  its pallets and the plan with its placements. A plan that cannot load everything is stored
  too (solver status INFEASIBLE, with reasons and the pallets left out) so the dispatcher sees
  why; it cannot be sent.
* `send_load` queues a `load.plan` command in the command outbox; the MQTT ingest adapter sends
  it and resends it until the edge answers with `command.done` (the same path as print.label).
* `load_pallet` (event pallet.loaded) moves the pallet's stock from wherever it stands to the
  dock's truck location, quantity only, no journal entry. One truck location per dock
  (`TRUCK-<dock>`, kind `truck`, made on first use at the dock's position), not one per
  shipment: a dock holds one vehicle at a time, and which shipment a pallet is on is in
  `shipment_pallet`. Its bin is free again at once; its open putaway task is cancelled.
* `dispatch_shipment` (event shipment.dispatched) books each pallet off the site (a stock move
  to nowhere) and hands back what left, so the ingest posts the goods issue (DELIVERY_DISPATCH:
  Dr Stock in transit / Cr Inventory) in the same transaction.

Handling-unit statuses: received, hold, stored (set by receiving and putaway), then loaded and
dispatched (set here). A pallet can be on one open shipment (planned or loading) at a time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from central.command_outbox import queue_command
from central.dock_service import Alert
from central.domain.errors import UnknownDock, UnknownHandlingUnit, UnknownSite
from central.loading_errors import (
    NotEnoughStock,
    NotOnRoute,
    PalletNotAvailable,
    PlanNotLoadable,
    ShipmentAlreadyDispatched,
    ShipmentExists,
    UnknownShipment,
    UnknownTrailerType,
)
from central.loading_schemas import (
    AxleLoadPublic,
    LoadCommandPublic,
    LoadCreate,
    LoadPalletIn,
    LoadPlacementPublic,
    LoadPlanPublic,
    LoadPublic,
    LoadReasonPublic,
    ShipmentPalletPublic,
)
from central.optimizers.loading import (
    LoadPlan,
    LoadProblem,
    LoadStatus,
    Pallet,
    Placement,
    Reason,
    ReasonCode,
    TrailerType,
    measure,
    solve,
    trailer_svg,
)
from central.stock_booking import StockBooking, book_stock_move
from central.store import tables as t
from central.store.db import UnitOfWork
from contracts import CommandType
from contracts.commands import LoadPlacement
from contracts.commands import LoadPlan as LoadPlanCommand
from contracts.events import PalletLoaded, ShipmentDispatched

logger = logging.getLogger(__name__)

TRAILERS: Mapping[str, Callable[[], TrailerType]] = MappingProxyType(
    {
        "semi_trailer_33_eur": TrailerType.semi_trailer_33_eur,
        "semi_trailer_26_industrial": TrailerType.semi_trailer_26_industrial,
        "double_deck_66_eur": TrailerType.double_deck_66_eur,
        "rigid_7_5t_18_eur": TrailerType.rigid_7_5t_18_eur,
    }
)

# Handling-unit statuses a pallet may be planned from (see central.ingest.HandlingUnitStatus).
_PLANNABLE = ("received", "stored")
HU_LOADED = "loaded"
HU_DISPATCHED = "dispatched"
TRUCK_KIND = "truck"
_GRAM = Decimal("0.001")


class ShipmentStatus(StrEnum):
    """Where a shipment is between planning and leaving the site."""

    PLANNED = "planned"
    LOADING = "loading"
    DISPATCHED = "dispatched"
    CANCELLED = "cancelled"


class PalletStatus(StrEnum):
    """Where a shipment's pallet is."""

    PLANNED = "planned"
    LOADED = "loaded"
    DISPATCHED = "dispatched"


_OPEN = (ShipmentStatus.PLANNED, ShipmentStatus.LOADING)
_PLAN_CURRENT = "current"
_PLAN_SUPERSEDED = "superseded"
_LOADABLE = (LoadStatus.OPTIMAL.value, LoadStatus.FEASIBLE.value)


def trailer_type(name: str) -> TrailerType:
    """The trailer preset called `name` (a key of TRAILERS)."""
    preset = TRAILERS.get(name)
    if preset is None:
        raise UnknownTrailerType(
            f"no trailer type {name!r}; use one of {', '.join(sorted(TRAILERS))}"
        )
    return preset()


def truck_location_code(dock: str) -> str:
    """The code of a dock's truck location, where loaded pallets stand until dispatch."""
    return f"TRUCK-{dock}"


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Candidate:
    hu: t.HandlingUnit
    gtin: str
    location: str
    stop_index: int


def _pallet_weight(hu: t.HandlingUnit) -> Decimal:
    # The optimizer's integer model needs whole grams; a scale reading finer than that says
    # nothing about axle loads.
    return hu.weight_kg.quantize(_GRAM, ROUND_HALF_UP)


def _check_site_and_dock(session: Session, site: str, dock: str) -> None:
    if session.get(t.Site, site) is None:
        raise UnknownSite(f"site {site} does not exist; create it through POST /sites")
    found = session.exec(
        select(t.Dock.id).where(t.Dock.site_code == site, t.Dock.code == dock)
    ).first()
    if found is None:
        raise UnknownDock(f"site {site} has no dock {dock}; add the dock to the site")


def _open_shipment_of(session: Session, hu_ids: Sequence[int]) -> dict[int, str]:
    """Handling unit id → reference of the open shipment it is on."""
    rows = session.exec(
        select(t.ShipmentPallet.handling_unit_id, t.Shipment.reference)
        .join(t.Shipment, col(t.Shipment.id) == t.ShipmentPallet.shipment_id)
        .where(
            col(t.ShipmentPallet.handling_unit_id).in_(hu_ids),
            col(t.Shipment.status).in_([s.value for s in _OPEN]),
        )
    ).all()
    return dict(rows)


def _candidates(session: Session, site: str, pallets: Sequence[LoadPalletIn]) -> list[_Candidate]:
    """The requested pallets, each checked to be in stock at the site and free to load."""
    ssccs = [p.sscc for p in pallets]
    rows = session.exec(
        select(t.HandlingUnit, t.Item.gtin, t.Location.code)
        .join(t.Item, col(t.Item.id) == t.HandlingUnit.item_id)
        .join(t.Location, col(t.Location.id) == t.HandlingUnit.location_id)
        .where(col(t.HandlingUnit.sscc).in_(ssccs))
    ).all()
    found = {hu.sscc: (hu, gtin, location) for hu, gtin, location in rows}
    problems: list[str] = []
    result: list[_Candidate] = []
    for pallet in pallets:
        entry = found.get(pallet.sscc)
        if entry is None or entry[0].site_code != site:
            problems.append(f"{pallet.sscc} was not received at {site}")
            continue
        hu, gtin, location = entry
        if hu.status not in _PLANNABLE:
            problems.append(f"{pallet.sscc} is {hu.status}, not in stock")
            continue
        result.append(_Candidate(hu, gtin, location, pallet.stop_index))
    taken = _open_shipment_of(session, [c.hu.id for c in result if c.hu.id is not None])
    problems.extend(
        f"{c.hu.sscc} is on shipment {taken[c.hu.id]}"
        for c in result
        if c.hu.id is not None and c.hu.id in taken
    )
    if problems:
        raise PalletNotAvailable(
            f"{len(problems)} pallet(s) cannot be loaded: {'; '.join(problems[:20])}"
        )
    return result


def free_pallets(session: Session, site: str, count: int) -> list[str]:
    """SSCCs of `count` pallets in stock at `site` on no open shipment, oldest receipt first."""
    if session.get(t.Site, site) is None:
        raise UnknownSite(f"site {site} does not exist; create it through POST /sites")
    busy = (
        select(t.ShipmentPallet.handling_unit_id)
        .join(t.Shipment, col(t.Shipment.id) == t.ShipmentPallet.shipment_id)
        .where(col(t.Shipment.status).in_([s.value for s in _OPEN]))
    )
    ssccs = session.exec(
        select(t.HandlingUnit.sscc)
        .where(
            t.HandlingUnit.site_code == site,
            col(t.HandlingUnit.status).in_(_PLANNABLE),
            col(t.HandlingUnit.id).not_in(busy),
        )
        .order_by(col(t.HandlingUnit.received_at), col(t.HandlingUnit.id))
        .limit(count)
    ).all()
    if len(ssccs) < count:
        raise NotEnoughStock(f"site {site} has {len(ssccs)} free pallet(s) in stock, not {count}")
    return list(ssccs)


def _problem(trailer: TrailerType, candidates: Iterable[_Candidate]) -> LoadProblem:
    return LoadProblem(
        trailer=trailer,
        pallets=tuple(Pallet(c.hu.sscc, _pallet_weight(c.hu), c.stop_index) for c in candidates),
    )


def create_load(engine: Engine, request: LoadCreate, *, now: datetime) -> int:
    """Create a shipment with its pallets and plan its load; returns the shipment id.

    The solver runs between a read and a write transaction, so the ingest is never held up
    for the solve; the write re-checks that the pallets are still free.
    """
    trailer = trailer_type(request.trailer)
    with Session(engine) as session:
        _check_site_and_dock(session, request.site, request.dock)
        _check_reference_free(session, request.site, request.reference)
        route = _route_of_load(session, request)
        request = route.apply(request)
        problem = _problem(trailer, _candidates(session, request.site, request.pallets))
    plan = solve(problem, time_limit_s=request.time_limit_s, seed=request.seed)
    with UnitOfWork(engine, write_lock=True) as uow:
        session = uow.session
        _check_reference_free(session, request.site, request.reference)
        candidates = _candidates(session, request.site, request.pallets)
        if _problem(trailer, candidates) != problem:
            # A pallet was re-weighed or re-stopped in between: plan what is there now.
            problem = _problem(trailer, candidates)
            plan = solve(problem, time_limit_s=request.time_limit_s, seed=request.seed)
        shipment = t.Shipment(
            site_code=request.site,
            reference=request.reference,
            dock=request.dock,
            trailer=request.trailer,
            route_ref=request.route_ref,
            vehicle_ref=request.vehicle_ref,
            route_id=request.route_id,
            status=ShipmentStatus.PLANNED,
            created_at=now,
        )
        session.add(shipment)
        session.flush()
        assert shipment.id is not None
        for candidate in candidates:
            assert candidate.hu.id is not None
            session.add(
                t.ShipmentPallet(
                    shipment_id=shipment.id,
                    handling_unit_id=candidate.hu.id,
                    stop_index=candidate.stop_index,
                    status=PalletStatus.PLANNED,
                    order_id=route.order_ids.get(candidate.hu.sscc),
                )
            )
        _store_plan(session, shipment.id, plan, {c.hu.sscc: c.hu for c in candidates}, now=now)
        uow.commit()
        shipment_id = shipment.id
    logger.info(
        "shipment %s at %s: %d pallets on %s, plan %s",
        request.reference,
        request.site,
        len(request.pallets),
        request.trailer,
        plan.status.value,
    )
    return shipment_id


@dataclass(frozen=True)
class _LoadRoute:
    """The route a load serves: each pallet's stop comes from its order's place on it."""

    vehicle_ref: str | None
    stops: Mapping[str, tuple[int, int]]  # order reference -> (order id, stop sequence)
    order_ids: Mapping[str, int]  # SSCC -> order id

    def apply(self, request: LoadCreate) -> LoadCreate:
        """The request with each pallet's stop taken from the route."""
        if request.route_id is None:
            return request
        pallets = [
            p.model_copy(update={"stop_index": self.stops[p.order][1]}) if p.order else p
            for p in request.pallets
        ]
        return request.model_copy(
            update={
                "pallets": pallets,
                "vehicle_ref": request.vehicle_ref or self.vehicle_ref,
                "route_ref": request.route_ref or str(request.route_id),
            }
        )


def _route_of_load(session: Session, request: LoadCreate) -> _LoadRoute:
    """Check the load's route and its pallets' orders; orders without a route are recorded
    too (their proof of delivery posts the pallets)."""
    named = {p.order for p in request.pallets if p.order}
    orders = {
        o.reference: o
        for o in session.exec(
            select(t.DeliveryOrder)
            .where(t.DeliveryOrder.site_code == request.site)
            .where(col(t.DeliveryOrder.reference).in_(named))
        ).all()
    }
    unknown = sorted(named - orders.keys())
    if unknown:
        raise NotOnRoute(f"site {request.site} has no delivery order {', '.join(unknown[:20])}")
    order_ids = {p.sscc: orders[p.order].id or 0 for p in request.pallets if p.order}
    if request.route_id is None:
        return _LoadRoute(None, {}, order_ids)
    row = session.exec(
        select(t.PlannedRoute, t.RoutePlan, t.Vehicle)
        .join(t.RoutePlan, col(t.RoutePlan.id) == t.PlannedRoute.plan_id)
        .join(t.Vehicle, col(t.Vehicle.id) == t.PlannedRoute.vehicle_id)
        .where(t.PlannedRoute.id == request.route_id)
    ).first()
    if row is None or row[1].site_code != request.site:
        raise NotOnRoute(f"site {request.site} has no planned route {request.route_id}")
    route, _plan, vehicle = row
    stops = {
        order.reference: (order.id or 0, stop.sequence)
        for stop, order in session.exec(
            select(t.PlannedStop, t.DeliveryOrder)
            .join(t.DeliveryOrder, col(t.DeliveryOrder.id) == t.PlannedStop.order_id)
            .where(t.PlannedStop.route_id == route.id)
        ).all()
    }
    off_route = sorted(named - stops.keys())
    if off_route:
        raise NotOnRoute(
            f"order(s) {', '.join(off_route[:20])} are not on route {request.route_id}; "
            "re-plan the route or load them on their own route's truck"
        )
    return _LoadRoute(vehicle.ref, stops, order_ids)


def _check_reference_free(session: Session, site: str, reference: str) -> None:
    taken = session.exec(
        select(t.Shipment.id).where(t.Shipment.site_code == site, t.Shipment.reference == reference)
    ).first()
    if taken is not None:
        raise ShipmentExists(f"site {site} already has shipment {reference} (id {taken})")


def _reasons_json(reasons: Iterable[Reason]) -> str:
    return json.dumps(
        [{"code": r.code.value, "detail": r.detail, "pallets": list(r.pallet_ids)} for r in reasons]
    )


def _store_plan(
    session: Session,
    shipment_id: int,
    plan: LoadPlan,
    hus: Mapping[str, t.HandlingUnit],
    *,
    now: datetime,
) -> t.ShipmentLoadPlan:
    for old in session.exec(
        select(t.ShipmentLoadPlan).where(
            t.ShipmentLoadPlan.shipment_id == shipment_id,
            t.ShipmentLoadPlan.status == _PLAN_CURRENT,
        )
    ).all():
        old.status = _PLAN_SUPERSEDED
        session.add(old)
    row = t.ShipmentLoadPlan(
        shipment_id=shipment_id,
        status=_PLAN_CURRENT,
        solver_status=plan.status.value,
        objective=plan.objective,
        bound=plan.bound,
        solve_time_ms=round(plan.solve_time_s * 1000),
        load_kg=plan.load_kg,
        kingpin_kg=plan.kingpin_kg,
        rear_kg=plan.rear_kg,
        cog_m=plan.cog_m,
        lateral_imbalance_kg=plan.lateral_imbalance_kg,
        reasons=_reasons_json(plan.reasons),
        left_out=json.dumps(list(plan.left_out)),
        created_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    for placement in plan.placements:
        hu_id = hus[placement.pallet_id].id
        assert hu_id is not None
        session.add(
            t.ShipmentLoadPlacement(
                plan_id=row.id,
                handling_unit_id=hu_id,
                row_no=placement.row,
                column_no=placement.column,
                deck=placement.deck,
                level=placement.level,
                sequence=placement.sequence,
                stop_index=placement.stop_index,
                weight_kg=placement.weight_kg,
            )
        )
    return row


def cancel_load(session: Session, shipment_id: int) -> t.Shipment:
    """Cancel a shipment that has not started loading; its pallets are free again."""
    shipment = _shipment(session, shipment_id)
    if shipment.status != ShipmentStatus.PLANNED:
        raise ShipmentAlreadyDispatched(
            f"shipment {shipment.reference} is {shipment.status}; only a planned shipment "
            "can be cancelled"
        )
    shipment.status = ShipmentStatus.CANCELLED
    session.add(shipment)
    return shipment


# ----------------------------------------------------------------------------- reading


def _shipment(session: Session, shipment_id: int) -> t.Shipment:
    shipment = session.get(t.Shipment, shipment_id)
    if shipment is None:
        raise UnknownShipment(f"no shipment with id {shipment_id}")
    return shipment


def shipment_by_reference(session: Session, site: str, reference: str) -> t.Shipment | None:
    """The shipment `reference` of a site (the shipment id the edge reports)."""
    return session.exec(
        select(t.Shipment).where(t.Shipment.site_code == site, t.Shipment.reference == reference)
    ).first()


def _current_plan(session: Session, shipment_id: int) -> t.ShipmentLoadPlan | None:
    return session.exec(
        select(t.ShipmentLoadPlan).where(
            t.ShipmentLoadPlan.shipment_id == shipment_id,
            t.ShipmentLoadPlan.status == _PLAN_CURRENT,
        )
    ).first()


@dataclass(frozen=True)
class _PlacementRow:
    row: t.ShipmentLoadPlacement
    sscc: str
    gtin: str


def _placements(session: Session, plan_id: int) -> list[_PlacementRow]:
    rows = session.exec(
        select(t.ShipmentLoadPlacement, t.HandlingUnit.sscc, t.Item.gtin)
        .join(t.HandlingUnit, col(t.HandlingUnit.id) == t.ShipmentLoadPlacement.handling_unit_id)
        .join(t.Item, col(t.Item.id) == t.HandlingUnit.item_id)
        .where(t.ShipmentLoadPlacement.plan_id == plan_id)
        .order_by(col(t.ShipmentLoadPlacement.sequence))
    ).all()
    return [_PlacementRow(row, sscc, gtin) for row, sscc, gtin in rows]


def _plan_view(session: Session, plan: t.ShipmentLoadPlan, trailer: TrailerType) -> LoadPlanPublic:
    assert plan.id is not None
    placements = _placements(session, plan.id)
    margins = (
        ("kingpin", plan.kingpin_kg, trailer.max_kingpin_kg, trailer.min_kingpin_kg),
        ("rear_axles", plan.rear_kg, trailer.max_rear_kg, Decimal(0)),
    )
    return LoadPlanPublic(
        id=plan.id,
        status=plan.status,
        solver_status=plan.solver_status,
        loadable=plan.solver_status in _LOADABLE,
        objective_kg_m=plan.objective,
        bound_kg_m=plan.bound,
        solve_time_ms=plan.solve_time_ms,
        load_kg=plan.load_kg,
        payload_kg=trailer.payload_kg,
        axle_loads=[
            AxleLoadPublic(
                support=support,
                load_kg=load,
                max_kg=most,
                min_kg=least,
                within_limits=least <= load <= most,
            )
            for support, load, most, least in margins
        ],
        cog_m=plan.cog_m,
        ideal_cog_m=trailer.ideal_cog_m.quantize(_GRAM),
        lateral_imbalance_kg=plan.lateral_imbalance_kg,
        max_lateral_imbalance_kg=trailer.max_lateral_imbalance_kg,
        reasons=[LoadReasonPublic.model_validate(r) for r in json.loads(plan.reasons)],
        left_out=list(json.loads(plan.left_out)),
        placements=[
            LoadPlacementPublic(
                sscc=p.sscc,
                gtin=p.gtin,
                stop_index=p.row.stop_index,
                sequence=p.row.sequence,
                row=p.row.row_no,
                column=p.row.column_no,
                deck=p.row.deck,
                level=p.row.level,
                weight_kg=p.row.weight_kg,
            )
            for p in placements
        ],
        created_at=plan.created_at,
        command_id=plan.command_id,
        sent_at=plan.sent_at,
    )


def load_view(session: Session, shipment_id: int) -> LoadPublic:
    """A shipment with its pallets (where each is now) and its current plan."""
    shipment = _shipment(session, shipment_id)
    trailer = trailer_type(shipment.trailer)
    pallets = session.exec(
        select(t.ShipmentPallet, t.HandlingUnit, t.Item.gtin, t.Location.code)
        .join(t.HandlingUnit, col(t.HandlingUnit.id) == t.ShipmentPallet.handling_unit_id)
        .join(t.Item, col(t.Item.id) == t.HandlingUnit.item_id)
        .join(t.Location, col(t.Location.id) == t.HandlingUnit.location_id)
        .where(t.ShipmentPallet.shipment_id == shipment_id)
        .order_by(col(t.ShipmentPallet.stop_index), col(t.HandlingUnit.sscc))
    ).all()
    plan = _current_plan(session, shipment_id)
    assert shipment.id is not None
    return LoadPublic(
        id=shipment.id,
        site=shipment.site_code,
        reference=shipment.reference,
        dock=shipment.dock,
        trailer=shipment.trailer,
        trailer_name=trailer.name,
        route_ref=shipment.route_ref,
        vehicle_ref=shipment.vehicle_ref,
        status=shipment.status,
        created_at=shipment.created_at,
        dispatched_at=shipment.dispatched_at,
        pallets=[
            ShipmentPalletPublic(
                sscc=hu.sscc,
                gtin=gtin,
                quantity=hu.quantity,
                weight_kg=hu.weight_kg,
                stop_index=row.stop_index,
                status=row.status,
                location=location,
                loaded_at=row.loaded_at,
                loaded_sequence=row.loaded_sequence,
                override_reason=row.override_reason,
            )
            for row, hu, gtin, location in pallets
        ],
        plan=None if plan is None else _plan_view(session, plan, trailer),
    )


def list_loads(session: Session, site: str, *, status: str | None = None) -> list[LoadPublic]:
    """The site's shipments, newest first."""
    statement = (
        select(t.Shipment.id)
        .where(t.Shipment.site_code == site)
        .order_by(col(t.Shipment.id).desc())
    )
    if status is not None:
        statement = statement.where(t.Shipment.status == status)
    return [
        load_view(session, shipment_id)
        for shipment_id in session.exec(statement).all()
        if shipment_id is not None
    ]


def load_svg(session: Session, shipment_id: int) -> str:
    """The current plan's top view as SVG (front wall left, doors right)."""
    shipment = _shipment(session, shipment_id)
    plan = _current_plan(session, shipment_id)
    if plan is None or plan.id is None:
        raise UnknownShipment(f"shipment {shipment.reference} has no load plan")
    trailer = trailer_type(shipment.trailer)
    placements = tuple(
        Placement(
            pallet_id=p.sscc,
            row=p.row.row_no,
            column=p.row.column_no,
            sequence=p.row.sequence,
            stop_index=p.row.stop_index,
            weight_kg=p.row.weight_kg,
            deck=p.row.deck,
            level=p.row.level,
        )
        for p in _placements(session, plan.id)
    )
    reasons = tuple(
        Reason(ReasonCode(r["code"]), r["detail"], tuple(r["pallets"]))
        for r in json.loads(plan.reasons)
    )
    stored = LoadPlan(
        status=LoadStatus(plan.solver_status),
        placements=placements,
        left_out=tuple(json.loads(plan.left_out)),
        reasons=reasons,
        objective=plan.objective,
        bound=plan.bound,
        solve_time_s=plan.solve_time_ms / 1000,
        measures=measure(trailer, placements),
    )
    return trailer_svg(stored, trailer)


# ----------------------------------------------------------------------------- sending


def send_load(session: Session, shipment_id: int, *, now: datetime) -> LoadCommandPublic:
    """Queue the current plan as a load.plan command for the site's edge.

    Sending a plan that was sent already queues nothing new: the outbox keeps resending the
    first command until the edge confirms it.
    """
    shipment = _shipment(session, shipment_id)
    if shipment.status not in _OPEN:
        raise ShipmentAlreadyDispatched(
            f"shipment {shipment.reference} is {shipment.status}; its plan cannot be sent"
        )
    plan = _current_plan(session, shipment_id)
    if plan is None or plan.id is None:
        raise PlanNotLoadable(f"shipment {shipment.reference} has no load plan")
    if plan.solver_status not in _LOADABLE:
        reasons = "; ".join(r["detail"] for r in json.loads(plan.reasons)) or plan.solver_status
        left_out = json.loads(plan.left_out)
        raise PlanNotLoadable(
            f"the plan of shipment {shipment.reference} does not load every pallet "
            f"({len(left_out)} left out: {reasons}); take pallets off the shipment or use a "
            "larger vehicle"
        )
    assert shipment.id is not None
    if plan.command_id is not None and plan.sent_at is not None:
        return LoadCommandPublic(
            shipment_id=shipment.id,
            command_id=plan.command_id,
            site=shipment.site_code,
            dock=shipment.dock,
            sent_at=plan.sent_at,
            already_sent=True,
        )
    placements = _placements(session, plan.id)
    payload = LoadPlanCommand(
        dock=shipment.dock,
        shipment_id=shipment.reference,
        vehicle_ref=shipment.vehicle_ref,
        route_ref=shipment.route_ref,
        trailer=trailer_type(shipment.trailer).name,
        placements=[
            LoadPlacement(
                sscc=p.sscc,
                row=p.row.row_no,
                column=p.row.column_no,
                deck=p.row.deck,
                level=p.row.level,
                sequence=p.row.sequence,
                stop_index=p.row.stop_index,
            )
            for p in placements
        ],
        pallets_expected=len(placements),
    )
    command = queue_command(
        session, site=shipment.site_code, type=CommandType.LOAD_PLAN, payload=payload, now=now
    )
    plan.command_id = command.id
    plan.sent_at = now
    session.add(plan)
    logger.info(
        "load plan of shipment %s queued for %s %s (command %s)",
        shipment.reference,
        shipment.site_code,
        shipment.dock,
        command.id,
    )
    return LoadCommandPublic(
        shipment_id=shipment.id,
        command_id=command.id,
        site=shipment.site_code,
        dock=shipment.dock,
        sent_at=now,
        already_sent=False,
    )


# ----------------------------------------------------------------------------- dock events


def truck_location(session: Session, site: str, dock: str) -> t.Location:
    """The dock's truck location, created at the dock's position on first use."""
    code = truck_location_code(dock)
    location = session.exec(
        select(t.Location).where(t.Location.site_code == site, t.Location.code == code)
    ).first()
    if location is not None:
        return location
    at = session.exec(select(t.Dock).where(t.Dock.site_code == site, t.Dock.code == dock)).first()
    location = t.Location(
        site_code=site,
        code=code,
        kind=TRUCK_KIND,
        x=at.x if at else Decimal(0),
        y=at.y if at else Decimal(0),
        z=Decimal(0),
    )
    session.add(location)
    session.flush()
    return location


def _hu(session: Session, site: str, sscc: str) -> t.HandlingUnit | None:
    return session.exec(
        select(t.HandlingUnit).where(t.HandlingUnit.sscc == sscc, t.HandlingUnit.site_code == site)
    ).first()


def _shipment_pallet(
    session: Session, shipment_id: int | None, hu_id: int | None
) -> t.ShipmentPallet | None:
    return session.exec(
        select(t.ShipmentPallet).where(
            t.ShipmentPallet.shipment_id == shipment_id,
            t.ShipmentPallet.handling_unit_id == hu_id,
        )
    ).first()


def _move(
    session: Session,
    *,
    site: str,
    hu: t.HandlingUnit,
    destination: t.Location | None,
    cause: UUID,
    now: datetime,
) -> t.Item:
    source = session.get(t.Location, hu.location_id)
    item = session.get(t.Item, hu.item_id)
    lot = session.get(t.Lot, hu.lot_id) if hu.lot_id is not None else None
    assert source is not None and item is not None  # foreign keys
    book_stock_move(
        session,
        StockBooking(site, source, destination, item, lot, hu, hu.quantity, cause),
        now=now,
    )
    return item


@dataclass(frozen=True)
class PalletMove:
    """A pallet whose stock moved: its item and quantity, for the books."""

    sscc: str
    gtin: str
    quantity: Decimal


@dataclass(frozen=True)
class LoadingOutcome:
    """What a loading event changed: a line for the event log and the pallets moved."""

    detail: str
    moved: tuple[PalletMove, ...] = ()


def _unknown_shipment(site: str, reference: str, what: str) -> UnknownShipment:
    return UnknownShipment(
        f"{what} for shipment {reference}, which site {site} does not have; create it "
        "(POST /loads) and re-apply this event"
    )


def load_pallet(
    session: Session,
    site: str,
    payload: PalletLoaded,
    *,
    at: datetime,
    now: datetime,
    cause: UUID,
    alert: Alert,
) -> LoadingOutcome:
    """pallet.loaded: the pallet's stock moves to the dock's truck location."""
    shipment = shipment_by_reference(session, site, payload.shipment_id)
    if shipment is None:
        raise _unknown_shipment(site, payload.shipment_id, f"pallet {payload.sscc} loaded")
    hu = _hu(session, site, payload.sscc)
    if hu is None:
        raise UnknownHandlingUnit(
            f"pallet {payload.sscc} loaded on shipment {shipment.reference} at {payload.dock} "
            f"was never received at {site}"
        )
    if hu.status == HU_DISPATCHED:
        alert(
            "loaded_after_dispatch",
            f"pallet {hu.sscc} was scanned onto shipment {shipment.reference} at "
            f"{payload.dock} but had left the site already",
            hu.sscc,
        )
        return LoadingOutcome(f"{hu.sscc} already dispatched")
    row = _shipment_pallet(session, shipment.id, hu.id)
    if row is None:
        alert(
            "pallet_not_on_shipment",
            f"pallet {hu.sscc} was loaded at {payload.dock} onto shipment "
            f"{shipment.reference}, which does not list it",
            hu.sscc,
        )
    else:
        row.status = PalletStatus.LOADED
        row.loaded_at = at
        row.loaded_sequence = payload.sequence
        row.override_reason = payload.override_reason[:200] if payload.override_reason else None
        session.add(row)
    if payload.override_reason:
        alert(
            "loaded_out_of_order",
            f"pallet {hu.sscc} loaded out of plan order onto shipment {shipment.reference} at "
            f"{payload.dock}: {payload.override_reason}",
            hu.sscc,
        )
    if hu.status == "hold":
        alert(
            "held_pallet_loaded",
            f"pallet {hu.sscc} is on hold but was loaded onto shipment {shipment.reference}",
            hu.sscc,
        )
    if shipment.status == ShipmentStatus.PLANNED:
        shipment.status = ShipmentStatus.LOADING
        session.add(shipment)
    for task in session.exec(
        select(t.PutawayTask).where(
            t.PutawayTask.handling_unit_id == hu.id, t.PutawayTask.status == "open"
        )
    ).all():
        # The pallet will not reach that bin; the bin must not stay reserved for it.
        task.status = "cancelled"
        task.done_at = now
        session.add(task)
    truck = truck_location(session, site, payload.dock)
    hu.status = HU_LOADED
    if hu.location_id == truck.id:
        session.add(hu)
        return LoadingOutcome(f"{hu.sscc} already on the truck at {payload.dock}")
    source = session.get(t.Location, hu.location_id)
    item = _move(session, site=site, hu=hu, destination=truck, cause=cause, now=now)
    assert truck.id is not None
    hu.location_id = truck.id
    session.add(hu)
    return LoadingOutcome(
        f"{hu.sscc} loaded onto {shipment.reference}: "
        f"{source.code if source else '?'} -> {truck.code}",
        (PalletMove(hu.sscc, item.gtin, hu.quantity),),
    )


def dispatch_shipment(
    session: Session,
    site: str,
    payload: ShipmentDispatched,
    *,
    at: datetime,
    now: datetime,
    cause: UUID,
    alert: Alert,
) -> LoadingOutcome:
    """shipment.dispatched: every pallet on the vehicle leaves the site's stock.

    Returns the pallets that left, for the goods issue postings.
    """
    shipment = shipment_by_reference(session, site, payload.shipment_id)
    if shipment is None:
        raise _unknown_shipment(site, payload.shipment_id, "dispatch")
    if shipment.status == ShipmentStatus.DISPATCHED:
        return LoadingOutcome(f"shipment {shipment.reference} was dispatched already")
    moved: list[PalletMove] = []
    for sscc in dict.fromkeys(payload.pallets):
        hu = _hu(session, site, sscc)
        if hu is None:
            alert(
                "dispatched_unknown_pallet",
                f"shipment {shipment.reference} left {payload.dock} with pallet {sscc}, which "
                f"was never received at {site}",
                sscc,
            )
            continue
        if hu.status == HU_DISPATCHED:
            alert(
                "dispatched_twice",
                f"pallet {sscc} on shipment {shipment.reference} had left the site already",
                sscc,
            )
            continue
        item = _move(session, site=site, hu=hu, destination=None, cause=cause, now=now)
        hu.status = HU_DISPATCHED
        session.add(hu)
        row = _shipment_pallet(session, shipment.id, hu.id)
        if row is not None:
            row.status = PalletStatus.DISPATCHED
            session.add(row)
        moved.append(PalletMove(sscc, item.gtin, hu.quantity))
    left = session.exec(
        select(t.HandlingUnit.sscc)
        .join(t.ShipmentPallet, col(t.ShipmentPallet.handling_unit_id) == t.HandlingUnit.id)
        .where(
            t.ShipmentPallet.shipment_id == shipment.id,
            col(t.HandlingUnit.sscc).not_in(payload.pallets),
        )
    ).all()
    if left:
        alert(
            "pallets_left_behind",
            f"shipment {shipment.reference} left {payload.dock} without {len(left)} of its "
            f"pallets: {', '.join(left[:20])}",
            shipment.reference,
        )
    shipment.status = ShipmentStatus.DISPATCHED
    shipment.dispatched_at = at
    shipment.dispatch_event_id = cause
    session.add(shipment)
    return LoadingOutcome(
        f"shipment {shipment.reference} dispatched from {payload.dock} with {len(moved)} pallet(s)",
        tuple(moved),
    )
