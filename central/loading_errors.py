"""Errors of outbound shipments and load plans; the API maps them like every CentralError
(NotFound 404, Conflict 409, RuleViolation 422).

CentralError (central.domain.errors)
 ├── NotFound
 │    ├── UnknownShipment
 │    └── UnknownTrailerType
 ├── Conflict
 │    ├── ShipmentExists
 │    ├── PalletNotAvailable
 │    └── ShipmentAlreadyDispatched
 └── RuleViolation
      ├── PlanNotLoadable
      ├── NotEnoughStock
      └── NotOnRoute
"""

from central.domain.errors import Conflict, NotFound, RuleViolation


class UnknownShipment(NotFound):
    """No shipment with this id (or reference at the site); create it through POST /loads."""


class UnknownTrailerType(NotFound):
    """No trailer preset of this name; use one of central.loading_service.TRAILERS."""


class ShipmentExists(Conflict):
    """The site already has a shipment with this reference; choose another reference."""


class PalletNotAvailable(Conflict):
    """A pallet cannot be loaded: not in stock at the site, on hold, or on another shipment."""


class ShipmentAlreadyDispatched(Conflict):
    """The shipment left the site; its plan can no longer change or be sent."""


class PlanNotLoadable(RuleViolation):
    """The shipment's plan does not load every pallet within the limits, so it is not sent:
    take the left-out pallets off the shipment or choose a larger vehicle."""


class NotEnoughStock(RuleViolation):
    """Fewer free pallets in stock at the site than asked for."""


class NotOnRoute(RuleViolation):
    """A pallet names a delivery order that is not on the shipment's route (or the shipment
    names a route of another site); plan the order onto the route or fix the pallet's order."""
