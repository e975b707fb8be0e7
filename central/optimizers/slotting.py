"""Slotting optimizer: put every item in the bin where it costs least to pick.

Problem in, result out: build a `SlottingProblem`, call `solve(problem, time_limit_s=..., seed=...)`
and read the `SlottingResult`. Nothing here touches the database.

* `solve` — the optimal plan. Without side constraints it is a min-cost-flow problem solved to
  proven optimality (gap 0); with hazard-per-aisle limits it is solved by CP-SAT, which reports
  its bound.
  See `central.optimizers.slotting_core` for why the flow answer is exactly optimal.
* `best_bin_for` — the putaway bin for one incoming pallet, following a plan.
* `reslot_moves` — the moves that turn the current layout into the plan, under a move budget.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from types import MappingProxyType

from central.optimizers.slotting_core import (
    CoreSolution,
    CoreStats,
    CoreStatus,
    solve_cp_sat,
    solve_flow,
)
from central.optimizers.slotting_model import (
    DEFAULT_LAYOUT,
    ZERO,
    AisleLayout,
    Bin,
    CostModel,
    HazardAisleLimit,
    Item,
    SlottingProblem,
    assignment_violations,
    expected_travel,
    fits,
    plan_cost,
    rectilinear_travel,
)

__all__ = [
    "DEFAULT_LAYOUT",
    "AisleLayout",
    "Bin",
    "CoreStats",
    "CostModel",
    "HazardAisleLimit",
    "Item",
    "Move",
    "SlottingProblem",
    "SlottingResult",
    "SlottingStatus",
    "assignment_violations",
    "best_bin_for",
    "expected_travel",
    "fits",
    "plan_cost",
    "rectilinear_travel",
    "reslot_moves",
    "solve",
]

logger = logging.getLogger(__name__)


class SlottingStatus(Enum):
    """How good the returned plan is known to be."""

    OPTIMAL = "optimal"  # proven optimal: gap 0
    FEASIBLE = "feasible"  # a valid plan; lower_bound and gap say how far from optimal at most
    INFEASIBLE = "infeasible"  # no plan places every item (e.g. more items than compatible bins)
    UNKNOWN = "unknown"  # CP-SAT hit the time limit before finding any plan


@dataclass(frozen=True)
class SlottingResult:
    """Outcome of `solve`.

    Args:
        status: see `SlottingStatus`.
        assignment: item sku -> bin code for every item (fixed ones included); empty when no plan.
        objective: pick-metres per period of the plan (travel + penalties), in original units.
        lower_bound: proven lower bound on the optimum, pick-metres per period.
        gap: (objective - lower_bound) / objective; 0 when proven optimal.
        solve_time_s: wall time of `solve`.
        engine: "ortools.min_cost_flow" or "ortools.cp_sat".
        cost_model: the cost model the objective is measured in (used by `best_bin_for`).
        stats: size of the class network that was solved.
    """

    status: SlottingStatus
    assignment: Mapping[str, str]
    objective: Decimal | None
    lower_bound: Decimal | None
    gap: Decimal | None
    solve_time_s: float
    engine: str
    cost_model: CostModel
    stats: CoreStats = field(default_factory=lambda: CoreStats(0, 0, 0))

    def __post_init__(self) -> None:
        has_plan = self.status in (SlottingStatus.OPTIMAL, SlottingStatus.FEASIBLE)
        if has_plan != (self.objective is not None):
            raise ValueError(f"slotting result {self.status.value}: objective inconsistent")
        if self.status is SlottingStatus.OPTIMAL and self.gap not in (None, ZERO):
            raise ValueError("an optimal slotting result must have gap 0")


def solve(
    problem: SlottingProblem, *, time_limit_s: float, seed: int = 0, num_workers: int = 2
) -> SlottingResult:
    """Find the least-cost slotting plan.

    Args:
        problem: items, bins, cost model, fixed assignments, side constraints.
        time_limit_s: limit for CP-SAT (used only with side constraints); the min-cost-flow core is
            polynomial and always runs to completion.
        seed: CP-SAT random seed; the flow core is deterministic.
        num_workers: CP-SAT search workers.
    """
    if time_limit_s <= 0:
        raise ValueError("time_limit_s must be > 0")
    started = time.perf_counter()
    fixed_items = {sku for sku, _ in problem.fixed}
    fixed_bins = {code for _, code in problem.fixed}
    items = [i for i in problem.items if i.sku not in fixed_items]
    bins = [b for b in problem.bins if b.code not in fixed_bins]
    fixed_violations = assignment_violations(problem, dict(problem.fixed))
    if fixed_violations:
        core = CoreSolution(CoreStatus.INFEASIBLE, {}, None, Decimal(1), False, "precheck")
        logger.info("slotting infeasible: fixed assignments break %s", fixed_violations[0])
    elif problem.hazard_aisle_limits:
        core = solve_cp_sat(
            problem,
            items,
            bins,
            time_limit_s=time_limit_s,
            seed=seed,
            num_workers=num_workers,
        )
    else:
        core = solve_flow(problem, items, bins)
    result = _result(problem, core, time.perf_counter() - started)
    logger.info(
        "slotting %d items into %d bins: %s, objective %s, gap %s, %.2f s (%s, %d arcs)",
        len(problem.items),
        len(problem.bins),
        result.status.value,
        result.objective,
        result.gap,
        result.solve_time_s,
        result.engine,
        result.stats.arcs,
    )
    return result


def _result(problem: SlottingProblem, core: CoreSolution, elapsed_s: float) -> SlottingResult:
    status = {
        CoreStatus.OPTIMAL: SlottingStatus.OPTIMAL,
        CoreStatus.FEASIBLE: SlottingStatus.FEASIBLE,
        CoreStatus.INFEASIBLE: SlottingStatus.INFEASIBLE,
        CoreStatus.UNKNOWN: SlottingStatus.UNKNOWN,
    }[core.status]
    if status not in (SlottingStatus.OPTIMAL, SlottingStatus.FEASIBLE):
        return SlottingResult(
            status, MappingProxyType({}), None, None, None, elapsed_s, core.engine,
            problem.cost_model, core.stats,
        )  # fmt: skip
    assignment = dict(problem.fixed)
    assignment.update(core.assignment)
    objective = plan_cost(problem, assignment)
    fixed_cost = plan_cost(problem, dict(problem.fixed))
    core_objective = objective - fixed_cost
    assert core.lower_bound_units is not None
    bound = core.unit * core.lower_bound_units
    if core.rounded:
        # Each rounded cost is within half a unit of the true one, so the true optimum can be
        # lower than what the rounded problem proves by at most half a unit per item.
        status = SlottingStatus.FEASIBLE
        bound -= core.unit * len(core.assignment) / 2
    lower_bound = fixed_cost + min(bound, core_objective)
    if status is SlottingStatus.OPTIMAL:
        lower_bound = objective
    gap = ZERO if objective == lower_bound else (objective - lower_bound) / objective
    return SlottingResult(
        status,
        MappingProxyType(assignment),
        objective,
        lower_bound,
        gap,
        elapsed_s,
        core.engine,
        problem.cost_model,
        core.stats,
    )


def best_bin_for(item: Item, free_bins: Iterable[Bin], plan: SlottingResult) -> Bin | None:
    """Putaway bin for an incoming pallet of `item`.

    The item's planned bin when it is among `free_bins`; otherwise the free compatible bin with the
    least cost under the plan's cost model, preferring bins the plan does not reserve for another
    item (ties broken by bin code). None when no free bin fits. Hazard-per-aisle limits are not
    checked here: they are a property of the whole plan.
    """
    candidates = [b for b in free_bins if fits(item, b)]
    planned = plan.assignment.get(item.sku)
    for bin_ in candidates:
        if bin_.code == planned:
            return bin_
    reserved = set(plan.assignment.values())
    cost = plan.cost_model.cost
    return min(candidates, key=lambda b: (b.code in reserved, cost(item, b), b.code), default=None)


@dataclass(frozen=True)
class Move:
    """One pallet move of a re-slotting list.

    Args:
        item: sku moved.
        from_bin: bin code it leaves.
        to_bin: bin code it goes to.
        saving: pick-metres per period saved by this move alone (travel + penalties). A move that
            makes room for another (or parks a pallet during a swap) can save little or nothing on
            its own; the moves of one `group` together always save more than zero.
        group: moves with the same group number form one chain and are done in list order.
    """

    item: str
    from_bin: str
    to_bin: str
    saving: Decimal
    group: int


_Step = tuple[str, str, str]  # (sku, from bin, to bin)


@dataclass
class _Chain:
    """Moves that must happen in order: the k-th needs the bin the (k-1)-th emptied."""

    moves: list[_Step]  # in execution order
    savings: list[Decimal]
    done: int = 0
    is_cycle: bool = False
    blocked: bool = False

    def best_extension(self, budget: int) -> tuple[Decimal, int] | None:
        """(saving, number of moves) of the next prefix with the best saving per move."""
        best: tuple[Decimal, int] | None = None
        total = ZERO
        limit = min(len(self.moves) - self.done, budget)
        if self.is_cycle:
            # All or nothing, plus one move to park a pallet while the others rotate.
            if self.done or len(self.moves) + 1 > budget:
                return None
            total = sum(self.savings, ZERO)
            return (total, len(self.moves) + 1) if total > 0 else None
        for count in range(1, limit + 1):
            total += self.savings[self.done + count - 1]
            if total > 0 and (best is None or total * best[1] > best[0] * count):
                best = (total, count)
        return best


def reslot_moves(
    problem: SlottingProblem,
    current: Mapping[str, str],
    optimal: SlottingResult,
    *,
    max_moves: int,
) -> list[Move]:
    """Pallet moves from `current` (sku -> bin code) towards the `optimal` plan, best first.

    The difference between the two layouts falls apart into chains (A goes where B is, B goes where
    C is, ..., the last goes to an empty bin) and cycles (swaps and rotations). A chain is done from
    its empty end, and any such tail is a valid, independent piece of work; a cycle needs a free
    bin to park one of its pallets and costs one move more than its length. Pieces are taken
    greedily by saving per move while they fit the budget and listed in that order, except that a
    cycle whose only parking bins were filled by pieces taken before it is listed before those
    pieces. Every step keeps one pallet per bin, compatibility and the hazard-per-aisle limits. A
    piece that does not save anything is never taken. When `current` holds every item and the plan
    is proven optimal, every chain saves >= 0 (otherwise undoing it would improve the plan), so
    with enough budget, and a bin free in `current` that some pallet of each cycle fits, the layout
    reaches the plan's cost (without hazard limits; with them a step may be refused).
    """
    if max_moves < 0:
        raise ValueError("max_moves must be >= 0")
    if optimal.status not in (SlottingStatus.OPTIMAL, SlottingStatus.FEASIBLE):
        raise ValueError(f"cannot re-slot towards a {optimal.status.value} plan")
    occupant: dict[str, str] = {}
    for sku, code in current.items():
        if sku not in problem.item_by_sku or code not in problem.bin_by_code:
            raise ValueError(f"current layout: unknown item {sku!r} or bin {code!r}")
        if code in occupant:
            raise ValueError(f"current layout: bin {code} holds both {occupant[code]} and {sku}")
        occupant[code] = sku
    cost = problem.cost_model.cost
    item_by_sku, bin_by_code = problem.item_by_sku, problem.bin_by_code

    def saving(sku: str, src: str, dst: str) -> Decimal:
        item = item_by_sku[sku]
        return cost(item, bin_by_code[src]) - cost(item, bin_by_code[dst])

    target = {
        sku: optimal.assignment[sku]
        for sku, code in current.items()
        if sku in optimal.assignment and optimal.assignment[sku] != code
    }
    successor = {sku: occupant.get(dst) for sku, dst in target.items()}
    has_predecessor = {nxt for nxt in successor.values() if nxt is not None}
    chains: list[_Chain] = []
    seen: set[str] = set()
    for start in sorted(target):
        if start in has_predecessor:
            continue
        order: list[str] = []
        node: str | None = start
        while node is not None:
            order.append(node)
            node = successor[node]
        seen.update(order)
        order.reverse()  # the item heading for the empty bin moves first
        moves = [(sku, current[sku], target[sku]) for sku in order]
        chains.append(_Chain(moves, [saving(*m) for m in moves]))
    for start in sorted(target):
        if start in seen:
            continue
        cycle: list[str] = []
        node = start
        while node is not None and node not in seen:
            seen.add(node)
            cycle.append(node)
            node = successor[node]
        chains.append(_cycle_chain(cycle, current, target, saving))

    layout = _Layout(problem, current)
    nearest_first = sorted(problem.bins, key=lambda b: (b.travel_m, b.code))
    groups: list[list[_Step]] = []
    heap: list[tuple[Decimal, Decimal, int]] = []

    def budget_left() -> int:
        return max_moves - sum(len(steps) for steps in groups)

    def push(index: int) -> None:
        chain = chains[index]
        if chain.blocked:
            return
        extension = chain.best_extension(budget_left())
        if extension is not None:
            total, count = extension
            heapq.heappush(heap, (-total / count, -total, index))

    for index in range(len(chains)):
        push(index)
    while heap and budget_left() > 0:
        _, _, index = heapq.heappop(heap)
        chain = chains[index]
        extension = chain.best_extension(budget_left())
        if extension is None:
            continue
        total, count = extension
        if heap and total / count < -heap[0][0]:
            push(index)  # its best piece got worse under the smaller budget: re-rank it
            continue
        steps = chain.moves[chain.done : chain.done + count]
        if chain.is_cycle:
            placed = _place_cycle(problem, current, groups, layout, steps, nearest_first)
            if placed is None:
                chain.blocked = True
                continue
            groups, layout = placed
        elif layout.apply(steps):
            groups.append(steps)
        else:
            chain.blocked = True
            continue
        chain.done += count
        push(index)
    return [
        Move(sku, src, dst, saving(sku, src, dst), group)
        for group, steps in enumerate(groups, start=1)
        for sku, src, dst in steps
    ]


def _cycle_chain(
    cycle: list[str],
    current: Mapping[str, str],
    target: Mapping[str, str],
    saving: Callable[[str, str, str], Decimal],
) -> _Chain:
    # cycle[k] goes to the bin of cycle[k+1]; with cycle[0] parked first, the others run backwards.
    order = [cycle[0], *reversed(cycle[1:])]
    moves = [(sku, current[sku], target[sku]) for sku in order]
    return _Chain(moves, [saving(*m) for m in moves], is_cycle=True)


def _place_cycle(
    problem: SlottingProblem,
    current: Mapping[str, str],
    groups: list[list[_Step]],
    layout: _Layout,
    steps: list[_Step],
    nearest_first: list[Bin],
) -> tuple[list[list[_Step]], _Layout] | None:
    """`groups` with the cycle added as late as a parking bin allows, and the layout after them.

    An earlier piece may have filled the only free bin a pallet of the cycle fits (a chain ends in
    a free bin and may empty one that is too small). The cycle's bins are touched by no other
    piece and it gives its parking bin back, so it can run before such pieces instead; the
    groups after it are re-checked because hazard counts per aisle differ on the way. None when
    no point of the list works.
    """
    parked = _park_cycle(problem, steps, layout, nearest_first)
    if parked is not None and layout.apply(parked):
        return [*groups, parked], layout
    for position in range(len(groups) - 1, -1, -1):
        earlier = _Layout(problem, current)
        for done in groups[:position]:
            earlier.apply(done)  # already checked in this order
        parked = _park_cycle(problem, steps, earlier, nearest_first)
        if parked is None:
            continue
        reordered = [*groups[:position], parked, *groups[position:]]
        if all(earlier.apply(later) for later in reordered[position:]):
            return reordered, earlier
    return None


def _park_cycle(
    problem: SlottingProblem,
    steps: list[_Step],
    layout: _Layout,
    nearest_first: list[Bin],
) -> list[_Step] | None:
    """Cycle moves with one pallet parked in the nearest bin free in `layout`; None if none fits.

    The first pallet of `steps` is preferred; any other can be parked instead (a heavy pallet may
    fit no free bin while a light one does), the rest then rotate in the same order.
    """
    for start in range(len(steps)):
        sku, src, dst = steps[start]
        item = problem.item_by_sku[sku]
        for bin_ in nearest_first:
            if bin_.code not in layout.occupant and fits(item, bin_):
                rest = [*steps[start + 1 :], *steps[:start]]
                return [(sku, src, bin_.code), *rest, (sku, bin_.code, dst)]
    return None


class _Layout:
    """The layout while moves are planned: who is where, and hazard items per aisle."""

    def __init__(self, problem: SlottingProblem, current: Mapping[str, str]) -> None:
        self._problem = problem
        self._limits = {x.hazard_class: x.max_items for x in problem.hazard_aisle_limits}
        self.occupant = {code: sku for sku, code in current.items()}
        self._where = dict(current)
        self._hazard_count: dict[tuple[str, str], int] = {}
        for sku, code in current.items():
            self._count(sku, code, 1)

    def _count(self, sku: str, code: str, delta: int) -> None:
        hazard = self._problem.item_by_sku[sku].hazard_class
        if hazard in self._limits:
            key = (hazard, self._problem.bin_by_code[code].aisle)
            self._hazard_count[key] = self._hazard_count.get(key, 0) + delta

    def _move(self, sku: str, src: str, dst: str) -> None:
        del self.occupant[src]
        self.occupant[dst] = sku
        self._where[sku] = dst
        self._count(sku, src, -1)
        self._count(sku, dst, 1)

    def _valid_after(self, sku: str, dst: str) -> bool:
        hazard = self._problem.item_by_sku[sku].hazard_class
        if hazard not in self._limits:
            return True
        aisle = self._problem.bin_by_code[dst].aisle
        return self._hazard_count[(hazard, aisle)] <= self._limits[hazard]

    def apply(self, steps: list[_Step]) -> bool:
        """Do `steps` if every intermediate layout is valid; else leave the layout as it was."""
        done: list[_Step] = []
        for sku, src, dst in steps:
            if (
                dst in self.occupant
                or self._where.get(sku) != src
                or not fits(self._problem.item_by_sku[sku], self._problem.bin_by_code[dst])
            ):
                break
            self._move(sku, src, dst)
            done.append((sku, src, dst))
            if not self._valid_after(sku, dst):
                break
        else:
            return True
        for sku, src, dst in reversed(done):
            self._move(sku, dst, src)
        return False
