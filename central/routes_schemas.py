"""Input and output models of the route control API: vehicles, delivery orders, route plans."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, model_validator

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
    instructions: str = Field(default="", max_length=500, description="For the driver")
    optional: bool = Field(
        default=False, description="May be left out of the day's plan when not everything fits"
    )
    penalty: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="Cost of leaving an optional order out (money of the plan); the plan "
        "leaves it out only when serving it costs more",
    )

    @model_validator(mode="after")
    def _penalty_of_optional(self) -> OrderCreate:
        if self.penalty and not self.optional:
            raise ValueError("a penalty only applies to an optional order")
        return self

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
    circuity: Decimal = Field(
        default=Decimal("1.3"),
        ge=1,
        le=3,
        description="Road distance / straight-line distance in the area (1.3: typical towns)",
    )
    speed_kmh: Decimal = Field(default=Decimal(50), gt=0, le=130, description="Average speed")


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
    circuity: Decimal
    speed_kmh: Decimal
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


# ----------------------------------------------------------------------------- route control


class DriverEventType(StrEnum):
    """What a driver (or ops on the driver's behalf) reports on a route."""

    DEPARTED = "departed"  # left the site with the load
    ARRIVED = "arrived"  # at a stop (names it)
    DELIVERED = "delivered"  # proof of delivery taken at a stop (names it)
    FAILED = "failed"  # could not deliver at a stop (names it, with a reason)
    RETURNED = "returned"  # back at the site: the route is over


class DriverEventIn(BaseModel):
    """A driver's report. `id` makes a retried report count once: the driver page and any
    client make it once per report and send the same id again on retry."""

    id: UUID | None = Field(default=None, description="Idempotency key; made by the client")
    type: DriverEventType
    stop: int | None = Field(default=None, ge=1, description="Stop sequence on the route")
    at: AwareDatetime | None = Field(default=None, description="When it happened; now if left out")
    received_by: str | None = Field(
        default=None, max_length=120, description="Proof of delivery: who took the goods"
    )
    reason: str | None = Field(default=None, max_length=200, description="Why delivery failed")
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _complete(self) -> DriverEventIn:
        at_stop = self.type in (
            DriverEventType.ARRIVED,
            DriverEventType.DELIVERED,
            DriverEventType.FAILED,
        )
        if at_stop and self.stop is None:
            raise ValueError(f"a '{self.type.value}' report must name the stop")
        if not at_stop and self.stop is not None:
            raise ValueError(f"a '{self.type.value}' report is about the route, not a stop")
        if self.type is DriverEventType.DELIVERED and not (self.received_by or "").strip():
            raise ValueError("proof of delivery needs the name of who received the goods")
        if self.type is DriverEventType.FAILED and not (self.reason or "").strip():
            raise ValueError("a failed delivery needs a reason")
        return self


class PositionPublic(BaseModel):
    """The vehicle's newest telematics sample."""

    at: datetime
    lat: float
    lon: float
    speed_kmh: float


class RouteAlertPublic(BaseModel):
    """An open alert about the route (late, out of sequence, skipped, idle, off route)."""

    id: int
    kind: str
    message: str
    created_at: datetime


class StopStatusPublic(PlannedStopPublic):
    """A stop with what happened there and its current ETA."""

    lat: Decimal
    lon: Decimal
    service_s: int
    instructions: str
    pallets: list[str] = Field(description="SSCCs to unload here")
    state: str = Field(description="pending, arrived, delivered or failed")
    predicted_eta: datetime | None = Field(description="Current ETA; None once done")
    late_by_s: int = Field(description="> 0: predicted (or actual) start past the window")
    arrived_at: datetime | None
    done_at: datetime | None
    received_by: str | None
    failed_reason: str | None


class RouteStatusPublic(BaseModel):
    """A route as it is driven: plan, progress, ETAs, the vehicle's position and open alerts.

    `state`: planned (not left yet), under_way, completed.
    """

    route_id: int
    plan_id: int
    site: str
    date: date
    vehicle_ref: str
    state: str
    depot_lat: Decimal
    depot_lon: Decimal
    start_at: datetime
    end_at: datetime
    km: Decimal
    load_kg: Decimal
    load_pallets: int
    departed_at: datetime | None
    completed_at: datetime | None
    position: PositionPublic | None
    stops: list[StopStatusPublic]
    alerts: list[RouteAlertPublic]


class DriverLink(BaseModel):
    """The driver page of a route, with its route-scoped token."""

    route_id: int
    url: str


class ReplanRequest(BaseModel):
    """Re-plan the stops of a plan not reached yet (routes under way keep what they drove and
    the stop they head to)."""

    time_limit_s: float = Field(default=5, gt=0, le=120)
    as_of: AwareDatetime | None = Field(
        default=None,
        description="Re-plan as of this time; default: the newest position or report on the "
        "plan's routes (simulated days run ahead of the clock), else now",
    )
    eta_change_penalty_per_min: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        description="Cost per minute a promised ETA moves (either way), in the plan's money",
    )
    report_eta_change_min: int = Field(
        default=10, ge=0, description="Report an ETA that moves by more than this"
    )
    include_new_orders: bool = Field(
        default=True, description="Also plan the day's open orders that are on no route yet"
    )


class ReplanChangePublic(BaseModel):
    """A stop whose plan changed: moved to another vehicle, ETA moved, added or dropped."""

    order: str
    kind: str
    vehicle_before: str | None
    vehicle_after: str | None
    eta_before: datetime | None
    eta_after: datetime | None


class ReplanPublic(BaseModel):
    """The plan after re-planning (same plan and route ids) and what changed."""

    plan: RoutePlanPublic
    as_of: datetime
    changes: list[ReplanChangePublic]
