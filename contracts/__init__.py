"""The wire contract between edge agents and central: envelope, payloads, commands, topics.

Nothing here knows MQTT, HTTP or SQL; both sides import these models and nothing else of
each other.
"""

from contracts.commands import (
    Alarm,
    Command,
    CommandType,
    ExpectUnloading,
    LoadPlacement,
    LoadPlan,
    PrintLabel,
    PrintRouteSheet,
    PutawayLabel,
    command_payload,
)
from contracts.envelope import SCHEMA_VERSION, Ack, Envelope, new_event_id
from contracts.errors import ContractError, UnknownEventType
from contracts.events import (
    CommandDone,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DockDoorChanged,
    DockPhase,
    DockStateChanged,
    DockVehicleChanged,
    DoorState,
    EventType,
    GoodsReceived,
    LoadingAlarm,
    LoadingAlarmReason,
    LoadPosition,
    PalletLoaded,
    PutawayConfirmed,
    ScanRejected,
    ShipmentDispatched,
    UnloadingChecked,
    event_payload,
)
from contracts.topics import Topics

__all__ = [
    "SCHEMA_VERSION",
    "Ack",
    "Alarm",
    "Command",
    "CommandDone",
    "CommandType",
    "ContractError",
    "DeviceError",
    "DeviceState",
    "DeviceStatus",
    "DockDoorChanged",
    "DockPhase",
    "DockStateChanged",
    "DockVehicleChanged",
    "DoorState",
    "Envelope",
    "EventType",
    "ExpectUnloading",
    "GoodsReceived",
    "LoadPlacement",
    "LoadPlan",
    "LoadPosition",
    "LoadingAlarm",
    "LoadingAlarmReason",
    "PalletLoaded",
    "PrintLabel",
    "PrintRouteSheet",
    "PutawayConfirmed",
    "PutawayLabel",
    "ScanRejected",
    "ShipmentDispatched",
    "Topics",
    "UnknownEventType",
    "UnloadingChecked",
    "command_payload",
    "event_payload",
    "new_event_id",
]
