"""The receiving workflow at one dock, as a pure state machine (no I/O, no clock).

    IDLE ──pallet scan──▶ WEIGHING ──stable weight──▶ AWAITING_BIN ──print.label / reply
      ▲                      │ scale timeout,             timeout (PUTAWAY PENDING)
      │                      ▼ overload: not booked                 │
      └──────────── IDLE ◀──bin scan (putaway.confirmed)── AWAITING_PUTAWAY ◀┘

`step(dock, event)` returns the next state and the effects for the runner (`edge_agent.dock`)
to carry out: emit an event, start weighing, start the reply timer, print a label or notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from contracts.commands import PutawayLabel
from contracts.envelope import new_event_id
from contracts.events import EventType, GoodsReceived, PutawayConfirmed, ScanRejected
from devices.scanner import PalletLabel

# A dock remembers this many received pallets so a re-scan goes to putaway without re-weighing.
MAX_REMEMBERED_PALLETS = 500


class DockState(StrEnum):
    """Where a dock is in receiving one pallet."""

    IDLE = "idle"
    WEIGHING = "weighing"
    AWAITING_BIN = "awaiting_bin"
    AWAITING_PUTAWAY = "awaiting_putaway"


@dataclass(frozen=True)
class ReceivedPallet:
    """A pallet this dock booked with goods.received."""

    event_id: UUID
    sscc: str | None
    label: PutawayLabel
    answered: bool = False
    pending_printed: bool = False
    location: str | None = None


@dataclass(frozen=True)
class Dock:
    """The state of one dock's receiving workflow."""

    dock: str
    state: DockState = DockState.IDLE
    weighing: PalletLabel | None = None
    attempt: int = 0
    current: UUID | None = None
    received: tuple[ReceivedPallet, ...] = field(default=())

    def pallet(self, event_id: UUID | None) -> ReceivedPallet | None:
        """The received pallet booked by goods.received `event_id`."""
        return next((p for p in self.received if p.event_id == event_id), None)

    def pallet_by_sscc(self, sscc: str) -> ReceivedPallet | None:
        """The most recent received pallet with this SSCC."""
        return next((p for p in reversed(self.received) if p.sscc == sscc), None)

    @property
    def scanner(self) -> str:
        """Device id of the dock's scanner (event source)."""
        return f"{self.dock}/scanner"

    @property
    def scale(self) -> str:
        """Device id of the dock's scale (event source)."""
        return f"{self.dock}/scale"


# Inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PalletScanned:
    """The worker scanned a pallet label."""

    label: PalletLabel


@dataclass(frozen=True)
class LocationScanned:
    """The worker scanned a bin (location) label."""

    code: str


@dataclass(frozen=True)
class WeightStable:
    """The scale gave its first stable weight for weighing `attempt`."""

    attempt: int
    kg: Decimal


@dataclass(frozen=True)
class WeighFailed:
    """Weighing `attempt` gave no usable weight (timeout, overload, scale offline)."""

    attempt: int
    reason: str


@dataclass(frozen=True)
class BinAnswered:
    """Central's print.label for goods.received `event_id` arrived (its label is queued)."""

    event_id: UUID


@dataclass(frozen=True)
class ReplyTimedOut:
    """Central did not answer goods.received `event_id` within the reply timeout."""

    event_id: UUID


DockInput = (
    PalletScanned | LocationScanned | WeightStable | WeighFailed | BinAnswered | ReplyTimedOut
)


# Effects --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Emit:
    """Queue an event in the outbox (with `event_id` when the workflow needs to know it)."""

    type: EventType
    source: str
    payload: BaseModel
    event_id: UUID | None = None


@dataclass(frozen=True)
class StartWeighing:
    """Wait for the scale's first stable weight; answer with WeightStable/WeighFailed."""

    attempt: int


@dataclass(frozen=True)
class StartReplyTimer:
    """Answer with ReplyTimedOut(event_id) after the reply timeout."""

    event_id: UUID


@dataclass(frozen=True)
class PrintPending:
    """Print a PUTAWAY PENDING label (no bin yet) for the pallet of `event_id`."""

    event_id: UUID
    label: PutawayLabel


@dataclass(frozen=True)
class PrintNotice:
    """Print a short notice slip at the dock (the printer's beep the worker hears)."""

    title: str
    lines: tuple[str, ...]


DockEffect = Emit | StartWeighing | StartReplyTimer | PrintPending | PrintNotice

Step = tuple[Dock, list[DockEffect]]


def _rejected(dock: Dock, code: str, reason: str, *, device: str | None = None) -> Emit:
    source = device or dock.scanner
    payload = ScanRejected(dock=dock.dock, device=source, code=code, reason=reason)
    return Emit(EventType.SCAN_REJECTED, source, payload)


def _remember(
    received: tuple[ReceivedPallet, ...], pallet: ReceivedPallet
) -> tuple[ReceivedPallet, ...]:
    return (*received, pallet)[-MAX_REMEMBERED_PALLETS:]


def _update(dock: Dock, pallet: ReceivedPallet) -> tuple[ReceivedPallet, ...]:
    return tuple(pallet if p.event_id == pallet.event_id else p for p in dock.received)


def _after_label(dock: Dock, pallet: ReceivedPallet) -> Dock:
    """The state once the current pallet has a label: putaway if it has an SSCC to confirm."""
    if dock.state is not DockState.AWAITING_BIN or dock.current != pallet.event_id:
        return dock
    if pallet.sscc is None:
        # putaway.confirmed needs an SSCC; a pallet without one is done once labelled.
        return replace(dock, state=DockState.IDLE, current=None)
    return replace(dock, state=DockState.AWAITING_PUTAWAY)


def _pallet_scanned(dock: Dock, label: PalletLabel) -> Step:
    known = dock.pallet_by_sscc(label.sscc) if label.sscc else None
    if known is not None:
        # Already booked here: go straight to putaway, never weigh (and book) it twice.
        return replace(
            dock, state=DockState.AWAITING_PUTAWAY, weighing=None, current=known.event_id
        ), []
    if label.gtin is None:
        return dock, [
            _rejected(
                dock,
                label.hri,
                "this label has no item number (GTIN): scan the pallet label with (01) or (02)",
            )
        ]
    attempt = dock.attempt + 1
    weighing = replace(
        dock, state=DockState.WEIGHING, weighing=label, attempt=attempt, current=None
    )
    return weighing, [StartWeighing(attempt)]


def _location_scanned(dock: Dock, code: str) -> Step:
    pallet = dock.pallet(dock.current)
    if dock.state is DockState.AWAITING_PUTAWAY and pallet is not None and pallet.sscc:
        confirmed = PutawayConfirmed(dock=dock.dock, sscc=pallet.sscc, location=code)
        done = replace(pallet, location=code)
        return replace(dock, state=DockState.IDLE, current=None, received=_update(dock, done)), [
            Emit(EventType.PUTAWAY_CONFIRMED, dock.scanner, confirmed)
        ]
    reasons = {
        DockState.IDLE: "scan the pallet first, then the bin",
        DockState.WEIGHING: "wait for the weight and the putaway label, then scan the bin",
        DockState.AWAITING_BIN: "wait for the putaway label, then scan the bin",
        DockState.AWAITING_PUTAWAY: "scan the pallet first, then the bin",
    }
    return dock, [_rejected(dock, code, reasons[dock.state])]


def _weight_stable(dock: Dock, kg: Decimal, new_id: Callable[[], UUID]) -> Step:
    label = dock.weighing
    if label is None or label.gtin is None:
        return dock, []
    event_id = new_id()
    quantity = Decimal(label.count) if label.count else Decimal(1)
    received = GoodsReceived(
        dock=dock.dock,
        sscc=label.sscc,
        gtin=label.gtin,
        batch=label.batch,
        expiry=label.expiry,
        quantity=quantity,
        weight_kg=kg,
        barcode=label.hri,
    )
    putaway = PutawayLabel(
        sscc=label.sscc,
        gtin=label.gtin,
        batch=label.batch,
        expiry=label.expiry,
        quantity=quantity,
        weight_kg=kg,
    )
    pallet = ReceivedPallet(event_id=event_id, sscc=label.sscc, label=putaway)
    nxt = replace(
        dock,
        state=DockState.AWAITING_BIN,
        weighing=None,
        current=event_id,
        received=_remember(dock.received, pallet),
    )
    return nxt, [
        Emit(EventType.GOODS_RECEIVED, dock.scale, received, event_id=event_id),
        StartReplyTimer(event_id),
    ]


def _weigh_failed(dock: Dock, reason: str) -> Step:
    label = dock.weighing
    code = label.hri if label else ""
    idle = replace(dock, state=DockState.IDLE, weighing=None)
    return idle, [
        _rejected(dock, code, f"pallet not booked: {reason}", device=dock.scale),
        PrintNotice("PALLET NOT BOOKED", (reason, code, "Scan the pallet label again.")),
    ]


def _bin_answered(dock: Dock, event_id: UUID) -> Step:
    pallet = dock.pallet(event_id)
    if pallet is None:
        return dock, []
    answered = replace(pallet, answered=True)
    dock = replace(dock, received=_update(dock, answered))
    return _after_label(dock, answered), []


def _reply_timed_out(dock: Dock, event_id: UUID) -> Step:
    pallet = dock.pallet(event_id)
    if pallet is None or pallet.answered:
        return dock, []
    effects: list[DockEffect] = []
    if not pallet.pending_printed:
        pallet = replace(pallet, pending_printed=True)
        effects.append(PrintPending(event_id, pallet.label))
    dock = replace(dock, received=_update(dock, pallet))
    return _after_label(dock, pallet), effects


def step(dock: Dock, event: DockInput, *, new_id: Callable[[], UUID] = new_event_id) -> Step:
    """The dock's next state and the effects to carry out, for one input."""
    match event:
        case PalletScanned(label=label):
            return _pallet_scanned(dock, label)
        case LocationScanned(code=code):
            return _location_scanned(dock, code)
        case WeightStable(attempt=attempt, kg=kg):
            if dock.state is not DockState.WEIGHING or attempt != dock.attempt:
                return dock, []  # a weighing the worker abandoned by scanning another pallet
            return _weight_stable(dock, kg, new_id)
        case WeighFailed(attempt=attempt, reason=reason):
            if dock.state is not DockState.WEIGHING or attempt != dock.attempt:
                return dock, []
            return _weigh_failed(dock, reason)
        case BinAnswered(event_id=event_id):
            return _bin_answered(dock, event_id)
        case ReplyTimedOut(event_id=event_id):
            return _reply_timed_out(dock, event_id)
