"""OR-Tools routing engine: the full model (capacities, windows, shifts, breaks, re-planning).

Approximation of the break rule (documented in `routing_model`): OR-Tools' break constraint
(`SetBreakDistanceDurationOfVehicle`) measures *elapsed* time on the time dimension, so the
engine allows at most `break_after_driving_s` of driving + service + waiting between breaks.
That is stricter than a driving-only limit, so its plans also pass the driving-time check;
`check_routes` verifies the driving-only rule. A vehicle starting at a place (under way, see
`VehicleStart`) has its one break constrained explicitly instead: due within
`limit - driven_s` of elapsed time from its start, then at most `limit` until it is back.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from central.optimizers.routing_model import (
    Break,
    Matrices,
    Route,
    RoutingProblem,
    VehicleStart,
    VehicleType,
    Visit,
    cost_scale,
    scaled,
)

logger = logging.getLogger(__name__)

FirstSolution = routing_enums_pb2.FirstSolutionStrategy
Metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic


@dataclass(frozen=True)
class SearchOptions:
    """Re-planning extras for the OR-Tools search.

    * `droppable`: mandatory stops may be left out at a penalty above any plan's cost, so a
      plan is always returned and a stop that cannot be served is reported, not fatal.
    * `promised_s`: promised start-of-service times; deviating costs `eta_penalty_per_s`.
    * `initial`: routes to start the search from (warm start), when they are valid.
    """

    droppable: bool = False
    promised_s: Mapping[str, int] = field(default_factory=dict)
    eta_penalty_per_s: Decimal = Decimal(0)
    initial: tuple[Route, ...] = ()


def fleet(problem: RoutingProblem) -> list[tuple[VehicleType, int]]:
    """Every plannable vehicle as (type, index within the type), in engine order."""
    return [
        (vtype, index)
        for vtype in problem.vehicle_types
        if vtype.plannable_on(problem.plan_date)
        for index in range(vtype.count)
    ]


def grams(kg: Decimal, *, up: bool) -> int:
    """kg as integer grams, rounded up for demands and down for capacities."""
    value = kg * 1000
    return math.ceil(value) if up else math.floor(value)


def _first_solution(problem: RoutingProblem, with_breaks: bool) -> int:
    """SAVINGS for plain capacitated problems, parallel cheapest insertion otherwise."""
    horizon = problem.horizon_s
    windows = any(s.earliest_s > 0 or problem.latest(s) < horizon for s in problem.stops)
    shifts = any(t.shift_length_s is not None for t in problem.vehicle_types)
    optional = any(s.optional for s in problem.stops)
    if not (windows or shifts or optional or with_breaks or len(problem.depots) > 1):
        return int(FirstSolution.SAVINGS)
    return int(FirstSolution.PARALLEL_CHEAPEST_INSERTION)


def solve_ortools(
    problem: RoutingProblem,
    matrices: Matrices,
    *,
    time_limit_s: float,
    max_iterations: int | None = None,
    options: SearchOptions = SearchOptions(),
    first_solution: int | None = None,
    on_solution: Callable[[int], None] | None = None,
) -> list[Route] | None:
    """Solves with OR-Tools routing (first solution + guided local search).

    Args:
        options: re-planning extras (droppable stops, promised ETAs, warm start).
        first_solution: a `FirstSolution` strategy instead of the one chosen by problem
            kind (benchmarks compare against OR-Tools' plain setup with it).
        on_solution: called with the objective (engine cost units) of every solution the
            search accepts, the first one included, as it is found (benchmarks time it).

    `time_limit_s` covers building the model too (large re-plans must answer in time).

    Returns the routes, or None when no solution was found in the limits.
    """
    began = time.perf_counter()
    vehicles = fleet(problem)
    if not vehicles:
        return None
    n_depots = len(problem.depots)
    n_stop_nodes = n_depots + len(problem.stops)
    scale = cost_scale(problem)
    specs = [problem.start_of((vtype.name, number)) for vtype, number in vehicles]
    starts = [
        problem.start_node(vtype, spec) for (vtype, _), spec in zip(vehicles, specs, strict=True)
    ]
    ends = [problem.depot_node(vtype) for vtype, _ in vehicles]
    manager = pywrapcp.RoutingIndexManager(problem.node_count, len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    # A place whose vehicle is not planned is no stop: keep it off every route.
    for node in set(range(n_stop_nodes, problem.node_count)) - set(starts):
        index = manager.NodeToIndex(node)
        routing.AddDisjunction([index], 0)
        routing.solver().Add(routing.ActiveVar(index) == 0)

    per_type: dict[str, int] = {}
    for v, ((vtype, _), spec) in enumerate(zip(vehicles, specs, strict=True)):
        if vtype.name not in per_type:
            per_metre = scaled(vtype.cost_per_km / 1000, scale)
            per_type[vtype.name] = routing.RegisterTransitMatrix(
                [[d * per_metre for d in row] for row in matrices.distance]
            )
        routing.SetArcCostEvaluatorOfVehicle(per_type[vtype.name], v)
        sunk = spec is not None and spec.place is not None
        routing.SetFixedCostOfVehicle(0 if sunk else scaled(vtype.fixed_cost, scale), v)

    places = [0] * len(problem.places)
    kg = [0] * n_depots + [grams(s.demand_kg, up=True) for s in problem.stops] + places
    kg_cb = routing.RegisterUnaryTransitVector(kg)
    routing.AddDimensionWithVehicleCapacity(
        kg_cb,
        0,
        [
            max(0, grams(t.capacity_kg - (spec.used_kg if spec else Decimal(0)), up=False))
            for (t, _), spec in zip(vehicles, specs, strict=True)
        ],
        True,
        "kg",
    )
    if any(s.demand_pallets for s in problem.stops):
        pallets = [0] * n_depots + [s.demand_pallets for s in problem.stops] + places
        pal_cb = routing.RegisterUnaryTransitVector(pallets)
        caps = [
            max(
                0,
                (t.capacity_pallets if t.capacity_pallets is not None else sum(pallets))
                - (spec.used_pallets if spec else 0),
            )
            for (t, _), spec in zip(vehicles, specs, strict=True)
        ]
        routing.AddDimensionWithVehicleCapacity(pal_cb, 0, caps, True, "pallets")

    service = [0] * n_depots + [s.service_s for s in problem.stops] + places
    time_cb = routing.RegisterTransitMatrix(
        [[service[i] + d for d in row] for i, row in enumerate(matrices.duration)]
    )
    horizon = problem.horizon_s
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for i, stop in enumerate(problem.stops):
        index = manager.NodeToIndex(n_depots + i)
        time_dim.CumulVar(index).SetRange(stop.earliest_s, problem.latest(stop))
    for v, ((vtype, _), spec) in enumerate(zip(vehicles, specs, strict=True)):
        _time_limits(problem, routing, time_dim, v, vtype, spec)
        time_dim.SetSpanCostCoefficientForVehicle(scaled(vtype.cost_per_hour / 3600, scale), v)
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))
    break_vars = _add_breaks(problem, routing, manager, time_dim, vehicles, service)

    big = _big_penalty(problem, matrices, vehicles, scale) if options.droppable else None
    for i, stop in enumerate(problem.stops):
        index = manager.NodeToIndex(n_depots + i)
        if stop.optional:
            routing.AddDisjunction([index], scaled(stop.penalty, scale))
        elif big is not None:
            routing.AddDisjunction([index], big)
    eta_coefficient = scaled(options.eta_penalty_per_s, scale)
    if eta_coefficient > 0:
        for i, stop in enumerate(problem.stops):
            if stop.id in options.promised_s:
                index = manager.NodeToIndex(n_depots + i)
                promised = options.promised_s[stop.id]
                time_dim.SetCumulVarSoftUpperBound(index, promised, eta_coefficient)
                time_dim.SetCumulVarSoftLowerBound(index, promised, eta_coefficient)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        _first_solution(problem, bool(break_vars)) if first_solution is None else first_solution
    )
    params.local_search_metaheuristic = Metaheuristic.GUIDED_LOCAL_SEARCH
    left_s = time_limit_s - (time.perf_counter() - began)
    params.time_limit.FromMilliseconds(max(50, int(left_s * 1000)))
    if max_iterations is not None:
        params.solution_limit = max_iterations
    routing.CloseModelWithParameters(params)
    if on_solution is not None:
        report = on_solution
        routing.AddAtSolutionCallback(lambda: report(routing.CostVar().Value()))

    solution = None
    if options.initial:
        start = _initial_assignment(problem, routing, manager, vehicles, options.initial)
        if start is not None:
            solution = routing.SolveFromAssignmentWithParameters(start, params)
        else:
            logger.info("warm start rejected by OR-Tools; building a first solution")
    if solution is None:
        solution = routing.SolveWithParameters(params)
    if solution is None:
        logger.info("OR-Tools found no solution (status %s)", routing.status())
        return None
    return _extract(problem, matrices, routing, manager, time_dim, vehicles, solution, break_vars)


def _big_penalty(
    problem: RoutingProblem,
    matrices: Matrices,
    vehicles: list[tuple[VehicleType, int]],
    scale: int,
) -> int:
    """A drop penalty above any plan's cost: dropping a mandatory stop never pays."""
    longest = max(max(row) for row in matrices.distance)
    per_metre = max(scaled(t.cost_per_km / 1000, scale) for t, _ in vehicles)
    per_s = max(scaled(t.cost_per_hour / 3600, scale) for t, _ in vehicles)
    fixed = sum(scaled(t.fixed_cost, scale) for t, _ in vehicles)
    per_stop = 2 * longest * per_metre + 2 * problem.horizon_s * per_s
    return 10 * (fixed + (len(problem.stops) + 1) * per_stop) + 1


def _time_limits(
    problem: RoutingProblem,
    routing: pywrapcp.RoutingModel,
    time_dim: pywrapcp.RoutingDimension,
    v: int,
    vtype: VehicleType,
    spec: VehicleStart | None,
) -> None:
    """Depot hours, the start spec's ready time and shift left, or the type's shift."""
    depot = problem.depots[problem.depot_node(vtype)]
    start, end = time_dim.CumulVar(routing.Start(v)), time_dim.CumulVar(routing.End(v))
    end.SetRange(depot.opens_s, depot.closes_s)
    if spec is None:
        start.SetRange(depot.opens_s, depot.closes_s)
    elif spec.place is not None:
        start.SetValue(spec.ready_s)
    else:
        start.SetRange(max(depot.opens_s, spec.ready_s), depot.closes_s)
    if spec is not None and spec.shift_left_s is not None:
        end.SetMax(min(depot.closes_s, spec.ready_s + spec.shift_left_s))
    elif vtype.shift_length_s is not None:
        time_dim.SetSpanUpperBoundForVehicle(vtype.shift_length_s, v)


def _add_breaks(
    problem: RoutingProblem,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    time_dim: pywrapcp.RoutingDimension,
    vehicles: list[tuple[VehicleType, int]],
    service: list[int],
) -> dict[str, int]:
    """One optional break + "a break at least every L of elapsed time" per vehicle.

    One break only: with several optional break intervals OR-Tools' first-solution heuristics
    failed to find any plan on small feasible cases (tried with ordered intervals too). Routes
    planned by OR-Tools therefore span at most 2·L + break (9 h 45 min under EU 561); plans
    that need more breaks can still come from PyVRP + `schedule_route`, checked by
    `check_routes`. Returns break interval name -> vehicle number.
    """
    names: dict[str, int] = {}
    visit_transit = [service[manager.IndexToNode(i)] for i in range(routing.Size())]
    solver = routing.solver()
    for v, (vtype, number) in enumerate(vehicles):
        limit = vtype.break_after_driving_s
        depot = problem.depots[problem.depot_node(vtype)]
        spec = problem.start_of((vtype.name, number))
        opens = depot.opens_s if spec is None else max(depot.opens_s, spec.ready_s)
        span = depot.closes_s - opens
        if spec is not None and spec.shift_left_s is not None:
            span = min(span, spec.shift_left_s)
        elif vtype.shift_length_s is not None:
            span = min(span, vtype.shift_length_s)
        driven = 0 if spec is None else spec.driven_s
        if limit is None or span <= limit - driven:
            continue
        pause = vtype.break_duration_s
        name = f"break-{v}"
        names[name] = v
        start_max = max(opens, depot.closes_s - pause)
        interval = solver.FixedDurationIntervalVar(opens, start_max, pause, True, name)
        time_dim.SetBreakIntervalsOfVehicle([interval], v, visit_transit)
        if spec is None or spec.place is None:
            time_dim.SetBreakDistanceDurationOfVehicle(limit, pause, v)
            continue
        # Under way: the break is due within `limit - driven` from the start, and after it
        # at most `limit` until the end; a route shorter than `limit - driven` needs none.
        first = max(0, limit - driven)
        begin = time_dim.CumulVar(routing.Start(v))
        end = time_dim.CumulVar(routing.End(v))
        solver.Add(end - begin <= first + (span + 1) * interval.PerformedExpr())
        solver.Add(interval.SafeStartExpr(0) <= begin + first)
        solver.Add(end - interval.SafeEndExpr(depot.closes_s) <= limit)
    return names


def _initial_assignment(
    problem: RoutingProblem,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    vehicles: list[tuple[VehicleType, int]],
    initial: Sequence[Route],
) -> pywrapcp.Assignment | None:
    index_of = {s.id: i for i, s in enumerate(problem.stops)}
    by_vehicle = {r.vehicle: r for r in initial}
    routes: list[list[int]] = []
    for vtype, number in vehicles:
        route = by_vehicle.get((vtype.name, number))
        visits = route.visits if route is not None else ()
        routes.append(
            [
                manager.NodeToIndex(problem.stop_node(index_of[v.stop_id]))
                for v in visits
                if v.stop_id in index_of
            ]
        )
    assignment: pywrapcp.Assignment | None = routing.ReadAssignmentFromRoutes(routes, True)
    return assignment


def _extract(
    problem: RoutingProblem,
    matrices: Matrices,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    time_dim: pywrapcp.RoutingDimension,
    vehicles: list[tuple[VehicleType, int]],
    solution: pywrapcp.Assignment,
    break_vars: Mapping[str, int],
) -> list[Route]:
    n_depots = len(problem.depots)
    breaks_of: dict[int, list[tuple[int, int]]] = {}
    container = solution.IntervalVarContainer()
    for k in range(container.Size()):
        element = container.Element(k)
        name = element.Var().Name()
        if name in break_vars and element.PerformedValue():
            breaks_of.setdefault(break_vars[name], []).append(
                (element.StartValue(), element.DurationValue())
            )
    routes: list[Route] = []
    for v, (vtype, number) in enumerate(vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        if routing.IsEnd(index):
            continue
        start_s = solution.Value(time_dim.CumulVar(routing.Start(v)))
        depot = problem.depot_node(vtype)
        nodes = [manager.IndexToNode(routing.Start(v))]
        visits: list[Visit] = []
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            stop = problem.stops[node - n_depots]
            arrival = solution.Value(time_dim.CumulVar(index))
            visits.append(Visit(stop.id, arrival, arrival + stop.service_s))
            nodes.append(node)
            index = solution.Value(routing.NextVar(index))
        end_s = solution.Value(time_dim.CumulVar(index))
        nodes.append(depot)
        departures = [start_s, *(visit.departure_s for visit in visits)]
        arrivals = [*(visit.arrival_s for visit in visits), end_s]
        breaks = [
            Break(leg, begin, length)
            for begin, length in sorted(breaks_of.get(v, []))
            for leg in range(len(departures))
            if departures[leg] <= begin and begin + length <= arrivals[leg]
        ]
        served = [problem.stops[n - n_depots] for n in nodes[1:-1]]
        routes.append(
            Route(
                vehicle_type=vtype.name,
                vehicle_index=number,
                site=problem.depots[depot].site,
                start_s=start_s,
                end_s=end_s,
                visits=tuple(visits),
                breaks=tuple(breaks),
                distance_m=sum(matrices.distance[a][b] for a, b in itertools.pairwise(nodes)),
                load_kg=sum((s.demand_kg for s in served), Decimal(0)),
                load_pallets=sum(s.demand_pallets for s in served),
            )
        )
    return routes


def worker(
    conn: Connection,
    problem: RoutingProblem,
    matrices: Matrices,
    time_limit_s: float,
    max_iterations: int | None,
    submitted_at: float,
    niceness: int,
    options: SearchOptions,
) -> None:
    """Process entry point: solves with OR-Tools and sends the routes (or None) over `conn`.

    `submitted_at` (a `time.time()` stamp) lets the process deduct its own start-up from the
    limit; `niceness` lowers its CPU priority when the other engine is the likelier winner.
    """
    try:
        if niceness:
            os.nice(niceness)
        budget = time_limit_s - max(0.0, time.time() - submitted_at)
        conn.send(
            solve_ortools(
                problem,
                matrices,
                time_limit_s=max(0.05, budget),
                max_iterations=max_iterations,
                options=options,
            )
        )
    finally:
        conn.close()
