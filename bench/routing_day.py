"""A realistic delivery day: time to a first feasible plan, the 60 s plan and a mid-day re-plan.

Run: ``python -m bench.routing_day`` (``--sizes 200x20``, ``--limit 60``) or
``python -m bench routing_day`` (sizes from ``WMS_BENCH_DAY_SIZES``, e.g. ``200x20``); writes
``bench/results/routing_day.json``.

The day (`generate_day`, deterministic from a seed): one depot in Corbas, south-east of Lyon;
stops within 40 km of Lyon's centre, half of them in the inner 8 km; cartons (no pallet) or one
or two pallets each; morning, afternoon (2–4 h wide) or all-day windows; service times by
pallet count; an 18 t rigid (18 pallets) and a 7.5 t van (8 pallets) type with their own
costs, some vehicles in the workshop or off; 10 h shifts and the EU break rule (4.5 h driving,
then 45 min). Road distances are haversine × 1.3, durations 90 s to park and pull out plus
50 km/h; the matrix is computed once and supplied as a `TravelMatrix`, as a road-distance
service would, so solve times exclude building it.

Per size:

* First feasible plan, ours: the earlier of our OR-Tools setup's first solution
  (`solve(engine="ortools", max_iterations=1)`) and the first PyVRP best solution that passes
  `check_routes` once `to_routes` has timed it with breaks (traced through PyVRP's callbacks).
  "auto" runs both engines side by side, one core each, so either time is what it waits for.
* The plan at the limit (default 60 s): `solve(engine="auto")`, re-checked by `check_routes`.
* Baseline, same model, same limit, same run: OR-Tools' plain setup, PATH_CHEAPEST_ARC +
  GUIDED_LOCAL_SEARCH; its first solution is timed by a solution callback (its cost there is the
  engine objective, per-hour costs rounded within 1 %). Ratios are ours / baseline; a baseline
  without a plan leaves the ratio empty.
* Mid-day re-plan at 12:00 on the plan at the limit: stops whose planned start of service is
  before 12:00 are served, each vehicle under way keeps the stop it heads to; a few urgent
  orders arrive, some customers move their windows later, stops not yet served cannot be
  served before 12:00. `replan(time_limit_s=4.5, now_s=12:00)` is timed as a whole (target
  ≤ 5 s); it re-plans the rest of the day (vehicles under way start where they are
  committed). We record its feasibility (the rest of the day, checked by `check_routes`;
  the whole stitched day is checked too, and its violations, all in the driven past, are
  counted apart), changes, that the served prefix is unchanged, and how many routes leave
  the depot before 12:00.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import random
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyvrp
from pyvrp import SolveParams
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.IteratedLocalSearch import IteratedLocalSearchCallbacks
from pyvrp.stop import MaxRuntime

from central.optimizers.routing import (
    Depot,
    LatLon,
    ReplanResult,
    Route,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    TravelMatrix,
    VehicleType,
    check_routes,
    plan_cost,
    replan,
    solve,
)
from central.optimizers.routing_model import Matrices, cost_scale, travel_matrices
from central.optimizers.routing_ortools import FirstSolution, solve_ortools
from central.optimizers.routing_pyvrp import PyvrpData, build_data, pyvrp_routes, to_routes

logger = logging.getLogger("bench.routing_day")

RESULTS_DIR = Path(__file__).parent / "results"
SIZES = ((200, 20), (1000, 50))
LIMIT_S = 60.0
REPLAN_LIMIT_S = 4.5
REPLAN_TARGET_S = 5.0
SEED = 2026
PLAN_DATE = date(2026, 3, 10)
NOON_S = 12 * 3600

HOUR = 3600
CITY_CENTRE = LatLon(45.7640, 4.8357)  # Lyon, place Bellecour
DEPOT_AT = LatLon(45.6680, 4.9010)  # Corbas logistics park
# (share of stops, inner radius m, outer radius m): city, suburbs, outlying towns.
RINGS = ((0.50, 0, 8_000), (0.35, 8_000, 25_000), (0.15, 25_000, 40_000))
CIRCUITY = 1.3
SPEED_MS = 50 / 3.6
LEG_OVERHEAD_S = 90
METRES_PER_DEGREE = 111_320.0
SHIFT_S = 10 * HOUR
DRIVING_LIMIT_S = int(4.5 * HOUR)
BREAK_S = 45 * 60


@dataclass(frozen=True)
class FleetType:
    """One kind of vehicle as the generator builds it."""

    name: str
    capacity_kg: Decimal
    capacity_pallets: int
    fixed_cost: Decimal
    cost_per_km: Decimal
    cost_per_hour: Decimal


RIGID = FleetType("rigid-18t", Decimal(9000), 18, Decimal(160), Decimal("0.60"), Decimal(32))
VAN = FleetType("van-7.5t", Decimal(3200), 8, Decimal(100), Decimal("0.40"), Decimal(28))
RIGID_SHARE = 0.45
OFF_SHARE = 0.08


def _place(centre: LatLon, metres: float, bearing: float) -> LatLon:
    dlat = metres * math.cos(bearing) / METRES_PER_DEGREE
    dlon = metres * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(centre.lat)))
    return LatLon(round(centre.lat + dlat, 6), round(centre.lon + dlon, 6))


def _random_place(rng: random.Random) -> LatLon:
    _, inner, outer = rng.choices(RINGS, weights=[ring[0] for ring in RINGS])[0]
    # Uniform over the ring's area, not its radius.
    radius = math.sqrt(rng.uniform(inner**2, outer**2))
    return _place(CITY_CENTRE, radius, rng.uniform(0, 2 * math.pi))


def _window(rng: random.Random) -> tuple[int, int]:
    kind = rng.random()
    width = rng.choice(range(2 * HOUR, 4 * HOUR + 1, HOUR // 2))
    if kind < 0.35:
        start = rng.choice(range(7 * HOUR, 10 * HOUR + 1, HOUR // 2))
        return start, min(start + width, 12 * HOUR)
    if kind < 0.65:
        start = rng.choice(range(12 * HOUR, 15 * HOUR + 1, HOUR // 2))
        return start, min(start + width, 18 * HOUR)
    return 8 * HOUR, 18 * HOUR


def _stop(rng: random.Random, stop_id: str, window: tuple[int, int] | None = None) -> Stop:
    draw = rng.random()
    pallets = 0 if draw < 0.6 else 1 if draw < 0.95 else 2
    kg = rng.randint(10, 80) if pallets == 0 else sum(rng.randint(100, 500) for _ in range(pallets))
    earliest, latest = window if window is not None else _window(rng)
    return Stop(
        id=stop_id,
        location=_random_place(rng),
        demand_kg=Decimal(kg),
        demand_pallets=pallets,
        earliest_s=earliest,
        latest_s=latest,
        service_s=300 + 300 * pallets + 60 * rng.randint(0, 4),
    )


def _vehicle_type(
    kind: FleetType,
    count: int,
    *,
    suffix: str = "",
    available: bool = True,
    maintenance_due: date | None = None,
) -> VehicleType:
    return VehicleType(
        name=f"{kind.name}-{suffix}" if suffix else kind.name,
        capacity_kg=kind.capacity_kg,
        capacity_pallets=kind.capacity_pallets,
        count=count,
        fixed_cost=kind.fixed_cost,
        cost_per_km=kind.cost_per_km,
        cost_per_hour=kind.cost_per_hour,
        available=available,
        maintenance_due=maintenance_due,
        shift_length_s=SHIFT_S,
        break_after_driving_s=DRIVING_LIMIT_S,
        break_duration_s=BREAK_S,
    )


def _fleet(vehicles: int) -> tuple[VehicleType, ...]:
    """Rigids and vans; a few vehicles are in the workshop (maintenance due) or off."""
    off = max(1, round(vehicles * OFF_SHARE))
    workshop = math.ceil(off / 2)
    rigids = max(1, round((vehicles - off) * RIGID_SHARE))
    types = [
        _vehicle_type(RIGID, rigids),
        _vehicle_type(RIGID, workshop, suffix="workshop", maintenance_due=PLAN_DATE),
        _vehicle_type(VAN, vehicles - off - rigids),
        _vehicle_type(VAN, off - workshop, suffix="off", available=False),
    ]
    return tuple(t for t in types if t.count > 0)


def road_matrix(places: Sequence[LatLon]) -> TravelMatrix:
    """Road distances (haversine × circuity) and durations (parking overhead + speed)."""
    rad = [
        (math.radians(p.lat), math.radians(p.lon), math.cos(math.radians(p.lat))) for p in places
    ]
    distance: list[tuple[int, ...]] = []
    duration: list[tuple[int, ...]] = []
    for lat1, lon1, cos1 in rad:
        row_d: list[int] = []
        row_t: list[int] = []
        for lat2, lon2, cos2 in rad:
            h = math.sin((lat2 - lat1) / 2) ** 2 + cos1 * cos2 * math.sin((lon2 - lon1) / 2) ** 2
            metres = round(2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h))) * CIRCUITY)
            row_d.append(metres)
            row_t.append(round(LEG_OVERHEAD_S + metres / SPEED_MS) if metres else 0)
        distance.append(tuple(row_d))
        duration.append(tuple(row_t))
    return TravelMatrix(tuple(distance), tuple(duration))


def _travel(depots: Sequence[Depot], stops: Sequence[Stop]) -> TravelMatrix:
    places: list[LatLon] = []
    for place in [*(d.location for d in depots), *(s.location for s in stops)]:
        if not isinstance(place, LatLon):
            raise ValueError("a generated day places its depots and stops by latitude/longitude")
        places.append(place)
    return road_matrix(places)


def generate_day(stops: int, vehicles: int, *, seed: int) -> RoutingProblem:
    """A day of `stops` deliveries for a fleet of `vehicles`, the same for the same seed."""
    rng = random.Random(seed)
    depots = (Depot("LYS1", DEPOT_AT, opens_s=6 * HOUR, closes_s=20 * HOUR),)
    day = tuple(_stop(rng, f"D{i:04d}") for i in range(stops))
    return RoutingProblem(
        depots=depots,
        vehicle_types=_fleet(vehicles),
        stops=day,
        travel=_travel(depots, day),
        plan_date=PLAN_DATE,
    )


@dataclass(frozen=True)
class Midday:
    """The re-planning input at `now_s`: the changed day and each vehicle's progress."""

    problem: RoutingProblem
    progress: dict[tuple[str, int], int]
    now_s: int
    urgent: tuple[str, ...]
    moved_windows: tuple[str, ...]


def midday(problem: RoutingProblem, plan: RoutingResult, *, now_s: int, seed: int) -> Midday:
    """The day at `now_s`: progress per vehicle, urgent orders added, some windows moved.

    A vehicle has served every stop it was planned to start before `now_s` and heads to the
    next one; stops not yet reached cannot be served before `now_s`.
    """
    rng = random.Random(seed)
    progress: dict[tuple[str, int], int] = {}
    served: set[str] = set()
    heading: set[str] = set()
    for route in plan.routes:
        if route.start_s >= now_s:
            continue
        done = [v.stop_id for v in route.visits if v.arrival_s < now_s]
        progress[route.vehicle] = len(done) - 1
        served.update(done)
        heading.update(v.stop_id for v in route.visits[len(done) : len(done) + 1])
    open_ids = [s.id for s in problem.stops if s.id not in served | heading]
    moved = set(rng.sample(open_ids, min(len(open_ids), max(3, len(problem.stops) // 50))))
    stops: list[Stop] = []
    for stop in problem.stops:
        if stop.id in served:
            stops.append(stop)
            continue
        # A stop whose window has passed keeps it: re-planning then reports it dropped.
        latest = problem.latest(stop)
        earliest = max(stop.earliest_s, min(now_s, latest))
        if stop.id in moved:
            # The customer asks for an hour later, keeping at least two hours' width.
            earliest += HOUR
            latest = min(max(latest + HOUR, earliest + 2 * HOUR), 19 * HOUR)
        stops.append(replace(stop, earliest_s=earliest, latest_s=latest))
    urgent = [
        _stop(rng, f"U{i:03d}", (now_s + HOUR, now_s + 4 * HOUR))
        for i in range(max(3, len(problem.stops) // 100))
    ]
    day = (*stops, *urgent)
    return Midday(
        problem=replace(problem, stops=day, travel=_travel(problem.depots, day)),
        progress=progress,
        now_s=now_s,
        urgent=tuple(s.id for s in urgent),
        moved_windows=tuple(sorted(moved)),
    )


@dataclass(frozen=True)
class FirstPlan:
    """An engine's first feasible plan: when, at what cost, whether `check_routes` passed."""

    engine: str
    seconds: float | None
    cost: float | None
    violations: int | None


def _as_result(problem: RoutingProblem, routes: Sequence[Route], engine: str) -> RoutingResult:
    served = {v.stop_id for r in routes for v in r.visits}
    dropped = tuple(s.id for s in problem.stops if s.id not in served)
    return RoutingResult(
        status=RoutingStatus.INCOMPLETE if dropped else RoutingStatus.FEASIBLE,
        routes=tuple(routes),
        dropped=dropped,
        cost=plan_cost(problem, routes, dropped),
        engine=engine,
        solve_time_s=0.0,
    )


def first_ortools(problem: RoutingProblem, limit_s: float) -> FirstPlan:
    """Our OR-Tools setup's first solution, through the public `solve`."""
    started = time.perf_counter()
    result = solve(problem, time_limit_s=limit_s, engine="ortools", max_iterations=1)
    seconds = time.perf_counter() - started
    if result.status is RoutingStatus.NO_SOLUTION:
        return FirstPlan("ortools", None, None, None)
    violations = len(check_routes(problem, result))
    return FirstPlan("ortools", round(seconds, 2), float(result.cost), violations)


class _FirstChecked(IteratedLocalSearchCallbacks):
    """Times each new PyVRP best: timed with breaks and checked, the first that passes wins."""

    def __init__(
        self, problem: RoutingProblem, matrices: Matrices, data: PyvrpData, started: float
    ) -> None:
        self.problem = problem
        self.matrices = matrices
        self.data = data
        self.started = started
        self.found: FirstPlan | None = None
        self.rejected = 0

    def on_best(self, best: pyvrp.Solution) -> None:
        if self.found is not None or not best.is_feasible():
            return
        ours = to_routes(self.problem, self.matrices, self.data.vehicles, pyvrp_routes(best))
        result = _as_result(self.problem, ours, "pyvrp")
        if check_routes(self.problem, result):
            self.rejected += 1
            return
        seconds = round(time.perf_counter() - self.started, 2)
        self.found = FirstPlan("pyvrp", seconds, float(result.cost), 0)


def first_pyvrp(problem: RoutingProblem, limit_s: float, seed: int) -> tuple[FirstPlan, int]:
    """PyVRP's first best solution that passes `check_routes`; and how many failed before."""
    started = time.perf_counter()
    matrices = travel_matrices(problem)
    data = build_data(problem, matrices)
    watch = _FirstChecked(problem, matrices, data, started)
    ours = data.params
    params = SolveParams(
        ils=replace(ours.ils, callbacks=watch),
        penalty=ours.penalty,
        neighbourhood=ours.neighbourhood,
        operators=ours.operators,
        display_interval=ours.display_interval,
        perturbation=ours.perturbation,
    )
    deadline = MaxRuntime(limit_s)
    with warnings.catch_warnings():
        # As in `routing_pyvrp.run`: a penalty at its bound is reported, not an error.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        pyvrp.solve(
            data.data,
            lambda cost: watch.found is not None or deadline(cost),
            seed=seed,
            collect_stats=False,
            params=params,
        )
    return watch.found or FirstPlan("pyvrp", None, None, None), watch.rejected


@dataclass(frozen=True)
class Baseline:
    """OR-Tools' plain setup on the same model."""

    first_s: float | None
    first_cost_approx: float | None
    solutions: int
    seconds: float
    cost: float | None
    violations: int | None


def baseline(problem: RoutingProblem, limit_s: float) -> Baseline:
    """PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH at the limit; its first solution timed."""
    started = time.perf_counter()
    matrices = travel_matrices(problem)
    seen: list[tuple[float, int]] = []

    def on_solution(objective: int) -> None:
        seen.append((time.perf_counter() - started, objective))

    routes = solve_ortools(
        problem,
        matrices,
        time_limit_s=limit_s,
        first_solution=int(FirstSolution.PATH_CHEAPEST_ARC),
        on_solution=on_solution,
    )
    seconds = time.perf_counter() - started
    scale = cost_scale(problem)
    first_s, first_cost = (round(seen[0][0], 2), seen[0][1] / scale) if seen else (None, None)
    if routes is None:
        return Baseline(first_s, first_cost, len(seen), round(seconds, 2), None, None)
    result = _as_result(problem, routes, "ortools-pca")
    violations = len(check_routes(problem, result))
    cost = float(result.cost) if not violations else None
    return Baseline(first_s, first_cost, len(seen), round(seconds, 2), cost, violations)


@dataclass(frozen=True)
class Plan:
    """Our plan at the limit."""

    seconds: float
    cost: float | None
    engine: str
    engine_costs: dict[str, float | None]
    violations: int
    routes: int
    vehicles_by_type: dict[str, int]
    breaks: int
    longest_route_h: float
    longest_driving_h: float


def driving_s(problem: RoutingProblem, matrices: Matrices, route: Route) -> int:
    """Time spent driving on a route (breaks, waiting and service left out)."""
    index = {s.id: problem.stop_node(i) for i, s in enumerate(problem.stops)}
    vtype = next(t for t in problem.vehicle_types if t.name == route.vehicle_type)
    depot = problem.depot_node(vtype)
    nodes = [depot, *(index[v.stop_id] for v in route.visits), depot]
    return sum(matrices.duration[a][b] for a, b in itertools.pairwise(nodes))


def ours(problem: RoutingProblem, limit_s: float, seed: int) -> tuple[Plan, RoutingResult]:
    """`solve(engine="auto")` at the limit, re-checked."""
    started = time.perf_counter()
    result = solve(problem, time_limit_s=limit_s, seed=seed)
    seconds = time.perf_counter() - started
    violations = len(check_routes(problem, result))
    feasible = result.status is RoutingStatus.FEASIBLE and not violations
    matrices = travel_matrices(problem)
    plan = Plan(
        seconds=round(seconds, 2),
        cost=float(result.cost) if feasible else None,
        engine=result.engine,
        engine_costs={k: None if v is None else float(v) for k, v in result.engine_costs.items()},
        violations=violations,
        routes=len(result.routes),
        vehicles_by_type=dict(Counter(r.vehicle_type for r in result.routes)),
        breaks=sum(len(r.breaks) for r in result.routes),
        longest_route_h=round(max((r.duration_s for r in result.routes), default=0) / HOUR, 2),
        longest_driving_h=round(
            max((driving_s(problem, matrices, r) for r in result.routes), default=0) / HOUR, 2
        ),
    )
    return plan, result


@dataclass(frozen=True)
class Replan:
    """The mid-day re-plan."""

    seconds: float
    within_target: bool
    status: str
    engine: str
    violations: int
    past_violations: int
    vehicles_under_way: int
    served_before_now: int
    urgent_orders: int
    urgent_planned: int
    moved_windows: int
    dropped: int
    changes: dict[str, int]
    served_prefix_kept: bool
    departs_before_now: int
    cost_before: float
    cost_after: float


def prefix_kept(
    before: RoutingResult, after: RoutingResult, progress: dict[tuple[str, int], int]
) -> bool:
    """Every vehicle under way keeps its served visits (times too), then the stop it heads to."""
    for vehicle, last in progress.items():
        old, new = before.route_of(vehicle), after.route_of(vehicle)
        if old is None or new is None or new.start_s != old.start_s:
            return False
        pinned = old.visits[: last + 2]
        if new.visits[: last + 1] != old.visits[: last + 1]:
            return False
        if [v.stop_id for v in new.visits[: len(pinned)]] != [v.stop_id for v in pinned]:
            return False
    return True


def midday_replan(
    problem: RoutingProblem, plan: RoutingResult, *, limit_s: float, seed: int
) -> Replan:
    """Re-plans the rest of the day at noon; `replan` timed as a whole."""
    day = midday(problem, plan, now_s=NOON_S, seed=seed)
    started = time.perf_counter()
    out: ReplanResult = replan(
        day.problem,
        plan,
        progress=day.progress,
        time_limit_s=limit_s,
        seed=seed,
        now_s=day.now_s,
    )
    seconds = time.perf_counter() - started
    result = out.result
    rest_problem, rest = out.rest_problem, out.rest
    if rest_problem is None or rest is None:
        raise RuntimeError("replan returned no rest of the day")
    whole = len(check_routes(day.problem, result))
    planned = {v.stop_id for r in result.routes for v in r.visits}
    served = sum(last + 1 for last in day.progress.values())
    return Replan(
        seconds=round(seconds, 2),
        within_target=seconds <= REPLAN_TARGET_S,
        status=result.status.value,
        engine=result.engine,
        violations=len(check_routes(rest_problem, rest)),
        past_violations=whole,
        vehicles_under_way=len(day.progress),
        served_before_now=served,
        urgent_orders=len(day.urgent),
        urgent_planned=sum(1 for u in day.urgent if u in planned),
        moved_windows=len(day.moved_windows),
        dropped=len(result.dropped),
        changes=dict(Counter(c.kind.value for c in out.changes)),
        served_prefix_kept=prefix_kept(plan, result, day.progress),
        departs_before_now=sum(
            1 for r in result.routes if r.vehicle not in day.progress and r.start_s < day.now_s
        ),
        cost_before=float(plan.cost),
        cost_after=float(result.cost),
    )


@dataclass(frozen=True)
class DayFigures:
    """Every figure for one size of day."""

    stops: int
    vehicles: int
    plannable_vehicles: int
    pallets: int
    kg: float
    limit_s: float
    first_ortools: FirstPlan
    first_pyvrp: FirstPlan
    pyvrp_plans_failing_check: int
    first: FirstPlan
    plan: Plan
    baseline: Baseline
    replan: Replan | None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 4)


def run_day(stops: int, vehicles: int, *, limit_s: float = LIMIT_S, seed: int = SEED) -> DayFigures:
    """All measurements on one generated day."""
    problem = generate_day(stops, vehicles, seed=seed)
    logger.info("day %dx%d generated", stops, vehicles)
    pyvrp_first, rejected = first_pyvrp(problem, limit_s, seed)
    logger.info("pyvrp first: %s (%d rejected)", pyvrp_first, rejected)
    ortools_first = first_ortools(problem, limit_s)
    logger.info("ortools first: %s", ortools_first)
    timed = [f for f in (pyvrp_first, ortools_first) if f.seconds is not None and not f.violations]
    first = min(timed, key=lambda f: f.seconds or 0.0, default=FirstPlan("none", None, None, None))
    plan, result = ours(problem, limit_s, seed)
    logger.info("ours at %gs: %s", limit_s, plan)
    base = baseline(problem, limit_s)
    logger.info("baseline at %gs: %s", limit_s, base)
    # A re-plan needs a plan being driven; without one the day records none.
    re = None
    if plan.cost is not None:
        re = midday_replan(problem, result, limit_s=REPLAN_LIMIT_S, seed=seed)
        logger.info("re-plan: %s", re)
    return DayFigures(
        stops=stops,
        vehicles=vehicles,
        plannable_vehicles=sum(
            t.count for t in problem.vehicle_types if t.plannable_on(problem.plan_date)
        ),
        pallets=sum(s.demand_pallets for s in problem.stops),
        kg=float(sum((s.demand_kg for s in problem.stops), Decimal(0))),
        limit_s=limit_s,
        first_ortools=ortools_first,
        first_pyvrp=pyvrp_first,
        pyvrp_plans_failing_check=rejected,
        first=first,
        plan=plan,
        baseline=base,
        replan=re,
    )


def summarise(day: DayFigures) -> dict[str, object]:
    """The compact figures for one day: ours, the baseline, ratios, the re-plan."""
    out: dict[str, object] = {
        "first_feasible_s": day.first.seconds,
        "first_engine": day.first.engine,
        "first_cost": day.first.cost,
        "baseline_first_s": day.baseline.first_s,
        "ratio_first_s": _ratio(day.first.seconds, day.baseline.first_s),
        "cost": day.plan.cost,
        "engine": day.plan.engine,
        "baseline_cost": day.baseline.cost,
        "ratio_cost": _ratio(day.plan.cost, day.baseline.cost),
    }
    re = day.replan
    if re is not None:
        out |= {
            "replan_s": re.seconds,
            "replan_within_5s": re.within_target,
            "replan_feasible": re.status == RoutingStatus.FEASIBLE.value and not re.violations,
            "replan_prefix_kept": re.served_prefix_kept,
            "replan_engine": re.engine,
            "replan_past_violations": re.past_violations,
            "replan_changes": sum(re.changes.values()),
        }
    return out


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """ "200x20,1000x50" -> ((200, 20), (1000, 50))."""
    sizes = []
    for part in text.split(","):
        stops, _, vehicles = part.strip().partition("x")
        sizes.append((int(stops), int(vehicles)))
    return tuple(sizes)


def main(
    results_dir: Path = RESULTS_DIR,
    *,
    sizes: tuple[tuple[int, int], ...] | None = None,
    limit_s: float = LIMIT_S,
) -> dict[str, object]:
    """Runs every size, writes routing_day.json and returns the compact summary."""
    if sizes is None:
        env = os.environ.get("WMS_BENCH_DAY_SIZES")
        sizes = parse_sizes(env) if env else SIZES
    results_dir.mkdir(parents=True, exist_ok=True)
    days: list[DayFigures] = []
    summary: dict[str, object] = {}
    for stops, vehicles in sizes:
        day = run_day(stops, vehicles, limit_s=limit_s)
        days.append(day)
        summary[f"{stops}x{vehicles}"] = summarise(day)
        # Written after every size so a long run leaves partial results behind.
        (results_dir / "routing_day.json").write_text(
            json.dumps(
                {"summary": summary, "days": [asdict(d) for d in days]}, indent=2, default=str
            )
        )
    return summary


def _cli() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing_day")
    parser.add_argument("--sizes", type=parse_sizes, default=SIZES, help="e.g. 200x20,1000x50")
    parser.add_argument("--limit", type=float, default=LIMIT_S)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    summary = main(RESULTS_DIR, sizes=args.sizes, limit_s=args.limit)
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
