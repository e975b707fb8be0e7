"""Test helper: a ledger plus a movement factory with ids and an advancing clock."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from central.domain.accounting import (
    JournalEntry,
    Ledger,
    LedgerConfig,
    Movement,
    MovementType,
    NegativeStockPolicy,
    PostingResult,
    SiteConfig,
    ValuationMethod,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    """The ledger's 'now' in tests: after every generated event."""
    return NOW


def amounts(entry: JournalEntry | None) -> dict[str, Decimal]:
    """Net signed amount (debit +) per account code of one entry."""
    assert entry is not None
    net: dict[str, Decimal] = defaultdict(Decimal)
    for line in entry.lines:
        net[line.account] += line.amount
    return {code: amount for code, amount in net.items() if amount}


class Book:
    """A Ledger and a factory for its movements."""

    def __init__(
        self,
        *,
        method: ValuationMethod = ValuationMethod.MOVING_AVERAGE,
        negative: NegativeStockPolicy = NegativeStockPolicy.REFUSE,
        config: LedgerConfig | None = None,
    ) -> None:
        self.config = config or LedgerConfig(
            default_site=SiteConfig(valuation_method=method, negative_stock=negative)
        )
        self.ledger = Ledger(self.config, clock=fixed_clock)
        self.at = T0

    def movement(
        self,
        movement_type: MovementType,
        quantity: str | int | Decimal,
        *,
        site: str = "A",
        item: str = "X",
        price: str | None = None,
        ref: Movement | None = None,
        to_site: str | None = None,
        at: datetime | None = None,
    ) -> Movement:
        """A new movement, one minute after the previous one unless `at` is given."""
        if at is None:
            self.at += timedelta(minutes=1)
        return Movement(
            event_id=uuid4(),
            movement_type=movement_type,
            site=site,
            item=item,
            quantity=Decimal(quantity),
            occurred_at=at or self.at,
            currency=self.config.site(site).currency,
            unit_price=Decimal(price) if price is not None else None,
            reference=ref.event_id if ref is not None else None,
            to_site=to_site,
        )

    def post(
        self, movement_type: MovementType, quantity: str | int | Decimal, **kwargs: object
    ) -> tuple[Movement, PostingResult]:
        """Create and post a movement."""
        m = self.movement(movement_type, quantity, **kwargs)  # type: ignore[arg-type]
        return m, self.ledger.post(m)

    def stock(self, site: str = "A", item: str = "X") -> tuple[Decimal, Decimal]:
        """(quantity, value) on hand."""
        v = self.ledger.valuation(site, item)
        return v.quantity, v.value
