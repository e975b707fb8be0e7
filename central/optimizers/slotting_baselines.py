"""Baseline slotting policies to measure the optimizer against.

* `random_placement`: each item in a random free compatible bin.
* `abc_placement`: class-based storage: A items (the top share of picks) fill the nearest bins,
  then B, then C; inside a class the order is random, as in a random-within-zone policy.
* `coi_placement`: cube-per-order index (Heskett): items by volume / picks ascending, each to the
  nearest free compatible bin.

Fixed assignments are kept. Hazard-per-aisle limits are not enforced by the baselines. An item
left without a free compatible bin is listed in `unplaced`.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from central.optimizers.slotting_model import ZERO, Bin, Item, SlottingProblem, fits


@dataclass(frozen=True)
class Placement:
    """A baseline plan: sku -> bin code, plus items that found no bin."""

    assignment: Mapping[str, str]
    unplaced: tuple[str, ...]


class _FreeBins:
    """Free bins per compatibility group, nearest first, with cheap "nearest" and "random" picks."""

    def __init__(self, problem: SlottingProblem) -> None:
        taken = {code for _, code in problem.fixed}
        groups: dict[tuple[object, ...], list[Bin]] = {}
        for bin_ in problem.bins:
            if bin_.code not in taken:
                key = (
                    bin_.temperature_class,
                    bin_.hazard_classes,
                    bin_.max_volume_m3,
                    bin_.max_weight_kg,
                )
                groups.setdefault(key, []).append(bin_)
        self._groups = [sorted(g, key=lambda b: (b.travel_m, b.code)) for g in groups.values()]
        self._next = [0] * len(self._groups)  # everything before this index is taken
        self._taken: set[str] = set()
        self._compatible: dict[tuple[object, ...], list[int]] = {}

    def _compatible_groups(self, item: Item) -> list[int]:
        key = (item.temperature_class, item.hazard_class, item.volume_m3, item.weight_kg)
        groups = self._compatible.get(key)
        if groups is None:
            groups = [k for k, g in enumerate(self._groups) if fits(item, g[0])]
            self._compatible[key] = groups
        return groups

    def _head(self, group: int) -> Bin | None:
        members = self._groups[group]
        while self._next[group] < len(members) and members[self._next[group]].code in self._taken:
            self._next[group] += 1
        return members[self._next[group]] if self._next[group] < len(members) else None

    def take_nearest(self, item: Item) -> Bin | None:
        """Take the nearest free bin `item` fits (ties by code)."""
        heads = [h for g in self._compatible_groups(item) if (h := self._head(g)) is not None]
        best = min(heads, key=lambda b: (b.travel_m, b.code), default=None)
        if best is not None:
            self._taken.add(best.code)
        return best

    def take_random(self, item: Item, rng: random.Random) -> Bin | None:
        """Take a uniformly random free bin `item` fits."""
        groups = self._compatible_groups(item)
        sizes = [len(self._groups[g]) - self._next[g] for g in groups]
        while sum(sizes) > 0:
            running = list(_running(sizes))
            pick = rng.randrange(running[-1])
            k = bisect.bisect_right(running, pick)
            group = groups[k]
            members = self._groups[group]
            index = self._next[group] + pick - (running[k] - sizes[k])
            # Swap the chosen bin to the front of the free part, then retire it there.
            members[self._next[group]], members[index] = members[index], members[self._next[group]]
            chosen = members[self._next[group]]
            self._next[group] += 1
            if chosen.code not in self._taken:
                self._taken.add(chosen.code)
                return chosen
            sizes[k] -= 1
        return None


def _running(sizes: Iterable[int]) -> Iterable[int]:
    total = 0
    for size in sizes:
        total += size
        yield total


def _placement(
    problem: SlottingProblem, order: Iterable[Item], take: Callable[[Item], Bin | None]
) -> Placement:
    assignment = dict(problem.fixed)
    unplaced: list[str] = []
    for item in order:
        bin_ = take(item)
        if bin_ is None:
            unplaced.append(item.sku)
        else:
            assignment[item.sku] = bin_.code
    return Placement(MappingProxyType(assignment), tuple(unplaced))


def _free_items(problem: SlottingProblem) -> list[Item]:
    fixed = {sku for sku, _ in problem.fixed}
    return [i for i in problem.items if i.sku not in fixed]


def random_placement(problem: SlottingProblem, *, seed: int) -> Placement:
    """Each item, in random order, to a random free compatible bin."""
    rng = random.Random(seed)
    items = _free_items(problem)
    rng.shuffle(items)
    free = _FreeBins(problem)
    return _placement(problem, items, lambda item: free.take_random(item, rng))


def abc_placement(
    problem: SlottingProblem,
    *,
    seed: int,
    a_share: Decimal = Decimal("0.8"),
    b_share: Decimal = Decimal("0.95"),
) -> Placement:
    """Class-based storage: A items (first `a_share` of all picks) nearest, then B, then C.

    Args:
        seed: order of items inside a class.
        a_share: cumulative share of picks that makes an item class A.
        b_share: cumulative share of picks up to which items are class B.
    """
    rng = random.Random(seed)
    items = sorted(_free_items(problem), key=lambda i: (-i.picks_per_period, i.sku))
    total = sum((i.picks_per_period for i in items), ZERO)
    classes: list[list[Item]] = [[], [], []]
    running = ZERO
    for item in items:
        share = running / total if total else ZERO
        classes[0 if share < a_share else 1 if share < b_share else 2].append(item)
        running += item.picks_per_period
    order: list[Item] = []
    for members in classes:
        rng.shuffle(members)
        order.extend(members)
    return _placement(problem, order, _FreeBins(problem).take_nearest)


def coi_placement(problem: SlottingProblem) -> Placement:
    """Cube-per-order index: items by volume / picks ascending, each to the nearest free bin."""

    def index(item: Item) -> tuple[int, Decimal, str]:
        if item.picks_per_period == 0:
            return (1, ZERO, item.sku)  # never picked: last
        return (0, item.volume_m3 / item.picks_per_period, item.sku)

    order = sorted(_free_items(problem), key=index)
    return _placement(problem, order, _FreeBins(problem).take_nearest)
