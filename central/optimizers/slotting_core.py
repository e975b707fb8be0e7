"""Exact core of the slotting optimizer: classes, safe arc pruning, min-cost flow or CP-SAT.

Why the answer is exactly optimal
---------------------------------
The cost of item i in bin b is ``a_i × E(i, b)`` with ``a_i`` its picks and
``E(i, b) = travel_b + penalty(kind_i, kind_b)`` (metres per pick). Compatibility depends only on
the item's (temperature, hazard, size/weight fit) and the bin's (temperature, hazard set,
capacity). So:

* **Classes (exact aggregation).** Bins in the same *group* (same compatibility, same
  above-waist/golden-zone kind, same aisle when an aisle side constraint exists) and with the same
  travel are interchangeable: one bin *class* with a capacity. Items in the same group (same
  compatibility, same heavy/fast kind) with the same picks are interchangeable: one item class with
  a supply. A transportation problem over classes has the same optimum as the item × bin problem,
  and any integral class flow is disaggregated into bins arbitrarily without changing its cost.

* **Safe pruning (keeps one optimal solution).** Among optimal solutions take one that also
  minimises the summed travel of used bins. Then, by exchange arguments:

  1. Within a bin group, a used bin never lies behind an unused one (moving the item forward costs
     ``a × (t' - t) <= 0`` and shortens travel), and a cheaper bin never holds an item with fewer
     picks than the one in a dearer bin of the same group (swapping saves
     ``(a_i - a_j)(t_c - t_b) > 0``; penalties cancel because both bins have the same kind). So an
     item with picks ``a`` sits in a bin with at most ``C_q(a) - 1`` strictly cheaper bins of its
     group q, where ``C_q(a)`` counts items compatible with q that have at least ``a`` picks.
  2. Within an item group, an item with more picks never has a larger ``E`` than one with fewer
     (same swap argument with ``E``). So if ``g`` items of the group have strictly more picks, at
     least ``g + 1`` compatible bins have an ``E`` no larger than the item's; and if ``h`` have
     strictly fewer picks, at least ``h + 1`` compatible bins have an ``E`` no smaller.

  Arcs outside both windows are left out; the optimum above uses none of them, so the pruned
  network still contains an optimal solution, and any solution of the pruned network is feasible
  for the full one. Both arguments survive the hazard-per-aisle side constraint: the swaps and
  moves stay inside one aisle (groups are per aisle then) or exchange items of one hazard class.

* **Integral costs.** Picks are scaled by ``10^p`` and ``E`` by ``10^e`` where p and e are the
  largest number of decimal places present, so ``cost × 10^(p+e)`` is an exact integer. Only when
  that would overflow OR-Tools' 64-bit arithmetic are the integers divided by ``10^s`` and rounded;
  the result then says it is not proven optimal and widens the bound by half a unit per item.

Min-cost flow (``SimpleMinCostFlow``) solves the transportation problem exactly in polynomial time
and cannot be interrupted, so ``time_limit_s`` bounds only CP-SAT.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from central.optimizers.slotting_model import Bin, CostModel, Item, SlottingProblem

logger = logging.getLogger(__name__)

_SAFE_INT = 2**62


class CoreStatus(Enum):
    """Outcome of the core solve."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CoreStats:
    """Size of the network actually solved."""

    item_classes: int
    bin_classes: int
    arcs: int


@dataclass(frozen=True)
class CoreSolution:
    """Assignment of the non-fixed items, with the bound in scaled integer units."""

    status: CoreStatus
    assignment: dict[str, str]
    lower_bound_units: int | None
    unit: Decimal  # one integer cost unit in pick-metres
    rounded: bool  # costs were rounded to fit 64-bit arithmetic
    engine: str
    stats: CoreStats = field(default_factory=lambda: CoreStats(0, 0, 0))


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _scaled(value: Decimal, places: int) -> int:
    return int(value.scaleb(places))


@dataclass
class _BinGroup:
    temperature: str
    hazards: frozenset[str]
    capacity: tuple[Decimal, Decimal]
    kind: tuple[bool, bool]
    aisle: str | None
    travel: list[int] = field(default_factory=list)  # per class, ascending
    bins: list[list[Bin]] = field(default_factory=list)  # per class
    below: list[int] = field(default_factory=list)  # bins strictly cheaper than each class
    first_node: int = 0


@dataclass
class _ItemGroup:
    temperature: str
    hazard: str | None
    kind: tuple[bool, bool]
    fits_capacity: frozenset[tuple[Decimal, Decimal]]
    picks: list[int] = field(default_factory=list)  # per class, descending
    items: list[list[Item]] = field(default_factory=list)  # per class
    first_node: int = 0


def _compatible(group: _ItemGroup, bins: _BinGroup) -> bool:
    return (
        group.temperature == bins.temperature
        and (group.hazard is None or group.hazard in bins.hazards)
        and bins.capacity in group.fits_capacity
    )


def _bin_groups(
    bins: Sequence[Bin], cost_model: CostModel, travel_places: int, *, per_aisle: bool
) -> list[_BinGroup]:
    by_key: dict[tuple[object, ...], dict[int, list[Bin]]] = {}
    keys: dict[tuple[object, ...], _BinGroup] = {}
    for bin_ in bins:
        capacity = (bin_.max_volume_m3, bin_.max_weight_kg)
        kind = cost_model.bin_kind(bin_)
        aisle = bin_.aisle if per_aisle else None
        key = (bin_.temperature_class, bin_.hazard_classes, capacity, kind, aisle)
        if key not in keys:
            keys[key] = _BinGroup(
                bin_.temperature_class, bin_.hazard_classes, capacity, kind, aisle
            )
            by_key[key] = {}
        by_key[key].setdefault(_scaled(bin_.travel_m, travel_places), []).append(bin_)
    groups: list[_BinGroup] = []
    for bin_key, classes in by_key.items():
        group = keys[bin_key]
        below = 0
        for travel in sorted(classes):
            members = sorted(classes[travel], key=lambda b: b.code)
            group.travel.append(travel)
            group.bins.append(members)
            group.below.append(below)
            below += len(members)
        groups.append(group)
    return groups


def _item_groups(
    items: Sequence[Item],
    cost_model: CostModel,
    capacities: Sequence[tuple[Decimal, Decimal]],
    picks_places: int,
) -> list[_ItemGroup]:
    fit_cache: dict[tuple[Decimal, Decimal], frozenset[tuple[Decimal, Decimal]]] = {}
    by_key: dict[tuple[object, ...], dict[int, list[Item]]] = {}
    keys: dict[tuple[object, ...], _ItemGroup] = {}
    for item in items:
        size = (item.volume_m3, item.weight_kg)
        fit = fit_cache.get(size)
        if fit is None:
            fit = frozenset(c for c in capacities if size[0] <= c[0] and size[1] <= c[1])
            fit_cache[size] = fit
        kind = cost_model.item_kind(item)
        key = (item.temperature_class, item.hazard_class, kind, fit)
        if key not in keys:
            keys[key] = _ItemGroup(item.temperature_class, item.hazard_class, kind, fit)
            by_key[key] = {}
        by_key[key].setdefault(_scaled(item.picks_per_period, picks_places), []).append(item)
    groups: list[_ItemGroup] = []
    for item_key, item_classes in by_key.items():
        group = keys[item_key]
        for picks in sorted(item_classes, reverse=True):
            group.picks.append(picks)
            group.items.append(sorted(item_classes[picks], key=lambda i: i.sku))
        groups.append(group)
    return groups


@dataclass
class _Network:
    item_groups: list[_ItemGroup]
    bin_groups: list[_BinGroup]
    tails: np.ndarray
    heads: np.ndarray
    capacities: np.ndarray
    costs: np.ndarray
    num_item_nodes: int
    num_bin_nodes: int
    unit: Decimal


def _build_network(problem: SlottingProblem, items: list[Item], bins: list[Bin]) -> _Network:
    cost_model = problem.cost_model
    picks_places = max((_places(i.picks_per_period) for i in items), default=0)
    penalties = (cost_model.heavy_above_waist_m_per_pick, cost_model.fast_outside_golden_m_per_pick)
    e_places = max([_places(b.travel_m) for b in bins] + [_places(p) for p in penalties])
    per_aisle = bool(problem.hazard_aisle_limits)
    bin_groups = _bin_groups(bins, cost_model, e_places, per_aisle=per_aisle)
    capacities = sorted({g.capacity for g in bin_groups})
    item_groups = _item_groups(items, cost_model, capacities, picks_places)

    node = 0
    for igroup in item_groups:
        igroup.first_node = node
        node += len(igroup.picks)
    num_item_nodes = node
    for bgroup in bin_groups:
        bgroup.first_node = node
        node += len(bgroup.travel)
    num_bin_nodes = node - num_item_nodes

    compatible = [
        [q for q, bgroup in enumerate(bin_groups) if _compatible(igroup, bgroup)]
        for igroup in item_groups
    ]
    penalty_units = {
        (ik, bk): _scaled(cost_model.penalty_m_per_pick(ik, bk), e_places)
        for ik in {g.kind for g in item_groups}
        for bk in {g.kind for g in bin_groups}
    }

    # C_q(a): items compatible with bin group q having >= a picks (rule 1 of the module doc).
    picks_at_least: list[tuple[list[int], list[int]]] = []
    for q in range(len(bin_groups)):
        counts: dict[int, int] = {}
        for p, igroup in enumerate(item_groups):
            if q in compatible[p]:
                for picks, members in zip(igroup.picks, igroup.items, strict=True):
                    counts[picks] = counts.get(picks, 0) + len(members)
        values = sorted(counts)
        suffix = [0] * (len(values) + 1)
        for k in range(len(values) - 1, -1, -1):
            suffix[k] = suffix[k + 1] + counts[values[k]]
        picks_at_least.append((values, suffix))

    np_travel = [np.asarray(g.travel, dtype=np.int64) for g in bin_groups]
    np_count = [np.asarray([len(c) for c in g.bins], dtype=np.int64) for g in bin_groups]
    max_picks = max((g.picks[0] for g in item_groups), default=0)
    max_e = max(
        (g.travel[-1] + max(penalty_units.values(), default=0) for g in bin_groups), default=0
    )
    if max_picks * max_e >= _SAFE_INT:
        raise ValueError(
            "slotting costs do not fit 64-bit integers: round picks and travel to fewer decimals"
        )

    tails: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    caps: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    for p, igroup in enumerate(item_groups):
        # Rule 2: the (g+1)-th smallest E among bins compatible with this item group.
        e_counts: dict[int, int] = {}
        for q in compatible[p]:
            pen = penalty_units[(igroup.kind, bin_groups[q].kind)]
            for travel, bin_members in zip(bin_groups[q].travel, bin_groups[q].bins, strict=True):
                e_counts[travel + pen] = e_counts.get(travel + pen, 0) + len(bin_members)
        e_values = sorted(e_counts)
        e_cumulative: list[int] = []
        running = 0
        for value in e_values:
            running += e_counts[value]
            e_cumulative.append(running)
        cumulative_before = [0, *e_cumulative[:-1]]
        compatible_bins = e_cumulative[-1] if e_cumulative else 0
        group_items = sum(len(members) for members in igroup.items)
        richer = 0
        for k, (picks, members) in enumerate(zip(igroup.picks, igroup.items, strict=True)):
            position = bisect.bisect_left(e_cumulative, richer + 1)
            richer += len(members)
            poorer = group_items - richer
            # Rule 2, other side: the poorer items' bins and this one all have E >= its E.
            last = bisect.bisect_right(cumulative_before, compatible_bins - poorer - 1) - 1
            if position == len(e_values) or last < 0:
                continue  # not enough compatible bins: the flow will report infeasible
            e_min = e_values[position]
            e_max = e_values[last]
            node_p = igroup.first_node + k
            for q in compatible[p]:
                bgroup = bin_groups[q]
                pen = penalty_units[(igroup.kind, bgroup.kind)]
                values, suffix = picks_at_least[q]
                at_least = suffix[bisect.bisect_left(values, picks)]
                lo = bisect.bisect_left(bgroup.travel, e_min - pen)
                hi = min(
                    bisect.bisect_right(bgroup.below, at_least - 1),
                    bisect.bisect_right(bgroup.travel, e_max - pen),
                )
                if lo >= hi:
                    continue
                span = hi - lo
                tails.append(np.full(span, node_p, dtype=np.int64))
                heads.append(np.arange(bgroup.first_node + lo, bgroup.first_node + hi))
                caps.append(np.minimum(np_count[q][lo:hi], len(members)))
                costs.append((np_travel[q][lo:hi] + pen) * picks)

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return _Network(
        item_groups,
        bin_groups,
        joined(tails),
        joined(heads),
        joined(caps),
        joined(costs),
        num_item_nodes,
        num_bin_nodes,
        Decimal(1).scaleb(-(picks_places + e_places)),
    )


def _shift_for(network: _Network, num_items: int) -> int:
    """Smallest power of ten to divide costs by so OR-Tools' scaled arithmetic cannot overflow."""
    max_cost = int(network.costs.max()) if len(network.costs) else 0
    factor = max(network.num_item_nodes + network.num_bin_nodes + 2, num_items, 1)
    shift = 0
    while max_cost // 10**shift * factor >= _SAFE_INT // 4:
        shift += 1
    return shift


def _rounded_costs(costs: np.ndarray, shift: int) -> np.ndarray:
    if shift == 0:
        return costs
    divisor = 10**shift
    rounded: np.ndarray = (costs + divisor // 2) // divisor
    return rounded


def _disaggregate(network: _Network, flows: np.ndarray) -> dict[str, str]:
    item_nodes: list[list[Item]] = [m for g in network.item_groups for m in g.items]
    bin_nodes: list[list[Bin]] = [m for g in network.bin_groups for m in g.bins]
    item_used = [0] * len(item_nodes)
    bin_used = [0] * len(bin_nodes)
    assignment: dict[str, str] = {}
    for arc in np.flatnonzero(flows):
        amount = int(flows[arc])
        p = int(network.tails[arc])
        c = int(network.heads[arc]) - network.num_item_nodes
        items = item_nodes[p][item_used[p] : item_used[p] + amount]
        bins = bin_nodes[c][bin_used[c] : bin_used[c] + amount]
        item_used[p] += amount
        bin_used[c] += amount
        for item, bin_ in zip(items, bins, strict=True):
            assignment[item.sku] = bin_.code
    return assignment


def _stats(network: _Network) -> CoreStats:
    return CoreStats(network.num_item_nodes, network.num_bin_nodes, len(network.tails))


@dataclass(frozen=True)
class _FlowOutcome:
    flows: np.ndarray | None  # per network arc; None when infeasible
    cost: int | None
    shift: int


def _min_cost_flow(network: _Network, num_items: int) -> _FlowOutcome:
    """Min-cost flow over the class network, rounding costs only if OR-Tools needs it."""
    sink = network.num_item_nodes + network.num_bin_nodes
    bin_nodes = np.arange(network.num_item_nodes, sink, dtype=np.int64)
    bin_counts = np.asarray([len(m) for g in network.bin_groups for m in g.bins], dtype=np.int64)
    supplies = [len(m) for g in network.item_groups for m in g.items]
    shift = _shift_for(network, num_items)
    while True:
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(
            np.concatenate([network.tails, bin_nodes]),
            np.concatenate([network.heads, np.full(len(bin_nodes), sink, dtype=np.int64)]),
            np.concatenate([network.capacities, bin_counts]),
            np.concatenate(
                [_rounded_costs(network.costs, shift), np.zeros(len(bin_nodes), dtype=np.int64)]
            ),
        )
        flow.set_nodes_supplies(
            np.arange(sink + 1, dtype=np.int64),
            np.asarray(supplies + [0] * network.num_bin_nodes + [-num_items], dtype=np.int64),
        )
        status = flow.solve()
        if status != flow.BAD_COST_RANGE or shift > 18:
            break
        shift += 1
        logger.warning("slotting costs too large for min-cost flow; rounding to 1e%d units", shift)
    if status == flow.OPTIMAL:
        flows = flow.flows(np.arange(len(network.tails), dtype=np.int64))
        return _FlowOutcome(flows, int(flow.optimal_cost()), shift)
    if status in (flow.INFEASIBLE, flow.UNBALANCED):
        return _FlowOutcome(None, None, shift)
    raise RuntimeError(f"min-cost flow failed with status {status}")


def solve_flow(problem: SlottingProblem, items: list[Item], bins: list[Bin]) -> CoreSolution:
    """Solve the pure assignment core exactly with OR-Tools min-cost flow."""
    network = _build_network(problem, items, bins)
    outcome = _min_cost_flow(network, len(items))
    unit = network.unit.scaleb(outcome.shift)
    if outcome.flows is None:
        return CoreSolution(
            CoreStatus.INFEASIBLE,
            {},
            None,
            unit,
            outcome.shift > 0,
            "ortools.min_cost_flow",
            _stats(network),
        )
    return CoreSolution(
        CoreStatus.OPTIMAL,
        _disaggregate(network, outcome.flows),
        outcome.cost,
        unit,
        outcome.shift > 0,
        "ortools.min_cost_flow",
        _stats(network),
    )


def solve_cp_sat(
    problem: SlottingProblem,
    items: list[Item],
    bins: list[Bin],
    *,
    time_limit_s: float,
    seed: int,
    num_workers: int,
) -> CoreSolution:
    """Solve the class-level problem with hazard-per-aisle limits by CP-SAT."""
    network = _build_network(problem, items, bins)
    # The same network without the side constraints is a relaxation: its exact flow optimum is a
    # lower bound for CP-SAT, and its flow a starting point (a solution hint).
    relaxed = _min_cost_flow(network, len(items))
    shift = relaxed.shift
    unit = network.unit.scaleb(shift)
    stats = _stats(network)
    if relaxed.flows is None or relaxed.cost is None:
        return CoreSolution(
            CoreStatus.INFEASIBLE, {}, None, unit, shift > 0, "ortools.cp_sat", stats
        )
    costs = _rounded_costs(network.costs, shift)
    model = cp_model.CpModel()
    arcs = [model.new_int_var(0, int(cap), f"x{k}") for k, cap in enumerate(network.capacities)]
    by_item: list[list[int]] = [[] for _ in range(network.num_item_nodes)]
    by_bin: list[list[int]] = [[] for _ in range(network.num_bin_nodes)]
    for k in range(len(arcs)):
        by_item[int(network.tails[k])].append(k)
        by_bin[int(network.heads[k]) - network.num_item_nodes].append(k)
    supplies = [len(m) for g in network.item_groups for m in g.items]
    for node, members in enumerate(by_item):
        model.add(sum(arcs[k] for k in members) == supplies[node])
    capacities = [len(m) for g in network.bin_groups for m in g.bins]
    for node, members in enumerate(by_bin):
        if members:
            model.add(sum(arcs[k] for k in members) <= capacities[node])

    item_hazard = [g.hazard for g in network.item_groups for _ in g.picks]
    bin_aisle = [g.aisle for g in network.bin_groups for _ in g.travel]
    used_by_fixed: dict[tuple[str | None, str], int] = {}
    for sku, code in problem.fixed:
        key = (problem.item_by_sku[sku].hazard_class, problem.bin_by_code[code].aisle)
        used_by_fixed[key] = used_by_fixed.get(key, 0) + 1
    for limit in problem.hazard_aisle_limits:
        per_aisle: dict[str, list[int]] = {}
        for k in range(len(arcs)):
            if item_hazard[int(network.tails[k])] == limit.hazard_class:
                aisle = bin_aisle[int(network.heads[k]) - network.num_item_nodes]
                per_aisle.setdefault(str(aisle), []).append(k)
        aisles = set(per_aisle) | {a for (h, a) in used_by_fixed if h == limit.hazard_class}
        for aisle in aisles:
            room = limit.max_items - used_by_fixed.get((limit.hazard_class, aisle), 0)
            model.add(sum(arcs[k] for k in per_aisle.get(aisle, [])) <= room)

    objective = sum(int(c) * x for c, x in zip(costs, arcs, strict=True))
    model.add(objective >= relaxed.cost)
    model.minimize(objective)
    for x, value in zip(arcs, relaxed.flows, strict=True):
        model.add_hint(x, int(value))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = num_workers
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        flows = np.asarray([solver.value(x) for x in arcs], dtype=np.int64)
        return CoreSolution(
            CoreStatus.OPTIMAL if status == cp_model.OPTIMAL else CoreStatus.FEASIBLE,
            _disaggregate(network, flows),
            max(relaxed.cost, math.floor(solver.best_objective_bound + 1e-6)),
            unit,
            shift > 0,
            "ortools.cp_sat",
            stats,
        )
    if status == cp_model.INFEASIBLE:
        return CoreSolution(
            CoreStatus.INFEASIBLE, {}, None, unit, shift > 0, "ortools.cp_sat", stats
        )
    if status == cp_model.UNKNOWN:
        return CoreSolution(CoreStatus.UNKNOWN, {}, None, unit, shift > 0, "ortools.cp_sat", stats)
    raise RuntimeError(f"CP-SAT rejected the slotting model: {solver.status_name(status)}")
