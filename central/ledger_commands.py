"""Ops commands that move goods and post them to the books, each exactly once.

Every command runs in the caller's write transaction: it locks the site's row (as the ingest
does), books the stock move in the quantity ledger, posts the movement to the journal and keeps
its answer under the client's idempotency key; the caller commits all of it at once. A retried
command with the same key and body returns the stored answer; another body under the same key
is refused (IdempotencyKeyReused).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlmodel import Session, col, select

from central.domain.accounting import (
    AccountingPeriod,
    DocumentRecord,
    LedgerConfig,
    Movement,
    MovementType,
    PostingResult,
)
from central.domain.errors import (
    IdempotencyKeyReused,
    NegativeStock,
    ReceiptAlreadyValued,
    UnknownItem,
    UnknownLedgerEvent,
    UnknownLocation,
    UnknownSite,
    WrongMovement,
)
from central.ledger import open_ledger, post_movement
from central.ledger_schemas import (
    CommandBase,
    CountResultCreate,
    CustomerReturnCreate,
    InitialStockCreate,
    MovementPostedPublic,
    ProofOfDeliveryCreate,
    ReceiptReversalCreate,
    ReceiptValuationCreate,
    ReturnToVendorCreate,
    RevaluationCreate,
    StockIssueCreate,
    TransferDispatchCreate,
    TransferReceiptCreate,
    VendorInvoiceCreate,
    entry_public,
)
from central.stock_booking import StockBooking, StockPlace, book_stock_move, find_stock
from central.store import tables as t
from central.store.ledger_store import lock_ledger
from central.store.types import plain_decimal

logger = logging.getLogger(__name__)

_T = MovementType


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{plain_decimal(value):f}"
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def request_digest(request: BaseModel) -> str:
    """A digest of a request that ignores how numbers are spelled (10 and 10.0 are equal)."""
    text = json.dumps(_canonical(request.model_dump()), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CommandAnswer:
    """A command's answer, and whether it was stored from an earlier identical request."""

    posted: MovementPostedPublic
    replayed: bool


class LedgerCommands:
    """The ops commands of the books on one write session (the caller commits).

    Args:
        session: a write session (SQLite: BEGIN IMMEDIATE; PostgreSQL: row locks taken here).
        config: how movements post.
        clock: "now" for occurred_at defaults and records (UTC).
    """

    def __init__(
        self, session: Session, config: LedgerConfig, *, clock: Callable[[], datetime]
    ) -> None:
        self._session = session
        self._config = config
        self._clock = clock

    # ----------------------------------------------------------------- plumbing

    def _run(
        self,
        name: str,
        request: CommandBase,
        action: Callable[[], MovementPostedPublic],
    ) -> CommandAnswer:
        session = self._session
        self._lock_site(request.site)
        digest = request_digest(request)
        stored = session.get(t.LedgerCommand, request.idempotency_key)
        if stored is not None:
            if stored.kind != name or stored.request_sha256 != digest:
                raise IdempotencyKeyReused(
                    f"idempotency key {request.idempotency_key} was used for another "
                    f"{stored.kind} request; use a new key for a new command"
                )
            return CommandAnswer(MovementPostedPublic.model_validate_json(stored.response), True)
        posted = action()
        session.add(
            t.LedgerCommand(
                idempotency_key=request.idempotency_key,
                kind=name,
                request_sha256=digest,
                response=posted.model_dump_json(),
                created_at=self._clock(),
            )
        )
        session.flush()
        logger.info("%s %s at %s: %s", name, request.idempotency_key, request.site, posted.detail)
        return CommandAnswer(posted, False)

    def _lock_site(self, code: str) -> t.Site:
        site = self._session.exec(
            select(t.Site).where(t.Site.code == code).with_for_update()
        ).first()
        if site is None:
            raise UnknownSite(f"site {code} does not exist; create it through POST /sites")
        return site

    def _item(self, gtin: str) -> t.Item:
        item = self._session.exec(select(t.Item).where(t.Item.gtin == gtin)).first()
        if item is None:
            raise UnknownItem(f"no item with GTIN {gtin}; create it through POST /items")
        return item

    def _location(self, site: str, code: str) -> t.Location:
        location = self._session.exec(
            select(t.Location).where(t.Location.site_code == site, t.Location.code == code)
        ).first()
        if location is None:
            raise UnknownLocation(f"site {site} has no location {code}")
        return location

    def _lot(self, item: t.Item, batch: str | None) -> t.Lot | None:
        if batch is None:
            return None
        assert item.id is not None
        lot = self._session.exec(
            select(t.Lot).where(t.Lot.item_id == item.id, t.Lot.batch == batch)
        ).first()
        if lot is None:
            lot = t.Lot(item_id=item.id, batch=batch)
            self._session.add(lot)
            self._session.flush()
        return lot

    def _document(self, event_id: UUID, expected: set[MovementType], what: str) -> DocumentRecord:
        doc = open_ledger(self._session, self._config).store.document(event_id)
        if doc is None:
            raise UnknownLedgerEvent(f"no {what} with event id {event_id} was posted")
        if doc.movement_type not in expected:
            raise WrongMovement(f"event {event_id} is a {doc.movement_type}, not a {what}")
        return doc

    def _currency(self, site: str) -> str:
        return self._config.site(site).currency

    def _when(self, request: CommandBase) -> datetime:
        return request.occurred_at or self._clock()

    def _post(self, movement: Movement) -> PostingResult:
        return post_movement(self._session, movement, config=self._config, clock=self._clock)

    def _move(
        self,
        request: CommandBase,
        *,
        source: t.Location | None,
        destination: t.Location | None,
        item: t.Item,
        lot: t.Lot | None,
        hu: t.HandlingUnit | None,
        quantity: Decimal,
    ) -> None:
        book_stock_move(
            self._session,
            StockBooking(
                request.site, source, destination, item, lot, hu, quantity, request.idempotency_key
            ),
            now=self._clock(),
        )

    def _take(self, request: CommandBase, place: StockPlace, quantity: Decimal) -> None:
        """Take stock out of a place (out of the site), keeping its pallet's quantity right."""
        if quantity > place.quantity:
            raise NegativeStock(
                f"{place.location.code} holds {place.quantity} of item {place.item.gtin}, "
                f"{quantity} requested"
            )
        self._move(
            request,
            source=place.location,
            destination=None,
            item=place.item,
            lot=place.lot,
            hu=place.hu,
            quantity=quantity,
        )
        if place.hu is not None:
            place.hu.quantity = place.hu.quantity - quantity
            self._session.add(place.hu)

    def _answer(
        self,
        name: str,
        request: CommandBase,
        movement: Movement | None,
        result: PostingResult | None,
        detail: str,
    ) -> MovementPostedPublic:
        entry = result.entry if result is not None else None
        return MovementPostedPublic(
            idempotency_key=request.idempotency_key,
            command=name,
            movement_type=movement.movement_type.value if movement else None,
            site=request.site,
            gtin=movement.item if movement else None,
            quantity=movement.quantity if movement else None,
            entry=entry_public(entry, self._config.chart) if entry is not None else None,
            detail=detail,
        )

    def _movement(
        self,
        request: CommandBase,
        movement_type: MovementType,
        gtin: str,
        quantity: Decimal,
        **extra: Any,
    ) -> Movement:
        return Movement(
            event_id=request.idempotency_key,
            movement_type=movement_type,
            site=request.site,
            item=gtin,
            quantity=quantity,
            occurred_at=self._when(request),
            currency=self._currency(request.site),
            **extra,
        )

    # ----------------------------------------------------------------- stock out

    def issue(
        self, name: str, movement_type: MovementType, request: StockIssueCreate
    ) -> CommandAnswer:
        """Scrap, consumption, customer delivery or transfer dispatch out of a location."""

        def action() -> MovementPostedPublic:
            item = self._item(request.gtin)
            extra: dict[str, Any] = {}
            if isinstance(request, TransferDispatchCreate):
                if self._session.get(t.Site, request.to_site) is None:
                    raise UnknownSite(f"receiving site {request.to_site} does not exist")
                extra["to_site"] = request.to_site
            place = find_stock(
                self._session,
                site=request.site,
                location=self._location(request.site, request.location),
                item=item,
                batch=request.batch,
                sscc=request.sscc,
            )
            self._take(request, place, request.quantity)
            movement = self._movement(request, movement_type, item.gtin, request.quantity, **extra)
            result = self._post(movement)
            return self._answer(
                name,
                request,
                movement,
                result,
                f"{request.quantity} x {item.gtin} out of {request.location}",
            )

        return self._run(name, request, action)

    def count(self, request: CountResultCreate) -> CommandAnswer:
        """A count result: the difference to the book posts as a surplus or a shortage."""

        def action() -> MovementPostedPublic:
            item = self._item(request.gtin)
            location = self._location(request.site, request.location)
            try:
                place: StockPlace | None = find_stock(
                    self._session,
                    site=request.site,
                    location=location,
                    item=item,
                    batch=request.batch,
                    sscc=request.sscc,
                )
            except NegativeStock:
                place = None
            book = place.quantity if place is not None else Decimal(0)
            difference = request.counted_quantity - book
            if difference == 0:
                return self._answer(
                    "count", request, None, None, f"count matches the book ({book})"
                )
            if difference < 0:
                assert place is not None
                self._take(request, place, -difference)
                movement = self._movement(request, _T.COUNT_SHORTAGE, item.gtin, -difference)
            else:
                if request.sscc is not None and place is None:
                    raise WrongMovement(
                        f"pallet {request.sscc} is not in {location.code}; count the loose stock "
                        "without an SSCC, or book the pallet's movement first"
                    )
                self._move(
                    request,
                    source=None,
                    destination=location,
                    item=item,
                    lot=place.lot if place else self._lot(item, request.batch),
                    hu=place.hu if place else None,
                    quantity=difference,
                )
                if place is not None and place.hu is not None:
                    place.hu.quantity = place.hu.quantity + difference
                    self._session.add(place.hu)
                movement = self._movement(
                    request,
                    _T.COUNT_SURPLUS,
                    item.gtin,
                    difference,
                    unit_price=request.unit_price,
                )
            result = self._post(movement)
            return self._answer(
                "count",
                request,
                movement,
                result,
                f"counted {request.counted_quantity}, book {book}: {movement.movement_type}",
            )

        return self._run("count", request, action)

    def return_to_vendor(self, request: ReturnToVendorCreate) -> CommandAnswer:
        """Send received goods back to the supplier, at the receipt's price."""

        def action() -> MovementPostedPublic:
            doc = self._document(request.receipt_event_id, {_T.GOODS_RECEIPT}, "goods receipt")
            item = self._item(doc.item)
            place = find_stock(
                self._session,
                site=request.site,
                location=self._location(request.site, request.location),
                item=item,
                batch=request.batch,
                sscc=request.sscc,
            )
            self._take(request, place, request.quantity)
            movement = self._movement(
                request,
                _T.RETURN_TO_VENDOR,
                doc.item,
                request.quantity,
                reference=request.receipt_event_id,
            )
            result = self._post(movement)
            return self._answer(
                "return_to_vendor",
                request,
                movement,
                result,
                f"{request.quantity} x {doc.item} back to the supplier",
            )

        return self._run("return_to_vendor", request, action)

    def reverse_receipt(self, request: ReceiptReversalCreate) -> CommandAnswer:
        """Reverse a whole goods receipt (storno): stock out, entry at the original values."""

        def action() -> MovementPostedPublic:
            doc = self._document(request.receipt_event_id, {_T.GOODS_RECEIPT}, "goods receipt")
            original = self._session.exec(
                select(t.StockMove)
                .where(t.StockMove.cause_event_id == request.receipt_event_id)
                .order_by(col(t.StockMove.id))
            ).first()
            if original is None or original.to_location_id is None:
                raise UnknownLedgerEvent(
                    f"no stock move was booked for receipt {request.receipt_event_id}"
                )
            item = self._session.get(t.Item, original.item_id)
            lot = self._session.get(t.Lot, original.lot_id) if original.lot_id else None
            hu = (
                self._session.get(t.HandlingUnit, original.handling_unit_id)
                if original.handling_unit_id
                else None
            )
            assert item is not None
            if request.location is not None:
                location = self._location(request.site, request.location)
            else:
                found = self._session.get(
                    t.Location, hu.location_id if hu is not None else original.to_location_id
                )
                assert found is not None
                location = found
            place = find_stock(
                self._session,
                site=request.site,
                location=location,
                item=item,
                batch=lot.batch if lot else None,
                sscc=hu.sscc if hu else None,
            )
            movement = self._movement(
                request, _T.REVERSAL, doc.item, doc.quantity, reference=request.receipt_event_id
            )
            # The books first: a receipt with invoices or returns drawn on it cannot be reversed.
            result = self._post(movement)
            self._take(request, place, doc.quantity)
            return self._answer(
                "receipt_reversal",
                request,
                movement,
                result,
                f"receipt {request.receipt_event_id} reversed, {doc.quantity} x {doc.item} "
                f"out of {location.code}",
            )

        return self._run("receipt_reversal", request, action)

    # ----------------------------------------------------------------- stock in

    def _receive(
        self,
        name: str,
        request: CommandBase,
        movement: Movement,
        location_code: str,
        batch: str | None,
    ) -> MovementPostedPublic:
        item = self._item(movement.item)
        location = self._location(request.site, location_code)
        self._move(
            request,
            source=None,
            destination=location,
            item=item,
            lot=self._lot(item, batch),
            hu=None,
            quantity=movement.quantity,
        )
        result = self._post(movement)
        return self._answer(
            name,
            request,
            movement,
            result,
            f"{movement.quantity} x {movement.item} into {location.code}",
        )

    def transfer_receipt(self, request: TransferReceiptCreate) -> CommandAnswer:
        """Receive goods of a transfer from another site, out of transit."""

        def action() -> MovementPostedPublic:
            doc = self._document(
                request.dispatch_event_id, {_T.TRANSFER_DISPATCH}, "transfer dispatch"
            )
            movement = self._movement(
                request,
                _T.TRANSFER_RECEIPT,
                doc.item,
                request.quantity,
                reference=request.dispatch_event_id,
            )
            return self._receive(
                "transfer_receipt", request, movement, request.location, request.batch
            )

        return self._run("transfer_receipt", request, action)

    def customer_return(self, request: CustomerReturnCreate) -> CommandAnswer:
        """Goods a customer sends back, at the value they left with."""

        def action() -> MovementPostedPublic:
            doc = self._document(
                request.dispatch_event_id, {_T.DELIVERY_DISPATCH}, "delivery dispatch"
            )
            movement = self._movement(
                request,
                _T.CUSTOMER_RETURN,
                doc.item,
                request.quantity,
                reference=request.dispatch_event_id,
            )
            return self._receive(
                "customer_return", request, movement, request.location, request.batch
            )

        return self._run("customer_return", request, action)

    def initial_stock(self, request: InitialStockCreate) -> CommandAnswer:
        """Opening stock entered with its value."""

        def action() -> MovementPostedPublic:
            movement = self._movement(
                request,
                _T.INITIAL_STOCK_LOAD,
                request.gtin,
                request.quantity,
                unit_price=request.unit_price,
            )
            return self._receive(
                "initial_stock", request, movement, request.location, request.batch
            )

        return self._run("initial_stock", request, action)

    # ----------------------------------------------------------------- value only

    def proof_of_delivery(self, request: ProofOfDeliveryCreate) -> CommandAnswer:
        """The customer has the goods: their value moves from transit to cost of goods sold."""

        def action() -> MovementPostedPublic:
            doc = self._document(
                request.dispatch_event_id, {_T.DELIVERY_DISPATCH}, "delivery dispatch"
            )
            movement = self._movement(
                request,
                _T.PROOF_OF_DELIVERY,
                doc.item,
                request.quantity,
                reference=request.dispatch_event_id,
            )
            result = self._post(movement)
            return self._answer(
                "proof_of_delivery", request, movement, result, f"{request.quantity} delivered"
            )

        return self._run("proof_of_delivery", request, action)

    def vendor_invoice(self, request: VendorInvoiceCreate) -> CommandAnswer:
        """The supplier's invoice against a receipt: clears GR/IR, the variance goes to stock
        (still on hand) or price differences."""

        def action() -> MovementPostedPublic:
            doc = self._document(request.receipt_event_id, {_T.GOODS_RECEIPT}, "goods receipt")
            movement = self._movement(
                request,
                _T.VENDOR_INVOICE,
                doc.item,
                request.quantity,
                unit_price=request.unit_price,
                reference=request.receipt_event_id,
            )
            result = self._post(movement)
            return self._answer(
                "vendor_invoice",
                request,
                movement,
                result,
                f"{request.quantity} x {doc.item} invoiced at {request.unit_price}",
            )

        return self._run("vendor_invoice", request, action)

    def revaluation(self, request: RevaluationCreate) -> CommandAnswer:
        """A new unit cost for the item's stock at the site."""

        def action() -> MovementPostedPublic:
            self._item(request.gtin)
            movement = self._movement(
                request,
                _T.REVALUATION,
                request.gtin,
                request.quantity_on_hand,
                unit_price=request.unit_cost,
            )
            result = self._post(movement)
            return self._answer(
                "revaluation",
                request,
                movement,
                result,
                f"{request.gtin} revalued to {request.unit_cost}",
            )

        return self._run("revaluation", request, action)

    # ----------------------------------------------------------------- receipts without a value

    def value_receipt(self, event_id: UUID, request: ReceiptValuationCreate) -> CommandAnswer:
        """Post the goods receipt of stock that came in without a price (idempotent by the
        receipt's own event id: the same price again posts nothing, another is refused)."""
        session = self._session
        row = session.get(t.LedgerUnvaluedReceipt, event_id)
        if row is None:
            raise UnknownLedgerEvent(f"no receipt {event_id} is waiting for a price")
        self._lock_site(row.site_code)
        currency = self._currency(row.site_code)
        if request.currency is not None and request.currency != currency:
            raise WrongMovement(
                f"site {row.site_code} values stock in {currency}; send the price in {currency}"
            )
        movement = Movement(
            event_id=event_id,
            movement_type=_T.GOODS_RECEIPT,
            site=row.site_code,
            item=row.item,
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            currency=currency,
            unit_price=request.unit_price,
        )
        stored = open_ledger(session, self._config).store.posted(event_id)
        if stored is not None and stored.movement != movement:
            raise ReceiptAlreadyValued(
                f"receipt {event_id} was valued at {stored.movement.unit_price} already; "
                "to correct it, post a vendor invoice or a revaluation"
            )
        result = self._post(movement)
        if row.status == "open":
            row.status = "valued"
            row.valued_at = self._clock()
            session.add(row)
        session.flush()
        answer = MovementPostedPublic(
            idempotency_key=event_id,
            command="receipt_valuation",
            movement_type=movement.movement_type.value,
            site=row.site_code,
            gtin=row.item,
            quantity=row.quantity,
            entry=entry_public(result.entry, self._config.chart) if result.entry else None,
            detail=f"{row.quantity} x {row.item} valued at {request.unit_price} {currency}",
        )
        return CommandAnswer(answer, result.duplicate)

    # ----------------------------------------------------------------- periods

    def close_period(self, period: AccountingPeriod) -> datetime:
        """Close a month for posting; returns when it was closed (first time)."""
        lock_ledger(self._session)
        ledger = open_ledger(self._session, self._config, clock=self._clock)
        ledger.close_period(period)
        row = self._session.get(t.LedgerClosedPeriod, (period.year, period.month))
        assert row is not None
        return row.closed_at
