"""Loading check at the dock, pure: is this pallet the right one, on the right truck, now?

The loading order rule. A plan numbers its pallets 1..n (sequence 1 goes on first). The edge
cuts that sequence into *load groups*: runs of consecutive sequence numbers whose pallets share
deck, row and level. Within a group the order is free (pallets side by side in one row do not
block each other, even when they belong to two stops, as `central.optimizers.loading` allows);
a pallet may go on only when every pallet of every earlier group is on. So a row is finished
before the next row further back is started, a stacked pallet (level 1) waits for its row's
floor pallets, and the LIFO-by-stop order the optimizer built holds.

Override: after a wrong-order alarm the worker may load the pallet anyway by scanning an
override barcode `OVERRIDE-<REASON>` (e.g. OVERRIDE-DRIVER-REQUEST); the pallet is loaded with
that reason. Wrong-truck and unknown pallets cannot be overridden at the dock: the plan has no
place for them, so the pallet comes off the truck or central sends a new plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from contracts.commands import LoadPlacement, LoadPlan

OVERRIDE_PREFIX = "OVERRIDE-"
_OVERRIDE_RE = re.compile(r"^(?:\][A-Za-z][0-9A-Za-z])?OVERRIDE-([A-Z0-9][A-Z0-9_-]{1,31})$")


@dataclass(frozen=True)
class OverrideCode:
    """The worker scanned an override barcode: load the last stopped pallet anyway."""

    reason: str


def override_reason(frame: bytes) -> str | None:
    """The reason in an override barcode (`OVERRIDE-<REASON>`, AIM prefix allowed), else None."""
    try:
        text = frame.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    match = _OVERRIDE_RE.match(text)
    return match.group(1) if match else None


@dataclass(frozen=True)
class PlannedPallet:
    """A pallet of the plan with the load group it belongs to (0 = loaded first)."""

    placement: LoadPlacement
    group: int

    @property
    def sscc(self) -> str:
        """The pallet's SSCC."""
        return self.placement.sscc

    def where(self) -> str:
        """Its position as the worker reads it on the loading sheet (rows counted from 1)."""
        p = self.placement
        deck = f" deck {p.deck + 1}" if p.deck else ""
        level = " top" if p.level else ""
        return f"row {p.row + 1} col {p.column + 1}{deck}{level}"


@dataclass(frozen=True)
class InOrder:
    """The pallet may go on now."""

    pallet: PlannedPallet


@dataclass(frozen=True)
class AlreadyLoaded:
    """The pallet was loaded before (a second scan)."""

    pallet: PlannedPallet


@dataclass(frozen=True)
class OutOfOrder:
    """The pallet belongs to this load, but pallets of earlier groups are still missing."""

    pallet: PlannedPallet
    missing: tuple[PlannedPallet, ...]


@dataclass(frozen=True)
class NotInPlan:
    """The pallet is not part of this load."""


Verdict = InOrder | AlreadyLoaded | OutOfOrder | NotInPlan


class LoadingCheck:
    """A load plan prepared for checking scans against it."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        ordered = sorted(plan.placements, key=lambda p: p.sequence)
        pallets: list[PlannedPallet] = []
        group = -1
        previous: tuple[int, int, int] | None = None
        for placement in ordered:
            key = (placement.deck, placement.row, placement.level)
            if key != previous:
                group += 1
                previous = key
            pallets.append(PlannedPallet(placement, group))
        self.pallets: tuple[PlannedPallet, ...] = tuple(pallets)
        self._by_sscc = {p.sscc: p for p in pallets}

    @property
    def shipment_id(self) -> str:
        """The shipment this plan loads."""
        return self.plan.shipment_id

    def pallet(self, sscc: str) -> PlannedPallet | None:
        """The planned pallet with this SSCC, if it is part of the plan."""
        return self._by_sscc.get(sscc)

    def verdict(self, sscc: str, loaded: Iterable[str]) -> Verdict:
        """Whether pallet `sscc` may go on now, given the pallets already `loaded`."""
        pallet = self._by_sscc.get(sscc)
        if pallet is None:
            return NotInPlan()
        on = set(loaded)
        if sscc in on:
            return AlreadyLoaded(pallet)
        missing = tuple(p for p in self.pallets if p.group < pallet.group and p.sscc not in on)
        if missing:
            return OutOfOrder(pallet, missing)
        return InOrder(pallet)

    def remaining(self, loaded: Iterable[str]) -> tuple[PlannedPallet, ...]:
        """The pallets not loaded yet, in loading order."""
        on = set(loaded)
        return tuple(p for p in self.pallets if p.sscc not in on)

    def sheet_lines(self) -> list[str]:
        """The loading sheet: the load's header, then each group's pallets in loading order."""
        plan = self.plan
        stops = sorted({p.stop_index for p in plan.placements})
        lines = [
            f"Shipment {plan.shipment_id}",
            f"Trailer  {plan.trailer}",
        ]
        if plan.vehicle_ref:
            lines.append(f"Vehicle  {plan.vehicle_ref}")
        if plan.route_ref:
            lines.append(f"Route    {plan.route_ref}")
        lines.append(f"Pallets  {len(plan.placements)}, stops {', '.join(map(str, stops))}")
        lines.append("Load row by row, front (row 1) first.")
        lines.append("Any order within a group.")
        group = -1
        for pallet in self.pallets:
            if pallet.group != group:
                group = pallet.group
                p = pallet.placement
                deck = f", deck {p.deck + 1}" if p.deck else ""
                level = ", top layer" if p.level else ""
                lines.append("")
                lines.append(f"-- Group {group + 1}: row {p.row + 1}{deck}{level} --")
            p = pallet.placement
            lines.append(f"#{p.sequence:<3} col {p.column + 1} stop {p.stop_index}  {p.sscc}")
        lines.append("")
        lines.append(f"Wrong order alarm: scan {OVERRIDE_PREFIX}<REASON>")
        lines.append("to load the pallet anyway.")
        return lines


@dataclass(frozen=True)
class UnloadingResult:
    """Expected against scanned pallets of one unloading."""

    expected: tuple[str, ...]
    scanned: tuple[str, ...]
    shortages: tuple[str, ...]
    extras: tuple[str, ...]


def check_unloading(expected: Iterable[str] | None, scanned: Iterable[str]) -> UnloadingResult:
    """Shortages (expected, not scanned) and extras (scanned, not expected), in input order.

    With no expectation (`None`) nothing is flagged: central compares against its receipt.
    """
    seen = tuple(dict.fromkeys(scanned))
    if expected is None:
        return UnloadingResult(expected=(), scanned=seen, shortages=(), extras=())
    wanted = tuple(dict.fromkeys(expected))
    return UnloadingResult(
        expected=wanted,
        scanned=seen,
        shortages=tuple(s for s in wanted if s not in seen),
        extras=tuple(s for s in seen if s not in wanted),
    )
