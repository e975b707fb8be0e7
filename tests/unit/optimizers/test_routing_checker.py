"""The independent plan checker, the scheduler and the benchmark readers."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from central.optimizers.routing import (
    XY,
    Depot,
    Euclidean,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    VehicleType,
    ViolationKind,
    Visit,
    check_routes,
    plan_cost,
    solve,
)
from central.optimizers.routing_model import schedule_route, travel_matrices
from central.optimizers.vrp_instances import read_best_known, read_instance
from tests.support.services import IN_CI

# shared/ lies beside the repository, on developers' machines and in CI alike.
BENCHMARKS = Path(__file__).resolve().parents[4] / "shared" / "benchmarks" / "vrp"


def _problem(**truck_changes: object) -> RoutingProblem:
    truck = VehicleType(
        "truck",
        capacity_kg=Decimal(100),
        capacity_pallets=4,
        count=2,
        cost_per_km=Decimal(1),
        shift_length_s=10 * 3600,
        break_after_driving_s=3600,
        break_duration_s=1800,
    )
    return RoutingProblem(
        depots=(Depot("DC1", XY(0, 0), opens_s=0, closes_s=16 * 3600),),
        vehicle_types=(dataclasses.replace(truck, **truck_changes),),  # type: ignore[arg-type]
        stops=(
            Stop(
                "A", XY(40_000, 0), Decimal(40), 2, earliest_s=0, latest_s=4 * 3600, service_s=600
            ),
            Stop("B", XY(80_000, 0), Decimal(40), 1, service_s=600),
            Stop("C", XY(0, 5_000), Decimal(10), 1, optional=True, penalty=Decimal(7)),
        ),
        travel=Euclidean(speed_kmh=40),
    )


def _plan(problem: RoutingProblem) -> RoutingResult:
    matrices = travel_matrices(problem)
    route = schedule_route(
        problem,
        matrices,
        vtype=problem.vehicle_types[0],
        vehicle_index=0,
        stop_indices=[0, 1],
        start_s=0,
    )
    return RoutingResult(
        status=RoutingStatus.FEASIBLE,
        routes=(route,),
        dropped=("C",),
        cost=plan_cost(problem, [route], ["C"]),
        engine="test",
        solve_time_s=0.0,
    )


def _kinds(problem: RoutingProblem, result: RoutingResult) -> set[ViolationKind]:
    return {v.kind for v in check_routes(problem, result)}


def test_scheduled_plan_with_breaks_passes_and_costs_its_km_and_penalty() -> None:
    """A 160 km round trip at 40 km/h (4 h driving, 1 h limit) needs 3 breaks."""
    problem = _problem()
    result = _plan(problem)

    assert check_routes(problem, result) == []
    (route,) = result.routes
    assert len(route.breaks) == 3
    assert route.km == Decimal(160)
    assert result.cost == Decimal(160) + Decimal(7)


def test_checker_catches_driving_without_breaks() -> None:
    """Removing the breaks (and their time) leaves 4 h of driving in one go."""
    problem = _problem()
    plan = _plan(problem)
    route = dataclasses.replace(plan.routes[0], breaks=())

    assert ViolationKind.DRIVING_TIME in _kinds(problem, dataclasses.replace(plan, routes=(route,)))


def test_checker_catches_overload_window_shift_and_unserved_stop() -> None:
    """Each constructed fault is reported with its own kind."""
    plan = _plan(_problem())

    assert ViolationKind.CAPACITY_KG in _kinds(_problem(capacity_kg=Decimal(79)), plan)
    assert ViolationKind.CAPACITY_PALLETS in _kinds(_problem(capacity_pallets=2), plan)
    assert ViolationKind.SHIFT_LENGTH in _kinds(_problem(shift_length_s=3600), plan)
    late = dataclasses.replace(
        plan.routes[0],
        visits=(Visit("A", 5 * 3600, 5 * 3600 + 600), *plan.routes[0].visits[1:]),
    )
    assert ViolationKind.TIME_WINDOW in _kinds(
        _problem(), dataclasses.replace(plan, routes=(late,))
    )
    rushed = dataclasses.replace(
        plan.routes[0], visits=(Visit("A", 60, 660), *plan.routes[0].visits[1:])
    )
    kinds = _kinds(_problem(), dataclasses.replace(plan, routes=(rushed,)))
    assert ViolationKind.TRAVEL_TIME in kinds or ViolationKind.BREAK in kinds
    only_b = dataclasses.replace(plan.routes[0], visits=plan.routes[0].visits[1:])
    kinds = _kinds(_problem(), dataclasses.replace(plan, routes=(only_b,)))
    assert ViolationKind.MANDATORY_STOP_UNSERVED in kinds
    assert ViolationKind.DROPPED_LIST_WRONG in kinds


def test_checker_catches_unplannable_vehicle_and_double_service() -> None:
    """A route on an unavailable truck, and a stop planned twice, are both reported."""
    plan = _plan(_problem())
    assert ViolationKind.VEHICLE_NOT_PLANNABLE in _kinds(_problem(available=False), plan)
    twice = dataclasses.replace(plan.routes[0], vehicle_index=1)
    doubled = dataclasses.replace(plan, routes=(plan.routes[0], twice))
    assert ViolationKind.STOP_SERVED_TWICE in _kinds(_problem(), doubled)


def test_plan_on_an_unknown_vehicle_index_is_rejected() -> None:
    """Index 2 of a type with count 2 does not exist."""
    plan = _plan(_problem())
    ghost = dataclasses.replace(plan.routes[0], vehicle_index=2)
    assert ViolationKind.UNKNOWN_VEHICLE in _kinds(
        _problem(), dataclasses.replace(plan, routes=(ghost,))
    )


def test_invalid_input_is_refused_eagerly() -> None:
    """Malformed problems raise ValueError at construction, naming the culprit."""
    with pytest.raises(ValueError, match="window"):
        Stop("X", XY(0, 0), earliest_s=10, latest_s=5)
    with pytest.raises(ValueError, match="unique"):
        RoutingProblem(
            depots=(Depot("DC1", XY(0, 0)),),
            vehicle_types=(),
            stops=(Stop("X", XY(1, 1)), Stop("X", XY(2, 2))),
            travel=Euclidean(),
        )
    with pytest.raises(ValueError, match="time_limit_s"):
        solve(_problem(), time_limit_s=0)


@pytest.mark.parametrize("name", ["cvrp_x/X-n101-k25", "vrptw_solomon/R101", "vrptw_solomon/C101"])
def test_best_known_solutions_evaluate_to_their_cost_and_pass_the_checker(name: str) -> None:
    """Reader rounding (nint for X, DIMACS truncation for Solomon) matches the .sol costs."""
    if not BENCHMARKS.is_dir():
        message = f"benchmark instances not found at {BENCHMARKS}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    instance = read_instance(BENCHMARKS / f"{name}.vrp")
    best = read_best_known(BENCHMARKS / f"{name}.sol")
    problem = instance.problem
    matrices = travel_matrices(problem)
    index = {s.id: i for i, s in enumerate(problem.stops)}
    routes = [
        schedule_route(
            problem,
            matrices,
            vtype=problem.vehicle_types[0],
            vehicle_index=k,
            stop_indices=[index[s] for s in stops],
            start_s=problem.depots[0].opens_s,
        )
        for k, stops in enumerate(best.routes)
    ]
    result = RoutingResult(
        status=RoutingStatus.FEASIBLE,
        routes=tuple(routes),
        dropped=(),
        cost=plan_cost(problem, routes, ()),
        engine="bks",
        solve_time_s=0.0,
    )

    assert check_routes(problem, result) == []
    assert result.cost == best.cost
