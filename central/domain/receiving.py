"""Receiving checks: match a pallet at the dock against the open expected receipt (ASN) lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

_HUNDRED = Decimal(100)


class DiscrepancyKind(StrEnum):
    """Why a received pallet cannot simply be put away."""

    UNKNOWN_ITEM = "unknown_item"
    UNEXPECTED_PALLET = "unexpected_pallet"
    OVER_RECEIPT = "over_receipt"
    WEIGHT_OUT_OF_TOLERANCE = "weight_out_of_tolerance"
    DUPLICATE_SSCC = "duplicate_sscc"


@dataclass(frozen=True)
class Discrepancy:
    """One problem found with a received pallet, worded for the dock worker and ops."""

    kind: DiscrepancyKind
    message: str


@dataclass(frozen=True)
class ReceivedPallet:
    """What the dock saw: the scanned label and the stable scale weight."""

    gtin: str
    quantity: Decimal
    weight_kg: Decimal
    sscc: str | None = None
    batch: str | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("a received pallet needs a positive quantity")
        if self.weight_kg < 0:
            raise ValueError("a pallet weight cannot be negative")


@dataclass(frozen=True)
class ItemInfo:
    """The item master data the checks need."""

    gtin: str
    name: str
    unit_weight_kg: Decimal | None = None
    unit_volume_m3: Decimal | None = None


@dataclass(frozen=True)
class ReceiptLine:
    """An open expected receipt (ASN / PO) line and how much of it has arrived so far.

    `expected_weight_kg` is the gross weight of the line's whole quantity; a pallet carrying
    part of the line is expected to weigh its share.
    """

    line_id: int
    reference: str
    gtin: str
    quantity: Decimal
    received_quantity: Decimal = Decimal(0)
    batch: str | None = None
    sscc: str | None = None
    expected_weight_kg: Decimal | None = None
    weight_tolerance_pct: Decimal = Decimal(2)

    @property
    def remaining(self) -> Decimal:
        """Quantity still expected (never negative)."""
        return max(self.quantity - self.received_quantity, Decimal(0))

    def accepts_batch(self, batch: str | None) -> bool:
        """A line naming a batch only takes that batch; a line without one takes any."""
        return self.batch is None or self.batch == batch


@dataclass(frozen=True)
class ReceiptCheck:
    """The outcome of checking one pallet: the line it counts against and any discrepancies."""

    line: ReceiptLine | None
    discrepancies: tuple[Discrepancy, ...]

    @property
    def ok(self) -> bool:
        """True if the pallet may be put away."""
        return not self.discrepancies

    @property
    def bookable(self) -> bool:
        """False only when the stock cannot be booked at all (the item is unknown)."""
        return all(d.kind is not DiscrepancyKind.UNKNOWN_ITEM for d in self.discrepancies)

    @property
    def hold_reason(self) -> str | None:
        """The text for a HOLD label, or None if the pallet is fine."""
        if self.ok:
            return None
        return "; ".join(d.message for d in self.discrepancies)


def weight_within_tolerance(actual: Decimal, expected: Decimal, tolerance_pct: Decimal) -> bool:
    """True if `actual` lies within `expected` ± `tolerance_pct` percent (bounds included)."""
    return abs(actual - expected) <= expected * tolerance_pct / _HUNDRED


def expected_pallet_weight(
    line: ReceiptLine | None, item: ItemInfo, quantity: Decimal
) -> Decimal | None:
    """The weight a pallet of `quantity` units should have, or None if nothing says so."""
    if line is not None and line.expected_weight_kg is not None and line.quantity > 0:
        return line.expected_weight_kg * quantity / line.quantity
    if item.unit_weight_kg is not None:
        return item.unit_weight_kg * quantity
    return None


def _find_line(
    pallet: ReceivedPallet, open_lines: Sequence[ReceiptLine]
) -> tuple[ReceiptLine | None, Discrepancy | None]:
    if pallet.sscc is not None:
        for line in open_lines:
            if line.sscc == pallet.sscc:
                if line.gtin != pallet.gtin:
                    return None, Discrepancy(
                        DiscrepancyKind.UNEXPECTED_PALLET,
                        f"SSCC {pallet.sscc} is expected with GTIN {line.gtin}, "
                        f"label says {pallet.gtin}",
                    )
                return line, None
    # Lines that list SSCCs only take those pallets: an unlisted SSCC is unexpected.
    by_gtin = [
        line
        for line in open_lines
        if line.sscc is None and line.gtin == pallet.gtin and line.accepts_batch(pallet.batch)
    ]
    if not by_gtin:
        what = f"SSCC {pallet.sscc}" if pallet.sscc else f"GTIN {pallet.gtin}"
        if pallet.batch:
            what += f" batch {pallet.batch}"
        return None, Discrepancy(
            DiscrepancyKind.UNEXPECTED_PALLET, f"{what} is not on any open expected receipt"
        )
    for line in by_gtin:
        if line.remaining >= pallet.quantity:
            return line, None
    with_room = [line for line in by_gtin if line.remaining > 0]
    return (with_room or by_gtin)[0], None


def check_receipt(
    pallet: ReceivedPallet,
    *,
    item: ItemInfo | None,
    open_lines: Sequence[ReceiptLine],
    sscc_already_received: bool,
) -> ReceiptCheck:
    """Check a pallet against the site's open expected receipt lines.

    Args:
        pallet: what was scanned and weighed.
        item: the item with the pallet's GTIN, or None if central does not know it.
        open_lines: the site's open expected receipt lines, in the order they should fill.
        sscc_already_received: True if a pallet with the same SSCC was booked before.
    """
    if item is None:
        return ReceiptCheck(
            None,
            (
                Discrepancy(
                    DiscrepancyKind.UNKNOWN_ITEM,
                    f"unknown item GTIN {pallet.gtin}: not booked, ops must create the item",
                ),
            ),
        )
    if sscc_already_received:
        return ReceiptCheck(
            None,
            (
                Discrepancy(
                    DiscrepancyKind.DUPLICATE_SSCC, f"SSCC {pallet.sscc} was already received"
                ),
            ),
        )
    line, problem = _find_line(pallet, open_lines)
    found: list[Discrepancy] = [] if problem is None else [problem]
    if line is not None and pallet.quantity > line.remaining:
        found.append(
            Discrepancy(
                DiscrepancyKind.OVER_RECEIPT,
                f"over receipt on {line.reference}: {pallet.quantity} received, "
                f"{line.remaining} still expected",
            )
        )
    expected = expected_pallet_weight(line, item, pallet.quantity)
    tolerance = line.weight_tolerance_pct if line is not None else Decimal(2)
    if expected is not None and not weight_within_tolerance(pallet.weight_kg, expected, tolerance):
        found.append(
            Discrepancy(
                DiscrepancyKind.WEIGHT_OUT_OF_TOLERANCE,
                f"weight {pallet.weight_kg} kg, expected {expected.normalize():f} kg "
                f"±{tolerance.normalize():f}%",
            )
        )
    return ReceiptCheck(line, tuple(found))
