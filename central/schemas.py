"""Input and output models of central's API (the Create / Public split)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.envelope import SiteCode

_GTIN = r"^\d{14}$"
_SSCC = r"^\d{18}$"


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DockCreate(BaseModel):
    """A dock door; its receiving location is created with it, at the dock's position."""

    code: str = Field(min_length=1, max_length=40, examples=["dock-1"])
    receiving_location: str = Field(min_length=1, max_length=40, examples=["RCV-1"])
    x: Decimal = Decimal(0)
    y: Decimal = Decimal(0)


class SiteCreate(BaseModel):
    """A new site (warehouse) with its docks."""

    code: SiteCode = Field(examples=["WH1"])
    name: str = Field(min_length=1, max_length=120)
    docks: list[DockCreate] = Field(default_factory=list)


class DockPublic(BaseModel):
    """A dock as the API shows it."""

    code: str
    receiving_location: str
    x: Decimal
    y: Decimal


class SitePublic(BaseModel):
    """A site with its docks and the last applied event seq of its edge."""

    code: str
    name: str
    last_seq: int
    docks: list[DockPublic]


class ItemCreate(BaseModel):
    """A new trade item."""

    gtin: str = Field(pattern=_GTIN, examples=["04012345000016"])
    name: str = Field(min_length=1, max_length=200)
    unit_weight_kg: Decimal | None = Field(default=None, ge=0)
    unit_volume_m3: Decimal | None = Field(default=None, ge=0)
    temperature_class: str | None = Field(
        default=None, max_length=20, description="None: ambient", examples=["chilled"]
    )
    hazard_class: str | None = Field(
        default=None, max_length=20, description="None: not hazardous", examples=["3"]
    )
    pick_frequency_override: Decimal | None = Field(
        default=None,
        ge=0,
        description="picks per slotting period, instead of the stock history (new items)",
    )


class ItemPublic(_Public):
    """An item as the API shows it."""

    id: int
    gtin: str
    name: str
    unit_weight_kg: Decimal | None
    unit_volume_m3: Decimal | None
    temperature_class: str | None
    hazard_class: str | None
    pick_frequency_override: Decimal | None


class LocationCreate(BaseModel):
    """A new location; bins have capacities (None = no limit) and floor coordinates in metres."""

    site: SiteCode
    code: str = Field(min_length=1, max_length=40, examples=["A-01-01"])
    kind: Literal["receiving", "bin"] = "bin"
    zone: str | None = None
    aisle: str | None = None
    bay: str | None = None
    level: str | None = None
    x: Decimal = Decimal(0)
    y: Decimal = Decimal(0)
    z: Decimal = Decimal(0)
    max_weight_kg: Decimal | None = Field(default=None, ge=0)
    max_volume_m3: Decimal | None = Field(default=None, ge=0)
    max_pallets: int | None = Field(default=None, ge=0)
    temperature_class: str | None = Field(
        default=None, max_length=20, description="None: ambient", examples=["chilled"]
    )
    hazard_classes: list[str] = Field(
        default_factory=list,
        description="hazard classes this bin may hold (none: no hazardous goods)",
        examples=[["3", "8"]],
    )

    @field_validator("hazard_classes")
    @classmethod
    def _hazard_classes_fit(cls, value: list[str]) -> list[str]:
        classes = sorted({c.strip() for c in value if c.strip()})
        if any("," in c for c in classes) or len(",".join(classes)) > 120:
            raise ValueError("hazard classes: short codes without commas, 120 characters in all")
        return classes


class LocationPublic(BaseModel):
    """A location as the API shows it."""

    id: int
    site: str
    code: str
    kind: str
    zone: str | None
    aisle: str | None
    bay: str | None
    level: str | None
    x: Decimal
    y: Decimal
    z: Decimal
    max_weight_kg: Decimal | None
    max_volume_m3: Decimal | None
    max_pallets: int | None
    temperature_class: str | None
    hazard_classes: list[str]

    @field_validator("hazard_classes", mode="before")
    @classmethod
    def _stored_hazard_classes(cls, value: object) -> object:
        # Stored comma-separated in the location row.
        if value is None:
            return []
        if isinstance(value, str):
            return [c for c in value.split(",") if c]
        return value


class ExpectedReceiptLineCreate(BaseModel):
    """An expected line: one pallet by SSCC, or a quantity by GTIN (and batch).

    `expected_weight_kg` is the gross weight of the whole line.
    """

    gtin: str = Field(pattern=_GTIN)
    batch: str | None = Field(default=None, max_length=40)
    sscc: str | None = Field(default=None, pattern=_SSCC)
    quantity: Decimal = Field(gt=0)
    expected_weight_kg: Decimal | None = Field(default=None, ge=0)
    weight_tolerance_pct: Decimal = Field(default=Decimal(2), ge=0, le=100)
    unit_price: Decimal | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class ExpectedReceiptCreate(BaseModel):
    """An advance shipping notice or purchase order a site expects."""

    site: SiteCode
    reference: str = Field(min_length=1, max_length=60)
    supplier: str | None = Field(default=None, max_length=120)
    lines: list[ExpectedReceiptLineCreate] = Field(min_length=1)


class ExpectedReceiptLinePublic(_Public):
    """An expected receipt line with what has arrived so far."""

    line_no: int
    gtin: str
    batch: str | None
    sscc: str | None
    quantity: Decimal
    received_quantity: Decimal
    expected_weight_kg: Decimal | None
    weight_tolerance_pct: Decimal
    unit_price: Decimal | None
    currency: str | None


class ExpectedReceiptPublic(BaseModel):
    """An expected receipt with its lines."""

    id: int
    site: str
    reference: str
    supplier: str | None
    status: str
    created_at: datetime
    lines: list[ExpectedReceiptLinePublic]


class StockRow(BaseModel):
    """A stock balance: quantity of an item / lot / handling unit in one location."""

    site: str
    location: str
    gtin: str
    item_name: str
    batch: str | None
    expiry: date | None
    sscc: str | None
    quantity: Decimal


class HandlingUnitPublic(BaseModel):
    """A pallet: where it is, what is on it, and the bin it should go to."""

    sscc: str
    site: str
    gtin: str
    item_name: str
    batch: str | None
    expiry: date | None
    quantity: Decimal
    weight_kg: Decimal
    location: str
    status: str
    received_at: datetime
    putaway_location: str | None


class AppliedEventPublic(BaseModel):
    """An applied event of a site's stream."""

    site: str
    seq: int
    event_id: UUID | None
    type: str
    source: str
    applied_at: datetime
    outcome: str
    detail: str


class DeadLetterPublic(BaseModel):
    """An event central could not apply, with its raw text and the reason."""

    id: int
    topic: str
    site: str | None
    seq: int | None
    event_id: UUID | None
    event_type: str | None
    reason: str
    raw: str
    counted_as_applied: bool
    occurrences: int
    status: str
    created_at: datetime
    last_seen_at: datetime
    reapplied_at: datetime | None


class AlertPublic(BaseModel):
    """Something ops must look at."""

    id: int
    site: str | None
    kind: str
    message: str
    ref: str | None
    status: str
    created_at: datetime


class CommandPublic(BaseModel):
    """A command in central's outbox and whether the edge has done it."""

    command_id: UUID
    site: str
    type: str
    cause_event_id: UUID | None
    created_at: datetime
    last_sent_at: datetime | None
    done_at: datetime | None
    ok: bool | None
    detail: str
    data: dict[str, Any]


class DevicePublic(BaseModel):
    """The last known state of an edge device."""

    site: str
    device: str
    state: str
    detail: str
    last_seen: datetime


class Health(BaseModel):
    """Liveness and database reachability."""

    status: Literal["ok"]
    database: Literal["ok"]
