"""Event types and the payload model of each (the envelope's `data`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.envelope import Envelope, summarise_validation_error
from contracts.errors import ContractError, UnknownEventType


class EventType(StrEnum):
    """The event types of schema version 1: each names a fact that already happened."""

    GOODS_RECEIVED = "goods.received"
    PUTAWAY_CONFIRMED = "putaway.confirmed"
    SCAN_REJECTED = "scan.rejected"
    DEVICE_ERROR = "device.error"
    DEVICE_STATUS = "device.status"
    COMMAND_DONE = "command.done"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GoodsReceived(_Payload):
    """A pallet was scanned and weighed (first stable weight) at a receiving dock."""

    dock: str
    sscc: str | None = Field(default=None, pattern=r"^\d{18}$")
    gtin: str = Field(pattern=r"^\d{14}$")
    batch: str | None = None
    expiry: date | None = None
    quantity: Decimal = Field(gt=0, description="Trade units on the pallet (AI 37, else 1)")
    weight_kg: Decimal = Field(ge=0, description="Stable gross weight from the dock scale")
    barcode: str = Field(description="The scanned code in human-readable form, e.g. (00)…")


class PutawayConfirmed(_Payload):
    """A pallet was put away: the worker scanned the bin label after moving it there."""

    dock: str
    sscc: str = Field(pattern=r"^\d{18}$")
    location: str = Field(min_length=1)


class ScanRejected(_Payload):
    """A barcode was read but cannot be used (bad check digit, not a GS1 pallet label...)."""

    dock: str
    device: str
    code: str
    reason: str


class DeviceError(_Payload):
    """A device sent bytes the edge could not parse; the raw bytes are kept."""

    device: str
    reason: str
    raw_hex: str = Field(description="The bytes as received, hex-encoded")


class DeviceState(StrEnum):
    """What the edge knows about a device's health."""

    ONLINE = "online"
    OFFLINE = "offline"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_END = "paper_end"
    COVER_OPEN = "cover_open"
    ERROR = "error"


class DeviceStatus(_Payload):
    """A device changed state (sent on change only)."""

    device: str
    state: DeviceState
    detail: str = ""


class CommandDone(_Payload):
    """The edge executed (or definitively failed) a command from central."""

    command_id: UUID
    ok: bool
    detail: str = ""


PAYLOADS: dict[str, type[_Payload]] = {
    EventType.GOODS_RECEIVED: GoodsReceived,
    EventType.PUTAWAY_CONFIRMED: PutawayConfirmed,
    EventType.SCAN_REJECTED: ScanRejected,
    EventType.DEVICE_ERROR: DeviceError,
    EventType.DEVICE_STATUS: DeviceStatus,
    EventType.COMMAND_DONE: CommandDone,
}

P = TypeVar("P", bound=_Payload)


def event_payload(envelope: Envelope) -> _Payload:
    """The typed payload of an envelope; ContractError if it does not fit its type."""
    model = PAYLOADS.get(envelope.type)
    if model is None:
        raise UnknownEventType(f"unknown event type {envelope.type!r}")
    try:
        return model.model_validate(envelope.data)
    except ValidationError as err:
        raise ContractError(
            f"invalid {envelope.type} payload: {summarise_validation_error(err)}"
        ) from err


def payload_data(payload: _Payload) -> dict[str, object]:
    """A payload as the JSON-ready dict that goes into an envelope's `data`."""
    return payload.model_dump(mode="json", exclude_none=True)


def event_type_of(payload: _Payload) -> EventType:
    """The event type a payload model stands for."""
    for name, model in PAYLOADS.items():
        if isinstance(payload, model):
            return EventType(name)
    raise UnknownEventType(f"{type(payload).__name__} is not an event payload")
