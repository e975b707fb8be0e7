"""The stock ledger: immutable moves and the balances they add up to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from central.domain.errors import InvalidStockMove, NegativeStock


@dataclass(frozen=True, order=True)
class StockKey:
    """Where stock sits and what it is: location, item (GTIN), lot (batch), handling unit."""

    location: str
    gtin: str
    batch: str | None = None
    sscc: str | None = None


@dataclass(frozen=True)
class StockMove:
    """A quantity of one item/lot/handling unit moving between locations.

    `from_location` None means the goods come from outside (a supplier); `to_location` None means
    they leave the warehouse. Moves are never edited: a correction is another move.
    """

    from_location: str | None
    to_location: str | None
    gtin: str
    quantity: Decimal
    batch: str | None = None
    sscc: str | None = None
    cause_event_id: UUID | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise InvalidStockMove(f"a stock move needs a positive quantity, got {self.quantity}")
        if self.from_location == self.to_location:
            raise InvalidStockMove(
                f"a stock move needs two different locations, got {self.from_location!r} twice"
            )

    def deltas(self) -> list[tuple[StockKey, Decimal]]:
        """The balance changes this move causes: minus at the source, plus at the destination."""
        changes: list[tuple[StockKey, Decimal]] = []
        if self.from_location is not None:
            key = StockKey(self.from_location, self.gtin, self.batch, self.sscc)
            changes.append((key, -self.quantity))
        if self.to_location is not None:
            key = StockKey(self.to_location, self.gtin, self.batch, self.sscc)
            changes.append((key, self.quantity))
        return changes


def apply_move(balances: Mapping[StockKey, Decimal], move: StockMove) -> dict[StockKey, Decimal]:
    """New balances after `move`; NegativeStock if the source does not hold enough."""
    result = dict(balances)
    for key, delta in move.deltas():
        new = result.get(key, Decimal(0)) + delta
        if new < 0:
            raise NegativeStock(
                f"cannot move {move.quantity} of {key.gtin} out of {key.location}: "
                f"only {result.get(key, Decimal(0))} there"
            )
        result[key] = new
    return {key: qty for key, qty in result.items() if qty != 0}


def project(moves: Iterable[StockMove]) -> dict[StockKey, Decimal]:
    """The balances a sequence of moves adds up to, starting from nothing."""
    balances: dict[StockKey, Decimal] = {}
    for move in moves:
        balances = apply_move(balances, move)
    return balances
