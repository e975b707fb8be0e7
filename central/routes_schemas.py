"""Input and output models of the route control API: vehicles, delivery orders, route plans."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from contracts.envelope import SiteCode


class VehicleCreate(BaseModel):
    """A delivery vehicle of a site. Money in the site's currency."""

    site: SiteCode
    ref: str = Field(min_length=1, max_length=40, description="Fleet number or plate")
    capacity_kg: Decimal = Field(gt=0)
    capacity_pallets: int | None = Field(default=None, ge=0)
    fixed_cost: Decimal = Field(default=Decimal(0), ge=0, description="Per day the vehicle runs")
    cost_per_km: Decimal = Field(default=Decimal(0), ge=0)
    cost_per_hour: Decimal = Field(default=Decimal(0), ge=0)
    shift_length_s: int | None = Field(default=None, gt=0, description="Longest route span")
    break_after_driving_s: int | None = Field(
        default=None, gt=0, description="Driving allowed between breaks, e.g. 16200 (4.5 h)"
    )
    break_duration_s: int = Field(default=0, ge=0, description="e.g. 2700 (45 min)")
    available: bool = True
    maintenance_due: date | None = Field(
        default=None, description="Not planned on this day or later until it is moved"
    )

    @model_validator(mode="after")
    def _break_rule(self) -> VehicleCreate:
        if self.break_after_driving_s is not None and self.break_duration_s <= 0:
            raise ValueError("a break rule needs break_duration_s > 0")
        return self


class VehiclePublic(VehicleCreate):
    """A stored vehicle."""

    id: int


class OrderCreate(BaseModel):
    """A delivery on `delivery_date`; the window (UTC times of day) bounds the start of
    unloading; no `window_latest` means until the end of the day."""

    site: SiteCode
    reference: str = Field(min_length=1, max_length=64)
    customer: str = Field(min_length=1, max_length=120)
    address: str = Field(default="", max_length=200)
    lat: Decimal = Field(ge=-90, le=90)
    lon: Decimal = Field(ge=-180, le=180)
    demand_kg: Decimal = Field(ge=0)
    demand_pallets: int = Field(default=0, ge=0)
    window_earliest: time = time(0)
    window_latest: time | None = None
    service_s: int = Field(default=0, ge=0, description="Unloading time at the customer")
    delivery_date: date

    @model_validator(mode="after")
    def _window(self) -> OrderCreate:
        if self.window_latest is not None and self.window_latest < self.window_earliest:
            raise ValueError("the time window closes before it opens")
        return self


class OrderPublic(OrderCreate):
    """A stored delivery order; status open, or planned once on a route plan."""

    id: int
    status: str


class PlanRequest(BaseModel):
    """Plan the site's deliveries of a day from the site (the depot, at depot_lat/depot_lon)."""

    site: SiteCode
    date: date
    depot_lat: Decimal = Field(ge=-90, le=90)
    depot_lon: Decimal = Field(ge=-180, le=180)
    time_limit_s: float = Field(default=10, gt=0, le=600)


class PlannedStopPublic(BaseModel):
    """A delivery on a route, in delivery order; `eta` is the planned start of unloading."""

    sequence: int
    order_id: int
    reference: str
    customer: str
    address: str
    window_earliest: time
    window_latest: time | None
    eta: datetime
    departure_at: datetime
    demand_kg: Decimal
    demand_pallets: int


class PlannedRoutePublic(BaseModel):
    """One vehicle's tour: leaves the site at `start_at`, back at `end_at`."""

    id: int
    vehicle_id: int
    vehicle_ref: str
    start_at: datetime
    end_at: datetime
    km: Decimal
    hours: Decimal
    load_kg: Decimal
    load_pallets: int
    stops: list[PlannedStopPublic]


class RoutePlanPublic(BaseModel):
    """A route plan; `dropped` lists the orders no vehicle could take (status incomplete)."""

    id: int
    site: str
    date: date
    engine: str
    status: str
    cost: Decimal
    created_at: datetime
    notes: list[str]
    dropped: list[str] = Field(description="References of orders left unplanned")
    routes: list[PlannedRoutePublic]


class RouteSheetRequest(BaseModel):
    """Print a route's driver sheet at a dock of the plan's site."""

    dock: str = Field(min_length=1, max_length=40)


class RouteSheetQueued(BaseModel):
    """The print.route_sheet command queued for the site's edge."""

    command_id: UUID
    site: str
    dock: str
    route_id: int
    lines: list[str]
    qr: str
