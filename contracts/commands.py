"""Commands central sends down to an edge; each has an id the edge executes once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.envelope import SiteCode, UtcDatetime, summarise_validation_error
from contracts.errors import ContractError


class CommandType(StrEnum):
    """Command types of schema version 1."""

    PRINT_LABEL = "print.label"
    ALARM = "alarm"
    LOAD_PLAN = "load.plan"
    EXPECT_UNLOADING = "unloading.expect"
    PRINT_ROUTE_SHEET = "print.route_sheet"


class PutawayLabel(BaseModel):
    """What a putaway label shows. `location` is None while central has not chosen a bin."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sscc: str | None = None
    gtin: str
    item_name: str = ""
    batch: str | None = None
    expiry: date | None = None
    quantity: Decimal
    weight_kg: Decimal
    location: str | None = None
    hold_reason: str | None = Field(
        default=None, description="Set when the pallet must not be put away (discrepancy)"
    )


class PrintLabel(BaseModel):
    """Print a putaway label at a dock, in answer to the goods.received event `in_reply_to`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dock: str
    in_reply_to: UUID
    label: PutawayLabel


class Alarm(BaseModel):
    """Raise an alarm at a dock (printer beep, signal light)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dock: str
    reason: str


_SSCC = r"^\d{18}$"


class LoadPlacement(BaseModel):
    """One pallet of a load plan: its position, stop and place in the loading sequence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sscc: str = Field(pattern=_SSCC)
    row: int = Field(ge=0, description="0 = front row (behind the cab); doors at the rear")
    column: int = Field(ge=0)
    deck: int = Field(default=0, ge=0)
    level: int = Field(default=0, ge=0, description="1 = stacked on the level-0 pallet")
    sequence: int = Field(ge=1, description="1 = loaded first")
    stop_index: int = Field(ge=1, description="Delivery order of its stop, 1 = first stop")


class LoadPlan(BaseModel):
    """Load a shipment at a dock to this plan; the edge prints the loading sheet and checks
    every pallet scanned at the dock against it. A newer plan for the same shipment replaces
    the older one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dock: str
    shipment_id: str = Field(min_length=1, max_length=64)
    vehicle_ref: str | None = None
    route_ref: str | None = None
    trailer: str = Field(min_length=1, description="Trailer type name, printed on the sheet")
    placements: list[LoadPlacement] = Field(min_length=1)
    pallets_expected: int = Field(ge=1, description="Must equal len(placements): a checksum")

    @model_validator(mode="after")
    def _consistent(self) -> LoadPlan:
        if self.pallets_expected != len(self.placements):
            raise ValueError(
                f"plan has {len(self.placements)} placements but expects "
                f"{self.pallets_expected} pallets"
            )
        for name, values in (
            ("SSCC", [p.sscc for p in self.placements]),
            ("sequence", [p.sequence for p in self.placements]),
            ("position", [(p.deck, p.row, p.column, p.level) for p in self.placements]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"a {name} appears twice in the plan")
        return self


class ExpectUnloading(BaseModel):
    """The pallets (SSCCs) expected off the vehicle at a dock; checked when its door closes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dock: str
    receipt_ref: str = Field(min_length=1, max_length=64, description="ASN / receipt number")
    pallets: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _ssccs(self) -> ExpectUnloading:
        for sscc in self.pallets:
            if len(sscc) != 18 or not sscc.isdigit():
                raise ValueError(f"{sscc!r} is not an SSCC (18 digits)")
        return self


class PrintRouteSheet(BaseModel):
    """Print a driver's route sheet at a dock: vehicle and stops in delivery order, already
    laid out by central as text lines; `qr` links the driver's page of the route."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dock: str
    route_id: str = Field(min_length=1, max_length=64)
    lines: list[str] = Field(min_length=1)
    qr: str | None = None


COMMAND_PAYLOADS: dict[str, type[BaseModel]] = {
    CommandType.PRINT_LABEL: PrintLabel,
    CommandType.ALARM: Alarm,
    CommandType.LOAD_PLAN: LoadPlan,
    CommandType.EXPECT_UNLOADING: ExpectUnloading,
    CommandType.PRINT_ROUTE_SHEET: PrintRouteSheet,
}


class Command(BaseModel):
    """A command envelope on `wms/{site}/down/cmd`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = 1
    id: UUID
    site: SiteCode
    type: str
    at: UtcDatetime
    data: dict[str, Any]

    def to_json(self) -> bytes:
        """The command as UTF-8 JSON bytes."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | bytearray | str) -> Command:
        """Parse a command envelope; ContractError with the reason if malformed."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as err:
            raise ContractError(f"invalid command: {summarise_validation_error(err)}") from err


def command_payload(command: Command) -> BaseModel:
    """The typed payload of a command; ContractError if unknown or malformed."""
    model = COMMAND_PAYLOADS.get(command.type)
    if model is None:
        raise ContractError(f"unknown command type {command.type!r}")
    try:
        return model.model_validate(command.data)
    except ValidationError as err:
        raise ContractError(
            f"invalid {command.type} command: {summarise_validation_error(err)}"
        ) from err
