"""Re-planning: what is driven stays, the rest is re-optimised, promised ETAs are kept."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from central.optimizers.routing import (
    XY,
    ChangeKind,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    check_routes,
    replan,
    solve,
)
from tests.unit.optimizers.test_routing_solve import GUARD_S, grid_problem


def _current() -> tuple[RoutingProblem, RoutingResult]:
    problem = grid_problem(5, 10, windows=True, vehicles=4)
    plan = solve(problem, time_limit_s=GUARD_S, engine="ortools", max_iterations=50)
    assert plan.status is RoutingStatus.FEASIBLE
    return problem, plan


def test_served_stops_and_the_next_one_stay_fixed_and_a_new_stop_is_added() -> None:
    """Vehicle under way: its served stop keeps its time, the next stop stays second."""
    problem, plan = _current()
    route = max(plan.routes, key=lambda r: len(r.visits))
    assert len(route.visits) >= 2
    urgent = Stop("NEW", XY(9_000, 11_000), demand_kg=Decimal(50), demand_pallets=1, service_s=300)
    bigger = dataclasses.replace(problem, stops=(*problem.stops, urgent))

    out = replan(
        bigger,
        plan,
        progress={route.vehicle: 0},
        time_limit_s=GUARD_S,
        max_iterations=50,
    )

    assert out.result.status is RoutingStatus.FEASIBLE
    assert check_routes(bigger, out.result) == []
    new_route = out.result.route_of(route.vehicle)
    assert new_route is not None
    assert new_route.visits[:2][0] == route.visits[0]
    assert new_route.visits[1].stop_id == route.visits[1].stop_id
    assert new_route.start_s == route.start_s
    assert any(c.stop_id == "NEW" and c.kind is ChangeKind.ADDED for c in out.changes)


def test_promised_etas_hold_when_changing_them_is_expensive() -> None:
    """Re-planning the same day with a high ETA penalty moves no promise by > 10 min."""
    problem, plan = _current()
    day_start = datetime(2026, 11, 24, tzinfo=UTC)
    promised = {
        v.stop_id: day_start + timedelta(seconds=v.arrival_s) for r in plan.routes for v in r.visits
    }
    first = plan.routes[0]

    out = replan(
        problem,
        plan,
        progress={first.vehicle: -1},
        promised_etas=promised,
        day_start=day_start,
        eta_change_penalty_per_s=Decimal(10),
        time_limit_s=GUARD_S,
        max_iterations=50,
    )

    assert check_routes(problem, out.result) == []
    assert not [c for c in out.changes if c.kind is ChangeKind.ETA_CHANGED]
    assert out.result.route_of(first.vehicle) is not None
    assert out.result.route_of(first.vehicle).visits[0].stop_id == first.visits[0].stop_id  # type: ignore[union-attr]


def test_a_closed_window_moves_the_stop_and_the_change_is_reported() -> None:
    """A customer's window shifts to the evening: its ETA change is listed."""
    problem, plan = _current()
    moved = plan.routes[-1].visits[-1].stop_id
    stops = tuple(
        dataclasses.replace(s, earliest_s=17 * 3600, latest_s=19 * 3600) if s.id == moved else s
        for s in problem.stops
    )
    changed = dataclasses.replace(problem, stops=stops)

    out = replan(changed, plan, progress={}, time_limit_s=GUARD_S, max_iterations=50)

    assert check_routes(changed, out.result) == []
    kinds = {c.kind for c in out.changes if c.stop_id == moved}
    assert kinds & {ChangeKind.ETA_CHANGED, ChangeKind.MOVED}
