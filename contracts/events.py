"""Event types and the payload model of each (the envelope's `data`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, TypeVar
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
    DOCK_DOOR_CHANGED = "dock.door_changed"
    DOCK_VEHICLE_CHANGED = "dock.vehicle_changed"
    DOCK_STATE_CHANGED = "dock.state_changed"
    PALLET_LOADED = "pallet.loaded"
    LOADING_ALARM = "loading.alarm"
    SHIPMENT_DISPATCHED = "shipment.dispatched"
    UNLOADING_CHECKED = "unloading.checked"


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


SSCC_PATTERN = r"^\d{18}$"
Sscc = Annotated[str, Field(pattern=SSCC_PATTERN)]


class DoorState(StrEnum):
    """A dock door as its contact sensor reports it."""

    OPEN = "open"
    CLOSED = "closed"


class DockDoorChanged(_Payload):
    """A dock door opened or closed (sent on change only)."""

    dock: str
    door: DoorState
    sensor: str = Field(description="Device id of the sensor, e.g. 'dock-1/door'")


class DockVehicleChanged(_Payload):
    """A vehicle docked at or left a dock (sent on change only)."""

    dock: str
    present: bool
    sensor: str
    distance_m: Decimal | None = Field(default=None, ge=0)


class DockPhase(StrEnum):
    """Where a dock is between a vehicle docking and leaving (the dock board shows this)."""

    EMPTY = "empty"
    VEHICLE_DOCKED = "vehicle_docked"
    DOOR_OPEN = "door_open"
    LOADING = "loading"
    UNLOADING = "unloading"
    DOOR_CLOSED = "door_closed"
    DOOR_OPEN_NO_VEHICLE = "door_open_no_vehicle"


class DockStateChanged(_Payload):
    """A dock changed phase, or an alert was raised in its phase (then state == previous)."""

    dock: str
    state: DockPhase
    previous: DockPhase
    shipment_id: str | None = None
    alert: str | None = Field(default=None, description="Set when something is odd at the dock")


class LoadPosition(_Payload):
    """A pallet position on a vehicle: row 0 at the front, level 1 stacked on level 0."""

    row: int = Field(ge=0)
    column: int = Field(ge=0)
    deck: int = Field(default=0, ge=0)
    level: int = Field(default=0, ge=0)


class PalletLoaded(_Payload):
    """A pallet of a load plan went onto the vehicle (checked at the edge against the plan)."""

    dock: str
    shipment_id: str = Field(min_length=1)
    sscc: Sscc
    position: LoadPosition
    sequence: int = Field(ge=1, description="Its place in the plan's loading sequence")
    override_reason: str | None = Field(
        default=None, description="Set when the worker loaded it against the check's advice"
    )


class LoadingAlarmReason(StrEnum):
    """Why the edge stopped a pallet at the dock."""

    WRONG_TRUCK = "wrong_truck"
    WRONG_ORDER = "wrong_order"
    UNKNOWN_PALLET = "unknown_pallet"
    INCOMPLETE_LOAD = "incomplete_load"


class LoadingAlarm(_Payload):
    """A loading check failed at the dock; the dock signalled it at once."""

    dock: str
    shipment_id: str = Field(min_length=1)
    sscc: Sscc | None = Field(default=None, description="None for incomplete_load")
    reason: LoadingAlarmReason
    detail: str = ""


class ShipmentDispatched(_Payload):
    """The door closed with every pallet of the shipment's load plan on the vehicle."""

    dock: str
    shipment_id: str = Field(min_length=1)
    pallets: list[Sscc]


class UnloadingChecked(_Payload):
    """The door closed after unloading: what was expected against what was scanned."""

    dock: str
    receipt_ref: str | None = Field(
        default=None, description="None when no unloading.expect named the pallets"
    )
    expected: list[Sscc] = Field(default_factory=list)
    scanned: list[Sscc] = Field(default_factory=list)
    shortages: list[Sscc] = Field(default_factory=list)
    extras: list[Sscc] = Field(default_factory=list)


PAYLOADS: dict[str, type[_Payload]] = {
    EventType.GOODS_RECEIVED: GoodsReceived,
    EventType.PUTAWAY_CONFIRMED: PutawayConfirmed,
    EventType.SCAN_REJECTED: ScanRejected,
    EventType.DEVICE_ERROR: DeviceError,
    EventType.DEVICE_STATUS: DeviceStatus,
    EventType.COMMAND_DONE: CommandDone,
    EventType.DOCK_DOOR_CHANGED: DockDoorChanged,
    EventType.DOCK_VEHICLE_CHANGED: DockVehicleChanged,
    EventType.DOCK_STATE_CHANGED: DockStateChanged,
    EventType.PALLET_LOADED: PalletLoaded,
    EventType.LOADING_ALARM: LoadingAlarm,
    EventType.SHIPMENT_DISPATCHED: ShipmentDispatched,
    EventType.UNLOADING_CHECKED: UnloadingChecked,
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
