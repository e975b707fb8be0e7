"""PyVRP engine for the part of the problem its model covers.

PyVRP models capacity in kg (and pallets when stops have any), time windows on the start of
service, service durations, depot hours, shift duration, fixed / per-distance / per-duration
vehicle costs and optional clients with prizes. It has no driver breaks: for vehicle types
with a break rule the shift given to PyVRP is shortened by the breaks it may need, and the
plan is timed with `schedule_route` (which inserts the breaks) and then checked; a plan that
fails the check is rejected by the caller.

PyVRP's search holds the GIL (a thread running it halves a concurrent Python thread's
progress), so in "auto" mode `solve` runs OR-Tools in a child process, not a thread.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from pyvrp import Client, Depot, Location, ProblemData, SolveParams, VehicleType, solve
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.PenaltyManager import PenaltyParams
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from central.optimizers.routing_model import (
    Matrices,
    Route,
    RoutingProblem,
    cost_scale,
    route_feasible,
    scaled,
    schedule_route,
)
from central.optimizers.routing_model import VehicleType as RoutingVehicleType

logger = logging.getLogger(__name__)


# PyVRP's "no limit" for windows and shift durations.
NO_LIMIT = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class PyvrpData:
    """PyVRP's problem, the solver parameters for it and our vehicle type name per type."""

    data: ProblemData
    params: SolveParams
    vehicle_types: tuple[str, ...]


@dataclass(frozen=True)
class PyvrpRoute:
    """A route as PyVRP returns it: vehicle type number, stop indices, departure time."""

    vehicle_type: int
    stop_indices: tuple[int, ...]
    start_s: int


@dataclass(frozen=True)
class PyvrpOutcome:
    """What a PyVRP run found (plain data, so it crosses a process boundary)."""

    routes: tuple[PyvrpRoute, ...]
    feasible: bool
    iterations: int
    runtime_s: float


def load_scale(values: list[Decimal]) -> int:
    """Smallest power of ten (up to 1000) that makes all the quantities whole numbers.

    PyVRP's load penalty is per unit of excess, so loads stay in their natural unit (kg, not
    grams) wherever the data allow.
    """
    scale = 1
    while scale < 1000 and any(v * scale != int(v * scale) for v in values):
        scale *= 10
    return scale


def build_data(problem: RoutingProblem, matrices: Matrices) -> PyvrpData:
    """PyVRP `ProblemData` for the problem; unplannable vehicle types are left out."""
    scale = cost_scale(problem)
    n_depots = len(problem.depots)
    plannable = [t for t in problem.vehicle_types if t.plannable_on(problem.plan_date)]
    kg_scale = load_scale([s.demand_kg for s in problem.stops])
    with_pallets = any(s.demand_pallets for s in problem.stops)
    locations = [Location(x=0, y=0) for _ in range(n_depots + len(problem.stops))]
    # Without travel or service time and with open windows, time cannot bind: leaving all
    # windows open lets PyVRP skip its time-window bookkeeping (2.5x more iterations on CVRP).
    timeless = (
        not any(map(any, matrices.duration))
        and not any(s.service_s or s.earliest_s or s.latest_s is not None for s in problem.stops)
        and all(d.opens_s == 0 for d in problem.depots)
    )
    depots = [
        Depot(location=i) if timeless else Depot(location=i, tw_early=d.opens_s, tw_late=d.closes_s)
        for i, d in enumerate(problem.depots)
    ]
    clients = []
    for i, stop in enumerate(problem.stops):
        delivery = [math.ceil(stop.demand_kg * kg_scale)]
        if with_pallets:
            delivery.append(stop.demand_pallets)
        # An open window is left to PyVRP's default: depot hours bound the route anyway.
        tw_late = NO_LIMIT if stop.latest_s is None else stop.latest_s
        clients.append(
            Client(
                location=n_depots + i,
                delivery=delivery,
                service_duration=stop.service_s,
                prize=scaled(stop.penalty, scale) if stop.optional else 0,
                required=not stop.optional,
                tw_early=stop.earliest_s,
                tw_late=tw_late,
                name=stop.id,
            )
        )
    pallets_total = sum(s.demand_pallets for s in problem.stops)
    types: list[VehicleType] = []
    for vtype in plannable:
        depot_node = problem.depot_node(vtype)
        depot = problem.depots[depot_node]
        capacity = [math.floor(vtype.capacity_kg * kg_scale)]
        if with_pallets:
            capacity.append(
                pallets_total if vtype.capacity_pallets is None else vtype.capacity_pallets
            )
        shift = NO_LIMIT
        if vtype.shift_length_s is not None:
            shift = _shift_without_breaks(vtype, vtype.shift_length_s)
        elif vtype.break_after_driving_s is not None:
            shift = _shift_without_breaks(vtype, depot.closes_s - depot.opens_s)
        types.append(
            VehicleType(
                num_available=vtype.count,
                capacity=capacity,
                start_depot=depot_node,
                end_depot=depot_node,
                fixed_cost=scaled(vtype.fixed_cost, scale),
                tw_early=depot.opens_s,
                tw_late=NO_LIMIT if timeless else depot.closes_s,
                unit_distance_cost=scaled(vtype.cost_per_km / 1000, scale),
                unit_duration_cost=scaled(vtype.cost_per_hour / 3600, scale),
                shift_duration=shift,
                name=vtype.name,
            )
        )
    # PyVRP's stubs type matrices as ndarray[int]; numpy's own stubs say otherwise.
    distance: Any = np.array(matrices.distance, dtype=np.int64)
    duration: Any = np.array(matrices.duration, dtype=np.int64)
    data = ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=types,
        distance_matrices=[distance],
        duration_matrices=[duration],
    )
    # One unit of excess load or time warp must be able to outweigh adding a vehicle, driving
    # the longest leg or a prize; PyVRP's default bound (10⁵) assumes costs of order 1 per unit.
    worst = max(
        [t.fixed_cost for t in types]
        + [c.prize for c in clients]
        + [t.unit_distance_cost * max(map(max, matrices.distance)) for t in types]
        + [t.unit_duration_cost * max(map(max, matrices.duration)) for t in types]
        + [0]
    )
    params = SolveParams(
        penalty=PenaltyParams(max_penalty=max(PenaltyParams().max_penalty, 10.0 * worst))
    )
    return PyvrpData(data=data, params=params, vehicle_types=tuple(t.name for t in plannable))


def _shift_without_breaks(vtype: RoutingVehicleType, shift: int) -> int:
    """The shift minus the breaks it may need: room for breaks PyVRP cannot place itself."""
    limit = vtype.break_after_driving_s
    if limit is None or shift <= limit:
        return shift
    breaks = math.ceil((shift - limit) / (limit + vtype.break_duration_s))
    return shift - breaks * vtype.break_duration_s


def run(
    data: PyvrpData,
    *,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
) -> PyvrpOutcome:
    """Runs PyVRP's default solver within the time limit (or `max_iterations`)."""
    criteria: list[StoppingCriterion] = [MaxRuntime(time_limit_s)]
    if max_iterations is not None:
        criteria.append(MaxIterations(max_iterations))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PenaltyBoundWarning)
        result = solve(
            data.data,
            MultipleCriteria(criteria),
            seed=seed,
            collect_stats=False,
            params=data.params,
        )
    if caught:
        logger.info("PyVRP struggled to find a feasible plan (penalty at its bound)")
    routes = tuple(
        PyvrpRoute(
            vehicle_type=route.vehicle_type(),
            stop_indices=tuple(a.idx for a in route.schedule() if a.is_client()),
            start_s=route.start_time(),
        )
        for route in result.best.routes()
    )
    return PyvrpOutcome(
        routes=routes,
        feasible=result.best.is_feasible(),
        iterations=result.num_iterations,
        runtime_s=result.runtime,
    )


def to_routes(
    problem: RoutingProblem,
    matrices: Matrices,
    names: tuple[str, ...],
    outcome: PyvrpOutcome,
) -> list[Route]:
    """Our routes from PyVRP's, timed by `schedule_route` (breaks inserted)."""
    types = {t.name: t for t in problem.vehicle_types}
    used: dict[str, int] = {}
    routes: list[Route] = []
    for pv in outcome.routes:
        vtype = types[names[pv.vehicle_type]]
        number = used.get(vtype.name, 0)
        used[vtype.name] = number + 1
        # PyVRP's departure minimises the span without breaks; leaving at opening time
        # gives the inserted breaks the most room.
        opens = problem.depots[problem.depot_node(vtype)].opens_s
        candidates = [
            schedule_route(
                problem,
                matrices,
                vtype=vtype,
                vehicle_index=number,
                stop_indices=pv.stop_indices,
                start_s=start,
            )
            for start in dict.fromkeys((pv.start_s, opens))
        ]
        routes.append(
            next((r for r in candidates if route_feasible(problem, matrices, r)), candidates[0])
        )
    return routes
