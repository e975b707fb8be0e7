"""Slotting data: bins, items, the cost model and the problem (frozen, validated eagerly).

Units: metres, kilograms, cubic metres; picks are expected picks per period (a `Decimal`, so a
forecast like 12.5 picks/week is fine). The cost of an item in a bin is in *pick-metres per
period*: ``picks × (travel_m + ergonomic penalty in metres per pick)``. Penalties are charged per
pick because the strain (lifting a heavy pallet item above the waist, reaching outside the golden
zone) happens on every pick; expressing them as extra metres keeps one unit for the whole objective.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

ZERO = Decimal(0)


def _check_non_negative(owner: str, name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{owner}: {name} must be a finite Decimal >= 0, got {value!r}")


@dataclass(frozen=True)
class AisleLayout:
    """Rectilinear walking layout of a pick floor.

    A picker leaves the dock, walks to a cross aisle (running along x), along it to the pick aisle's
    centre line, then along the pick aisle (running along y) to the bin. With several cross aisles
    the shortest of these routes counts.

    Args:
        dock_x: x of the dock / pick start.
        dock_y: y of the dock / pick start.
        cross_aisles_y: y of every cross aisle.
        aisle_centres: centre-line x of each pick aisle, by aisle code; an aisle not listed is taken
            to run along the bin's own x.
    """

    dock_x: Decimal = ZERO
    dock_y: Decimal = ZERO
    cross_aisles_y: tuple[Decimal, ...] = (ZERO,)
    aisle_centres: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        if not self.cross_aisles_y:
            raise ValueError("AisleLayout needs at least one cross aisle")

    @cached_property
    def _centre_by_aisle(self) -> dict[str, Decimal]:
        return dict(self.aisle_centres)

    def centre_x(self, aisle: str | None, x: Decimal) -> Decimal:
        """Centre-line x of `aisle`, or `x` itself when the layout does not list the aisle."""
        if aisle is None:
            return x
        return self._centre_by_aisle.get(aisle, x)


DEFAULT_LAYOUT = AisleLayout()


def rectilinear_travel(
    x: Decimal, y: Decimal, *, aisle: str | None = None, layout: AisleLayout = DEFAULT_LAYOUT
) -> Decimal:
    """One-way walking distance (m) from the dock to the pick face at (x, y).

    Dock → cross aisle → along the cross aisle to the pick aisle's centre line → along the pick
    aisle. The step from the aisle centre to the rack face is the same for both sides of an aisle,
    so it is left out. A round trip doubles every cost and does not change the optimum.
    """
    along_cross = abs(layout.centre_x(aisle, x) - layout.dock_x)
    return min(
        abs(layout.dock_y - cross) + along_cross + abs(y - cross) for cross in layout.cross_aisles_y
    )


@dataclass(frozen=True)
class Bin:
    """A single-pallet storage location (holds at most one item's pallet)."""

    code: str
    aisle: str
    bay: int
    level: int
    x: Decimal
    y: Decimal
    z: Decimal  # height of the level's beam above the floor, m
    travel_m: Decimal
    max_volume_m3: Decimal
    max_weight_kg: Decimal
    temperature_class: str
    hazard_classes: frozenset[str] = frozenset()  # hazard classes allowed here

    def __post_init__(self) -> None:
        where = f"bin {self.code!r}"
        for name in ("travel_m", "max_volume_m3", "max_weight_kg", "z"):
            _check_non_negative(where, name, getattr(self, name))


@dataclass(frozen=True)
class Item:
    """An item (SKU/GTIN) to be slotted: one pallet position per item."""

    sku: str
    picks_per_period: Decimal
    volume_m3: Decimal
    weight_kg: Decimal
    temperature_class: str
    hazard_class: str | None = None

    def __post_init__(self) -> None:
        where = f"item {self.sku!r}"
        for name in ("picks_per_period", "volume_m3", "weight_kg"):
            _check_non_negative(where, name, getattr(self, name))


def fits(item: Item, bin_: Bin) -> bool:
    """True when `item` may be stored in `bin_`: temperature, hazard, volume and weight."""
    return (
        item.temperature_class == bin_.temperature_class
        and (item.hazard_class is None or item.hazard_class in bin_.hazard_classes)
        and item.volume_m3 <= bin_.max_volume_m3
        and item.weight_kg <= bin_.max_weight_kg
    )


@dataclass(frozen=True)
class CostModel:
    """How an item's pick cost in a bin is counted.

    Args:
        golden_zone_m: (lowest, highest) level height in m that counts as the golden zone.
        waist_height_m: a level higher than this is "above the waist".
        heavy_item_kg: items at least this heavy are heavy.
        fast_mover_picks: items with at least this many picks per period are fast movers.
        heavy_above_waist_m_per_pick: extra metres per pick for a heavy item above the waist.
        fast_outside_golden_m_per_pick: extra metres per pick for a fast mover outside the
            golden zone.
    """

    golden_zone_m: tuple[Decimal, Decimal] = (Decimal("0.0"), Decimal("1.6"))
    waist_height_m: Decimal = Decimal("1.0")
    heavy_item_kg: Decimal = Decimal("25")
    fast_mover_picks: Decimal = Decimal("50")
    heavy_above_waist_m_per_pick: Decimal = Decimal("10")
    fast_outside_golden_m_per_pick: Decimal = Decimal("5")

    def __post_init__(self) -> None:
        low, high = self.golden_zone_m
        for name, value in (
            ("golden zone low", low),
            ("golden zone high", high),
            ("waist_height_m", self.waist_height_m),
            ("heavy_item_kg", self.heavy_item_kg),
            ("fast_mover_picks", self.fast_mover_picks),
            ("heavy_above_waist_m_per_pick", self.heavy_above_waist_m_per_pick),
            ("fast_outside_golden_m_per_pick", self.fast_outside_golden_m_per_pick),
        ):
            _check_non_negative("cost model", name, value)
        if low > high:
            raise ValueError(f"cost model: golden zone {low}..{high} m is empty")

    def item_kind(self, item: Item) -> tuple[bool, bool]:
        """(heavy, fast mover) for `item`."""
        return item.weight_kg >= self.heavy_item_kg, item.picks_per_period >= self.fast_mover_picks

    def bin_kind(self, bin_: Bin) -> tuple[bool, bool]:
        """(above the waist, outside the golden zone) for `bin_`."""
        low, high = self.golden_zone_m
        return bin_.z > self.waist_height_m, not (low <= bin_.z <= high)

    def penalty_m_per_pick(
        self, item_kind: tuple[bool, bool], bin_kind: tuple[bool, bool]
    ) -> Decimal:
        """Ergonomic penalty in metres per pick for an item kind in a bin kind."""
        heavy, fast = item_kind
        above_waist, outside_golden = bin_kind
        penalty = ZERO
        if heavy and above_waist:
            penalty += self.heavy_above_waist_m_per_pick
        if fast and outside_golden:
            penalty += self.fast_outside_golden_m_per_pick
        return penalty

    def cost(self, item: Item, bin_: Bin) -> Decimal:
        """Pick-metres per period of storing `item` in `bin_` (compatibility is not checked)."""
        penalty = self.penalty_m_per_pick(self.item_kind(item), self.bin_kind(bin_))
        return item.picks_per_period * (bin_.travel_m + penalty)


@dataclass(frozen=True)
class HazardAisleLimit:
    """Side constraint: at most `max_items` items of `hazard_class` in any one aisle."""

    hazard_class: str
    max_items: int

    def __post_init__(self) -> None:
        if self.max_items < 0:
            raise ValueError(f"hazard limit for class {self.hazard_class!r} must be >= 0")


@dataclass(frozen=True)
class SlottingProblem:
    """Items to put into single-pallet bins at least cost.

    Args:
        items: the items; each needs one bin.
        bins: the bins; each holds at most one item.
        cost_model: golden zone, waist height, heavy/fast thresholds and penalty weights.
        fixed: (sku, bin code) pairs that must stay as they are.
        hazard_aisle_limits: optional side constraints; any limit makes `solve` use CP-SAT.
    """

    items: tuple[Item, ...]
    bins: tuple[Bin, ...]
    cost_model: CostModel = field(default_factory=CostModel)
    fixed: tuple[tuple[str, str], ...] = ()
    hazard_aisle_limits: tuple[HazardAisleLimit, ...] = ()

    def __post_init__(self) -> None:
        if len(self.item_by_sku) != len(self.items):
            raise ValueError("slotting problem: duplicate item sku")
        if len(self.bin_by_code) != len(self.bins):
            raise ValueError("slotting problem: duplicate bin code")
        seen_bins: set[str] = set()
        seen_items: set[str] = set()
        for sku, code in self.fixed:
            item = self.item_by_sku.get(sku)
            bin_ = self.bin_by_code.get(code)
            if item is None or bin_ is None:
                raise ValueError(f"fixed assignment {sku!r} -> {code!r}: unknown item or bin")
            if sku in seen_items or code in seen_bins:
                raise ValueError(f"fixed assignment {sku!r} -> {code!r}: item or bin used twice")
            if not fits(item, bin_):
                raise ValueError(f"fixed assignment {sku!r} -> {code!r}: item does not fit there")
            seen_items.add(sku)
            seen_bins.add(code)
        limited = [limit.hazard_class for limit in self.hazard_aisle_limits]
        if len(set(limited)) != len(limited):
            raise ValueError("slotting problem: two hazard limits for the same class")

    @cached_property
    def item_by_sku(self) -> dict[str, Item]:
        """Items by sku."""
        return {item.sku: item for item in self.items}

    @cached_property
    def bin_by_code(self) -> dict[str, Bin]:
        """Bins by code."""
        return {bin_.code: bin_ for bin_ in self.bins}


def plan_cost(problem: SlottingProblem, assignment: Mapping[str, str]) -> Decimal:
    """Total pick-metres per period (travel + penalties) of `assignment` (sku -> bin code)."""
    cost_model = problem.cost_model
    return sum(
        (
            cost_model.cost(problem.item_by_sku[sku], problem.bin_by_code[code])
            for sku, code in assignment.items()
        ),
        ZERO,
    )


def expected_travel(problem: SlottingProblem, assignment: Mapping[str, str]) -> Decimal:
    """Expected one-way walking metres per period of `assignment`: sum of picks × travel_m."""
    return sum(
        (
            problem.item_by_sku[sku].picks_per_period * problem.bin_by_code[code].travel_m
            for sku, code in assignment.items()
        ),
        ZERO,
    )


def assignment_violations(problem: SlottingProblem, assignment: Mapping[str, str]) -> list[str]:
    """Every broken rule of `assignment` as a readable line; empty when it is a valid plan.

    Checks: known items and bins, one item per bin, compatibility (temperature, hazard, volume,
    weight), fixed assignments kept, hazard-per-aisle limits. Items missing from the assignment
    are not a violation here (a partial plan can be valid).
    """
    problems: list[str] = []
    used: dict[str, str] = {}
    for sku, code in assignment.items():
        item = problem.item_by_sku.get(sku)
        bin_ = problem.bin_by_code.get(code)
        if item is None or bin_ is None:
            problems.append(f"{sku} -> {code}: unknown item or bin")
            continue
        if code in used:
            problems.append(f"bin {code} holds both {used[code]} and {sku}")
        used[code] = sku
        if not fits(item, bin_):
            problems.append(f"{sku} does not fit in {code}")
    for sku, code in problem.fixed:
        if sku in assignment and assignment[sku] != code:
            problems.append(f"{sku} is fixed to {code} but planned in {assignment[sku]}")
    problems.extend(_hazard_limit_violations(problem, assignment.items()))
    return problems


def _hazard_limit_violations(
    problem: SlottingProblem, pairs: Iterable[tuple[str, str]]
) -> list[str]:
    limits = {limit.hazard_class: limit.max_items for limit in problem.hazard_aisle_limits}
    if not limits:
        return []
    counts: dict[tuple[str, str], int] = {}
    for sku, code in pairs:
        hazard = problem.item_by_sku[sku].hazard_class
        if hazard in limits:
            key = (hazard, problem.bin_by_code[code].aisle)
            counts[key] = counts.get(key, 0) + 1
    return [
        f"aisle {aisle} holds {count} items of hazard class {hazard} (limit {limits[hazard]})"
        for (hazard, aisle), count in sorted(counts.items())
        if count > limits[hazard]
    ]
