"""Slotting solve: exact optimum, constraints, infeasibility, bounds."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.graph.python import min_cost_flow

from central.optimizers.slotting import (
    AisleLayout,
    Bin,
    CostModel,
    HazardAisleLimit,
    Item,
    SlottingProblem,
    SlottingStatus,
    assignment_violations,
    fits,
    plan_cost,
    rectilinear_travel,
    solve,
)
from tests.unit.optimizers.slotting_fixtures import (
    COST_MODEL,
    bins_st,
    brute_force,
    items_st,
    make_bin,
    make_item,
    small_problems,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_travel_goes_down_the_cross_aisle_then_along_the_aisle() -> None:
    """Dock (0,0) -> cross aisle y=-2 -> aisle centre x=12 -> up the aisle to y=7: 2+12+9."""
    layout = AisleLayout(cross_aisles_y=(Decimal(-2),), aisle_centres=(("A3", Decimal(12)),))
    travel = rectilinear_travel(Decimal("13.5"), Decimal(7), aisle="A3", layout=layout)
    assert travel == Decimal(23)


def test_travel_takes_the_nearer_cross_aisle() -> None:
    """A dock at the back wall: the back cross aisle beats the front one (40 + 5 + 38)."""
    layout = AisleLayout(dock_y=Decimal(40), cross_aisles_y=(Decimal(0), Decimal(40)))
    assert rectilinear_travel(Decimal(5), Decimal(38)) == Decimal(43)
    assert rectilinear_travel(Decimal(5), Decimal(38), layout=layout) == Decimal(5 + 2)


def test_penalties_are_metres_per_pick() -> None:
    """A heavy fast mover high up pays both penalties on every pick."""
    item = make_item("I", 20, weight=Decimal(700))
    high = make_bin("B", 10, z=Decimal("2.4"))
    assert COST_MODEL.cost(item, high) == Decimal(20) * (10 + 3 + Decimal("2.5"))
    assert COST_MODEL.cost(item, make_bin("G", 10)) == Decimal(200)


@SETTINGS
@given(small_problems())
def test_optimum_equals_brute_force(problem: SlottingProblem) -> None:
    """The flow optimum equals the exhaustive optimum (or both say infeasible)."""
    result = solve(problem, time_limit_s=10)
    reference = brute_force(problem)
    if reference is None:
        assert result.status is SlottingStatus.INFEASIBLE
        assert result.assignment == {}
        return
    assert result.status is SlottingStatus.OPTIMAL
    assert result.objective == reference[0]
    assert result.lower_bound == result.objective
    assert result.gap == 0
    assert len(result.assignment) == len(problem.items)
    assert assignment_violations(problem, result.assignment) == []
    assert plan_cost(problem, result.assignment) == result.objective


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(max_items=5, max_bins=6, hazard_limit=True))
def test_hazard_limit_optimum_equals_brute_force(problem: SlottingProblem) -> None:
    """With a hazard-per-aisle limit, CP-SAT's optimum equals the exhaustive one."""
    result = solve(problem, time_limit_s=10, seed=3, num_workers=1)
    reference = brute_force(problem)
    if reference is None:
        assert result.status is SlottingStatus.INFEASIBLE
        return
    assert result.engine == "ortools.cp_sat"
    assert result.status is SlottingStatus.OPTIMAL
    assert result.objective == reference[0]
    assert assignment_violations(problem, result.assignment) == []


def _dense_optimum(problem: SlottingProblem) -> Decimal | None:
    """Reference: min-cost flow over every compatible item-bin pair, costs scaled by 100."""
    flow = min_cost_flow.SimpleMinCostFlow()
    n_items, n_bins = len(problem.items), len(problem.bins)
    sink = n_items + n_bins
    for i, item in enumerate(problem.items):
        for b, bin_ in enumerate(problem.bins):
            if fits(item, bin_):
                cost = problem.cost_model.cost(item, bin_) * 100
                assert cost == cost.to_integral_value()
                flow.add_arc_with_capacity_and_unit_cost(i, n_items + b, 1, int(cost))
        flow.set_node_supply(i, 1)
    for b in range(n_bins):
        flow.add_arc_with_capacity_and_unit_cost(n_items + b, sink, 1, 0)
    flow.set_node_supply(sink, -n_items)
    if flow.solve() != flow.OPTIMAL:
        return None
    return Decimal(flow.optimal_cost()) / 100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(20, 90).flatmap(
        lambda n: st.tuples(items_st(n, picks_max=12), bins_st(n + 15, travel_max=16))
    )
)
def test_pruned_class_network_keeps_the_dense_optimum(data: tuple[list[Item], list[Bin]]) -> None:
    """Many ties in picks and travel: the pruned class network loses nothing against all arcs."""
    items, bins = data
    problem = SlottingProblem(tuple(items), tuple(bins), cost_model=COST_MODEL)
    result = solve(problem, time_limit_s=10)
    reference = _dense_optimum(problem)
    if reference is None:
        assert result.status is SlottingStatus.INFEASIBLE
        return
    assert result.status is SlottingStatus.OPTIMAL
    assert result.objective == reference
    assert assignment_violations(problem, result.assignment) == []
    assert result.stats.arcs <= len(items) * len(bins)


def test_more_items_than_compatible_bins_is_infeasible() -> None:
    items = tuple(make_item(f"I{k}", 5, temperature="cold") for k in range(3))
    cold = (make_bin("C1", 1, temperature="cold"), make_bin("C2", 2, temperature="cold"))
    bins = cold + tuple(make_bin(f"A{k}", 1) for k in range(5))
    result = solve(SlottingProblem(items, bins), time_limit_s=5)
    assert result.status is SlottingStatus.INFEASIBLE
    assert result.objective is None
    assert result.assignment == {}


def test_fast_movers_get_the_nearest_bins_and_heavy_items_stay_low() -> None:
    items = (
        make_item("slow", 1),
        make_item("fast", 30),
        make_item("heavy", 5, weight=Decimal(900)),
    )
    bins = (
        make_bin("near", 1),
        make_bin("mid", 2),
        make_bin("near-high", 1, z=Decimal("2.4")),
    )
    result = solve(SlottingProblem(items, bins, cost_model=COST_MODEL), time_limit_s=5)
    assert dict(result.assignment) == {"fast": "near", "heavy": "mid", "slow": "near-high"}


def test_fixed_assignment_is_kept_and_counted() -> None:
    items = (make_item("fast", 30), make_item("slow", 1))
    bins = (make_bin("near", 1), make_bin("far", 9))
    problem = SlottingProblem(items, bins, fixed=(("slow", "near"),))
    result = solve(problem, time_limit_s=5)
    assert dict(result.assignment) == {"slow": "near", "fast": "far"}
    assert result.objective == Decimal(1 * 1 + 30 * 9)


def test_cp_sat_respects_the_hazard_limit_per_aisle() -> None:
    items = tuple(make_item(f"F{k}", 10 - k, hazard="3") for k in range(4))
    bins = tuple(
        make_bin(f"{aisle}{k}", k + (0 if aisle == "A" else 5), aisle=aisle, hazards=frozenset("3"))
        for aisle in "AB"
        for k in range(4)
    )
    problem = SlottingProblem(items, bins, hazard_aisle_limits=(HazardAisleLimit("3", 2),))
    result = solve(problem, time_limit_s=10, num_workers=1)
    assert result.status is SlottingStatus.OPTIMAL
    aisles = [problem.bin_by_code[code].aisle for code in result.assignment.values()]
    assert sorted(aisles) == ["A", "A", "B", "B"]
    # The two busiest items take A0 and A1; the others the front of aisle B.
    assert result.objective == Decimal(10 * 0 + 9 * 1 + 8 * 5 + 7 * 6)


def test_costs_too_precise_for_64_bits_are_rounded_and_the_bound_says_so() -> None:
    """Rounding makes the answer FEASIBLE with a bound below the true optimum, not OPTIMAL."""
    items = tuple(make_item(f"I{k}", Decimal("1000.000001") * (k + 1)) for k in range(2))
    bins = tuple(make_bin(f"B{k}", Decimal("10.0000001") * (k + 1)) for k in range(3))
    problem = SlottingProblem(items, bins, cost_model=CostModel())
    result = solve(problem, time_limit_s=5)
    reference = brute_force(problem)
    assert reference is not None
    assert result.status is SlottingStatus.FEASIBLE
    assert result.lower_bound is not None and result.objective is not None
    assert result.lower_bound <= reference[0] <= result.objective
    assert result.gap is not None and 0 <= result.gap < Decimal("1e-9")


def test_costs_beyond_64_bits_even_unscaled_are_refused() -> None:
    items = (make_item("I", Decimal("123456789.123456789")),)
    bins = (make_bin("B", Decimal("98765.4321012345")),)
    with pytest.raises(ValueError, match="64-bit"):
        solve(SlottingProblem(items, bins), time_limit_s=5)


def test_invalid_problems_are_rejected_when_built() -> None:
    item = make_item("I", 1, temperature="cold")
    with pytest.raises(ValueError, match="duplicate item"):
        SlottingProblem((item, item), (make_bin("B", 1),))
    with pytest.raises(ValueError, match="does not fit"):
        SlottingProblem((item,), (make_bin("B", 1),), fixed=(("I", "B"),))
    with pytest.raises(ValueError, match="picks_per_period"):
        make_item("I", -1)


def test_result_arrays_are_plain_numbers() -> None:
    """The class network is built from numpy int64: the solve must not leak numpy scalars."""
    problem = SlottingProblem((make_item("I", 3),), (make_bin("B", 2),))
    result = solve(problem, time_limit_s=5)
    assert isinstance(result.objective, Decimal)
    assert not isinstance(result.stats.arcs, np.integer)
