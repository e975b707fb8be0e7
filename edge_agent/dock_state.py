"""A dock's phase from its sensors and the work done at it, as a pure state machine.

    EMPTY ──vehicle──▶ VEHICLE_DOCKED ──door opens──▶ DOOR_OPEN ──plan / receiving scan──▶
      ▲                                              LOADING | UNLOADING ──door closes──▶
      └──────────── vehicle leaves ◀──────────────── DOOR_CLOSED

Odd situations are phases or alerts, never ignored: the door open with no vehicle
(DOOR_OPEN_NO_VEHICLE, alert), a vehicle docked longer than `max_docked_s`, the door open longer
than `door_open_max_s` with no work (alerts on a `Tick`, once per stay / opening). An alert is a
`dock.state_changed` with `alert` set (and state == previous when the phase did not change).

A dock without a vehicle sensor (vehicle None) never raises the no-vehicle alert and counts as
EMPTY whenever its door is closed. Time is a monotonic number of seconds in each input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from contracts.events import (
    DockDoorChanged,
    DockPhase,
    DockStateChanged,
    DockVehicleChanged,
    DoorState,
    EventType,
)
from edge_agent.receiving import Emit

ALERT_NO_VEHICLE = "door open with no vehicle at the dock: close the door"
ALERT_DOCKED_LONG = "vehicle docked for over {minutes} min"
ALERT_DOOR_IDLE = "door open for over {minutes} min with no work: close it"


@dataclass(frozen=True)
class DockTimers:
    """How long a dock may stay in a situation before it raises an alert."""

    max_docked_s: float
    door_open_max_s: float


@dataclass(frozen=True)
class DockStatus:
    """What the edge knows about one dock."""

    dock: str
    phase: DockPhase = DockPhase.EMPTY
    door_open: bool | None = None
    vehicle: bool | None = None
    shipment_id: str | None = None
    unloading: bool = False
    door_opened_with_vehicle: bool = False
    vehicle_since: float | None = None
    door_since: float | None = None
    last_work: float | None = None
    raised: frozenset[str] = frozenset()


# Inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoorSensed:
    """The door sensor reported open or closed."""

    open: bool
    sensor: str
    at: float


@dataclass(frozen=True)
class VehicleSensed:
    """The presence sensor reported a vehicle (or none)."""

    present: bool
    sensor: str
    at: float
    distance_m: Decimal | None = None


@dataclass(frozen=True)
class PlanChanged:
    """A load plan became active at the dock (or none is: dispatched, withdrawn)."""

    shipment_id: str | None
    at: float


@dataclass(frozen=True)
class WorkDone:
    """A pallet was scanned at the dock: `loading` against a plan, else receiving."""

    loading: bool
    at: float


@dataclass(frozen=True)
class Tick:
    """Time passed; check the timers."""

    at: float


DockInput = DoorSensed | VehicleSensed | PlanChanged | WorkDone | Tick


@dataclass(frozen=True)
class DoorClosedAfter:
    """The door closed; `phase` is what the dock was doing while it was open."""

    phase: DockPhase


DockControlEffect = Emit | DoorClosedAfter


def phase_of(s: DockStatus) -> DockPhase:
    """The phase the facts in `s` add up to."""
    if s.door_open:
        if s.vehicle is False:
            return DockPhase.DOOR_OPEN_NO_VEHICLE
        if s.shipment_id is not None:
            return DockPhase.LOADING
        if s.unloading:
            return DockPhase.UNLOADING
        return DockPhase.DOOR_OPEN
    if s.vehicle:
        return DockPhase.DOOR_CLOSED if s.door_opened_with_vehicle else DockPhase.VEHICLE_DOCKED
    return DockPhase.EMPTY


def _source(dock: str) -> str:
    return f"{dock}/control"


def _changed(before: DockStatus, after: DockStatus, alert: str | None = None) -> Emit:
    return Emit(
        EventType.DOCK_STATE_CHANGED,
        _source(after.dock),
        DockStateChanged(
            dock=after.dock,
            state=after.phase,
            previous=before.phase,
            shipment_id=after.shipment_id,
            alert=alert,
        ),
    )


def _settle(before: DockStatus, after: DockStatus, effects: list[DockControlEffect]) -> Step:
    """Recompute the phase; report a change (with the no-vehicle alert when it applies)."""
    after = replace(after, phase=phase_of(after))
    if after.phase is not before.phase:
        alert = None
        if after.phase is DockPhase.DOOR_OPEN_NO_VEHICLE:
            alert = ALERT_NO_VEHICLE
        effects.append(_changed(before, after, alert))
    return after, effects


Step = tuple[DockStatus, list[DockControlEffect]]


def _door(s: DockStatus, event: DoorSensed) -> Step:
    effects: list[DockControlEffect] = []
    if event.open == s.door_open:
        return s, effects
    effects.append(
        Emit(
            EventType.DOCK_DOOR_CHANGED,
            event.sensor,
            DockDoorChanged(
                dock=s.dock,
                door=DoorState.OPEN if event.open else DoorState.CLOSED,
                sensor=event.sensor,
            ),
        )
    )
    was_open = s.door_open is True
    nxt = replace(s, door_open=event.open)
    if event.open:
        nxt = replace(
            nxt,
            door_since=event.at,
            door_opened_with_vehicle=s.door_opened_with_vehicle or s.vehicle is True,
        )
    else:
        # The unloading (if any) ends with the door; the runner checks it on DoorClosedAfter.
        nxt = replace(nxt, door_since=None, unloading=False, raised=s.raised - {"door_idle"})
    nxt, effects = _settle(s, nxt, effects)
    if was_open and not event.open:
        effects.append(DoorClosedAfter(s.phase))
    return nxt, effects


def _vehicle(s: DockStatus, event: VehicleSensed) -> Step:
    effects: list[DockControlEffect] = []
    if event.present == s.vehicle:
        return s, effects
    effects.append(
        Emit(
            EventType.DOCK_VEHICLE_CHANGED,
            event.sensor,
            DockVehicleChanged(
                dock=s.dock, present=event.present, sensor=event.sensor, distance_m=event.distance_m
            ),
        )
    )
    if event.present:
        nxt = replace(
            s,
            vehicle=True,
            vehicle_since=event.at,
            door_opened_with_vehicle=s.door_open is True,
        )
    else:
        nxt = replace(
            s,
            vehicle=False,
            vehicle_since=None,
            door_opened_with_vehicle=False,
            raised=s.raised - {"docked_long"},
        )
    return _settle(s, nxt, effects)


def _tick(s: DockStatus, at: float, timers: DockTimers) -> Step:
    effects: list[DockControlEffect] = []
    raised = set(s.raised)
    if (
        s.vehicle
        and s.vehicle_since is not None
        and at - s.vehicle_since > timers.max_docked_s
        and "docked_long" not in raised
    ):
        raised.add("docked_long")
        minutes = int(timers.max_docked_s // 60)
        effects.append(_changed(s, s, ALERT_DOCKED_LONG.format(minutes=minutes)))
    if s.door_open and s.door_since is not None and "door_idle" not in raised:
        quiet_since = max(s.door_since, s.last_work or s.door_since)
        if at - quiet_since > timers.door_open_max_s:
            raised.add("door_idle")
            minutes = int(timers.door_open_max_s // 60)
            effects.append(_changed(s, s, ALERT_DOOR_IDLE.format(minutes=minutes)))
    return replace(s, raised=frozenset(raised)), effects


def step(s: DockStatus, event: DockInput, timers: DockTimers) -> Step:
    """The dock's next status and the effects (events, door-closed hand-over) of one input."""
    match event:
        case DoorSensed():
            return _door(s, event)
        case VehicleSensed():
            return _vehicle(s, event)
        case PlanChanged(shipment_id=shipment_id):
            return _settle(s, replace(s, shipment_id=shipment_id), [])
        case WorkDone(loading=loading, at=at):
            nxt = replace(s, last_work=at, raised=s.raised - {"door_idle"})
            if not loading and s.door_open:
                nxt = replace(nxt, unloading=True)
            return _settle(s, nxt, [])
        case Tick(at=at):
            return _tick(s, at, timers)
