"""The ledger's state as rows, and the repository port a database store implements.

Each dataclass here maps to one table: ItemValuation + ValuationLayer, JournalEntry +
JournalLine, DocumentRecord, PostedEvent, closed AccountingPeriod. The Ledger computes a
Changeset for each movement and hands it to `LedgerStore.apply`, which must write it
atomically (one DB transaction), or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from central.domain.accounting.journal import AccountingPeriod, JournalEntry
from central.domain.accounting.movements import Movement, MovementType
from central.domain.accounting.valuation import ItemValuation

_ZERO = Decimal(0)


@dataclass(frozen=True)
class DocumentRecord:
    """What later movements can still draw on an event (returns, invoices, deliveries).

    `value` is the document's own value: receipt value at PO price, value sent into transit,
    or the stock value a movement moved.
    """

    event_id: UUID
    movement_type: MovementType
    site: str
    item: str
    currency: str
    quantity: Decimal
    value: Decimal
    to_site: str | None = None
    returned_quantity: Decimal = _ZERO
    returned_value: Decimal = _ZERO
    invoiced_quantity: Decimal = _ZERO
    invoiced_value: Decimal = _ZERO
    delivered_quantity: Decimal = _ZERO
    delivered_value: Decimal = _ZERO
    reversed_by: UUID | None = None

    @property
    def in_transit_quantity(self) -> Decimal:
        """Quantity still on the way (dispatches only)."""
        return self.quantity - self.delivered_quantity

    @property
    def in_transit_value(self) -> Decimal:
        """Value still on the way (dispatches only)."""
        return self.value - self.delivered_value


@dataclass(frozen=True)
class PostingResult:
    """What posting a movement produced; `duplicate` is True when it was posted before."""

    event_id: UUID
    entry: JournalEntry | None
    duplicate: bool = False


@dataclass(frozen=True)
class PostedEvent:
    """The idempotency record: the movement as first posted and its result."""

    movement: Movement
    result: PostingResult


@dataclass(frozen=True)
class Changeset:
    """Everything one movement changes; applied atomically."""

    posted: PostedEvent
    entry: JournalEntry | None
    valuations: tuple[ItemValuation, ...] = ()
    documents: tuple[DocumentRecord, ...] = field(default_factory=tuple)


class LedgerStore(Protocol):
    """Repository port of the Ledger; a database store implements the same methods."""

    def posted(self, event_id: UUID) -> PostedEvent | None:
        """The stored posting of an event id, if any."""
        ...

    def valuation(self, site: str, item: str) -> ItemValuation | None:
        """The valuation state of (site, item), if it was ever moved."""
        ...

    def document(self, event_id: UUID) -> DocumentRecord | None:
        """The document record of a posted event."""
        ...

    def valuations(self) -> Sequence[ItemValuation]:
        """All valuation states."""
        ...

    def documents(self) -> Sequence[DocumentRecord]:
        """All document records."""
        ...

    def entries(self) -> Sequence[JournalEntry]:
        """All journal entries in posting sequence."""
        ...

    def next_entry_sequence(self) -> int:
        """The sequence number the next journal entry gets."""
        ...

    def closed_periods(self) -> frozenset[AccountingPeriod]:
        """Periods no entry may be dated in."""
        ...

    def close_period(self, period: AccountingPeriod) -> None:
        """Close a period for posting."""
        ...

    def apply(self, change: Changeset) -> None:
        """Write a changeset atomically."""
        ...


class InMemoryLedgerStore:
    """LedgerStore in plain dicts and lists; for tests and replays."""

    def __init__(self) -> None:
        self._posted: dict[UUID, PostedEvent] = {}
        self._valuations: dict[tuple[str, str], ItemValuation] = {}
        self._documents: dict[UUID, DocumentRecord] = {}
        self._entries: list[JournalEntry] = []
        self._closed: set[AccountingPeriod] = set()

    def posted(self, event_id: UUID) -> PostedEvent | None:
        """The stored posting of an event id, if any."""
        return self._posted.get(event_id)

    def valuation(self, site: str, item: str) -> ItemValuation | None:
        """The valuation state of (site, item), if it was ever moved."""
        return self._valuations.get((site, item))

    def document(self, event_id: UUID) -> DocumentRecord | None:
        """The document record of a posted event."""
        return self._documents.get(event_id)

    def valuations(self) -> Sequence[ItemValuation]:
        """All valuation states."""
        return list(self._valuations.values())

    def documents(self) -> Sequence[DocumentRecord]:
        """All document records."""
        return list(self._documents.values())

    def entries(self) -> Sequence[JournalEntry]:
        """All journal entries in posting sequence."""
        return list(self._entries)

    def next_entry_sequence(self) -> int:
        """The sequence number the next journal entry gets."""
        return len(self._entries) + 1

    def closed_periods(self) -> frozenset[AccountingPeriod]:
        """Periods no entry may be dated in."""
        return frozenset(self._closed)

    def close_period(self, period: AccountingPeriod) -> None:
        """Close a period for posting."""
        self._closed.add(period)

    def apply(self, change: Changeset) -> None:
        """Write a changeset (dict updates cannot fail half-way)."""
        self._posted[change.posted.movement.event_id] = change.posted
        for valuation in change.valuations:
            self._valuations[(valuation.site, valuation.item)] = valuation
        for document in change.documents:
            self._documents[document.event_id] = document
        if change.entry is not None:
            self._entries.append(change.entry)
