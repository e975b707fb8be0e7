"""Errors of the central service, raised by the domain and the use cases; the API maps them to 4xx.

CentralError
 ├── NotFound                       (404)
 │    ├── UnknownSite
 │    ├── UnknownDock
 │    ├── UnknownItem
 │    ├── UnknownLocation
 │    ├── UnknownHandlingUnit
 │    ├── UnknownDeadLetter
 │    ├── UnknownLedgerEvent
 │    └── UnknownAccount
 ├── Forbidden                      (403)
 │    └── InvalidRouteToken          (central.route_tokens)
 ├── Conflict                       (409)
 │    ├── AlreadyExists
 │    ├── DeadLetterNotReapplicable
 │    ├── IdempotencyKeyReused
 │    └── ReceiptAlreadyValued
 └── RuleViolation                  (422)
      ├── InvalidStockMove
      ├── NegativeStock
      ├── AmbiguousStock
      └── WrongMovement

The posting engine's own errors (central.domain.accounting.errors.AccountingError) are mapped
to 4xx by the API as well (see central/api/errors.py).
"""


class CentralError(Exception):
    """Base of every error central raises on purpose."""


class NotFound(CentralError):
    """Something the request or event names does not exist in central's master data."""


class UnknownSite(NotFound):
    """No site with this code; create it through POST /sites first."""


class UnknownDock(NotFound):
    """The site has no dock with this code; add the dock to the site."""


class UnknownItem(NotFound):
    """No item with this GTIN; create the item through POST /items."""


class UnknownLocation(NotFound):
    """The site has no location (bin) with this code; create it through POST /locations."""


class UnknownHandlingUnit(NotFound):
    """No pallet (handling unit) with this SSCC was received."""


class UnknownDeadLetter(NotFound):
    """No dead letter with this id."""


class UnknownLedgerEvent(NotFound):
    """No posted movement (or waiting receipt) with this event id."""


class UnknownAccount(NotFound):
    """No account with this code in the chart of accounts."""


class Forbidden(CentralError):
    """The caller's credentials do not open what the request asks for."""


class Conflict(CentralError):
    """The request clashes with the current state."""


class AlreadyExists(Conflict):
    """A record with the same key already exists."""


class DeadLetterNotReapplicable(Conflict):
    """The dead letter cannot be re-applied (already re-applied, or the edge will resend it)."""


class RuleViolation(CentralError):
    """A warehouse rule forbids this."""


class InvalidStockMove(RuleViolation):
    """A stock move that makes no sense (zero quantity, same source and destination)."""


class NegativeStock(RuleViolation):
    """The move would take more stock out of a location than it holds."""


class IdempotencyKeyReused(Conflict):
    """The idempotency key was used before for a different request; send a new key."""


class ReceiptAlreadyValued(Conflict):
    """The receipt waiting for a price has been valued already."""


class AmbiguousStock(RuleViolation):
    """Several pallets or lots match; the request must name the SSCC or batch."""


class UnhandledEventType(RuleViolation):
    """The event type is valid on the wire but this version of central has no rule for it."""


class WrongMovement(RuleViolation):
    """The command does not fit the movement it refers to (e.g. reversing a non-receipt)."""
