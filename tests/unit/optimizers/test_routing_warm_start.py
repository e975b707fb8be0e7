"""PyVRP's warm start for a re-plan: the current plan's remainder, in the rest problem's terms."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

import pytest

from central.optimizers.routing import (
    XY,
    Depot,
    Euclidean,
    Route,
    RoutingProblem,
    RoutingStatus,
    Stop,
    VehicleType,
    Visit,
    check_routes,
    replan,
    solve,
)
from central.optimizers.routing_model import travel_matrices
from central.optimizers.routing_pyvrp import (
    CheckedBest,
    assign_vehicles,
    build_data,
    pyvrp_routes,
    run,
    warm_start,
)
from central.optimizers.routing_rest import commitments, rest_problem
from tests.unit.optimizers.test_routing_solve import GUARD_S, grid_problem

SEED = 7


def test_the_warm_start_is_the_current_remainder_without_the_new_stop() -> None:
    """Each vehicle's route in PyVRP's start is its remaining visits, in order; the new
    order is on no route; a vehicle under way keeps its own PyVRP type."""
    problem = grid_problem(5, 10, windows=True, vehicles=4)
    plan = solve(problem, time_limit_s=GUARD_S, engine="ortools", max_iterations=50)
    assert plan.status is RoutingStatus.FEASIBLE
    under_way = max(plan.routes, key=lambda r: len(r.visits))
    assert len(under_way.visits) >= 3
    urgent = Stop("NEW", XY(9_000, 11_000), demand_kg=Decimal(50), demand_pallets=1, service_s=300)
    day = dataclasses.replace(problem, stops=(*problem.stops, urgent))
    matrices = travel_matrices(day)
    committed = commitments(day, matrices, plan, {under_way.vehicle: 0})
    rest = rest_problem(day, matrices, committed, now_s=None)
    data = build_data(rest, travel_matrices(rest))

    start = warm_start(rest, data, plan.routes)

    assert start is not None
    type_of = {v: t for t, members in enumerate(data.vehicles) for v in members}
    kept = {v.stop_id for v in committed[under_way.vehicle].kept}
    expected = sorted(
        (type_of[r.vehicle], tuple(v.stop_id for v in r.visits if v.stop_id not in kept))
        for r in plan.routes
        if any(v.stop_id not in kept for v in r.visits)
    )
    got = sorted(
        (pv.vehicle_type, tuple(rest.stops[i].id for i in pv.stop_indices))
        for pv in pyvrp_routes(start)
    )
    assert got == expected
    assert len(data.vehicles[type_of[under_way.vehicle]]) == 1
    assert [v for v, _ in assign_vehicles(data.vehicles, pyvrp_routes(start))].count(
        under_way.vehicle
    ) == 1
    assert [s.id for s in rest.stops if s.id not in {i for _, ids in got for i in ids}] == ["NEW"]


def test_a_warm_started_run_serves_the_new_stop_and_passes_the_check() -> None:
    """From the remainder, PyVRP inserts the new order; the plan passes `check_routes`."""
    problem = grid_problem(5, 10, windows=True, vehicles=4)
    plan = solve(problem, time_limit_s=GUARD_S, engine="ortools", max_iterations=50)
    urgent = Stop("NEW", XY(9_000, 11_000), demand_kg=Decimal(50), demand_pallets=1, service_s=300)
    day = dataclasses.replace(problem, stops=(*problem.stops, urgent))
    under_way = plan.routes[0].vehicle

    out = replan(
        day,
        plan,
        progress={under_way: 0},
        time_limit_s=GUARD_S,
        max_iterations=20,
        seed=SEED,
        engine="pyvrp",
    )

    assert out.rest_problem is not None and out.rest is not None
    assert out.rest.status is RoutingStatus.FEASIBLE
    assert check_routes(out.rest_problem, out.rest) == []
    assert "NEW" in {v.stop_id for r in out.result.routes for v in r.visits}


def test_the_start_is_checked_like_every_best() -> None:
    """With no iteration at all, the polished warm start is the plan, checked by our rules."""
    problem = grid_problem(5, 10, windows=True, vehicles=4)
    plan = solve(problem, time_limit_s=GUARD_S, engine="ortools", max_iterations=50)
    matrices = travel_matrices(problem)
    rest = rest_problem(problem, matrices, commitments(problem, matrices, plan, {}), now_s=None)
    rest_matrices = travel_matrices(rest)
    data = build_data(rest, rest_matrices)
    checker = CheckedBest(rest, rest_matrices, data)

    outcome = run(
        data,
        time_limit_s=GUARD_S,
        seed=SEED,
        max_iterations=0,
        checker=checker,
        initial=warm_start(rest, data, plan.routes),
    )

    assert outcome.iterations == 0
    assert (checker.checked, checker.failed) == (1, 0)
    assert outcome.checked
    assert outcome.routes == checker.best


def test_a_start_failing_the_check_is_replaced_by_a_random_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PyVRP places no breaks: a stop two hours' drive away, due by 2 h 10 min, fits its
    model but not ours (a break is due after one hour). The polished warm start fails the
    check and a random start is polished and checked in its place."""
    problem = RoutingProblem(
        depots=(Depot("D", XY(0, 0)),),
        vehicle_types=(
            VehicleType(
                "truck",
                capacity_kg=Decimal(1000),
                break_after_driving_s=3600,
                break_duration_s=1800,
            ),
        ),
        stops=(Stop("FAR", XY(100_000, 0), demand_kg=Decimal(10), earliest_s=0, latest_s=7800),),
        travel=Euclidean(),
    )
    matrices = travel_matrices(problem)
    data = build_data(problem, matrices)
    current = Route(
        "truck", 0, "D", 0, 14_400, (Visit("FAR", 7200, 7200),), (), 200_000, Decimal(10), 0
    )
    checker = CheckedBest(problem, matrices, data)

    with caplog.at_level(logging.INFO, logger="central.optimizers.routing_pyvrp"):
        outcome = run(
            data,
            time_limit_s=GUARD_S,
            seed=SEED,
            max_iterations=0,
            checker=checker,
            initial=warm_start(problem, data, [current]),
        )

    assert "searching from a random start" in caplog.text
    # The warm start, the random start, then `run`'s re-check of the final best.
    assert (checker.checked, checker.failed) == (3, 3)
    assert not outcome.checked
