"""Small slotting instances for the tests, and an exhaustive reference solver."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import strategies as st

from central.optimizers.slotting import (
    Bin,
    CostModel,
    HazardAisleLimit,
    Item,
    SlottingProblem,
    assignment_violations,
    fits,
)

COST_MODEL = CostModel(
    golden_zone_m=(Decimal("0.0"), Decimal("1.5")),
    waist_height_m=Decimal("1.0"),
    heavy_item_kg=Decimal("600"),
    fast_mover_picks=Decimal("10"),
    heavy_above_waist_m_per_pick=Decimal("3"),
    fast_outside_golden_m_per_pick=Decimal("2.5"),
)


def make_bin(
    code: str,
    travel: Decimal | int,
    *,
    aisle: str = "A",
    z: Decimal = Decimal(0),
    temperature: str = "ambient",
    hazards: frozenset[str] = frozenset(),
    volume: Decimal = Decimal(2),
    weight: Decimal = Decimal(1000),
) -> Bin:
    return Bin(
        code=code,
        aisle=aisle,
        bay=1,
        level=int(z / Decimal("1.2")),
        x=Decimal(0),
        y=Decimal(travel),
        z=z,
        travel_m=Decimal(travel),
        max_volume_m3=volume,
        max_weight_kg=weight,
        temperature_class=temperature,
        hazard_classes=hazards,
    )


def make_item(
    sku: str,
    picks: Decimal | int,
    *,
    temperature: str = "ambient",
    hazard: str | None = None,
    volume: Decimal = Decimal(1),
    weight: Decimal = Decimal(100),
) -> Item:
    return Item(sku, Decimal(picks), volume, weight, temperature, hazard)


@st.composite
def bins_st(draw: st.DrawFn, count: int, *, travel_max: int = 30) -> list[Bin]:
    return [
        make_bin(
            f"B{k}",
            Decimal(draw(st.integers(0, travel_max))) / 2,
            aisle=draw(st.sampled_from(["A", "B"])),
            z=draw(st.sampled_from([Decimal(0), Decimal("1.2"), Decimal("2.4")])),
            temperature=draw(st.sampled_from(["ambient", "ambient", "cold"])),
            hazards=draw(st.sampled_from([frozenset(), frozenset({"3"})])),
            volume=draw(st.sampled_from([Decimal(1), Decimal(2)])),
            weight=draw(st.sampled_from([Decimal(500), Decimal(1000)])),
        )
        for k in range(count)
    ]


@st.composite
def items_st(draw: st.DrawFn, count: int, *, picks_max: int = 40) -> list[Item]:
    return [
        make_item(
            f"I{k}",
            Decimal(draw(st.integers(0, picks_max))) / 2,
            temperature=draw(st.sampled_from(["ambient", "ambient", "cold"])),
            hazard=draw(st.sampled_from([None, None, "3"])),
            volume=draw(st.sampled_from([Decimal("0.5"), Decimal("1.5")])),
            weight=draw(st.sampled_from([Decimal(100), Decimal(700)])),
        )
        for k in range(count)
    ]


@st.composite
def small_problems(
    draw: st.DrawFn, *, max_items: int = 5, max_bins: int = 7, hazard_limit: bool = False
) -> SlottingProblem:
    """Up to `max_items` items (sometimes one more than bins) and `max_bins` bins."""
    n_bins = draw(st.integers(1, max_bins))
    n_items = draw(st.integers(1, min(max_items, n_bins + 1)))
    bins = draw(bins_st(n_bins))
    items = draw(items_st(n_items))
    fixed: tuple[tuple[str, str], ...] = ()
    if draw(st.booleans()):
        pairs = [(i, b) for i in items for b in bins if fits(i, b)]
        if pairs:
            item, bin_ = draw(st.sampled_from(pairs))
            fixed = ((item.sku, bin_.code),)
    limits = (HazardAisleLimit("3", draw(st.integers(0, 2))),) if hazard_limit else ()
    return SlottingProblem(
        tuple(items), tuple(bins), cost_model=COST_MODEL, fixed=fixed, hazard_aisle_limits=limits
    )


def brute_force(problem: SlottingProblem) -> tuple[Decimal, dict[str, str]] | None:
    """Exhaustive optimum over every placement of the items (None when none is valid)."""
    items, bins = problem.items, problem.bins
    cost = [[problem.cost_model.cost(i, b) if fits(i, b) else None for b in bins] for i in items]
    best: tuple[Decimal, dict[str, str]] | None = None
    for perm in itertools.permutations(range(len(bins)), len(items)):
        costs = [cost[i][b] for i, b in enumerate(perm)]
        if any(c is None for c in costs):
            continue
        total = sum((c for c in costs if c is not None), Decimal(0))
        if best is not None and total >= best[0]:
            continue
        assignment = {items[i].sku: bins[b].code for i, b in enumerate(perm)}
        if assignment_violations(problem, assignment):
            continue
        best = (total, assignment)
    return best
