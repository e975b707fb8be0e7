"""Errors raised by the posting engine.

AccountingError
├── InvalidMovement            (a movement that can never post: missing price, wrong reference...)
│   ├── UnknownCurrency
│   └── ReferenceMismatch      (site, item, quantity or currency differ from the reference)
├── ReferenceNotFound          (the referenced event was never posted)
├── DocumentReversed           (the referenced event has been reversed already)
├── ReversalNotAllowed         (later documents depend on it, or the type cannot be reversed)
├── QuantityExceedsDocument    (returning, invoicing or delivering more than the document holds)
├── NegativeStockRefused       (the site refuses stock below zero)
├── MissingUnitCost            (nothing to value the stock at)
├── StaleRevaluation           (the price change was decided on a different quantity on hand)
├── IdempotencyConflict        (same event id, different content)
└── ChartOfAccountsError       (an account mapping is missing or inconsistent)
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID


class AccountingError(Exception):
    """Base class of every posting-engine error."""


class InvalidMovement(AccountingError):
    """The movement is malformed for its type and can never be posted as sent."""


class UnknownCurrency(InvalidMovement):
    """The currency code has no known minor unit."""

    def __init__(self, currency: str) -> None:
        super().__init__(f"currency {currency!r} is not configured; use an ISO 4217 code we know")
        self.currency = currency


class ReferenceMismatch(InvalidMovement):
    """The movement does not match the document it refers to."""


class ReferenceNotFound(AccountingError):
    """The referenced event has not been posted (yet)."""

    def __init__(self, event_id: UUID, reference: UUID) -> None:
        super().__init__(
            f"event {event_id} refers to event {reference}, which has not been posted; "
            "post the original first"
        )
        self.event_id = event_id
        self.reference = reference


class DocumentReversed(AccountingError):
    """The referenced event was reversed, so nothing can draw on it any more."""

    def __init__(self, reference: UUID, reversed_by: UUID) -> None:
        super().__init__(f"event {reference} was reversed by event {reversed_by}")
        self.reference = reference
        self.reversed_by = reversed_by


class ReversalNotAllowed(AccountingError):
    """The original cannot be reversed as a whole (dependent documents or its type)."""


class QuantityExceedsDocument(AccountingError):
    """The movement draws more quantity than the referenced document has left."""

    def __init__(self, reference: UUID, requested: Decimal, available: Decimal) -> None:
        super().__init__(
            f"event {reference} has {available} left, but {requested} was requested; "
            "check the quantity or the referenced document"
        )
        self.reference = reference
        self.requested = requested
        self.available = available


class NegativeStockRefused(AccountingError):
    """The site's policy refuses a movement that would take stock below zero."""

    def __init__(self, site: str, item: str, on_hand: Decimal, requested: Decimal) -> None:
        super().__init__(
            f"site {site} has {on_hand} of item {item} on hand but {requested} was requested; "
            "post the missing receipt or count first"
        )
        self.site = site
        self.item = item
        self.on_hand = on_hand
        self.requested = requested


class MissingUnitCost(AccountingError):
    """No unit cost is known to value the stock with."""

    def __init__(self, site: str, item: str) -> None:
        super().__init__(
            f"no unit cost is known for item {item} at site {site}; "
            "post a receipt or an initial stock load with a price first"
        )
        self.site = site
        self.item = item


class StaleRevaluation(AccountingError):
    """A price change quotes an on-hand quantity that no longer holds."""

    def __init__(self, site: str, item: str, quoted: Decimal, on_hand: Decimal) -> None:
        super().__init__(
            f"price change for item {item} at site {site} was made for {quoted} on hand, "
            f"but {on_hand} is on hand now; re-check the price and send it again"
        )
        self.site = site
        self.item = item
        self.quoted = quoted
        self.on_hand = on_hand


class IdempotencyConflict(AccountingError):
    """An event id was posted before with different content."""

    def __init__(self, event_id: UUID) -> None:
        super().__init__(
            f"event {event_id} was already posted with different content; "
            "a correction needs a new event id (post a reversal and the corrected movement)"
        )
        self.event_id = event_id


class ChartOfAccountsError(AccountingError):
    """The chart of accounts is incomplete or inconsistent."""
