"""The dock and loading contracts survive the wire: envelope/command round trips."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import BaseModel

from contracts import (
    Command,
    CommandType,
    DockDoorChanged,
    DockPhase,
    DockStateChanged,
    DockVehicleChanged,
    DoorState,
    Envelope,
    EventType,
    ExpectUnloading,
    LoadingAlarm,
    LoadingAlarmReason,
    LoadPlacement,
    LoadPlan,
    LoadPosition,
    PalletLoaded,
    PrintRouteSheet,
    ShipmentDispatched,
    UnloadingChecked,
    command_payload,
    event_payload,
)
from contracts.commands import COMMAND_PAYLOADS
from contracts.envelope import new_event_id, utc_now
from contracts.errors import ContractError
from contracts.events import PAYLOADS, event_type_of, payload_data

SSCC = "376130321234567892"
SSCC2 = "376130321234567908"

EVENTS: list[BaseModel] = [
    DockDoorChanged(dock="dock-1", door=DoorState.OPEN, sensor="dock-1/door"),
    DockVehicleChanged(
        dock="dock-1", present=True, sensor="dock-1/vehicle", distance_m=Decimal("0.4")
    ),
    DockStateChanged(
        dock="dock-1", state=DockPhase.LOADING, previous=DockPhase.DOOR_OPEN, shipment_id="S1"
    ),
    DockStateChanged(
        dock="dock-1", state=DockPhase.DOOR_OPEN_NO_VEHICLE, previous=DockPhase.EMPTY, alert="x"
    ),
    PalletLoaded(
        dock="dock-1",
        shipment_id="S1",
        sscc=SSCC,
        position=LoadPosition(row=2, column=1, deck=1, level=1),
        sequence=7,
        override_reason="DRIVER-REQUEST",
    ),
    LoadingAlarm(
        dock="dock-1",
        shipment_id="S1",
        sscc=SSCC,
        reason=LoadingAlarmReason.WRONG_ORDER,
        detail="row 3 first",
    ),
    LoadingAlarm(dock="dock-1", shipment_id="S1", reason=LoadingAlarmReason.INCOMPLETE_LOAD),
    ShipmentDispatched(dock="dock-1", shipment_id="S1", pallets=[SSCC, SSCC2]),
    UnloadingChecked(
        dock="dock-2",
        receipt_ref="ASN-1",
        expected=[SSCC],
        scanned=[SSCC2],
        shortages=[SSCC],
        extras=[SSCC2],
    ),
    UnloadingChecked(dock="dock-2", scanned=[SSCC]),
]


@pytest.mark.parametrize("payload", EVENTS, ids=lambda p: type(p).__name__)
def test_every_new_event_round_trips_through_an_envelope(payload):
    type_ = event_type_of(payload)
    envelope = Envelope(
        id=new_event_id(),
        site="WH1",
        seq=1,
        source="dock-1/control",
        type=type_,
        at=utc_now(),
        data=payload_data(payload),
    )
    again = Envelope.from_json(envelope.to_json())
    assert event_payload(again) == payload


def test_event_types_and_payloads_are_consistent():
    assert set(PAYLOADS) == {str(t) for t in EventType}
    assert set(COMMAND_PAYLOADS) == {str(t) for t in CommandType}


def plan(**changes) -> LoadPlan:
    data = {
        "dock": "dock-1",
        "shipment_id": "S1",
        "vehicle_ref": "TRUCK-7",
        "route_ref": "R-12",
        "trailer": "semi-trailer 13.6 m, 33 EUR",
        "placements": [
            LoadPlacement(sscc=SSCC, row=0, column=0, sequence=1, stop_index=2),
            LoadPlacement(sscc=SSCC2, row=1, column=0, sequence=2, stop_index=1),
        ],
        "pallets_expected": 2,
    }
    return LoadPlan.model_validate({**data, **changes})


def test_load_plan_and_unloading_expect_commands_round_trip():
    for payload, type_ in (
        (plan(), CommandType.LOAD_PLAN),
        (
            ExpectUnloading(dock="dock-2", receipt_ref="ASN-1", pallets=[SSCC]),
            CommandType.EXPECT_UNLOADING,
        ),
        (
            PrintRouteSheet(
                dock="dock-1", route_id="R-3", lines=["VAN-1", "1. Miller"], qr="/driver/routes/R-3"
            ),
            CommandType.PRINT_ROUTE_SHEET,
        ),
        (
            PrintRouteSheet(dock="dock-1", route_id="R-4", lines=["VAN-2"]),
            CommandType.PRINT_ROUTE_SHEET,
        ),
    ):
        cmd = Command(
            id=uuid4(), site="WH1", type=type_, at=utc_now(), data=payload.model_dump(mode="json")
        )
        assert command_payload(Command.from_json(cmd.to_json())) == payload


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"pallets_expected": 3}, "expects 3"),
        (
            {
                "placements": [
                    LoadPlacement(sscc=SSCC, row=0, column=0, sequence=1, stop_index=1),
                    LoadPlacement(sscc=SSCC, row=0, column=1, sequence=2, stop_index=1),
                ]
            },
            "SSCC appears twice",
        ),
        (
            {
                "placements": [
                    LoadPlacement(sscc=SSCC, row=0, column=0, sequence=1, stop_index=1),
                    LoadPlacement(sscc=SSCC2, row=0, column=0, sequence=2, stop_index=1),
                ]
            },
            "position appears twice",
        ),
    ],
)
def test_an_inconsistent_load_plan_is_refused(changes, why: str):
    cmd = Command(
        id=uuid4(),
        site="WH1",
        type=CommandType.LOAD_PLAN,
        at=utc_now(),
        data={
            **plan().model_dump(mode="json"),
            **{
                k: [p.model_dump() for p in v] if k == "placements" else v
                for k, v in changes.items()
            },
        },
    )
    with pytest.raises(ContractError, match=why):
        command_payload(cmd)
