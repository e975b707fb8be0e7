"""Putaway bin choice, re-slotting moves and the baseline policies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from central.optimizers.slotting import (
    HazardAisleLimit,
    Move,
    SlottingProblem,
    SlottingStatus,
    assignment_violations,
    best_bin_for,
    fits,
    plan_cost,
    reslot_moves,
    solve,
)
from central.optimizers.slotting_baselines import abc_placement, coi_placement, random_placement
from tests.unit.optimizers.slotting_fixtures import (
    COST_MODEL,
    bins_st,
    make_bin,
    make_item,
)


@st.composite
def layouts(
    draw: st.DrawFn, *, hazard_limit: bool = False
) -> tuple[SlottingProblem, dict[str, str]]:
    """A problem whose items each fit some bin, and a valid current layout of some items."""
    n_bins = draw(st.integers(2, 14))
    bins = draw(bins_st(n_bins))
    items = []
    for k in range(draw(st.integers(1, max(1, n_bins * 2 // 3)))):
        home = draw(st.sampled_from(bins))  # the item is made to fit this bin
        items.append(
            make_item(
                f"I{k}",
                Decimal(draw(st.integers(0, 40))) / 2,
                temperature=home.temperature_class,
                hazard=draw(st.sampled_from([None, *sorted(home.hazard_classes)])),
                volume=home.max_volume_m3 / draw(st.sampled_from([1, 2])),
                weight=home.max_weight_kg - draw(st.sampled_from([0, 300])),
            )
        )
    current: dict[str, str] = {}
    free = list(bins)
    for item in items:
        options = [b for b in free if fits(item, b)]
        if options and draw(st.integers(0, 5)) > 0:
            chosen = draw(st.sampled_from(options))
            free.remove(chosen)
            current[item.sku] = chosen.code
    limits = (HazardAisleLimit("3", draw(st.integers(1, 3))),) if hazard_limit else ()
    problem = SlottingProblem(
        tuple(items), tuple(bins), cost_model=COST_MODEL, hazard_aisle_limits=limits
    )
    return problem, current


def _replay(problem: SlottingProblem, current: dict[str, str], moves: list[Move]) -> dict[str, str]:
    """Apply the moves one by one, checking every intermediate layout."""
    layout = dict(current)
    for move in moves:
        assert layout[move.item] == move.from_bin
        assert move.to_bin not in layout.values(), f"{move.to_bin} is still occupied"
        layout[move.item] = move.to_bin
        assert assignment_violations(problem, layout) == []
    return layout


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts(), st.integers(0, 12))
def test_reslot_moves_stay_in_budget_save_and_add_up(
    case: tuple[SlottingProblem, dict[str, str]], budget: int
) -> None:
    """Within budget, every step valid, each chain saves, and savings sum to the cost change."""
    problem, current = case
    if assignment_violations(problem, current):
        return  # hazard-limited current layouts are generated in the next test
    plan = solve(problem, time_limit_s=10)
    if plan.status is not SlottingStatus.OPTIMAL:
        return
    moves = reslot_moves(problem, current, plan, max_moves=budget)
    assert len(moves) <= budget
    after = _replay(problem, current, moves)
    total = sum((m.saving for m in moves), Decimal(0))
    assert total == plan_cost(problem, current) - plan_cost(problem, after)
    for group in {m.group for m in moves}:
        assert sum((m.saving for m in moves if m.group == group), Decimal(0)) > 0
    groups = [m.group for m in moves]
    assert groups == sorted(groups), "a chain's moves are listed together, in order"


def _parking_freed_by_a_chain() -> tuple[SlottingProblem, dict[str, str]]:
    """Found by hypothesis: a chain fills the one free 1000 kg bin and empties another.

    Chain I1 -> B9 (free), I4 -> B0; swap I2 <-> I5 needs a 1000 kg parking bin: B9 at the start,
    only B8 (emptied by I4) once the chain is done. The cycle once looked at the bins free at the
    start only, found none and was dropped, ending at cost 1.5 instead of 0.
    """
    heavy, light = Decimal(1000), Decimal(500)
    bins = tuple(
        make_bin(code, 0, z=z, temperature=temperature, volume=Decimal(1), weight=weight)
        for code, z, weight, temperature in [
            ("B0", Decimal(0), heavy, "ambient"),
            ("B1", Decimal(0), light, "ambient"),
            ("B2", Decimal(0), light, "cold"),
            ("B3", Decimal(0), light, "cold"),
            ("B4", Decimal(0), light, "cold"),
            ("B5", Decimal(0), light, "ambient"),
            ("B6", Decimal(0), light, "ambient"),
            ("B7", Decimal(0), heavy, "ambient"),
            ("B8", Decimal("1.2"), heavy, "ambient"),
            ("B9", Decimal(0), heavy, "ambient"),
            ("B10", Decimal(0), light, "ambient"),
            ("B11", Decimal("1.2"), heavy, "ambient"),
        ]
    )
    items = (
        make_item("I0", 0, temperature="cold", volume=Decimal(1), weight=light),
        make_item("I1", 0, volume=Decimal(1), weight=heavy),
        make_item("I2", 0, volume=Decimal(1), weight=heavy),
        make_item("I3", 0, temperature="cold", volume=Decimal(1), weight=light),
        make_item("I4", 1, volume=Decimal(1), weight=heavy),
        make_item("I5", Decimal("0.5"), volume=Decimal(1), weight=heavy),
    )
    current = {"I0": "B2", "I1": "B0", "I2": "B7", "I3": "B3", "I4": "B8", "I5": "B11"}
    return SlottingProblem(items, bins, cost_model=COST_MODEL), current


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
@example(_parking_freed_by_a_chain())
def test_enough_budget_reaches_the_optimal_cost(
    case: tuple[SlottingProblem, dict[str, str]],
) -> None:
    """With budget for everything the cost never rises, and a full layout ends at the optimum.

    (With only some items stored, the plan's bins for them need not be cheaper: the plan is
    optimal for all items together, so chains that would not pay off are left alone.)
    """
    problem, current = case
    plan = solve(problem, time_limit_s=10)
    if plan.status is not SlottingStatus.OPTIMAL:
        return
    moves = reslot_moves(problem, current, plan, max_moves=10 * len(problem.bins))
    after = _replay(problem, current, moves)
    assert plan_cost(problem, after) <= plan_cost(problem, current)
    free_bins = [b for b in problem.bins if b.code not in current.values()]
    parking_possible = all(
        any(fits(problem.item_by_sku[sku], b) for b in free_bins) for sku in current
    )
    if parking_possible and len(current) == len(problem.items):
        assert plan_cost(problem, after) == plan.objective


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts(hazard_limit=True), st.integers(0, 12))
def test_reslot_keeps_the_hazard_limit_at_every_step(
    case: tuple[SlottingProblem, dict[str, str]], budget: int
) -> None:
    problem, current = case
    if assignment_violations(problem, current):
        return
    plan = solve(problem, time_limit_s=10, num_workers=1)
    if plan.status is not SlottingStatus.OPTIMAL:
        return
    moves = reslot_moves(problem, current, plan, max_moves=budget)
    assert len(moves) <= budget
    _replay(problem, current, moves)


def test_a_swap_parks_one_pallet_in_a_free_bin() -> None:
    """Two items in each other's best bin: three moves via the free bin, the last one saves."""
    items = (make_item("fast", 20), make_item("slow", 1))
    bins = (make_bin("near", 1), make_bin("far", 10), make_bin("spare", 30))
    problem = SlottingProblem(items, bins)
    plan = solve(problem, time_limit_s=5)
    current = {"fast": "far", "slow": "near"}
    moves = reslot_moves(problem, current, plan, max_moves=3)
    assert [(m.item, m.from_bin, m.to_bin) for m in moves] == [
        ("fast", "far", "spare"),
        ("slow", "near", "far"),
        ("fast", "spare", "near"),
    ]
    assert sum((m.saving for m in moves), Decimal(0)) == Decimal(20 * 9 - 9)
    assert reslot_moves(problem, current, plan, max_moves=2) == []


def test_a_swap_parks_in_a_bin_an_earlier_chain_emptied() -> None:
    """The counterexample above: the chain goes first, the swap parks in the bin it emptied."""
    problem, current = _parking_freed_by_a_chain()
    plan = solve(problem, time_limit_s=5)
    moves = reslot_moves(problem, current, plan, max_moves=5)
    assert [(m.item, m.from_bin, m.to_bin, m.group) for m in moves] == [
        ("I1", "B0", "B9", 1),
        ("I4", "B8", "B0", 1),
        ("I2", "B7", "B8", 2),
        ("I5", "B11", "B7", 2),
        ("I2", "B8", "B11", 2),
    ]
    assert plan_cost(problem, _replay(problem, current, moves)) == plan.objective == 0


def test_a_swap_goes_before_the_chain_that_fills_its_only_parking_bin() -> None:
    """The chain ranks first but fills the one heavy bin and frees a light one: swap first."""
    heavy = Decimal(1000)
    items = (
        make_item("h_fast", 10, weight=heavy),
        make_item("h_slow", 1, weight=heavy),
        make_item("x", 30, volume=Decimal("1.5")),  # too bulky for near and far
    )
    bins = (
        make_bin("near", 1, volume=Decimal(1)),
        make_bin("far", 10, volume=Decimal(1)),
        make_bin("park", 5),
        make_bin("small", 9, weight=Decimal(500)),
    )
    problem = SlottingProblem(items, bins)
    plan = solve(problem, time_limit_s=5)
    assert dict(plan.assignment) == {"h_fast": "near", "h_slow": "far", "x": "park"}
    current = {"h_fast": "far", "h_slow": "near", "x": "small"}
    moves = reslot_moves(problem, current, plan, max_moves=4)
    assert [(m.item, m.from_bin, m.to_bin, m.group) for m in moves] == [
        ("h_fast", "far", "park", 1),
        ("h_slow", "near", "far", 1),
        ("h_fast", "park", "near", 1),
        ("x", "small", "park", 2),
    ]
    assert plan_cost(problem, _replay(problem, current, moves)) == plan.objective
    # Without budget for the swap, the chain alone is the best piece.
    assert [m.item for m in reslot_moves(problem, current, plan, max_moves=3)] == ["x"]


def test_a_swap_parks_the_pallet_that_fits_the_free_bin() -> None:
    """Only the light pallet fits the free bin, so it is the one parked."""
    items = (make_item("a_heavy", 20, weight=Decimal(1000)), make_item("b_light", 1))
    bins = (make_bin("near", 1), make_bin("far", 10), make_bin("spare", 30, weight=Decimal(500)))
    problem = SlottingProblem(items, bins)
    plan = solve(problem, time_limit_s=5)
    current = {"a_heavy": "far", "b_light": "near"}
    moves = reslot_moves(problem, current, plan, max_moves=3)
    assert [(m.item, m.from_bin, m.to_bin) for m in moves] == [
        ("b_light", "near", "spare"),
        ("a_heavy", "far", "near"),
        ("b_light", "spare", "far"),
    ]
    assert plan_cost(problem, _replay(problem, current, moves)) == plan.objective


def test_chain_tail_is_done_first_when_the_budget_is_short() -> None:
    """A -> B's bin, B -> a free bin: with budget 1 only B moves if that alone saves."""
    items = (make_item("a", 10), make_item("b", 5))
    bins = (make_bin("b1", 1), make_bin("b2", 2), make_bin("b3", 3))
    problem = SlottingProblem(items, bins)
    plan = solve(problem, time_limit_s=5)
    assert dict(plan.assignment) == {"a": "b1", "b": "b2"}
    current = {"a": "b2", "b": "b1"}
    assert len(reslot_moves(problem, current, plan, max_moves=3)) == 3
    current = {"a": "b3", "b": "b1"}  # chain: b -> b2 (costs 5), then a -> b1 (saves 20)
    moves = reslot_moves(problem, current, plan, max_moves=2)
    assert [(m.item, m.to_bin, m.saving) for m in moves] == [
        ("b", "b2", Decimal(-5)),
        ("a", "b1", Decimal(20)),
    ]
    assert reslot_moves(problem, current, plan, max_moves=1) == []


def test_moves_are_ranked_by_saving_per_move() -> None:
    """Two independent one-move fixes: the bigger saving comes first and wins a budget of one."""
    items = (make_item("big", 10), make_item("small", 1))
    bins = (make_bin("n1", 1), make_bin("n2", 1), make_bin("f1", 9), make_bin("f2", 9))
    problem = SlottingProblem(items, bins)
    plan = solve(problem, time_limit_s=5)
    current = {"small": "f1", "big": "f2"}
    assert [m.item for m in reslot_moves(problem, current, plan, max_moves=2)] == ["big", "small"]
    assert [m.saving for m in reslot_moves(problem, current, plan, max_moves=1)] == [Decimal(80)]


def test_a_long_chain_is_cut_to_its_best_tail_when_the_budget_shrinks() -> None:
    """Budget 2 of a 3-move chain vs a lone 1-move fix: re-ranked pieces still fit the budget."""
    items = (make_item("a", 8), make_item("b", 4), make_item("c", 2), make_item("d", 3))
    bins = tuple(make_bin(f"b{k}", k) for k in range(1, 7))
    problem = SlottingProblem(items, bins)
    plan = solve(problem, time_limit_s=5)
    current = {"a": "b4", "b": "b1", "c": "b2", "d": "b6"}
    for budget in range(6):
        moves = reslot_moves(problem, current, plan, max_moves=budget)
        assert len(moves) <= budget
        after = _replay(problem, current, moves)
        assert sum((m.saving for m in moves), Decimal(0)) == plan_cost(
            problem, current
        ) - plan_cost(problem, after)


def test_reslot_rejects_an_invalid_current_layout() -> None:
    problem = SlottingProblem((make_item("a", 1), make_item("b", 1)), (make_bin("x", 1),))
    plan = solve(SlottingProblem((make_item("a", 1),), (make_bin("x", 1),)), time_limit_s=5)
    with pytest.raises(ValueError, match="holds both"):
        reslot_moves(problem, {"a": "x", "b": "x"}, plan, max_moves=1)


def test_putaway_prefers_the_planned_bin_then_the_cheapest_unreserved() -> None:
    items = (
        make_item("fast", 20),
        make_item("slow", 1),
        make_item("frozen", 1, temperature="cold"),
    )
    bins = (
        make_bin("near", 1),
        make_bin("mid", 2),
        make_bin("far", 9),
        make_bin("c", 1, temperature="cold"),
    )
    plan = solve(SlottingProblem(items, bins), time_limit_s=5)
    by_code = {b.code: b for b in bins}
    fast = items[0]
    assert best_bin_for(fast, bins, plan) == by_code["near"]
    # Planned bin taken: "mid" is reserved for the slow item, so the far free bin wins.
    assert best_bin_for(fast, [by_code["mid"], by_code["far"]], plan) == by_code["far"]
    assert best_bin_for(fast, [by_code["mid"]], plan) == by_code["mid"]
    assert best_bin_for(items[2], [by_code["near"]], plan) is None


def test_baselines_give_valid_plans_and_the_optimum_beats_them() -> None:
    items = tuple(
        make_item(f"I{k}", (k * 7) % 11, weight=Decimal(100 + 97 * k % 800)) for k in range(30)
    )
    bins = tuple(make_bin(f"B{k}", k % 13, z=Decimal("1.2") * (k % 3)) for k in range(36))
    problem = SlottingProblem(items, bins, cost_model=COST_MODEL)
    plan = solve(problem, time_limit_s=5)
    for placement in (
        random_placement(problem, seed=1),
        abc_placement(problem, seed=1),
        coi_placement(problem),
    ):
        assert placement.unplaced == ()
        assert len(placement.assignment) == len(items)
        assert assignment_violations(problem, placement.assignment) == []
        assert plan.objective is not None
        assert plan.objective <= plan_cost(problem, placement.assignment)


def test_coi_puts_the_lowest_cube_per_pick_nearest() -> None:
    items = (make_item("bulky", 2, volume=Decimal(2)), make_item("small", 2, volume=Decimal("0.5")))
    bins = (make_bin("near", 1), make_bin("far", 5))
    placement = coi_placement(SlottingProblem(items, bins))
    assert dict(placement.assignment) == {"small": "near", "bulky": "far"}


def test_baseline_reports_items_without_a_bin() -> None:
    items = (make_item("a", 1, temperature="cold"), make_item("b", 1))
    placement = random_placement(SlottingProblem(items, (make_bin("x", 1),)), seed=0)
    assert placement.unplaced == ("a",)
