"""Route planning: a fleet of vehicle types serves a day's stops from the sites (depots).

Problem in, result out (`solve`, `replan`); never touches the database. Two engines:

* OR-Tools routing: the whole model (kg and pallet capacity, time windows, service, shift
  limits, driver breaks, optional stops with penalties, unplannable vehicles left out),
  a first solution chosen by problem kind (SAVINGS for plain capacity problems, parallel
  cheapest insertion otherwise) improved by guided local search; re-planning warm-starts from
  the current plan.
* PyVRP (iterated local search) for what its model covers; see `routing_pyvrp`. Re-planning
  warm-starts it from the current plan's remaining routes too (`routing_pyvrp.warm_start`).

`engine="auto"` runs both side by side within the same time limit (OR-Tools in a child process,
because PyVRP holds the GIL) and keeps the cheaper plan that passes `check_routes`, an
independent feasibility check; the cost of every plan is recomputed here from the routes
(`plan_cost`), so engines are compared on the same money. PyVRP's run itself keeps the
cheapest of its bests that passes the check (`routing_pyvrp.CheckedBest`). Data model and
conventions: `routing_model`.

`replan` re-plans the rest of the day (`routing_rest`): the stops not yet served nor headed
to, for vehicles starting where they are committed, solved like any problem; the kept part
is put back in front afterwards. Only the rest is checked: the past cannot be changed and
need not pass today's rules (actual times may differ from the travel model).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from multiprocessing.context import ForkContext, SpawnContext
from typing import Literal

from central.optimizers.routing_model import (
    XY,
    Break,
    Depot,
    Euclidean,
    Haversine,
    LatLon,
    Matrices,
    Place,
    Route,
    RoutingProblem,
    RoutingResult,
    RoutingStatus,
    Stop,
    TravelMatrix,
    VehicleStart,
    VehicleType,
    Violation,
    ViolationKind,
    Visit,
    check_routes,
    frozen_mapping,
    plan_cost,
    travel_matrices,
)
from central.optimizers.routing_ortools import SearchOptions, solve_ortools
from central.optimizers.routing_ortools import worker as ortools_worker
from central.optimizers.routing_pyvrp import (
    CheckedBest,
    PyvrpOutcome,
    build_data,
    run,
    to_routes,
    warm_start,
)
from central.optimizers.routing_rest import commitments, rest_problem, stitch

__all__ = [
    "XY",
    "Break",
    "Change",
    "ChangeKind",
    "Depot",
    "Engine",
    "Euclidean",
    "Haversine",
    "LatLon",
    "Place",
    "ReplanResult",
    "Route",
    "RoutingProblem",
    "RoutingResult",
    "RoutingStatus",
    "Stop",
    "TravelMatrix",
    "VehicleStart",
    "VehicleType",
    "Violation",
    "ViolationKind",
    "Visit",
    "check_routes",
    "plan_cost",
    "replan",
    "solve",
]

logger = logging.getLogger(__name__)

Engine = Literal["auto", "ortools", "pyvrp"]
# Time the OR-Tools worker may take after PyVRP is done (start-up, pickling) before it is killed.
WORKER_GRACE_S = 30.0
# CPU priority drop of the OR-Tools worker when PyVRP models the whole problem.
ORTOOLS_NICENESS = 10


def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    seed: int = 0,
    engine: Engine = "auto",
    max_iterations: int | None = None,
) -> RoutingResult:
    """Plans routes for the problem.

    Args:
        time_limit_s: wall-clock budget; in "auto" both engines use it at the same time.
        seed: PyVRP's random seed (OR-Tools' search is deterministic by itself).
        engine: "auto" (both, best feasible plan wins), "ortools" or "pyvrp".
        max_iterations: also stop after this many PyVRP iterations / OR-Tools solutions,
            for reproducible runs (tests); the time limit then only guards.
    """
    if time_limit_s <= 0:
        raise ValueError("time_limit_s must be > 0")
    started = time.perf_counter()
    notes: list[str] = []
    plans = _plans(problem, engine, time_limit_s, seed, max_iterations, SearchOptions(), notes)
    return _pick(problem, plans, time.perf_counter() - started, notes)


def _plans(
    problem: RoutingProblem,
    engine: Engine,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
    options: SearchOptions,
    notes: list[str],
) -> dict[str, list[Route] | None]:
    """Each engine's plan (None: it found none)."""
    matrices = travel_matrices(problem)
    if not any(t.plannable_on(problem.plan_date) for t in problem.vehicle_types):
        notes.append("no vehicle is available on the plan date")
        return {}
    if engine == "ortools":
        return {
            "ortools": solve_ortools(
                problem,
                matrices,
                time_limit_s=time_limit_s,
                max_iterations=max_iterations,
                options=options,
            )
        }
    if engine == "pyvrp":
        return {
            "pyvrp": _run_pyvrp(
                problem, matrices, time_limit_s, seed, max_iterations, options.initial, notes
            )
        }
    return _solve_both(problem, matrices, time_limit_s, seed, max_iterations, options, notes)


def _run_pyvrp(
    problem: RoutingProblem,
    matrices: Matrices,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
    initial: Sequence[Route],
    notes: list[str],
) -> list[Route]:
    """PyVRP's best checked plan, searched from `initial` when given (re-planning: the
    current plan); building its data counts against the time limit."""
    began = time.perf_counter()
    data = build_data(problem, matrices)
    checker = CheckedBest(problem, matrices, data)
    outcome = run(
        data,
        time_limit_s=max(0.05, time_limit_s - (time.perf_counter() - began)),
        seed=seed,
        max_iterations=max_iterations,
        checker=checker,
        initial=warm_start(problem, data, initial) if initial else None,
    )
    notes.append(_pyvrp_note(outcome, checker))
    return to_routes(problem, matrices, data.vehicles, outcome.routes)


def _pyvrp_note(outcome: PyvrpOutcome, checker: CheckedBest) -> str:
    note = f"pyvrp: {outcome.iterations} iterations, {checker.checked} bests checked"
    if outcome.checked and outcome.final_checked is False:
        note += f", final best failed the check: kept an earlier one at {checker.best_cost}"
    return note


def _solve_both(
    problem: RoutingProblem,
    matrices: Matrices,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
    options: SearchOptions,
    notes: list[str],
) -> dict[str, list[Route] | None]:
    """PyVRP here, OR-Tools in a child process, both within `time_limit_s`.

    When PyVRP models the whole problem (no break rules) it is the likelier winner, so the
    OR-Tools process runs at a lower CPU priority: on a busy machine it takes spare cycles
    instead of PyVRP's. With breaks both run at the same priority.
    """
    breaks = any(
        t.break_after_driving_s is not None
        for t in problem.vehicle_types
        if t.plannable_on(problem.plan_date)
    )
    # fork is cheap (no re-import) and safe while only this thread runs; else spawn.
    forkable = "fork" in multiprocessing.get_all_start_methods()
    context: ForkContext | SpawnContext = (
        multiprocessing.get_context("fork")
        if forkable and threading.active_count() == 1
        else multiprocessing.get_context("spawn")
    )
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=ortools_worker,
        args=(
            sender,
            problem,
            matrices,
            time_limit_s,
            max_iterations,
            time.time(),
            0 if breaks else ORTOOLS_NICENESS,
            options,
        ),
        name="ortools-worker",
        daemon=True,
    )
    process.start()
    sender.close()
    ortools: list[Route] | None = None
    try:
        pyvrp = _run_pyvrp(
            problem, matrices, time_limit_s, seed, max_iterations, options.initial, notes
        )
        if receiver.poll(WORKER_GRACE_S):
            try:
                ortools = receiver.recv()
            except EOFError:
                logger.warning("OR-Tools worker ended without a result; using PyVRP only")
        else:
            logger.warning("OR-Tools worker overran its time limit; using PyVRP only")
    finally:
        receiver.close()
        process.join(timeout=1.0)
        if process.is_alive():
            process.kill()
            process.join()
        process.close()
    return {"ortools": ortools, "pyvrp": pyvrp}


@dataclass(frozen=True)
class _Candidate:
    engine: str
    result: RoutingResult
    violations: list[Violation]


def _as_result(
    problem: RoutingProblem, engine: str, routes: Sequence[Route], elapsed: float
) -> RoutingResult:
    served = {v.stop_id for r in routes for v in r.visits}
    dropped = tuple(s.id for s in problem.stops if s.id not in served)
    missing = any(not s.optional for s in problem.stops if s.id not in served)
    return RoutingResult(
        status=RoutingStatus.INCOMPLETE if missing else RoutingStatus.FEASIBLE,
        routes=tuple(routes),
        dropped=dropped,
        cost=plan_cost(problem, routes, dropped),
        engine=engine,
        solve_time_s=elapsed,
    )


def _pick(
    problem: RoutingProblem,
    plans: Mapping[str, list[Route] | None],
    elapsed: float,
    notes: list[str],
    extra_cost: Callable[[RoutingResult], Decimal] | None = None,
) -> RoutingResult:
    """The cheapest plan that passes `check_routes`; else the one missing fewest stops.

    `extra_cost` is added to the plan cost for the comparison only (re-planning: the cost of
    moving promised ETAs, which not every engine optimises).
    """

    def rank(c: _Candidate) -> Decimal:
        return c.result.cost + (extra_cost(c.result) if extra_cost else Decimal(0))

    candidates: list[_Candidate] = []
    for engine, routes in plans.items():
        if routes is None:
            notes.append(f"{engine}: no solution")
            continue
        result = _as_result(problem, engine, routes, elapsed)
        violations = check_routes(problem, result)
        candidates.append(_Candidate(engine, result, violations))
        for violation in violations[:3]:
            if violation.kind is not ViolationKind.MANDATORY_STOP_UNSERVED:
                notes.append(f"{engine} rejected: {violation.kind.value}: {violation.detail}")
    feasible = [c for c in candidates if not c.violations]
    engine_costs = {c.engine: c.result.cost if c in feasible else None for c in candidates} | {
        engine: None for engine, routes in plans.items() if routes is None
    }
    if feasible:
        best = min(feasible, key=rank).result
        return _finish(best, engine_costs, notes)
    incomplete = [
        c
        for c in candidates
        if all(v.kind is ViolationKind.MANDATORY_STOP_UNSERVED for v in c.violations)
    ]
    if incomplete:
        best = min(incomplete, key=lambda c: (len(c.violations), rank(c))).result
        notes.append(
            "mandatory stops not planned: "
            + ", ".join(s for s in best.dropped if not _is_optional(problem, s))
        )
        return _finish(best, engine_costs, notes)
    every = tuple(s.id for s in problem.stops)
    return RoutingResult(
        status=RoutingStatus.NO_SOLUTION,
        routes=(),
        dropped=every,
        cost=plan_cost(problem, (), every),
        engine="none",
        solve_time_s=elapsed,
        engine_costs=frozen_mapping(engine_costs),
        notes=tuple(notes),
    )


def _is_optional(problem: RoutingProblem, stop_id: str) -> bool:
    return next(s.optional for s in problem.stops if s.id == stop_id)


def _finish(
    best: RoutingResult, engine_costs: Mapping[str, Decimal | None], notes: list[str]
) -> RoutingResult:
    logger.info("routing plan by %s: cost %s, %d routes", best.engine, best.cost, len(best.routes))
    return RoutingResult(
        status=best.status,
        routes=best.routes,
        dropped=best.dropped,
        cost=best.cost,
        engine=best.engine,
        solve_time_s=best.solve_time_s,
        engine_costs=frozen_mapping(engine_costs),
        notes=tuple(notes),
    )


class ChangeKind(Enum):
    """How a stop's plan changed in a re-plan."""

    MOVED = "moved"  # now on another vehicle
    ETA_CHANGED = "eta_changed"  # same vehicle, start of service moved beyond the threshold
    DROPPED = "dropped"  # was planned, is not any more
    ADDED = "added"  # was not planned, is now


@dataclass(frozen=True)
class Change:
    """One stop whose plan changed; ETAs in seconds from day start, vehicles as keys."""

    stop_id: str
    kind: ChangeKind
    vehicle_before: tuple[str, int] | None
    vehicle_after: tuple[str, int] | None
    eta_before_s: int | None
    eta_after_s: int | None


@dataclass(frozen=True)
class ReplanResult:
    """The new plan and what moved compared with the current one.

    `rest_problem` and `rest` are the rest of the day as solved and checked (vehicles under
    way starting where they are committed); `result` is the whole day with the kept part
    stitched back in, whose past is not re-checked.
    """

    result: RoutingResult
    changes: tuple[Change, ...]
    rest_problem: RoutingProblem | None = None
    rest: RoutingResult | None = None


def replan(
    problem: RoutingProblem,
    current: RoutingResult,
    *,
    progress: Mapping[tuple[str, int], int],
    promised_etas: Mapping[str, int | datetime] | None = None,
    day_start: datetime | None = None,
    eta_change_penalty_per_s: Decimal = Decimal(0),
    eta_change_report_s: int = 600,
    time_limit_s: float,
    seed: int = 0,
    max_iterations: int | None = None,
    now_s: int | None = None,
    engine: Engine = "auto",
) -> ReplanResult:
    """Re-plans the rest of the day, keeping what is under way fixed (see `routing_rest`).

    Args:
        problem: today's problem (it may hold new stops or changed windows).
        current: the plan being driven; a vehicle's arrival at the stop it heads to is taken
            as its ETA there.
        progress: for each vehicle that has left, the index in its current route's visits of
            the last stop served (-1: none yet). Served stops and the next one (the stop it
            is heading to) stay first on that vehicle, in order, with their times.
        promised_etas: start-of-service times promised to customers, as seconds from day
            start or aware datetimes (then `day_start` is required).
        eta_change_penalty_per_s: cost per second of moving a promised ETA (either way).
            OR-Tools optimises it; PyVRP does not, but plans are compared with it added.
        eta_change_report_s: an ETA moving by more than this is reported as a change.
        seed: PyVRP's random seed.
        now_s: vehicles not yet left may not leave before this time (None: no limit).
        engine: as for `solve`; both engines warm-start from the current plan's remaining
            part (new stops are left for the search to insert).

    The result's status is that of the rest of the day: the kept part is not checked.
    """
    started = time.perf_counter()
    promised = _promised_seconds(promised_etas or {}, day_start)
    matrices = travel_matrices(problem)
    committed = commitments(problem, matrices, current, progress)
    rest = rest_problem(problem, matrices, committed, now_s)
    options = SearchOptions(
        droppable=True,
        promised_s=promised,
        eta_penalty_per_s=eta_change_penalty_per_s,
        initial=current.routes,
    )
    notes = [f"re-planned the rest: {len(committed)} vehicles under way, {len(rest.stops)} stops"]
    # The limit covers preparing the rest of the day too.
    left_s = max(0.05, time_limit_s - (time.perf_counter() - started))
    plans = _plans(rest, engine, left_s, seed, max_iterations, options, notes)

    def eta_cost(result: RoutingResult) -> Decimal:
        moved = sum(
            abs(v.arrival_s - promised[v.stop_id])
            for r in result.routes
            for v in r.visits
            if v.stop_id in promised
        )
        return eta_change_penalty_per_s * moved

    rest_result = _pick(rest, plans, time.perf_counter() - started, notes, eta_cost)
    routes = stitch(rest, rest_result, committed)
    result = RoutingResult(
        status=rest_result.status,
        routes=routes,
        dropped=rest_result.dropped,
        cost=plan_cost(problem, routes, rest_result.dropped),
        engine=rest_result.engine,
        solve_time_s=time.perf_counter() - started,
        engine_costs=rest_result.engine_costs,
        notes=rest_result.notes,
    )
    changes = _changes(current, result, promised, eta_change_report_s)
    logger.info("re-plan: %d changes, status %s", len(changes), result.status.value)
    return ReplanResult(result=result, changes=changes, rest_problem=rest, rest=rest_result)


def _promised_seconds(
    promised: Mapping[str, int | datetime], day_start: datetime | None
) -> dict[str, int]:
    out: dict[str, int] = {}
    for stop_id, eta in promised.items():
        if isinstance(eta, datetime):
            if day_start is None or eta.tzinfo is None:
                raise ValueError("promised datetimes need tz-aware values and day_start")
            out[stop_id] = round((eta - day_start).total_seconds())
        else:
            out[stop_id] = eta
    return out


def _changes(
    before: RoutingResult,
    after: RoutingResult,
    promised: Mapping[str, int],
    threshold_s: int,
) -> tuple[Change, ...]:
    old = {v.stop_id: (r.vehicle, v.arrival_s) for r in before.routes for v in r.visits}
    new = {v.stop_id: (r.vehicle, v.arrival_s) for r in after.routes for v in r.visits}
    changes: list[Change] = []
    for stop_id in sorted(old.keys() | new.keys()):
        was, now = old.get(stop_id), new.get(stop_id)
        if was is None and now is not None:
            changes.append(Change(stop_id, ChangeKind.ADDED, None, now[0], None, now[1]))
        elif was is not None and now is None:
            changes.append(Change(stop_id, ChangeKind.DROPPED, was[0], None, was[1], None))
        elif was is not None and now is not None:
            reference = promised.get(stop_id, was[1])
            if was[0] != now[0]:
                kind: ChangeKind | None = ChangeKind.MOVED
            elif abs(now[1] - reference) > threshold_s:
                kind = ChangeKind.ETA_CHANGED
            else:
                kind = None
            if kind is not None:
                changes.append(Change(stop_id, kind, was[0], now[0], reference, now[1]))
    return tuple(changes)
