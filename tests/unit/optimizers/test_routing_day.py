"""The realistic-day benchmark's generator, and solve / re-plan on a small generated day.

Solver runs stop on iterations (OR-Tools solutions) and are deterministic; time limits are
only guards.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from bench.routing_day import (
    BREAK_S,
    CITY_CENTRE,
    DRIVING_LIMIT_S,
    NOON_S,
    SHIFT_S,
    generate_day,
    midday,
    prefix_kept,
)
from bench.routing_day import driving_s as route_driving_s
from central.optimizers.routing import (
    LatLon,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    TravelMatrix,
    check_routes,
    replan,
    solve,
)
from central.optimizers.routing_model import travel_matrices

GUARD_S = 30.0
SEED = 3
HOUR = 3600


def _km_from_centre(place: LatLon) -> float:
    dlat = math.radians(place.lat - CITY_CENTRE.lat)
    dlon = math.radians(place.lon - CITY_CENTRE.lon) * math.cos(math.radians(CITY_CENTRE.lat))
    return 6371.0 * math.hypot(dlat, dlon)


@pytest.fixture(scope="module")
def day() -> RoutingProblem:
    return generate_day(30, 4, seed=SEED)


@pytest.fixture(scope="module")
def plan(day: RoutingProblem) -> RoutingResult:
    return solve(day, time_limit_s=GUARD_S, engine="ortools", max_iterations=50)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    """Generation depends on the seed only."""
    assert generate_day(30, 4, seed=SEED) == generate_day(30, 4, seed=SEED)
    assert generate_day(30, 4, seed=SEED).stops != generate_day(30, 4, seed=SEED + 1).stops


def test_generated_day_is_a_valid_delivery_day(day: RoutingProblem) -> None:
    """Stops near the city in windows of 2-4 h or all day; two kinds of vehicle, some off."""
    assert len(day.stops) == 30
    assert sum(t.count for t in day.vehicle_types) == 4
    for stop in day.stops:
        assert isinstance(stop.location, LatLon)
        assert _km_from_centre(stop.location) <= 40.5
        assert stop.demand_kg > 0 and stop.service_s > 0
        latest = day.latest(stop)
        assert day.depots[0].opens_s <= stop.earliest_s < latest <= day.depots[0].closes_s
        width = latest - stop.earliest_s
        assert 2 * HOUR <= width <= 4 * HOUR or (stop.earliest_s, latest) == (8 * HOUR, 18 * HOUR)
    plannable = [t for t in day.vehicle_types if t.plannable_on(day.plan_date)]
    assert {t.capacity_pallets for t in plannable} == {18, 8}
    assert any(not t.plannable_on(day.plan_date) for t in day.vehicle_types)
    for vtype in day.vehicle_types:
        assert vtype.shift_length_s == SHIFT_S
        assert (vtype.break_after_driving_s, vtype.break_duration_s) == (DRIVING_LIMIT_S, BREAK_S)
    smallest = min(plannable, key=lambda t: t.capacity_kg)
    assert all(s.demand_pallets <= (smallest.capacity_pallets or 0) for s in day.stops)
    assert isinstance(day.travel, TravelMatrix)
    assert len(day.travel.duration_s) == 1 + len(day.stops)


def test_plan_passes_the_checker_with_breaks_on_routes_over_the_driving_limit(
    day: RoutingProblem, plan: RoutingResult
) -> None:
    """Every route driving more than 4.5 h carries a break; there is such a route."""
    matrices = travel_matrices(day)

    assert plan.status is RoutingStatus.FEASIBLE
    assert check_routes(day, plan) == []
    long_routes = [r for r in plan.routes if route_driving_s(day, matrices, r) > DRIVING_LIMIT_S]
    assert long_routes
    assert all(r.breaks for r in long_routes)


def test_midday_replan_keeps_what_was_served_and_the_next_stop(
    day: RoutingProblem, plan: RoutingResult
) -> None:
    """At noon: served stops keep their times, each vehicle keeps its next stop, urgent
    orders are planned after noon."""
    noon = midday(day, plan, now_s=NOON_S, seed=SEED)
    assert noon.progress and noon.urgent and noon.moved_windows

    out = replan(
        noon.problem, plan, progress=noon.progress, time_limit_s=GUARD_S, max_iterations=50
    )

    assert out.result.status is RoutingStatus.FEASIBLE
    assert check_routes(noon.problem, out.result) == []
    assert prefix_kept(plan, out.result, noon.progress)
    served = {v.stop_id for r in plan.routes for v in r.visits if v.arrival_s < NOON_S}
    for route in out.result.routes:
        for visit in route.visits:
            assert visit.stop_id in served or visit.arrival_s >= NOON_S


def test_prefix_check_sees_a_moved_served_stop(plan: RoutingResult) -> None:
    """A served visit re-timed by a minute is not a kept prefix."""
    route = next(r for r in plan.routes if r.visits)
    moved = dataclasses.replace(route.visits[0], arrival_s=route.visits[0].arrival_s + 60)
    changed = dataclasses.replace(route, visits=(moved, *route.visits[1:]))
    other = tuple(changed if r is route else r for r in plan.routes)
    after = dataclasses.replace(plan, routes=other)

    assert prefix_kept(plan, plan, {route.vehicle: 0})
    assert not prefix_kept(plan, after, {route.vehicle: 0})
