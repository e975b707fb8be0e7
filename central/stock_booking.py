"""Booking stock moves into the quantity ledger (stock_move rows and stock_balance projection).

Shared by the edge-event ingest and the ops commands of the books, so both keep the same
balances; the caller's transaction also holds the move's journal entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlmodel import Session, col, select

from central.domain.errors import AmbiguousStock, NegativeStock
from central.domain.stock import StockKey, StockMove, apply_move
from central.store import tables as t


def balance_key(location_id: int, item_id: int, lot_id: int | None, hu_id: int | None) -> str:
    """The unique key of a stock_balance row."""
    return f"{location_id}:{item_id}:{lot_id or '-'}:{hu_id or '-'}"


@dataclass(frozen=True)
class StockBooking:
    """A quantity of an item (lot, handling unit) moving from `source` to `destination`.

    `source` None: the goods come from outside the site; `destination` None: they leave it.
    """

    site: str
    source: t.Location | None
    destination: t.Location | None
    item: t.Item
    lot: t.Lot | None
    hu: t.HandlingUnit | None
    quantity: Decimal
    cause: UUID


def book_stock_move(session: Session, booking: StockBooking, *, now: datetime) -> None:
    """Write one stock move and bring the balances it touches up to date.

    Raises NegativeStock if the source does not hold the quantity.
    """
    item, lot, hu = booking.item, booking.lot, booking.hu
    assert item.id is not None
    move = StockMove(
        from_location=booking.source.code if booking.source else None,
        to_location=booking.destination.code if booking.destination else None,
        gtin=item.gtin,
        quantity=booking.quantity,
        batch=lot.batch if lot else None,
        sscc=hu.sscc if hu else None,
        cause_event_id=booking.cause,
    )
    rows: dict[StockKey, tuple[t.Location, t.StockBalance | None]] = {}
    for location in (booking.source, booking.destination):
        if location is None:
            continue
        assert location.id is not None
        key = balance_key(location.id, item.id, lot.id if lot else None, hu.id if hu else None)
        balance = session.exec(select(t.StockBalance).where(t.StockBalance.key == key)).first()
        rows[StockKey(location.code, item.gtin, move.batch, move.sscc)] = (location, balance)
    current = {k: (b.quantity if b else Decimal(0)) for k, (_loc, b) in rows.items()}
    after = apply_move(current, move)
    for stock_key, (location, balance) in rows.items():
        assert location.id is not None
        new_quantity = after.get(stock_key, Decimal(0))
        if balance is None:
            balance = t.StockBalance(
                key=balance_key(
                    location.id, item.id, lot.id if lot else None, hu.id if hu else None
                ),
                site_code=booking.site,
                location_id=location.id,
                item_id=item.id,
                lot_id=lot.id if lot else None,
                handling_unit_id=hu.id if hu else None,
                quantity=new_quantity,
                updated_at=now,
            )
        else:
            balance.quantity = new_quantity
            balance.updated_at = now
        session.add(balance)
    session.add(
        t.StockMove(
            site_code=booking.site,
            from_location_id=booking.source.id if booking.source else None,
            to_location_id=booking.destination.id if booking.destination else None,
            item_id=item.id,
            lot_id=lot.id if lot else None,
            handling_unit_id=hu.id if hu else None,
            quantity=booking.quantity,
            cause_event_id=booking.cause,
            created_at=now,
        )
    )


@dataclass(frozen=True)
class StockPlace:
    """One stock balance: a location holding an item (lot, handling unit)."""

    location: t.Location
    item: t.Item
    lot: t.Lot | None
    hu: t.HandlingUnit | None
    quantity: Decimal


def find_stock(
    session: Session,
    *,
    site: str,
    location: t.Location,
    item: t.Item,
    batch: str | None = None,
    sscc: str | None = None,
) -> StockPlace:
    """The one balance of `item` in `location` (narrowed by batch / SSCC) to take stock from.

    Raises NegativeStock if there is none, AmbiguousStock if several pallets or batches match.
    """
    statement = (
        select(t.StockBalance, t.Lot, t.HandlingUnit)
        .outerjoin(t.Lot, col(t.Lot.id) == t.StockBalance.lot_id)
        .outerjoin(t.HandlingUnit, col(t.HandlingUnit.id) == t.StockBalance.handling_unit_id)
        .where(
            t.StockBalance.site_code == site,
            t.StockBalance.location_id == location.id,
            t.StockBalance.item_id == item.id,
            t.StockBalance.quantity != Decimal(0),
        )
        .order_by(col(t.StockBalance.id))
    )
    if batch is not None:
        statement = statement.where(t.Lot.batch == batch)
    if sscc is not None:
        statement = statement.where(t.HandlingUnit.sscc == sscc)
    found = session.exec(statement).all()
    what = (
        f"item {item.gtin}"
        + (f" batch {batch}" if batch else "")
        + (f" SSCC {sscc}" if sscc else "")
    )
    if not found:
        raise NegativeStock(f"there is no {what} in {location.code} at site {site}")
    if len(found) > 1:
        options = ", ".join(
            f"SSCC {hu.sscc}" if hu else (f"batch {lot.batch}" if lot else "loose stock")
            for _b, lot, hu in found
        )
        raise AmbiguousStock(
            f"{location.code} holds several lots or pallets of {what} ({options}); "
            "name the SSCC or batch to take from"
        )
    balance, lot, hu = found[0]
    return StockPlace(location, item, lot, hu, balance.quantity)
