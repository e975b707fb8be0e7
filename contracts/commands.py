"""Commands central sends down to an edge; each has an id the edge executes once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.envelope import SiteCode, UtcDatetime, summarise_validation_error
from contracts.errors import ContractError


class CommandType(StrEnum):
    """Command types of schema version 1."""

    PRINT_LABEL = "print.label"
    ALARM = "alarm"


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


COMMAND_PAYLOADS: dict[str, type[BaseModel]] = {
    CommandType.PRINT_LABEL: PrintLabel,
    CommandType.ALARM: Alarm,
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
