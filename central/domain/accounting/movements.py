"""Goods movements as the posting engine receives them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from central.domain.accounting.errors import InvalidMovement
from central.domain.accounting.money import minor_unit


class MovementType(StrEnum):
    """Every goods movement the engine posts (SAP movement type in the comment)."""

    GOODS_RECEIPT = "goods_receipt"  # 101, against a PO at the PO price
    RETURN_TO_VENDOR = "return_to_vendor"  # 122, at the original receipt's price
    VENDOR_INVOICE = "vendor_invoice"  # MIRO, against a receipt
    DELIVERY_DISPATCH = "delivery_dispatch"  # 601 part 1: stock leaves on a truck
    PROOF_OF_DELIVERY = "proof_of_delivery"  # 601 part 2: the customer has it
    CUSTOMER_RETURN = "customer_return"  # 653, at the original issue value
    CONSUMPTION = "consumption"  # 201/261
    SCRAP = "scrap"  # 551
    COUNT_SURPLUS = "count_surplus"  # 701
    COUNT_SHORTAGE = "count_shortage"  # 702
    TRANSFER_DISPATCH = "transfer_dispatch"  # 303, into transit
    TRANSFER_RECEIPT = "transfer_receipt"  # 305, out of transit at the receiving site
    BIN_TRANSFER = "bin_transfer"  # 311, quantity only
    INITIAL_STOCK_LOAD = "initial_stock_load"  # 561
    REVALUATION = "revaluation"  # MR21
    REVERSAL = "reversal"  # storno of an earlier movement (102 for a receipt)


@dataclass(frozen=True)
class Movement:
    """One goods movement, identified by the edge event id that caused it.

    Args:
        event_id: the idempotency key; posting the same id twice posts once.
        movement_type: what happened; the posting rule is looked up by it.
        site: the site whose stock changes (the receiving site for a transfer receipt).
        item: the item (SKU) moved.
        quantity: always positive; the rule gives the direction. For a revaluation, the
            quantity on hand the new price was decided on.
        occurred_at: when it physically happened (timezone-aware).
        currency: the site's valuation currency.
        unit_price: PO price (receipt), invoice price (invoice), entered value per unit
            (initial load, optional for a count surplus), new unit cost (revaluation).
        reference: the event this one draws on (receipt, dispatch, or the reversed event).
        to_site: the receiving site of a transfer dispatch.
    """

    event_id: UUID
    movement_type: MovementType
    site: str
    item: str
    quantity: Decimal
    occurred_at: datetime
    currency: str = "EUR"
    unit_price: Decimal | None = None
    reference: UUID | None = None
    to_site: str | None = None

    def __post_init__(self) -> None:
        if not self.site or not self.item:
            raise InvalidMovement(f"event {self.event_id}: site and item are required")
        if not isinstance(self.quantity, Decimal) or not self.quantity.is_finite():
            raise InvalidMovement(f"event {self.event_id}: quantity must be a finite Decimal")
        if self.quantity <= 0:
            raise InvalidMovement(
                f"event {self.event_id}: quantity must be positive, got {self.quantity}"
            )
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise InvalidMovement(f"event {self.event_id}: occurred_at must be timezone-aware")
        minor_unit(self.currency)
        if self.unit_price is not None and (
            not isinstance(self.unit_price, Decimal)
            or not self.unit_price.is_finite()
            or self.unit_price < 0
        ):
            raise InvalidMovement(
                f"event {self.event_id}: unit price must be a Decimal >= 0, got {self.unit_price}"
            )
        if self.to_site == self.site:
            raise InvalidMovement(f"event {self.event_id}: a transfer needs a different site")
