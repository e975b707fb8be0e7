"""Re-planning a day's routes while they are driven, in place.

The plan keeps its id and its routes keep theirs, so the route sheets already printed and the
drivers' links stay valid: only the stops not yet reached change (vehicle, order, ETAs).

What stays fixed (`central.optimizers.routing.replan` keeps it and plans the rest of the day
from where each vehicle is committed):
* on a route under way, the stops already reached (arrived, delivered, failed), in the order
  they were reached, and the stop the vehicle is heading to (its next pending stop), which it
  reaches at its predicted ETA;
* a route that is over takes nothing more; its unreached stops are re-planned onto others.

The past is told as it happened: a reached stop keeps no window (it has happened) and is
placed no earlier than it really was. No other stop starts before `as_of`, and no vehicle
leaves before it. A stop whose window closed before it can be reached is delivered as soon as
possible (its window is opened to the end of the day) rather than dropped, and reported as a
change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from central.domain.errors import Conflict, RuleViolation
from central.domain.route_tracking import StopState
from central.optimizers.routing import (
    Break,
    ReplanResult,
    Route,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    Visit,
    replan,
)
from central.optimizers.routing_model import travel_matrices
from central.route_control import RouteState
from central.route_service import (
    build_problem,
    money,
    new_planned_route,
    plan_travel,
    plan_view,
    set_route_plan,
)
from central.routes_schemas import ReplanChangePublic, ReplanPublic, ReplanRequest
from central.store import tables as t
from central.store.db import UnitOfWork

logger = logging.getLogger(__name__)

_REACHED = (StopState.ARRIVED.value, StopState.DELIVERED.value, StopState.FAILED.value)


class ReplanFailed(RuleViolation):
    """The optimizer found no plan for the remaining stops; the current plan stays."""


class PlanChangedWhileReplanning(Conflict):
    """A driver's report or a vehicle leaving changed a route while the optimizer ran."""


@dataclass(frozen=True)
class _RouteNow:
    route: t.PlannedRoute
    vehicle: t.Vehicle
    reached: list[tuple[t.PlannedStop, t.DeliveryOrder]]  # in the order they were reached
    pending: list[tuple[t.PlannedStop, t.DeliveryOrder]]  # in planned sequence


@dataclass(frozen=True)
class _Snapshot:
    plan: t.RoutePlan
    vehicles: list[t.Vehicle]
    routes: list[_RouteNow]
    unplanned: list[t.DeliveryOrder]  # dropped before, or new orders of the day
    as_of: datetime


def replan_plan(engine: Engine, plan_id: int, request: ReplanRequest) -> ReplanPublic:
    """Re-plan the stops of a plan not yet reached and store the result in place."""
    with Session(engine) as session:
        view = plan_view(session, plan_id)  # 404 for an unknown plan
        snapshot = _snapshot(session, plan_id, request)
    day_start = datetime.combine(view.date, time(0), tzinfo=UTC)
    problem, current, progress, promised = _model(snapshot, day_start)
    now_s = _seconds(snapshot.as_of, day_start)
    try:
        outcome = replan(
            problem,
            current,
            progress=progress,
            promised_etas=promised,
            eta_change_penalty_per_s=request.eta_change_penalty_per_min / 60,
            eta_change_report_s=request.report_eta_change_min * 60,
            time_limit_s=request.time_limit_s,
            now_s=now_s,
        )
    except Exception as err:  # OR-Tools reports an inconsistent model as a bare Exception
        logger.exception("re-plan of plan %d failed in the optimizer", plan_id)
        raise ReplanFailed(
            f"the optimizer could not re-plan plan {plan_id} ({err}); the current plan stays"
        ) from err
    result = outcome.result
    if result.status is RoutingStatus.NO_SOLUTION:
        raise ReplanFailed(
            f"no plan found for the remaining stops of plan {plan_id}; the current plan stays. "
            + "; ".join(result.notes)
        )
    with UnitOfWork(engine, write_lock=True) as uow:
        _check_unchanged(uow.session, snapshot)
        _store(uow.session, snapshot, result, day_start)
        uow.commit()
    with Session(engine) as session:
        refs = {str(o.id): o.reference for o in _orders_of(session, problem)}
        new_view = plan_view(session, plan_id)
    logger.info(
        "plan %d re-planned as of %s: %d changes, %s (%s)",
        plan_id,
        snapshot.as_of.isoformat(),
        len(outcome.changes),
        result.status.value,
        result.engine,
    )
    return ReplanPublic(
        plan=new_view,
        as_of=snapshot.as_of,
        changes=_changes(outcome, refs, day_start),
    )


def _snapshot(session: Session, plan_id: int, request: ReplanRequest) -> _Snapshot:
    plan = session.get(t.RoutePlan, plan_id)
    assert plan is not None and plan.id is not None
    vehicles = list(
        session.exec(
            select(t.Vehicle)
            .where(t.Vehicle.site_code == plan.site_code)
            .order_by(col(t.Vehicle.id))
        ).all()
    )
    by_id = {v.id: v for v in vehicles}
    routes: list[_RouteNow] = []
    latest_fact: datetime | None = None
    for route in session.exec(
        select(t.PlannedRoute)
        .where(t.PlannedRoute.plan_id == plan_id)
        .order_by(col(t.PlannedRoute.id))
    ).all():
        rows = session.exec(
            select(t.PlannedStop, t.DeliveryOrder)
            .join(t.DeliveryOrder, col(t.DeliveryOrder.id) == t.PlannedStop.order_id)
            .where(t.PlannedStop.route_id == route.id)
            .order_by(col(t.PlannedStop.sequence))
        ).all()
        reached = sorted(
            (r for r in rows if r[0].state in _REACHED),
            key=lambda r: (r[0].arrived_at or r[0].done_at or route.start_at, r[0].sequence),
        )
        pending = [r for r in rows if r[0].state not in _REACHED]
        routes.append(_RouteNow(route, by_id[route.vehicle_id], reached, pending))
        facts = [route.position_at, route.departed_at, route.completed_at]
        facts += [s.done_at or s.arrived_at for s, _ in reached]
        for fact in facts:
            if fact is not None and (latest_fact is None or fact > latest_fact):
                latest_fact = fact
    on_plan = {o.id for r in routes for _, o in r.reached + r.pending}
    dropped = set(json.loads(plan.dropped))
    query = (
        select(t.DeliveryOrder)
        .where(t.DeliveryOrder.site_code == plan.site_code)
        .where(t.DeliveryOrder.delivery_date == plan.plan_date)
        .order_by(col(t.DeliveryOrder.id))
    )
    unplanned = [
        o
        for o in session.exec(query).all()
        if o.id not in on_plan
        and (o.id in dropped or (request.include_new_orders and o.status == "open"))
    ]
    as_of = request.as_of or latest_fact or datetime.now(UTC)
    return _Snapshot(plan, vehicles, routes, unplanned, as_of.astimezone(UTC))


def _model(
    snapshot: _Snapshot, day_start: datetime
) -> tuple[RoutingProblem, RoutingResult, dict[tuple[str, int], int], dict[str, int]]:
    """The optimizer's view: problem, current plan, progress of routes under way, promises."""
    plan = snapshot.plan
    over = [r for r in snapshot.routes if r.route.state == RouteState.COMPLETED]
    gone = {r.vehicle.id for r in over}
    orders = [o for r in snapshot.routes if r not in over for _, o in r.reached + r.pending]
    orders += [o for r in over for _, o in r.pending] + snapshot.unplanned
    base = build_problem(
        plan.site_code,
        plan.plan_date,
        plan.depot_lat,
        plan.depot_lon,
        [v for v in snapshot.vehicles if v.id not in gone],
        orders,
        plan_travel(plan),
    )
    now_s = _seconds(snapshot.as_of, day_start)
    index = {s.id: i for i, s in enumerate(base.stops)}
    stops = list(base.stops)
    for i, planned in enumerate(stops):
        stops[i] = _not_before(planned, now_s)
    progress: dict[tuple[str, int], int] = {}
    current: list[Route] = []
    matrices = travel_matrices(base)
    for r in snapshot.routes:
        if r in over:
            continue
        under_way = r.route.state == RouteState.UNDER_WAY
        start_s = _seconds(r.route.departed_at or r.route.start_at, day_start)
        visits: list[Visit] = []
        node, clock = 0, start_s  # the depot is node 0 (one depot)
        for stop, order in r.reached:
            i = index[str(order.id)]
            reached_s = _seconds(stop.arrived_at or stop.done_at or stop.eta, day_start)
            arrival = max(clock + matrices.duration[node][base.stop_node(i)], reached_s)
            stops[i] = replace(stops[i], earliest_s=0, latest_s=None)  # it has happened
            visits.append(Visit(str(order.id), arrival, arrival + stops[i].service_s))
            node, clock = base.stop_node(i), arrival + stops[i].service_s
        for n, (s, o) in enumerate(r.pending):
            model = stops[index[str(o.id)]]
            arrival = _seconds(s.eta, day_start)
            if under_way and n == 0:  # heading there now: it starts when tracking predicts
                arrival = max(_seconds(s.predicted_eta or s.eta, day_start), model.earliest_s)
            visits.append(Visit(str(o.id), arrival, arrival + model.service_s))
        if under_way:
            progress[(r.vehicle.ref, 0)] = len(r.reached) - 1
        current.append(
            Route(
                vehicle_type=r.vehicle.ref,
                vehicle_index=0,
                site=plan.site_code,
                start_s=start_s,
                end_s=_seconds(r.route.end_at, day_start),
                visits=tuple(visits),
                breaks=tuple(Break(*b) for b in json.loads(r.route.breaks)),
                distance_m=r.route.distance_m,
                load_kg=r.route.load_kg,
                load_pallets=r.route.load_pallets,
            )
        )
    problem = replace(base, stops=tuple(stops))
    promised = {
        str(o.id): _seconds(s.eta, day_start)
        for r in snapshot.routes
        for s, o in r.pending
        if r not in over
    }
    result = RoutingResult(
        status=RoutingStatus.FEASIBLE,
        routes=tuple(current),
        dropped=tuple(str(o.id) for o in snapshot.unplanned)
        + tuple(str(o.id) for r in over for _, o in r.pending),
        cost=snapshot.plan.cost,
        engine=snapshot.plan.engine,
        solve_time_s=0.0,
    )
    return problem, result, progress, promised


def _not_before(stop: Stop, earliest_s: int) -> Stop:
    """The stop cannot start before `earliest_s`; if its window has closed by then, it is
    delivered as soon as possible (open to the end of the day)."""
    if earliest_s <= stop.earliest_s:
        return stop
    if stop.latest_s is not None and stop.latest_s < earliest_s:
        return replace(stop, earliest_s=earliest_s, latest_s=None)
    return replace(stop, earliest_s=earliest_s)


def _check_unchanged(session: Session, snapshot: _Snapshot) -> None:
    """The routes are still as the optimizer saw them; storing over a report that came in
    meanwhile would put a reached stop back to pending. Locks the routes until the commit."""
    for r in snapshot.routes:
        state = session.exec(
            select(t.PlannedRoute.state).where(t.PlannedRoute.id == r.route.id).with_for_update()
        ).one()
        stops = {
            stop_id: stop_state
            for stop_id, stop_state in session.exec(
                select(t.PlannedStop.id, t.PlannedStop.state).where(
                    t.PlannedStop.route_id == r.route.id
                )
            ).all()
        }
        if state != r.route.state or stops != {s.id: s.state for s, _ in r.reached + r.pending}:
            raise PlanChangedWhileReplanning(
                f"route {r.route.id} of plan {snapshot.plan.id} changed while it was re-planned "
                "(a driver's report, or the vehicle left); the plan stays as it is: re-plan again"
            )


def _store(
    session: Session, snapshot: _Snapshot, result: RoutingResult, day_start: datetime
) -> None:
    plan = session.get(t.RoutePlan, snapshot.plan.id)
    assert plan is not None and plan.id is not None
    by_ref = {v.ref: v for v in snapshot.vehicles}
    routes = {r.vehicle.ref: r for r in snapshot.routes}
    for r in snapshot.routes:
        for stop, _ in r.pending:
            session.delete(stop)
    session.flush()
    routed: set[int] = set()
    for new in result.routes:
        known = routes.get(new.vehicle_type)
        if known is None:
            vehicle_id = by_ref[new.vehicle_type].id
            assert vehicle_id is not None
            row = new_planned_route(plan.id, vehicle_id, new, day_start)
            reached_ids: set[str] = set()
            next_sequence = 1
        else:
            row = known.route
            reached_ids = {str(o.id) for _, o in known.reached}
            next_sequence = 1 + max((s.sequence for s, _ in known.reached), default=0)
        left_at = None if row.state == RouteState.PLANNED else row.start_at
        set_route_plan(row, new, day_start)
        row.start_at = left_at or row.start_at  # a route under way keeps its planned start
        session.add(row)
        session.flush()
        assert row.id is not None
        for visit in new.visits:
            routed.add(int(visit.stop_id))
            if visit.stop_id in reached_ids:
                continue
            eta = day_start + timedelta(seconds=visit.arrival_s)
            session.add(
                t.PlannedStop(
                    route_id=row.id,
                    sequence=next_sequence,
                    order_id=int(visit.stop_id),
                    eta=eta,
                    departure_at=day_start + timedelta(seconds=visit.departure_s),
                    predicted_eta=eta,
                )
            )
            next_sequence += 1
    for r in snapshot.routes:
        if r.vehicle.ref not in {n.vehicle_type for n in result.routes}:
            # No stop left on it: the vehicle stays at (or goes back to) the site.
            r.route.distance_m = 0 if r.route.state == RouteState.PLANNED else r.route.distance_m
            session.add(r.route)
    dropped = [int(s) for s in result.dropped]
    for order_id in routed | set(dropped):
        order = session.get(t.DeliveryOrder, order_id)
        if order is not None and order.status in ("open", "planned"):
            order.status = "planned" if order_id in routed else "open"
            session.add(order)
    plan.dropped = json.dumps(sorted(dropped))
    plan.cost = money(result.cost)
    plan.engine = result.engine
    plan.status = result.status.value
    plan.notes = "\n".join(
        [*plan.notes.split("\n"), f"re-planned as of {snapshot.as_of:%H:%M} UTC", *result.notes]
    ).strip()
    session.add(plan)


def _changes(
    outcome: ReplanResult, refs: dict[str, str], day_start: datetime
) -> list[ReplanChangePublic]:
    def at(seconds: int | None) -> datetime | None:
        return None if seconds is None else day_start + timedelta(seconds=seconds)

    return [
        ReplanChangePublic(
            order=refs.get(c.stop_id, c.stop_id),
            kind=c.kind.value,
            vehicle_before=None if c.vehicle_before is None else c.vehicle_before[0],
            vehicle_after=None if c.vehicle_after is None else c.vehicle_after[0],
            eta_before=at(c.eta_before_s),
            eta_after=at(c.eta_after_s),
        )
        for c in outcome.changes
    ]


def _orders_of(session: Session, problem: RoutingProblem) -> Sequence[t.DeliveryOrder]:
    ids = [int(s.id) for s in problem.stops]
    return session.exec(select(t.DeliveryOrder).where(col(t.DeliveryOrder.id).in_(ids))).all()


def _seconds(when: datetime, day_start: datetime) -> int:
    """Seconds into the plan's day; a fact from before the day (a report sent early, a
    clock that was off) counts as its start: the optimizer's day begins at 0."""
    return max(0, round((when - day_start).total_seconds()))
