"""Input and output models of the dock board and the outbound loading API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from contracts.envelope import SiteCode

Sscc = Annotated[str, Field(pattern=r"^\d{18}$")]
TrailerName = Literal[
    "semi_trailer_33_eur",
    "semi_trailer_26_industrial",
    "double_deck_66_eur",
    "rigid_7_5t_18_eur",
]


# ----------------------------------------------------------------------------- dock board


class DockDevicePublic(BaseModel):
    """A device of a dock (scanner, scale, printer, door and presence sensors)."""

    device: str
    state: str
    detail: str
    last_seen: datetime


class DockBoardRow(BaseModel):
    """One dock on the dock board. `phase` is None until the edge first reports the dock."""

    dock: str
    phase: str | None
    door: str | None
    vehicle_present: bool | None
    distance_m: Decimal | None
    shipment: str | None
    shipment_status: str | None
    pallets_loaded: int | None
    pallets_planned: int | None
    alert: str | None
    since: datetime | None
    last_event_type: str | None
    last_event_at: datetime | None
    devices: list[DockDevicePublic]


# ----------------------------------------------------------------------------- loads


class LoadPalletIn(BaseModel):
    """A pallet (handling unit in stock at the site) and the stop it is delivered to."""

    sscc: Sscc
    stop_index: int = Field(default=1, ge=1, description="Delivery order of its stop, 1 = first")
    order: str | None = Field(
        default=None,
        max_length=64,
        description="Delivery order reference; with the load's route_id its stop on the route "
        "sets stop_index, and its proof of delivery posts this pallet",
    )


class LoadCreate(BaseModel):
    """A new shipment from a dock, and the pallets it carries; central plans the load."""

    site: SiteCode
    reference: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", examples=["SH-1042"]
    )
    dock: str = Field(min_length=1, max_length=40, examples=["dock-1"])
    trailer: TrailerName = "semi_trailer_33_eur"
    route_ref: str | None = Field(default=None, max_length=64)
    vehicle_ref: str | None = Field(default=None, max_length=64)
    route_id: int | None = Field(
        default=None, description="The planned route this truck drives (see /routes/plans)"
    )
    pallets: list[LoadPalletIn] = Field(min_length=1, max_length=200)
    time_limit_s: float = Field(default=5.0, gt=0, le=120)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _unique(self) -> LoadCreate:
        ssccs = [p.sscc for p in self.pallets]
        repeated = sorted({s for s in ssccs if ssccs.count(s) > 1})
        if repeated:
            raise ValueError(f"a pallet appears twice: {', '.join(repeated)}")
        return self


class LoadReasonPublic(BaseModel):
    """Why (part of) a load does not fit, and the pallets concerned."""

    code: str
    detail: str
    pallets: list[str]


class LoadPlacementPublic(BaseModel):
    """Where a pallet stands (row 0 at the front wall, doors at the rear) and when it goes on."""

    sscc: str
    gtin: str
    stop_index: int
    sequence: int
    row: int
    column: int
    deck: int
    level: int
    weight_kg: Decimal


class AxleLoadPublic(BaseModel):
    """The cargo's share on one support of the vehicle against its limits (kg)."""

    support: Literal["kingpin", "rear_axles"]
    load_kg: Decimal
    max_kg: Decimal
    min_kg: Decimal
    within_limits: bool


class LoadPlanPublic(BaseModel):
    """A computed load plan. `solver_status` OPTIMAL or FEASIBLE loads every pallet within every
    limit and can be sent; INFEASIBLE loads the most it can (earliest stops first) and says why
    in `reasons`, listing the rest in `left_out`; UNKNOWN found nothing in the time limit."""

    id: int
    status: str
    solver_status: str
    loadable: bool
    objective_kg_m: int | None
    bound_kg_m: int | None
    solve_time_ms: int
    load_kg: Decimal
    payload_kg: Decimal
    axle_loads: list[AxleLoadPublic]
    cog_m: Decimal | None
    ideal_cog_m: Decimal
    lateral_imbalance_kg: Decimal
    max_lateral_imbalance_kg: Decimal
    reasons: list[LoadReasonPublic]
    left_out: list[str]
    placements: list[LoadPlacementPublic]
    created_at: datetime
    command_id: UUID | None
    sent_at: datetime | None


class ShipmentPalletPublic(BaseModel):
    """A pallet of a shipment: its stop, where it is now, and whether it went on."""

    sscc: str
    gtin: str
    quantity: Decimal
    weight_kg: Decimal
    stop_index: int
    status: str
    location: str
    loaded_at: datetime | None
    loaded_sequence: int | None
    override_reason: str | None


class LoadPublic(BaseModel):
    """A shipment with its pallets and its current load plan."""

    id: int
    site: str
    reference: str
    dock: str
    trailer: str
    trailer_name: str
    route_ref: str | None
    vehicle_ref: str | None
    status: str
    created_at: datetime
    dispatched_at: datetime | None
    pallets: list[ShipmentPalletPublic]
    plan: LoadPlanPublic | None


class LoadCommandPublic(BaseModel):
    """The load.plan command queued for the site's edge (resent until the edge confirms)."""

    shipment_id: int
    command_id: UUID
    site: str
    dock: str
    sent_at: datetime
    already_sent: bool
