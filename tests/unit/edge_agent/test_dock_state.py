"""The dock phase machine: the normal cycle, odd situations as alerts, and invariants over any
sequence of sensor readings, plans, work and time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.events import DockPhase, DockStateChanged, EventType
from edge_agent.dock_state import (
    ALERT_NO_VEHICLE,
    DockInput,
    DockStatus,
    DockTimers,
    DoorClosedAfter,
    DoorSensed,
    PlanChanged,
    Tick,
    VehicleSensed,
    WorkDone,
    phase_of,
    step,
)
from edge_agent.receiving import Emit

TIMERS = DockTimers(max_docked_s=3600, door_open_max_s=600)
DOOR = "dock-1/door"
VEHICLE = "dock-1/vehicle"


def run(events: list[DockInput]) -> tuple[DockStatus, list[object]]:
    status = DockStatus("dock-1")
    effects: list[object] = []
    for event in events:
        status, out = step(status, event, TIMERS)
        effects.extend(out)
    return status, effects


def changes(effects: list[object]) -> list[DockStateChanged]:
    return [
        e.payload
        for e in effects
        if isinstance(e, Emit) and isinstance(e.payload, DockStateChanged)
    ]


def test_an_outbound_cycle_goes_through_every_phase_in_order():
    status, effects = run(
        [
            VehicleSensed(True, VEHICLE, 0),
            DoorSensed(True, DOOR, 10),
            PlanChanged("S1", 20),
            WorkDone(loading=True, at=30),
            DoorSensed(False, DOOR, 40),
            VehicleSensed(False, VEHICLE, 50),
        ]
    )
    assert [c.state for c in changes(effects)] == [
        DockPhase.VEHICLE_DOCKED,
        DockPhase.DOOR_OPEN,
        DockPhase.LOADING,
        DockPhase.DOOR_CLOSED,
        DockPhase.EMPTY,
    ]
    assert DoorClosedAfter(DockPhase.LOADING) in effects
    assert all(c.alert is None for c in changes(effects))
    types = [e.type for e in effects if isinstance(e, Emit)]
    assert types.count(EventType.DOCK_DOOR_CHANGED) == 2
    assert types.count(EventType.DOCK_VEHICLE_CHANGED) == 2
    assert status.phase is DockPhase.EMPTY


def test_a_receiving_scan_with_the_door_open_means_unloading():
    _, effects = run(
        [
            VehicleSensed(True, VEHICLE, 0),
            DoorSensed(True, DOOR, 1),
            WorkDone(loading=False, at=2),
            DoorSensed(False, DOOR, 3),
        ]
    )
    assert DockPhase.UNLOADING in [c.state for c in changes(effects)]
    assert DoorClosedAfter(DockPhase.UNLOADING) in effects


def test_door_open_without_a_vehicle_is_an_alert():
    _, effects = run([VehicleSensed(False, VEHICLE, 0), DoorSensed(True, DOOR, 1)])
    (change,) = changes(effects)
    assert change.state is DockPhase.DOOR_OPEN_NO_VEHICLE and change.alert == ALERT_NO_VEHICLE


def test_a_vehicle_docked_too_long_and_a_door_left_open_raise_one_alert_each():
    _, effects = run(
        [
            VehicleSensed(True, VEHICLE, 0),
            DoorSensed(True, DOOR, 0),
            Tick(599),
            Tick(601),
            Tick(700),
            Tick(3601),
            Tick(4000),
        ]
    )
    alerts = [c.alert for c in changes(effects) if c.alert]
    assert len(alerts) == 2
    assert "no work" in alerts[0] and "docked for over 60 min" in alerts[1]
    assert all(c.state == c.previous for c in changes(effects) if c.alert)


def test_work_at_the_dock_keeps_the_door_alert_quiet():
    _, effects = run(
        [
            VehicleSensed(True, VEHICLE, 0),
            DoorSensed(True, DOOR, 0),
            WorkDone(loading=True, at=500),
            Tick(900),
        ]
    )
    assert not [c for c in changes(effects) if c.alert]


def test_without_a_vehicle_sensor_there_is_no_no_vehicle_alert():
    _, effects = run([DoorSensed(True, DOOR, 0), DoorSensed(False, DOOR, 1)])
    assert [c.state for c in changes(effects)] == [DockPhase.DOOR_OPEN, DockPhase.EMPTY]


inputs = st.one_of(
    st.builds(DoorSensed, st.booleans(), st.just(DOOR), st.floats(0, 10_000)),
    st.builds(VehicleSensed, st.booleans(), st.just(VEHICLE), st.floats(0, 10_000)),
    st.builds(PlanChanged, st.sampled_from([None, "S1", "S2"]), st.floats(0, 10_000)),
    st.builds(WorkDone, st.booleans(), st.floats(0, 10_000)),
    st.builds(Tick, st.floats(0, 10_000)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(inputs, max_size=40))
def test_any_sequence_keeps_the_phase_consistent_and_reports_every_change(events):
    """The phase always equals what the facts add up to; each change is reported once, with
    the previous phase; a door closing after being open is handed over exactly once."""
    status = DockStatus("dock-1")
    for event in events:
        before = status
        status, effects = step(status, event, TIMERS)
        assert status.phase is phase_of(status)
        reported = [c for c in changes(effects) if c.state != c.previous]
        if status.phase is before.phase:
            assert reported == []
        else:
            assert [(c.previous, c.state) for c in reported] == [(before.phase, status.phase)]
        closed = [e for e in effects if isinstance(e, DoorClosedAfter)]
        opened_then_closed = (
            isinstance(event, DoorSensed) and before.door_open is True and not event.open
        )
        assert len(closed) == (1 if opened_then_closed else 0)
        if status.phase is DockPhase.DOOR_OPEN_NO_VEHICLE and before.phase is not status.phase:
            assert reported[0].alert == ALERT_NO_VEHICLE
        alerts_without_change = [c for c in changes(effects) if c.state == c.previous]
        assert len(alerts_without_change) <= 2
