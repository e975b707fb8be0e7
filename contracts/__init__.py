"""The wire contract between edge agents and central: envelope, payloads, commands, topics.

Nothing here knows MQTT, HTTP or SQL; both sides import these models and nothing else of
each other.
"""

from contracts.commands import (
    Alarm,
    Command,
    CommandType,
    PrintLabel,
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
    EventType,
    GoodsReceived,
    PutawayConfirmed,
    ScanRejected,
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
    "Envelope",
    "EventType",
    "GoodsReceived",
    "PrintLabel",
    "PutawayConfirmed",
    "PutawayLabel",
    "ScanRejected",
    "Topics",
    "UnknownEventType",
    "command_payload",
    "event_payload",
    "new_event_id",
]
