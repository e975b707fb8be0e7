"""Putaway: choose the bin a received pallet goes to (nearest free bin with room)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Point:
    """A position on the warehouse floor plan, in metres."""

    x: Decimal
    y: Decimal


def rectilinear_distance(a: Point, b: Point) -> Decimal:
    """Travel distance along aisles (Manhattan metric) between two floor positions."""
    return abs(a.x - b.x) + abs(a.y - b.y)


@dataclass(frozen=True)
class PalletLoad:
    """What a pallet adds to a bin. `volume_m3` is None when the item's dimensions are unknown."""

    weight_kg: Decimal
    volume_m3: Decimal | None = None


@dataclass(frozen=True)
class BinState:
    """A bin with its limits (None = no limit) and what it holds or is promised right now."""

    code: str
    position: Point
    max_weight_kg: Decimal | None = None
    max_volume_m3: Decimal | None = None
    max_pallets: int | None = None
    pallets: int = 0
    weight_kg: Decimal = Decimal(0)
    volume_m3: Decimal = Decimal(0)
    has_stock: bool = False
    reserved: bool = False

    @property
    def free(self) -> bool:
        """Empty and not promised to another pallet's open putaway task."""
        return not self.has_stock and not self.reserved and self.pallets == 0

    def fits(self, load: PalletLoad) -> bool:
        """True if adding the pallet keeps every limit of the bin."""
        if self.max_pallets is not None and self.pallets + 1 > self.max_pallets:
            return False
        if self.max_weight_kg is not None and self.weight_kg + load.weight_kg > self.max_weight_kg:
            return False
        if self.max_volume_m3 is None:
            return True
        if load.volume_m3 is None:
            # An unknown volume cannot be proved to fit beside other goods; an empty bin is
            # sized for at least one pallet, so it takes one.
            return self.volume_m3 == 0
        return self.volume_m3 + load.volume_m3 <= self.max_volume_m3


def choose_putaway_bin(
    load: PalletLoad, bins: Iterable[BinState], *, origin: Point
) -> BinState | None:
    """The nearest free bin (rectilinear distance from `origin`) the pallet fits in, or None.

    Ties go to the lowest bin code so the choice is deterministic.
    """
    candidates = [b for b in bins if b.free and b.fits(load)]
    if not candidates:
        return None
    return min(candidates, key=lambda b: (rectilinear_distance(origin, b.position), b.code))
