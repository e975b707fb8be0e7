"""Vehicles starting away from their depot, and re-planning the rest of the day.

Solver runs stop on iterations with fixed seeds; time limits are only guards.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bench.routing_day import generate_day, prefix_kept
from central.optimizers.routing import (
    XY,
    Depot,
    Euclidean,
    Place,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    VehicleStart,
    VehicleType,
    ViolationKind,
    check_routes,
    replan,
    solve,
)
from central.optimizers.routing_model import schedule_route, travel_matrices
from central.optimizers.routing_pyvrp import CheckedBest, PyvrpRoute, build_data, run, to_routes

GUARD_S = 30.0
HOUR = 3600
ENGINES = ("ortools", "pyvrp", "auto")


def _away_problem(
    stops: tuple[Stop, ...],
    start: VehicleStart,
    *,
    vans: int = 1,
    capacity_kg: Decimal = Decimal(1000),
    break_after_s: int | None = None,
) -> RoutingProblem:
    """One depot at the origin, a van (index 0) waiting at place P = (10 km, 0)."""
    van = VehicleType(
        "van",
        capacity_kg=capacity_kg,
        count=vans,
        fixed_cost=Decimal(100),
        cost_per_km=Decimal(1),
        break_after_driving_s=break_after_s,
        break_duration_s=45 * 60 if break_after_s else 0,
    )
    return RoutingProblem(
        depots=(Depot("DC1", XY(0, 0), opens_s=6 * HOUR, closes_s=22 * HOUR),),
        vehicle_types=(van,),
        stops=stops,
        travel=Euclidean(speed_kmh=36),  # 10 m/s
        places=(Place("P", XY(10_000, 0)),),
        starts=(start,),
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_vehicle_away_from_its_depot_takes_the_optimal_way_home(engine: str) -> None:
    """From P: P→S1→S2→depot is 20 km; P→S2→S1→depot 32.4 km. Fixed cost is sunk."""
    stops = (Stop("S1", XY(10_000, 5_000)), Stop("S2", XY(0, 5_000)))
    problem = _away_problem(stops, VehicleStart(("van", 0), place="P", ready_s=12 * HOUR))

    plan = solve(problem, time_limit_s=GUARD_S, engine=engine, max_iterations=200)  # type: ignore[arg-type]

    assert plan.status is RoutingStatus.FEASIBLE
    assert check_routes(problem, plan) == []
    (route,) = plan.routes
    assert [v.stop_id for v in route.visits] == ["S1", "S2"]
    assert route.distance_m == 20_000
    assert route.start_s == 12 * HOUR
    assert route.visits[0].arrival_s == 12 * HOUR + 500
    assert plan.cost == Decimal(20)


def test_the_checker_knows_where_a_vehicle_starts_and_when_it_is_ready() -> None:
    """Timed from the depot or before it is ready, the same route is rejected."""
    stops = (Stop("S1", XY(10_000, 5_000)),)
    problem = _away_problem(stops, VehicleStart(("van", 0), place="P", ready_s=12 * HOUR))
    plan = solve(problem, time_limit_s=GUARD_S, engine="ortools", max_iterations=20)
    (route,) = plan.routes
    early = dataclasses.replace(plan, routes=(dataclasses.replace(route, start_s=11 * HOUR),))
    at_depot = dataclasses.replace(problem, places=(), starts=())

    assert check_routes(problem, plan) == []
    assert {v.kind for v in check_routes(problem, early)} >= {ViolationKind.DEPOT_HOURS}
    assert ViolationKind.REPORTED_FIGURES_WRONG in {v.kind for v in check_routes(at_depot, plan)}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_driver_who_drove_four_hours_breaks_within_half_an_hour(engine: str) -> None:
    """4 h driven of 4.5 h: the next 50 min leg is split by a break after ≤ 30 min."""
    stops = (Stop("FAR", XY(40_000, 0), service_s=300),)
    start = VehicleStart(("van", 0), place="P", ready_s=12 * HOUR, driven_s=4 * HOUR)
    problem = _away_problem(stops, start, break_after_s=int(4.5 * HOUR))

    plan = solve(problem, time_limit_s=GUARD_S, engine=engine, max_iterations=200)  # type: ignore[arg-type]

    assert plan.status is RoutingStatus.FEASIBLE
    assert check_routes(problem, plan) == []
    (route,) = plan.routes
    assert route.breaks
    assert route.breaks[0].start_s - route.start_s <= 30 * 60


def test_ignoring_the_driving_carried_over_breaks_the_rule() -> None:
    """The same stop timed for a rested driver fails the check for the tired one."""
    stops = (Stop("FAR", XY(40_000, 0), service_s=300),)
    tired = VehicleStart(("van", 0), place="P", ready_s=12 * HOUR, driven_s=4 * HOUR)
    problem = _away_problem(stops, tired, break_after_s=int(4.5 * HOUR))
    rested = dataclasses.replace(problem, starts=(dataclasses.replace(tired, driven_s=0),))
    route = schedule_route(
        rested,
        travel_matrices(rested),
        vtype=problem.vehicle_types[0],
        vehicle_index=0,
        stop_indices=[0],
        start_s=12 * HOUR,
    )
    plan = RoutingResult(RoutingStatus.FEASIBLE, (route,), (), Decimal(0), "test", 0.0)

    assert route.breaks == ()
    assert check_routes(rested, plan) == []
    assert ViolationKind.DRIVING_TIME in {v.kind for v in check_routes(problem, plan)}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("used_kg", "served"), [(900, ["B"]), (700, ["A", "B"])])
def test_capacity_left_is_respected(engine: str, used_kg: int, served: list[str]) -> None:
    """With 900 of 1000 kg taken the 200 kg order next to P is left out despite its
    penalty; with 700 taken both fit."""
    stops = (
        Stop("A", XY(10_000, 1_000), Decimal(200), optional=True, penalty=Decimal(1000)),
        Stop("B", XY(10_000, -1_000), Decimal(80)),
    )
    start = VehicleStart(("van", 0), place="P", ready_s=12 * HOUR, used_kg=Decimal(used_kg))
    problem = _away_problem(stops, start)

    plan = solve(problem, time_limit_s=GUARD_S, engine=engine, max_iterations=200)  # type: ignore[arg-type]

    assert plan.status is RoutingStatus.FEASIBLE
    assert check_routes(problem, plan) == []
    (route,) = plan.routes
    assert sorted(v.stop_id for v in route.visits) == served


def test_the_checker_counts_the_load_on_board() -> None:
    """Giving the 200 kg stop to the van with 100 kg left is a capacity violation."""
    stops = (Stop("A", XY(10_000, 1_000), Decimal(200)),)
    start = VehicleStart(("van", 0), place="P", ready_s=12 * HOUR, used_kg=Decimal(900))
    problem = _away_problem(stops, start)
    route = schedule_route(
        problem,
        travel_matrices(problem),
        vtype=problem.vehicle_types[0],
        vehicle_index=0,
        stop_indices=[0],
        start_s=12 * HOUR,
    )
    plan = RoutingResult(RoutingStatus.FEASIBLE, (route,), (), Decimal(0), "test", 0.0)

    assert ViolationKind.CAPACITY_KG in {v.kind for v in check_routes(problem, plan)}


def test_replan_from_a_pyvrp_plan_driven_late_keeps_the_past_and_plans_the_rest() -> None:
    """A PyVRP plan with breaks, driven late: pinning the past into OR-Tools cannot work (a
    served stop started after its window closed), re-planning the rest does."""
    day = generate_day(30, 4, seed=3)
    plan = solve(day, time_limit_s=GUARD_S, engine="pyvrp", seed=2, max_iterations=1000)
    assert plan.status is RoutingStatus.FEASIBLE and plan.engine == "pyvrp"
    assert any(r.breaks for r in plan.routes)
    route = max(plan.routes, key=lambda r: len(r.visits))
    served = len(route.visits) // 2
    windows = {s.id: day.latest(s) for s in day.stops}
    # From the first visit on, everything happened late: one served stop after its window.
    delay = min(windows[v.stop_id] - v.arrival_s for v in route.visits[:served]) + 600
    delayed = tuple(
        dataclasses.replace(v, arrival_s=v.arrival_s + delay, departure_s=v.departure_s + delay)
        for v in route.visits
    )
    late_route = dataclasses.replace(route, visits=delayed, breaks=())
    driven = dataclasses.replace(
        plan, routes=tuple(late_route if r is route else r for r in plan.routes)
    )
    progress = {route.vehicle: served - 1}
    served_ids = {v.stop_id for v in delayed[:served]}
    assert any(
        v.kind is ViolationKind.TIME_WINDOW and v.stop_id in served_ids
        for v in check_routes(day, driven)
    )

    out = replan(day, driven, progress=progress, time_limit_s=GUARD_S, seed=2, max_iterations=300)

    assert out.result.status is RoutingStatus.FEASIBLE
    assert out.rest_problem is not None and out.rest is not None
    assert check_routes(out.rest_problem, out.rest) == []
    assert prefix_kept(driven, out.result, progress)
    new = out.result.route_of(route.vehicle)
    assert new is not None
    assert new.visits[served] == delayed[served]
    assert {v.stop_id for r in out.result.routes for v in r.visits} == {s.id for s in day.stops}
    rest = new.visits[served + 1 :]
    if rest:
        stop = next(s for s in day.stops if s.id == delayed[served].stop_id)
        assert rest[0].arrival_s >= delayed[served].arrival_s + stop.service_s


def test_checked_best_keeps_a_passing_plan_over_a_cheaper_failing_one() -> None:
    """The mechanism behind PyVRP keeping its best checked plan."""
    stops = (Stop("S1", XY(10_000, 5_000)), Stop("S2", XY(0, 5_000), latest_s=12 * HOUR + 1_000))
    problem = _away_problem(stops, VehicleStart(("van", 0), place="P", ready_s=12 * HOUR), vans=2)
    matrices = travel_matrices(problem)
    data = build_data(problem, matrices)
    away = next(i for i, group in enumerate(data.vehicles) if ("van", 0) in group)
    home = next(i for i, group in enumerate(data.vehicles) if ("van", 1) in group)
    # Van 0 serves S1 then reaches S2 too late; splitting costs the other van's fixed cost.
    failing = (PyvrpRoute(away, (0, 1), 12 * HOUR),)
    passing = (PyvrpRoute(away, (0,), 12 * HOUR), PyvrpRoute(home, (1,), 6 * HOUR))
    checker = CheckedBest(problem, matrices, data)

    assert checker.consider(passing)
    assert not checker.consider(failing)
    assert checker.best == passing
    # Van 0: P→S1→depot 16.18 km (fixed cost sunk); van 1: 10 km + its fixed cost.
    assert checker.best_cost == Decimal("16.18") + Decimal(10) + Decimal(100)

    outcome = run(data, time_limit_s=GUARD_S, seed=0, max_iterations=100, checker=checker)
    assert outcome.checked
    assert checker.cost(outcome.routes) is not None


def test_pyvrp_keeps_its_best_checked_plan_when_its_final_best_fails() -> None:
    """On this day and seed PyVRP's final best fails the break-aware check; an earlier best
    passed, and that is the plan `solve` returns."""
    day = generate_day(30, 4, seed=3)
    matrices = travel_matrices(day)
    data = build_data(day, matrices)
    unchecked = run(data, time_limit_s=GUARD_S, seed=2, max_iterations=1000)
    final = to_routes(day, matrices, data.vehicles, unchecked.routes)
    served = {v.stop_id for r in final for v in r.visits}
    final_plan = RoutingResult(RoutingStatus.FEASIBLE, tuple(final), (), Decimal(0), "pyvrp", 0.0)
    assert unchecked.feasible and served == {s.id for s in day.stops}
    assert check_routes(day, final_plan)

    plan = solve(day, time_limit_s=GUARD_S, engine="pyvrp", seed=2, max_iterations=1000)

    assert plan.status is RoutingStatus.FEASIBLE
    assert check_routes(day, plan) == []
    assert any("final best failed the check" in note for note in plan.notes)
