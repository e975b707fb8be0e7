"""Loading checks at the dock: the order rule, alarms, overrides, dispatch, durability."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    CommandDone,
    EventType,
    ExpectUnloading,
    LoadingAlarmReason,
    LoadPlacement,
    LoadPlan,
    ShipmentDispatched,
    UnloadingChecked,
    event_payload,
)
from devices.dock_sensors import DoorReading, PresenceReading
from devices.scanner import PalletLabel
from devices.transport import FakeTransport
from edge_agent.coordinators import PrinterCoordinator
from edge_agent.dock_control import DockControl, LoadRegistry
from edge_agent.dock_state import DockTimers
from edge_agent.loading import (
    InOrder,
    LoadingCheck,
    OutOfOrder,
    OverrideCode,
    check_unloading,
    override_reason,
)
from edge_agent.outbox import Outbox
from firmware_sim import gs1

SITE = "WH1"
P = [gs1.sscc("7613032", n) for n in range(1, 9)]


def placement(n: int, row: int, column: int, stop: int, *, level: int = 0) -> LoadPlacement:
    return LoadPlacement(
        sscc=P[n - 1], row=row, column=column, level=level, sequence=n, stop_index=stop
    )


def small_plan(
    shipment: str = "S1", dock: str = "dock-1", ssccs: list[str] | None = None
) -> LoadPlan:
    """Row 0: pallets 1, 2 (stop 2) and 3 (stop 1, beside them); row 1: 4; 5 stacked on 4."""
    places = [
        placement(1, 0, 0, 2),
        placement(2, 0, 1, 2),
        placement(3, 0, 2, 1),
        placement(4, 1, 0, 1),
        placement(5, 1, 0, 1, level=1),
    ]
    if ssccs:
        places = [p.model_copy(update={"sscc": s}) for p, s in zip(places, ssccs, strict=True)]
    return LoadPlan(
        dock=dock,
        shipment_id=shipment,
        trailer="semi-trailer 13.6 m, 33 EUR",
        vehicle_ref="TRUCK-7",
        placements=places,
        pallets_expected=len(places),
    )


# The rule -------------------------------------------------------------------------------------


def test_any_order_within_a_row_even_across_stops():
    check = LoadingCheck(small_plan())
    assert [p.group for p in check.pallets] == [0, 0, 0, 1, 2]
    assert isinstance(check.verdict(P[2], []), InOrder)
    assert isinstance(check.verdict(P[1], [P[2]]), InOrder)


def test_the_next_row_waits_for_the_row_in_front_and_a_top_pallet_for_its_floor():
    check = LoadingCheck(small_plan())
    verdict = check.verdict(P[3], [P[0], P[1]])
    assert isinstance(verdict, OutOfOrder)
    assert [m.sscc for m in verdict.missing] == [P[2]]
    assert isinstance(check.verdict(P[4], P[:3]), OutOfOrder)
    assert isinstance(check.verdict(P[4], P[:4]), InOrder)


@st.composite
def plans_and_orders(draw):
    rows = draw(st.integers(1, 4))
    places = []
    n = 0
    for row in range(rows):
        for column in range(draw(st.integers(1, 3))):
            n += 1
            places.append(
                LoadPlacement(
                    sscc=P[n - 1] if n <= 8 else gs1.sscc("7613032", 100 + n),
                    row=row,
                    column=column,
                    sequence=n,
                    stop_index=rows - row,
                )
            )
    order = draw(st.permutations([p.sscc for p in places]))
    plan = LoadPlan(
        dock="d", shipment_id="S", trailer="t", placements=places, pallets_expected=len(places)
    )
    return plan, order


@settings(max_examples=200, deadline=None)
@given(plans_and_orders())
def test_a_pallet_is_in_order_exactly_when_every_row_in_front_of_it_is_complete(case):
    plan, order = case
    check = LoadingCheck(plan)
    row_of = {p.sscc: p.row for p in plan.placements}
    loaded: list[str] = []
    for sscc in order:
        verdict = check.verdict(sscc, loaded)
        front_done = all(s in loaded for s, r in row_of.items() if r < row_of[sscc])
        assert isinstance(verdict, InOrder) == front_done
        loaded.append(sscc)  # loaded anyway (override): the rule still holds for the rest


def test_override_barcodes():
    assert override_reason(b"OVERRIDE-DRIVER-REQUEST") == "DRIVER-REQUEST"
    assert override_reason(b"]C0OVERRIDE-DAMAGED") == "DAMAGED"
    assert override_reason(b"OVERRIDE-") is None
    assert override_reason(b"A-01-02") is None
    assert override_reason(b"\xff") is None


def test_unloading_check_lists_shortages_and_extras():
    result = check_unloading([P[0], P[1]], [P[1], P[2], P[1]])
    assert result.shortages == (P[0],) and result.extras == (P[2],)
    assert result.scanned == (P[1], P[2])
    assert check_unloading(None, [P[0]]).extras == ()


# DockControl ---------------------------------------------------------------------------------


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "o.sqlite3", SITE) as box:
        yield box


class Signals:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def __call__(self, dock: str, payload: bytes) -> None:
        self.sent.append((dock, json.loads(payload)))


@pytest.fixture
def printer(outbox: Outbox) -> Iterator[PrinterCoordinator]:
    coordinator = PrinterCoordinator(
        device="dock-1/printer", dock="dock-1", transport=FakeTransport(), outbox=outbox
    )
    yield coordinator
    coordinator.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def control(
    outbox: Outbox,
    printer: PrinterCoordinator,
    registry: LoadRegistry,
    signals: Signals,
    dock: str = "dock-1",
) -> DockControl:
    return DockControl(
        dock=dock,
        site=SITE,
        outbox=outbox,
        printer=printer,
        registry=registry,
        timers=DockTimers(max_docked_s=3600, door_open_max_s=600),
        signal=signals,
        clock=Clock(),
    )


def label(sscc: str) -> PalletLabel:
    return PalletLabel(
        sscc=sscc,
        gtin=None,
        batch=None,
        expiry=None,
        count=None,
        net_weight_kg=None,
        hri=f"(00){sscc}",
        symbology="]C1",
    )


def events(outbox: Outbox, type_: EventType) -> list:
    return [event_payload(e) for e in outbox.unacked() if e.type == type_]


def test_a_load_plan_prints_its_sheet_once_and_answers_when_printed(outbox, printer):
    dock = control(outbox, printer, LoadRegistry(), Signals())
    command_id = uuid4()
    assert dock.load_plan(command_id, small_plan())
    assert not dock.load_plan(command_id, small_plan())
    (job,) = outbox.pending_prints("dock-1")
    assert (
        job.command_id == command_id and b"LOADING SHEET" in job.data and P[3].encode() in job.data
    )
    assert outbox.open_load_plans()[0].shipment_id == "S1"


def test_pallets_in_order_are_loaded_and_the_door_closing_dispatches(outbox, printer):
    signals = Signals()
    dock = control(outbox, printer, LoadRegistry(), signals)
    dock.load_plan(uuid4(), small_plan())
    for sscc in (P[2], P[0], P[1], P[3], P[4]):
        assert dock.take_scan(label(sscc))
    loaded = events(outbox, EventType.PALLET_LOADED)
    assert [e.sscc for e in loaded] == [P[2], P[0], P[1], P[3], P[4]]
    assert loaded[4].position.level == 1 and loaded[4].sequence == 5
    assert events(outbox, EventType.LOADING_ALARM) == [] and signals.sent == []
    dock.sensor_reading("door", "dock-1/door", DoorReading(open=True))
    dock.sensor_reading("door", "dock-1/door", DoorReading(open=False))
    (dispatched,) = events(outbox, EventType.SHIPMENT_DISPATCHED)
    assert dispatched == ShipmentDispatched(
        dock="dock-1", shipment_id="S1", pallets=[P[2], P[0], P[1], P[3], P[4]]
    )
    assert outbox.open_load_plans() == [] and dock.load is None


def test_wrong_order_alarms_at_once_and_an_override_loads_it_with_the_reason(outbox, printer):
    signals = Signals()
    dock = control(outbox, printer, LoadRegistry(), signals)
    dock.load_plan(uuid4(), small_plan())
    dock.take_scan(label(P[3]))
    (alarm,) = events(outbox, EventType.LOADING_ALARM)
    assert alarm.reason is LoadingAlarmReason.WRONG_ORDER and alarm.sscc == P[3]
    assert signals.sent == [("dock-1", {"alarm": "wrong_order"})]
    assert any(b"WRONG ORDER" in job.data for job in outbox.pending_prints("dock-1"))
    dock.take_scan(OverrideCode("DRIVER-REQUEST"))
    (loaded,) = events(outbox, EventType.PALLET_LOADED)
    assert loaded.sscc == P[3] and loaded.override_reason == "DRIVER-REQUEST"
    assert signals.sent[-1] == ("dock-1", {"alarm": None})
    dock.take_scan(OverrideCode("AGAIN"))
    assert len(events(outbox, EventType.PALLET_LOADED)) == 1
    assert events(outbox, EventType.SCAN_REJECTED)[-1].code == "OVERRIDE-AGAIN"


def test_another_docks_pallet_is_wrong_truck_and_a_stranger_is_unknown(outbox, printer):
    registry = LoadRegistry()
    signals = Signals()
    dock1 = control(outbox, printer, registry, signals)
    dock2 = control(outbox, printer, registry, signals, dock="dock-2")
    dock1.load_plan(uuid4(), small_plan())
    dock2.load_plan(
        uuid4(), small_plan("S2", "dock-2", ssccs=[gs1.sscc("7613032", 500 + i) for i in range(5)])
    )
    dock2.take_scan(label(P[0]))
    dock2.take_scan(label(gs1.sscc("7613032", 999)))
    dock2.take_scan(OverrideCode("PLEASE"))
    wrong, unknown = events(outbox, EventType.LOADING_ALARM)
    assert (wrong.reason, wrong.shipment_id) == (LoadingAlarmReason.WRONG_TRUCK, "S2")
    assert "S1" in wrong.detail and "dock-1" in wrong.detail
    assert unknown.reason is LoadingAlarmReason.UNKNOWN_PALLET
    assert events(outbox, EventType.PALLET_LOADED) == []


def test_closing_the_door_before_the_last_pallet_is_an_incomplete_load(outbox, printer):
    dock = control(outbox, printer, LoadRegistry(), Signals())
    dock.load_plan(uuid4(), small_plan())
    dock.sensor_reading("door", "dock-1/door", DoorReading(open=True))
    dock.take_scan(label(P[0]))
    dock.sensor_reading("door", "dock-1/door", DoorReading(open=False))
    (alarm,) = events(outbox, EventType.LOADING_ALARM)
    assert alarm.reason is LoadingAlarmReason.INCOMPLETE_LOAD and "4 of 5" in alarm.detail
    assert events(outbox, EventType.SHIPMENT_DISPATCHED) == []


def test_the_plan_and_loaded_pallets_survive_a_restart(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    with Outbox(path, SITE) as box:
        printer = PrinterCoordinator(
            device="dock-1/printer", dock="dock-1", transport=FakeTransport(), outbox=box
        )
        dock = control(box, printer, LoadRegistry.from_outbox(box), Signals())
        dock.load_plan(uuid4(), small_plan())
        dock.take_scan(label(P[0]))
        printer.close()
    with Outbox(path, SITE) as box:
        printer = PrinterCoordinator(
            device="dock-1/printer", dock="dock-1", transport=FakeTransport(), outbox=box
        )
        dock = control(box, printer, LoadRegistry.from_outbox(box), Signals())
        assert dock.load is not None and list(dock.load.loaded) == [P[0]]
        assert dock.status.shipment_id == "S1"
        dock.take_scan(label(P[0]))
        assert events(box, EventType.SCAN_REJECTED)[-1].reason.startswith("pallet already loaded")
        printer.close()


def test_unloading_is_checked_against_the_expected_pallets_when_the_door_closes(outbox, printer):
    dock = control(outbox, printer, LoadRegistry(), Signals())
    command_id = uuid4()
    dock.expect_unloading(
        command_id, ExpectUnloading(dock="dock-1", receipt_ref="ASN-9", pallets=[P[0], P[1]])
    )
    (done,) = events(outbox, EventType.COMMAND_DONE)
    assert isinstance(done, CommandDone) and done.ok and done.command_id == command_id
    dock.sensor_reading("vehicle", "dock-1/vehicle", PresenceReading(True))
    dock.sensor_reading("door", "dock-1/door", DoorReading(open=True))
    assert not dock.take_scan(label(P[1]))  # receiving handles it
    assert not dock.take_scan(label(P[5]))
    dock.sensor_reading("door", "dock-1/door", DoorReading(open=False))
    (checked,) = events(outbox, EventType.UNLOADING_CHECKED)
    assert checked == UnloadingChecked(
        dock="dock-1",
        receipt_ref="ASN-9",
        expected=[P[0], P[1]],
        scanned=[P[1], P[5]],
        shortages=[P[0]],
        extras=[P[5]],
    )
    assert outbox.unloading_expectations() == {}
