"""Immutable journal entries and lines, and accounting periods."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from central.domain.accounting.movements import MovementType

_ZERO = Decimal(0)
# Entry ids derive from the event id, so a replay into an empty ledger yields the same ids.
_ENTRY_NAMESPACE = UUID("6f1c3a52-8a0e-4d4b-9a55-7d0a4f0b9e11")


def entry_id_for(event_id: UUID) -> UUID:
    """The journal entry id of the event's posting."""
    return uuid5(_ENTRY_NAMESPACE, str(event_id))


class EntryKind(StrEnum):
    """Why an entry exists."""

    MOVEMENT = "movement"
    REVERSAL = "reversal"  # storno of an earlier entry: sides swapped, original values


@dataclass(frozen=True)
class JournalLine:
    """One debit or credit on one account. `quantity` is the stock change it carries (signed
    like the amount: positive on a debit to a stock account)."""

    line_no: int
    account: str
    site: str
    debit: Decimal
    credit: Decimal
    currency: str
    item: str | None = None
    quantity: Decimal | None = None
    memo: str = ""

    def __post_init__(self) -> None:
        if self.debit < 0 or self.credit < 0 or (self.debit and self.credit):
            raise ValueError(
                f"line {self.line_no}: one side only, not negative ({self.debit}/{self.credit})"
            )

    @property
    def amount(self) -> Decimal:
        """Debit minus credit."""
        return self.debit - self.credit

    def storno(self, line_no: int) -> JournalLine:
        """The same line with the sides swapped (and the quantity negated)."""
        return replace(
            self,
            line_no=line_no,
            debit=self.credit,
            credit=self.debit,
            quantity=-self.quantity if self.quantity is not None else None,
        )


@dataclass(frozen=True)
class JournalEntry:
    """One balanced posting for one event; never edited, only reversed.

    Args:
        posting_date: the accounting date (see Ledger for late events and closed periods).
        occurred_at: when the event happened physically.
        late: True when posting_date is later than the event's own date, because later
            valuation was already booked or its period was closed; the entry is then the
            true-up dated now that references the event.
        reverses: the event id of the entry this one reverses.
    """

    entry_id: UUID
    sequence: int
    site: str
    posting_date: date
    occurred_at: datetime
    event_id: UUID
    movement_type: MovementType
    kind: EntryKind
    rules_version: str
    lines: tuple[JournalLine, ...]
    reverses: UUID | None = None
    late: bool = False

    def totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(debits, credits) per currency."""
        sums: dict[str, list[Decimal]] = defaultdict(lambda: [_ZERO, _ZERO])
        for line in self.lines:
            sums[line.currency][0] += line.debit
            sums[line.currency][1] += line.credit
        return {currency: (d, c) for currency, (d, c) in sums.items()}

    def is_balanced(self) -> bool:
        """Debits equal credits in every currency."""
        return all(d == c for d, c in self.totals().values())


@dataclass(frozen=True, order=True)
class AccountingPeriod:
    """A calendar month, the unit that is closed."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")

    @classmethod
    def of(cls, day: date) -> AccountingPeriod:
        """The period a date falls in."""
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        """The first day of the period."""
        return date(self.year, self.month, 1)

    def next(self) -> AccountingPeriod:
        """The following period."""
        if self.month == 12:
            return AccountingPeriod(self.year + 1, 1)
        return AccountingPeriod(self.year, self.month + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
