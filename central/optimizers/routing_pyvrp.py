"""PyVRP engine for the part of the problem its model covers.

PyVRP models capacity in kg (and pallets when stops have any), time windows on the start of
service, service durations, depot hours, shift duration, fixed / per-distance / per-duration
vehicle costs and optional clients with prizes. It has no driver breaks: for vehicle types
with a break rule the shift given to PyVRP is shortened by the breaks it may need, and the
plan is timed with `schedule_route` (which inserts the breaks) and then checked. Because a
later, cheaper PyVRP best can fail that check where an earlier one passed, `run` checks every
new best as the search finds it (`CheckedBest`, through PyVRP's `on_best` callback) and
returns the cheapest plan that passed, or the final best when none did (the caller then
rejects it).

A vehicle with a `VehicleStart` gets a PyVRP vehicle type of its own: a start place becomes a
PyVRP depot (`start_depot`), the ready time `tw_early` (and `start_late` when it must leave at
once), the shift left `tw_late`, the capacity left its capacity. PyVRP does not know promised
ETAs: re-planning compares its plans with the ETA-change cost added afterwards. A re-plan
starts PyVRP from the current plan's remaining routes (`warm_start`), polished and checked
before the search (`_search`); a start that fails the check is replaced by a random one.

PyVRP's search holds the GIL (a thread running it halves a concurrent Python thread's
progress), so in "auto" mode `solve` runs OR-Tools in a child process, not a thread.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyvrp
from pyvrp import (
    Client,
    Depot,
    Location,
    ProblemData,
    RandomNumberGenerator,
    Result,
    SolveParams,
    VehicleType,
)
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.IteratedLocalSearch import IteratedLocalSearch, IteratedLocalSearchCallbacks
from pyvrp.PenaltyManager import PenaltyManager, PenaltyParams
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from central.optimizers.routing_model import (
    Matrices,
    Route,
    RoutingProblem,
    VehicleStart,
    cost_scale,
    plan_cost,
    route_violations,
    scaled,
    schedule_route,
)
from central.optimizers.routing_model import VehicleType as RoutingVehicleType

logger = logging.getLogger(__name__)


# PyVRP's "no limit" for windows and shift durations.
NO_LIMIT = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class PyvrpData:
    """PyVRP's problem, the solver parameters for it and our vehicles per PyVRP type."""

    data: ProblemData
    params: SolveParams
    vehicles: tuple[tuple[tuple[str, int], ...], ...]


@dataclass(frozen=True)
class PyvrpRoute:
    """A route as PyVRP returns it: vehicle type number, stop indices, departure time."""

    vehicle_type: int
    stop_indices: tuple[int, ...]
    start_s: int


@dataclass(frozen=True)
class PyvrpOutcome:
    """What a PyVRP run found (plain data, so it crosses a process boundary).

    `routes` is the cheapest best that passed our check when `run` was given a checker
    (`checked` True), else PyVRP's final best. `final_checked` says whether the final best
    passed too (None: not checked).
    """

    routes: tuple[PyvrpRoute, ...]
    feasible: bool
    iterations: int
    runtime_s: float
    checked: bool = False
    final_checked: bool | None = None


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
    locations = [Location(x=0, y=0) for _ in range(problem.node_count)]
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
    # Start places are PyVRP depots after ours, at their own nodes (after the stops).
    first_place = n_depots + len(problem.stops)
    depots += [Depot(location=first_place + k) for k in range(len(problem.places))]
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
    # Vehicles of one type with the same start (none, or only a ready time) share a PyVRP
    # type; a vehicle at a start place has one of its own.
    groups: dict[tuple[str, VehicleStart | None], list[tuple[str, int]]] = {}
    for vtype in plannable:
        for number in range(vtype.count):
            spec = problem.start_of((vtype.name, number))
            shared = None if spec is None else dataclasses.replace(spec, vehicle=("", 0))
            groups.setdefault((vtype.name, shared), []).append((vtype.name, number))
    by_name = {t.name: t for t in plannable}
    types: list[VehicleType] = []
    for (name, spec), members in groups.items():
        vtype = by_name[name]
        types.append(
            _vehicle_type(
                problem,
                vtype,
                spec,
                len(members),
                scale=scale,
                kg_scale=kg_scale,
                pallets=pallets_total if with_pallets else None,
                timeless=timeless,
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
    longest_m, longest_s = int(distance.max(initial=0)), int(duration.max(initial=0))
    worst = max(
        [t.fixed_cost for t in types]
        + [c.prize for c in clients]
        + [t.unit_distance_cost * longest_m for t in types]
        + [t.unit_duration_cost * longest_s for t in types]
        + [0]
    )
    params = SolveParams(
        penalty=PenaltyParams(max_penalty=max(PenaltyParams().max_penalty, 10.0 * worst))
    )
    return PyvrpData(data=data, params=params, vehicles=tuple(tuple(m) for m in groups.values()))


def _vehicle_type(
    problem: RoutingProblem,
    vtype: RoutingVehicleType,
    spec: VehicleStart | None,
    count: int,
    *,
    scale: int,
    kg_scale: int,
    pallets: int | None,
    timeless: bool,
) -> VehicleType:
    """PyVRP's vehicle type for `count` vehicles of `vtype` sharing the start `spec`."""
    depot_node = problem.depot_node(vtype)
    depot = problem.depots[depot_node]
    used_kg = Decimal(0) if spec is None else spec.used_kg
    capacity = [max(0, math.floor((vtype.capacity_kg - used_kg) * kg_scale))]
    if pallets is not None:
        total = pallets if vtype.capacity_pallets is None else vtype.capacity_pallets
        capacity.append(max(0, total - (0 if spec is None else spec.used_pallets)))
    ready = depot.opens_s if spec is None else max(depot.opens_s, spec.ready_s)
    away = spec is not None and spec.place is not None
    driven = 0 if spec is None else spec.driven_s
    late = NO_LIMIT if timeless else depot.closes_s
    shift = NO_LIMIT
    if spec is not None and spec.shift_left_s is not None:
        late = min(late, spec.ready_s + spec.shift_left_s)
        shift = _shift_without_breaks(vtype, spec.shift_left_s, driven)
    elif vtype.shift_length_s is not None:
        shift = _shift_without_breaks(vtype, vtype.shift_length_s, driven)
    elif vtype.break_after_driving_s is not None:
        shift = _shift_without_breaks(vtype, depot.closes_s - ready, driven)
    start = depot_node
    if spec is not None and spec.place is not None:
        start = len(problem.depots) + next(
            k for k, p in enumerate(problem.places) if p.name == spec.place
        )
    return VehicleType(
        num_available=count,
        capacity=capacity,
        start_depot=start,
        end_depot=depot_node,
        # Under way, the fixed cost is sunk: it must not keep the vehicle from serving.
        fixed_cost=0 if away else scaled(vtype.fixed_cost, scale),
        tw_early=ready,
        tw_late=late,
        unit_distance_cost=scaled(vtype.cost_per_km / 1000, scale),
        unit_duration_cost=scaled(vtype.cost_per_hour / 3600, scale),
        shift_duration=shift,
        start_late=ready if away else None,
        name=vtype.name,
    )


def _shift_without_breaks(vtype: RoutingVehicleType, shift: int, driven: int = 0) -> int:
    """The shift minus the breaks it may need: room for breaks PyVRP cannot place itself.

    `driven`: driving since the last break carried over, which brings the first break forward.
    """
    limit = vtype.break_after_driving_s
    if limit is None or shift <= limit - driven:
        return shift
    first = max(0, limit - driven)
    breaks = math.ceil((shift - first) / (limit + vtype.break_duration_s))
    return max(0, shift - breaks * vtype.break_duration_s)


class CheckedBest(IteratedLocalSearchCallbacks):
    """Checks each new PyVRP best with our rules and keeps the cheapest that passes.

    A best is timed by `to_routes` (breaks inserted) and each route checked with
    `route_violations`; timed routes are cached by (PyVRP type, stops), since successive
    bests share most routes. The plan's cost is `plan_cost`, as `solve` compares plans.
    """

    def __init__(self, problem: RoutingProblem, matrices: Matrices, data: PyvrpData) -> None:
        self.problem = problem
        self.matrices = matrices
        self.data = data
        self.cache: dict[tuple[int, tuple[int, ...], int], tuple[Route, bool]] = {}
        self.best: tuple[PyvrpRoute, ...] | None = None
        self.best_cost: Decimal | None = None
        self.checked = 0
        self.failed = 0

    def cost(self, routes: tuple[PyvrpRoute, ...]) -> Decimal | None:
        """The plan's cost when every route passes the check, else None."""
        plan: list[Route] = []
        for vehicle, pv in assign_vehicles(self.data.vehicles, routes):
            key = (pv.vehicle_type, pv.stop_indices, pv.start_s)
            if key not in self.cache:
                self.cache[key] = time_route(self.problem, self.matrices, vehicle, pv)
            route, passes = self.cache[key]
            if not passes:
                return None
            plan.append(dataclasses.replace(route, vehicle_index=vehicle[1]))
        served = {v.stop_id for r in plan for v in r.visits}
        if any(not s.optional and s.id not in served for s in self.problem.stops):
            return None
        dropped = [s.id for s in self.problem.stops if s.id not in served]
        return plan_cost(self.problem, plan, dropped)

    def consider(self, routes: tuple[PyvrpRoute, ...]) -> bool:
        """Checks a plan; keeps it when it passes and is the cheapest so far."""
        self.checked += 1
        cost = self.cost(routes)
        if cost is None:
            self.failed += 1
            return False
        if self.best_cost is None or cost < self.best_cost:
            self.best, self.best_cost = routes, cost
        return True

    def on_best(self, best: pyvrp.Solution) -> None:
        if best.is_feasible():
            self.consider(pyvrp_routes(best))


def pyvrp_routes(solution: pyvrp.Solution) -> tuple[PyvrpRoute, ...]:
    """A PyVRP solution's routes as plain data."""
    return tuple(
        PyvrpRoute(
            vehicle_type=route.vehicle_type(),
            stop_indices=tuple(a.idx for a in route.schedule() if a.is_client()),
            start_s=route.start_time(),
        )
        for route in solution.routes()
    )


def warm_start(
    problem: RoutingProblem, data: PyvrpData, routes: Sequence[Route]
) -> pyvrp.Solution | None:
    """PyVRP's solution for `routes` (re-planning: the current plan) on this problem.

    Each route keeps, in order, its visits to the problem's stops (a re-plan's kept visits
    are not among them); its vehicle gives the PyVRP type, and a type's routes go in the
    order of its vehicles. `assign_vehicles` gives them back in order of use, so within a
    shared type (alike vehicles, same start) a route may come back on another number. A
    route of a vehicle the problem does not plan is left out; stops on no route (new
    orders) are left for the search to insert. None when no route has a stop left.
    """
    index_of = {s.id: i for i, s in enumerate(problem.stops)}
    slot = {
        vehicle: (vtype, number)
        for vtype, members in enumerate(data.vehicles)
        for number, vehicle in enumerate(members)
    }
    start: list[tuple[tuple[int, int], list[int]]] = []
    for route in routes:
        where = slot.get(route.vehicle)
        visits = [index_of[v.stop_id] for v in route.visits if v.stop_id in index_of]
        if where is not None and visits:
            start.append((where, visits))
    if not start:
        return None
    start.sort(key=lambda item: item[0])
    return pyvrp.Solution(
        data.data, [pyvrp.Route(data.data, visits, vtype) for (vtype, _), visits in start]
    )


def run(
    data: PyvrpData,
    *,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
    checker: CheckedBest | None = None,
    initial: pyvrp.Solution | None = None,
) -> PyvrpOutcome:
    """Runs PyVRP's default solver within the time limit (or `max_iterations`).

    With a `checker`, every new best is checked as it is found and the cheapest that passed
    is returned (see `CheckedBest`). `initial` replaces PyVRP's random start (`warm_start`).
    """
    params = data.params
    if checker is not None:
        params = SolveParams(
            ils=dataclasses.replace(params.ils, callbacks=checker),
            penalty=params.penalty,
            neighbourhood=params.neighbourhood,
            operators=params.operators,
            display_interval=params.display_interval,
            perturbation=params.perturbation,
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PenaltyBoundWarning)
        result = _search(data.data, params, time_limit_s, max_iterations, seed, initial, checker)
    if caught:
        logger.info("PyVRP struggled to find a feasible plan (penalty at its bound)")
    final = pyvrp_routes(result.best)
    feasible = result.best.is_feasible()
    if checker is None:
        return PyvrpOutcome(final, feasible, result.num_iterations, result.runtime)
    # Every best went through the check, the start too; this re-check is a cache hit.
    final_ok = feasible and (final == checker.best or checker.consider(final))
    if checker.best is not None and not final_ok:
        logger.info(
            "PyVRP's final best fails the check; keeping an earlier best at %s",
            checker.best_cost,
        )
    return PyvrpOutcome(
        routes=checker.best if checker.best is not None else final,
        feasible=feasible or checker.best is not None,
        iterations=result.num_iterations,
        runtime_s=result.runtime,
        checked=checker.best is not None,
        final_checked=final_ok,
    )


def _search(
    data: ProblemData,
    params: SolveParams,
    time_limit_s: float,
    max_iterations: int | None,
    seed: int,
    initial: pyvrp.Solution | None,
    checker: CheckedBest | None,
) -> Result:
    """`pyvrp.solve`, except that a warm start is polished like its random start, that the
    polish counts against the time limit, and that the start is checked like every best.

    `pyvrp.solve` runs an exhaustive local search at maximal penalties on its random start
    only; a warm start would go straight into the iterated search, whose perturbation-led
    moves repair it too slowly (1,000-stop re-plan: the current plan minus its served part,
    plus ten new orders and twenty moved windows, gave no best passing our check in 3.5 s;
    polished first, it passed after 0.2 s). A polished warm start that fails our check
    (PyVRP places no breaks) is dropped for a random one: measured on the benchmark's
    re-plans over six seeds, a search from a failing warm start found a passing plan late
    or never (200 stops: 5 of 6, after 0.2 to 3.4 s), one from a random start in 6 of 6
    within 0.9 s. Without a warm start this is `pyvrp.solve`'s own sequence, same seed,
    same result.
    """
    began = time.perf_counter()
    rng = RandomNumberGenerator(seed=seed)
    neighbours = compute_neighbours(data, params.neighbourhood)
    search = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for operator in params.operators:
        if operator.supports(data):
            search.add_operator(operator(data))
    penalties = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
    evaluator = penalties.max_cost_evaluator()
    start = None if initial is None else search(initial, evaluator, exhaustive=True)
    if start is not None and checker is not None and not _passes(checker, start):
        logger.info("the polished warm start fails the check; searching from a random start")
        start = None
    if start is None:
        start = search(pyvrp.Solution.make_random(data, rng), evaluator, exhaustive=True)
        if checker is not None:
            _passes(checker, start)
    left_s = max(0.0, time_limit_s - (time.perf_counter() - began))
    criteria: list[StoppingCriterion] = [MaxRuntime(left_s)]
    if max_iterations is not None:
        criteria.append(MaxIterations(max_iterations))
    ils = IteratedLocalSearch(data, penalties, search, start, params.ils)
    return ils.run(MultipleCriteria(criteria), collect_stats=False)


def _passes(checker: CheckedBest, solution: pyvrp.Solution) -> bool:
    """Whether a PyVRP solution is feasible and passes our check (kept when cheapest)."""
    return solution.is_feasible() and checker.consider(pyvrp_routes(solution))


def assign_vehicles(
    vehicles: tuple[tuple[tuple[str, int], ...], ...], routes: tuple[PyvrpRoute, ...]
) -> list[tuple[tuple[str, int], PyvrpRoute]]:
    """Each PyVRP route with our vehicle: the PyVRP type's vehicles in order of use."""
    used: dict[int, int] = {}
    out: list[tuple[tuple[str, int], PyvrpRoute]] = []
    for pv in routes:
        number = used.get(pv.vehicle_type, 0)
        used[pv.vehicle_type] = number + 1
        out.append((vehicles[pv.vehicle_type][number], pv))
    return out


def time_route(
    problem: RoutingProblem, matrices: Matrices, vehicle: tuple[str, int], pv: PyvrpRoute
) -> tuple[Route, bool]:
    """A PyVRP route timed by `schedule_route` (breaks inserted), and whether it passes.

    PyVRP's departure minimises the span without breaks; leaving as early as allowed gives
    the inserted breaks the most room, so both are tried.
    """
    vtype = next(t for t in problem.vehicle_types if t.name == vehicle[0])
    spec = problem.start_of(vehicle)
    earliest = problem.depots[problem.depot_node(vtype)].opens_s
    if spec is not None:
        earliest = spec.ready_s if spec.place is not None else max(earliest, spec.ready_s)
    indices = list(pv.stop_indices)
    timed = [
        schedule_route(
            problem,
            matrices,
            vtype=vtype,
            vehicle_index=vehicle[1],
            stop_indices=indices,
            start_s=start,
        )
        for start in dict.fromkeys((max(pv.start_s, earliest), earliest))
    ]
    for route in timed:
        if not route_violations(problem, matrices, vtype, route, indices):
            return route, True
    return timed[0], False


def to_routes(
    problem: RoutingProblem,
    matrices: Matrices,
    vehicles: tuple[tuple[tuple[str, int], ...], ...],
    routes: tuple[PyvrpRoute, ...],
) -> list[Route]:
    """Our routes from PyVRP's, timed with breaks; a route failing the check from every
    departure tried is returned as timed from PyVRP's, for the caller's check to report."""
    return [time_route(problem, matrices, v, pv)[0] for v, pv in assign_vehicles(vehicles, routes)]
