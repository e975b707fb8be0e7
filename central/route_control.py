"""Route control: routes as they are driven — driver reports, telematics, ETAs and alerts.

Adapter around the pure `central.domain.route_tracking`: it reads a route and what happened
on it from the database, asks the domain for ETAs and deviations, and writes them back (each
stop's predicted ETA, one alert per deviation). Every fact is applied in one transaction with
the route's row locked, so the API (driver reports) and the ingest workers (positions) can
apply facts of the same route at the same time.

* Driver reports (`report`) come from the driver page or the API, once per report id.
  Proof of delivery posts, for each pallet of the stop's order that left on a dispatched
  shipment, the move of its value out of stock in transit (DESIGN §5).
* Positions (`apply_position`) come from the vehicles' telematics over MQTT; a sample older
  than the route's newest one changes nothing. Leaving the depot counts as departure.
* "Now" for ETAs is the time of the newest fact, not the wall clock (a simulated day that
  runs faster than real time is tracked the same way as a real one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID, uuid4, uuid5

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from central.domain.accounting import AccountingError, LedgerConfig, Movement, MovementType
from central.domain.errors import Conflict, NotFound, RuleViolation
from central.domain.route_tracking import (
    Deviation,
    DeviationKind,
    GeoPoint,
    PlannedBreak,
    Position,
    StopState,
    TrackedRoute,
    TrackedStop,
    TrackingResult,
    TrackingRules,
    great_circle_m,
    track,
)
from central.ledger import post_movement
from central.loading_service import PalletStatus, ShipmentStatus
from central.routes_schemas import (
    DriverEventIn,
    DriverEventType,
    PlannedStopPublic,
    PositionPublic,
    RouteAlertPublic,
    RouteStatusPublic,
    StopStatusPublic,
)
from central.store import tables as t
from central.store.db import UnitOfWork
from central.store.types import plain_decimal
from contracts.envelope import utc_now
from contracts.telematics import VehiclePosition

logger = logging.getLogger(__name__)

# Deviations that end by themselves (the vehicle caught up, came back, moved on): their open
# alert is cleared when the deviation is gone. The others stay until ops close them.
_TRANSIENT = frozenset({DeviationKind.PREDICTED_LATE, DeviationKind.OFF_ROUTE, DeviationKind.IDLE})


class RouteState:
    """`PlannedRoute.state` values."""

    PLANNED = "planned"
    UNDER_WAY = "under_way"
    COMPLETED = "completed"


class UnknownRoute(NotFound):
    """No planned route with this id."""


class ReportRejected(RuleViolation):
    """A driver's report does not fit what is known of the route (e.g. a stop delivered twice)."""


class ReportIdReused(Conflict):
    """A report id was sent again with a different report."""


@dataclass(frozen=True)
class PositionOutcome:
    """What a telematics sample did: applied to a route, or why not."""

    applied: bool
    detail: str
    route_id: int | None = None


class RouteControl:
    """Applies driver reports and telematics samples to routes, keeps ETAs and alerts.

    Args:
        engine: the database.
        ledger_config: how proof of delivery posts.
        rules: thresholds of the deviation alerts.
        clock: the time reports without their own time are recorded at.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ledger_config: LedgerConfig,
        rules: TrackingRules | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._engine = engine
        self._ledger_config = ledger_config
        self._rules = rules or TrackingRules()
        self._clock = clock

    # ------------------------------------------------------------------------- driver reports

    def report(self, route_id: int, event: DriverEventIn, *, source: str) -> RouteStatusPublic:
        """Apply a driver's report once (by its id) and return the route's new status."""
        event_id = event.id or uuid4()
        now = self._clock()
        at = event.at.astimezone(UTC) if event.at is not None else now
        with UnitOfWork(self._engine, write_lock=True) as uow:
            session = uow.session
            route = _locked_route(session, route_id)
            known = session.get(t.RouteEvent, event_id)
            if known is not None:
                if (known.route_id, known.type, known.stop) != (
                    route_id,
                    event.type.value,
                    event.stop,
                ):
                    raise ReportIdReused(
                        f"report {event_id} was already used for a '{known.type}' report on "
                        f"route {known.route_id}; send a new id for a new report"
                    )
                return route_status(session, route_id)
            stop, order = self._apply_report(session, route, event, at)
            session.add(
                t.RouteEvent(
                    id=event_id,
                    route_id=route_id,
                    type=event.type.value,
                    stop=event.stop,
                    order_id=None if order is None else order.id,
                    at=at,
                    received_by=event.received_by,
                    reason=event.reason,
                    note=event.note,
                    source=source,
                    recorded_at=now,
                )
            )
            if event.type is DriverEventType.DELIVERED and order is not None and stop is not None:
                self._post_delivery(session, route, order, event_id, at)
            session.flush()
            self._refresh(session, route, max(at, route.position_at or at))
            status = route_status(session, route_id)
            uow.commit()
        logger.info(
            "route %d: %s%s reported by %s",
            route_id,
            event.type.value,
            "" if event.stop is None else f" at stop {event.stop}",
            source,
        )
        return status

    def _apply_report(
        self, session: Session, route: t.PlannedRoute, event: DriverEventIn, at: datetime
    ) -> tuple[t.PlannedStop | None, t.DeliveryOrder | None]:
        kind = event.type
        if route.state == RouteState.COMPLETED:
            raise ReportRejected(
                f"route {route.id} is over (back at the site since {route.completed_at:%H:%M}); "
                "nothing more can be reported on it"
            )
        if kind is DriverEventType.DEPARTED:
            # Telematics may have seen the vehicle leave before the driver tapped "departed":
            # the report is kept, the earlier departure stands.
            if route.state == RouteState.PLANNED:
                _depart(route, at)
                session.add(route)
            return None, None
        if kind is DriverEventType.RETURNED:
            if route.state != RouteState.UNDER_WAY:
                raise ReportRejected(f"route {route.id} has not left the site yet")
            route.state = RouteState.COMPLETED
            route.completed_at = at
            session.add(route)
            return None, None
        assert event.stop is not None  # DriverEventIn guarantees a stop for stop reports
        stop = session.exec(
            select(t.PlannedStop)
            .where(t.PlannedStop.route_id == route.id)
            .where(t.PlannedStop.sequence == event.stop)
        ).first()
        if stop is None:
            raise ReportRejected(f"route {route.id} has no stop {event.stop}")
        order = session.get(t.DeliveryOrder, stop.order_id)
        assert order is not None
        where = f"stop {stop.sequence} ({order.reference}, {order.customer})"
        if stop.state in (StopState.DELIVERED.value, StopState.FAILED.value):
            raise ReportRejected(f"{where} is already {stop.state}")
        if route.state == RouteState.PLANNED:
            _depart(route, at)  # a driver who forgot to press "departed"
            session.add(route)
        if kind is DriverEventType.ARRIVED:
            if stop.state == StopState.ARRIVED.value:
                raise ReportRejected(f"arrival at {where} was already reported")
            stop.state = StopState.ARRIVED.value
            stop.arrived_at = at
        elif kind is DriverEventType.DELIVERED:
            stop.state = StopState.DELIVERED.value
            stop.arrived_at = stop.arrived_at or at
            stop.done_at = at
            stop.received_by = (event.received_by or "").strip()
            order.status = "delivered"
        else:
            stop.state = StopState.FAILED.value
            stop.arrived_at = stop.arrived_at or at
            stop.done_at = at
            stop.failed_reason = (event.reason or "").strip()
            order.status = "failed"
            _alert(
                session,
                route,
                "route_delivery_failed",
                f"route {route.id}: delivery at {where} failed: {stop.failed_reason}",
                f"failed:{stop.sequence}",
                at,
            )
        session.add(stop)
        session.add(order)
        return stop, order

    def _post_delivery(
        self,
        session: Session,
        route: t.PlannedRoute,
        order: t.DeliveryOrder,
        report_id: UUID,
        at: datetime,
    ) -> None:
        """Proof of delivery: each dispatched pallet of the order leaves stock in transit.

        One movement per pallet, drawn on that pallet's goods issue (the dispatch event's
        movement id for the pallet), under an id derived from the report: re-applying the
        report posts nothing twice. A posting the books refuse does not undo the delivery
        (the customer has the goods); it becomes an alert for ops to settle.
        """
        rows = session.exec(
            select(t.ShipmentPallet, t.Shipment, t.HandlingUnit, t.Item)
            .join(t.Shipment, col(t.Shipment.id) == t.ShipmentPallet.shipment_id)
            .join(t.HandlingUnit, col(t.HandlingUnit.id) == t.ShipmentPallet.handling_unit_id)
            .join(t.Item, col(t.Item.id) == t.HandlingUnit.item_id)
            .where(t.ShipmentPallet.order_id == order.id)
            .where(col(t.Shipment.dispatch_event_id).is_not(None))
            # A pallet left behind at the dock never left stock: nothing is in transit for it.
            .where(t.ShipmentPallet.status == PalletStatus.DISPATCHED)
        ).all()
        for _pallet, shipment, hu, item in rows:
            assert shipment.dispatch_event_id is not None
            movement = Movement(
                event_id=uuid5(report_id, hu.sscc),
                movement_type=MovementType.PROOF_OF_DELIVERY,
                site=shipment.site_code,
                item=item.gtin,
                quantity=hu.quantity,
                occurred_at=at,
                currency=self._ledger_config.site(shipment.site_code).currency,
                reference=uuid5(shipment.dispatch_event_id, hu.sscc),
            )
            try:
                post_movement(session, movement, config=self._ledger_config, clock=self._clock)
            except AccountingError as err:
                _alert(
                    session,
                    route,
                    "delivery_not_posted",
                    f"pallet {hu.sscc} of order {order.reference} was delivered but its proof "
                    f"of delivery could not be posted: {err}",
                    f"pod:{hu.sscc}",
                    at,
                )

    # ------------------------------------------------------------------------- telematics

    def apply_position(self, sample: VehiclePosition) -> PositionOutcome:
        """Apply a telematics sample to the vehicle's route of that day, once."""
        with UnitOfWork(self._engine, write_lock=True) as uow:
            session = uow.session
            route_id = _route_of_vehicle(session, sample.site, sample.vehicle, sample.at)
            if route_id is None:
                return PositionOutcome(
                    False, f"{sample.site} vehicle {sample.vehicle} has no open route today"
                )
            route = _locked_route(session, route_id)
            if route.position_at is not None and sample.at <= route.position_at:
                return PositionOutcome(False, "older than the route's newest position", route_id)
            over = route.state == RouteState.COMPLETED
            session.add(
                t.VehiclePositionRow(
                    route_id=route_id,
                    at=sample.at,
                    lat=sample.lat,
                    lon=sample.lon,
                    speed_kmh=sample.speed_kmh,
                )
            )
            route.position_at = sample.at
            route.position_lat = sample.lat
            route.position_lon = sample.lon
            route.position_speed_kmh = sample.speed_kmh
            if route.state == RouteState.PLANNED and self._left_depot(session, route, sample):
                _depart(route, sample.at)
                logger.info("route %d: vehicle %s left the site", route_id, sample.vehicle)
            session.add(route)
            session.flush()
            if not over:  # a late sample of a finished route only completes its track
                self._refresh(session, route, sample.at)
            uow.commit()
        return PositionOutcome(True, "applied", route_id)

    def _left_depot(self, session: Session, route: t.PlannedRoute, sample: VehiclePosition) -> bool:
        plan = session.get(t.RoutePlan, route.plan_id)
        assert plan is not None
        depot = GeoPoint(float(plan.depot_lat), float(plan.depot_lon))
        away = great_circle_m(depot, GeoPoint(sample.lat, sample.lon))
        return away > self._rules.at_stop_radius_m

    # ------------------------------------------------------------------------- tracking

    def refresh(self, route_id: int, now: datetime) -> RouteStatusPublic:
        """Recompute a route's ETAs and alerts as of `now` (e.g. a route that never left)."""
        with UnitOfWork(self._engine, write_lock=True) as uow:
            route = _locked_route(uow.session, route_id)
            self._refresh(uow.session, route, now)
            status = route_status(uow.session, route_id)
            uow.commit()
        return status

    def _refresh(self, session: Session, route: t.PlannedRoute, now: datetime) -> TrackingResult:
        assert route.id is not None
        plan = session.get(t.RoutePlan, route.plan_id)
        assert plan is not None
        # ETAs use the travel model the plan was made with.
        rules = replace(self._rules, circuity=float(plan.circuity), speed_kmh=float(plan.speed_kmh))
        tracked, stops = _tracked_route(session, route)
        since = now - timedelta(seconds=2 * self._rules.idle_after_s)
        positions = [
            Position(p.at, GeoPoint(p.lat, p.lon), p.speed_kmh)
            for p in session.exec(
                select(t.VehiclePositionRow)
                .where(t.VehiclePositionRow.route_id == route.id)
                .where(col(t.VehiclePositionRow.at) >= since)
                .where(col(t.VehiclePositionRow.at) <= now)
                .order_by(col(t.VehiclePositionRow.at))
            ).all()
        ]
        result = track(tracked, now=now, positions=positions, rules=rules)
        etas = {e.sequence: e for e in result.etas}
        for stop in stops:
            eta = etas.get(stop.sequence)
            stop.predicted_eta = None if eta is None else eta.eta
            if eta is not None:
                stop.late_by_s = eta.late_by_s
            session.add(stop)
        pending = {s.sequence for s in stops if s.state == StopState.PENDING.value}
        self._sync_alerts(session, route, result, pending, now)
        return result

    def _sync_alerts(
        self,
        session: Session,
        route: t.PlannedRoute,
        result: TrackingResult,
        pending: set[int],
        now: datetime,
    ) -> None:
        current = {_alert_ref(route, _alert_key(d)) for d in result.deviations}
        for deviation in result.deviations:
            _alert(
                session, route, deviation.kind.value, deviation.message, _alert_key(deviation), now
            )
        transient = [k.value for k in _TRANSIENT]
        for alert in session.exec(
            select(t.Alert)
            .where(col(t.Alert.ref).startswith(_alert_ref(route, "")))
            .where(t.Alert.status == "open")
            .where(col(t.Alert.kind).in_(transient))
        ).all():
            if alert.ref in current:
                continue
            if alert.kind == DeviationKind.PREDICTED_LATE.value and _stop_of(alert) not in pending:
                continue  # the stop was reached: the prediction stands, a late arrival follows
            alert.status = "cleared"
            session.add(alert)


def _alert_key(deviation: Deviation) -> str:
    """One alert per standing or wandering episode: the domain's key for those moves with the
    positions it sees, so the episode's kind alone keys the alert while it is open."""
    if deviation.kind in (DeviationKind.IDLE, DeviationKind.OFF_ROUTE):
        return deviation.key.split(":")[0]
    return deviation.key


def _stop_of(alert: t.Alert) -> int | None:
    """The stop sequence an alert's key names (`... predicted_late:3`), if any."""
    tail = (alert.ref or "").rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


# ----------------------------------------------------------------------------- reading


def route_status(session: Session, route_id: int) -> RouteStatusPublic:
    """A route with its stops, their state and stored ETAs, the vehicle's position and open
    alerts."""
    route = session.get(t.PlannedRoute, route_id)
    if route is None:
        raise UnknownRoute(f"no route {route_id}")
    plan = session.get(t.RoutePlan, route.plan_id)
    vehicle = session.get(t.Vehicle, route.vehicle_id)
    assert plan is not None and vehicle is not None and route.id is not None
    day_start = datetime.combine(plan.plan_date, time(0), tzinfo=UTC)
    stops: list[StopStatusPublic] = []
    for stop, order in _stops_with_orders(session, route.id):
        latest = _at(day_start, order.window_latest)
        stops.append(
            StopStatusPublic(
                **planned_stop_public(stop, order).model_dump(),
                lat=plain_decimal(order.lat),
                lon=plain_decimal(order.lon),
                service_s=order.service_s,
                instructions=order.instructions,
                pallets=pallets_of_order(session, order.id or 0),
                state=stop.state,
                predicted_eta=stop.predicted_eta,
                late_by_s=_late_by_s(stop, latest),
                arrived_at=stop.arrived_at,
                done_at=stop.done_at,
                received_by=stop.received_by,
                failed_reason=stop.failed_reason,
            )
        )
    position = None
    if route.position_at is not None:
        position = PositionPublic(
            at=route.position_at,
            lat=route.position_lat or 0.0,
            lon=route.position_lon or 0.0,
            speed_kmh=route.position_speed_kmh or 0.0,
        )
    alerts = session.exec(
        select(t.Alert)
        .where(col(t.Alert.ref).startswith(_alert_ref(route, "")))
        .where(t.Alert.status == "open")
        .order_by(col(t.Alert.id))
    ).all()
    return RouteStatusPublic(
        route_id=route.id,
        plan_id=route.plan_id,
        site=plan.site_code,
        date=plan.plan_date,
        vehicle_ref=vehicle.ref,
        state=route.state,
        depot_lat=plain_decimal(plan.depot_lat),
        depot_lon=plain_decimal(plan.depot_lon),
        start_at=route.start_at,
        end_at=route.end_at,
        km=plain_decimal(Decimal(route.distance_m) / 1000),
        load_kg=plain_decimal(route.load_kg),
        load_pallets=route.load_pallets,
        departed_at=route.departed_at,
        completed_at=route.completed_at,
        position=position,
        stops=stops,
        alerts=[
            RouteAlertPublic(id=a.id or 0, kind=a.kind, message=a.message, created_at=a.created_at)
            for a in alerts
        ],
    )


def planned_stop_public(stop: t.PlannedStop, order: t.DeliveryOrder) -> PlannedStopPublic:
    """A stop of a route as planned, with its order's customer, window and demand."""
    return PlannedStopPublic(
        sequence=stop.sequence,
        order_id=stop.order_id,
        reference=order.reference,
        customer=order.customer,
        address=order.address,
        window_earliest=order.window_earliest,
        window_latest=order.window_latest,
        eta=stop.eta,
        departure_at=stop.departure_at,
        demand_kg=plain_decimal(order.demand_kg),
        demand_pallets=order.demand_pallets,
    )


def pallets_of_order(session: Session, order_id: int) -> list[str]:
    """SSCCs of the order's pallets on shipments (the driver unloads these at its stop); once
    a shipment has left, only the pallets that left on it."""
    return list(
        session.exec(
            select(t.HandlingUnit.sscc)
            .join(t.ShipmentPallet, col(t.ShipmentPallet.handling_unit_id) == t.HandlingUnit.id)
            .join(t.Shipment, col(t.Shipment.id) == t.ShipmentPallet.shipment_id)
            .where(t.ShipmentPallet.order_id == order_id)
            .where(t.Shipment.status != ShipmentStatus.CANCELLED)
            .where(
                or_(
                    col(t.Shipment.status) != ShipmentStatus.DISPATCHED,
                    col(t.ShipmentPallet.status) == PalletStatus.DISPATCHED,
                )
            )
            .order_by(col(t.HandlingUnit.sscc))
        ).all()
    )


def routes_of_plan(session: Session, plan_id: int) -> list[RouteStatusPublic]:
    """The status of every route of a plan."""
    ids = session.exec(
        select(t.PlannedRoute.id)
        .where(t.PlannedRoute.plan_id == plan_id)
        .order_by(col(t.PlannedRoute.id))
    ).all()
    return [route_status(session, route_id) for route_id in ids if route_id is not None]


# ----------------------------------------------------------------------------- helpers


def _locked_route(session: Session, route_id: int) -> t.PlannedRoute:
    route = session.exec(
        select(t.PlannedRoute).where(t.PlannedRoute.id == route_id).with_for_update()
    ).first()
    if route is None:
        raise UnknownRoute(f"no route {route_id}")
    return route


def _depart(route: t.PlannedRoute, at: datetime) -> None:
    route.state = RouteState.UNDER_WAY
    route.departed_at = at


def _route_of_vehicle(session: Session, site: str, vehicle: str, at: datetime) -> int | None:
    """The vehicle's route at `at`: on the newest plan of the day, the route not over yet, or
    the one that ended after `at` (a sample that arrives after the driver's last report)."""
    routes = session.exec(
        select(t.PlannedRoute.id, t.PlannedRoute.completed_at)
        .join(t.Vehicle, col(t.Vehicle.id) == t.PlannedRoute.vehicle_id)
        .join(t.RoutePlan, col(t.RoutePlan.id) == t.PlannedRoute.plan_id)
        .where(t.Vehicle.site_code == site)
        .where(t.Vehicle.ref == vehicle)
        .where(t.RoutePlan.plan_date == at.date())
        .order_by(col(t.RoutePlan.id).desc())
    ).all()
    return next((route_id for route_id, ended in routes if ended is None or at <= ended), None)


def _stops_with_orders(
    session: Session, route_id: int
) -> Sequence[tuple[t.PlannedStop, t.DeliveryOrder]]:
    return session.exec(
        select(t.PlannedStop, t.DeliveryOrder)
        .join(t.DeliveryOrder, col(t.DeliveryOrder.id) == t.PlannedStop.order_id)
        .where(t.PlannedStop.route_id == route_id)
        .order_by(col(t.PlannedStop.sequence))
    ).all()


def _tracked_route(
    session: Session, route: t.PlannedRoute
) -> tuple[TrackedRoute, list[t.PlannedStop]]:
    assert route.id is not None
    plan = session.get(t.RoutePlan, route.plan_id)
    vehicle = session.get(t.Vehicle, route.vehicle_id)
    assert plan is not None and vehicle is not None
    day_start = datetime.combine(plan.plan_date, time(0), tzinfo=UTC)
    rows = _stops_with_orders(session, route.id)
    tracked = TrackedRoute(
        route_id=route.id,
        vehicle=vehicle.ref,
        depot=GeoPoint(float(plan.depot_lat), float(plan.depot_lon)),
        planned_start=route.start_at,
        planned_end=route.end_at,
        stops=tuple(
            TrackedStop(
                sequence=stop.sequence,
                ref=order.reference,
                location=GeoPoint(float(order.lat), float(order.lon)),
                earliest=_at(day_start, order.window_earliest) or day_start,
                latest=_at(day_start, order.window_latest),
                service_s=order.service_s,
                planned_eta=stop.eta,
                state=StopState(stop.state),
                arrived_at=stop.arrived_at,
                done_at=stop.done_at,
            )
            for stop, order in rows
        ),
        breaks=tuple(
            PlannedBreak(day_start + timedelta(seconds=start_s), duration_s)
            for _leg, start_s, duration_s in json.loads(route.breaks)
        ),
        departed_at=route.departed_at,
        completed_at=route.completed_at,
    )
    return tracked, [stop for stop, _ in rows]


def _at(day_start: datetime, value: time | None) -> datetime | None:
    if value is None:
        return None
    return day_start + timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)


def _late_by_s(stop: t.PlannedStop, latest: datetime | None) -> int:
    """Late against the window: actual for a stop reached, else the stored prediction."""
    if stop.arrived_at is not None:
        if latest is None:
            return 0
        return max(0, round((stop.arrived_at - latest).total_seconds()))
    return stop.late_by_s


def _alert_ref(route: t.PlannedRoute, key: str) -> str:
    return f"route {route.id} {key}"[:80]


def _alert(
    session: Session,
    route: t.PlannedRoute,
    kind: str,
    message: str,
    key: str,
    now: datetime,
) -> None:
    """Raise an alert once per route and key while it is open."""
    plan = session.get(t.RoutePlan, route.plan_id)
    assert plan is not None
    ref = _alert_ref(route, key)
    open_alert = session.exec(
        select(t.Alert.id)
        .where(t.Alert.ref == ref)
        .where(t.Alert.kind == kind)
        .where(t.Alert.status == "open")
    ).first()
    if open_alert is not None:
        return
    logger.info("alert %s at %s: %s", kind, plan.site_code, message)
    session.add(
        t.Alert(
            site_code=plan.site_code,
            kind=kind,
            message=message,
            ref=ref,
            status="open",
            created_at=now,
        )
    )
