"""The dock board: each dock's door, vehicle and phase as its edge reports them, live.

The edge runs each dock's state machine (`edge_agent.dock_state`) and sends what changes:
`dock.door_changed`, `dock.vehicle_changed`, `dock.state_changed` (an alert there is raised
for ops too) and `loading.alarm`. Central keeps the last of each in `dock_status`, one row per
dock, and the board joins it with the dock's devices and its shipment's progress.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, col, select

from central.domain.errors import UnknownSite
from central.loading_schemas import DockBoardRow, DockDevicePublic
from central.store import tables as t
from contracts.events import (
    DockDoorChanged,
    DockPhase,
    DockStateChanged,
    DockVehicleChanged,
    LoadingAlarm,
)

logger = logging.getLogger(__name__)

Alert = Callable[[str, str, str | None], None]
"""Raises an alert in the caller's transaction: (kind, message, ref)."""

DockEvent = DockDoorChanged | DockVehicleChanged | DockStateChanged | LoadingAlarm


def _row(session: Session, site: str, dock: str, *, at: datetime) -> t.DockStatus:
    row = session.get(t.DockStatus, (site, dock))
    if row is None:
        # The edge starts every dock EMPTY until its sensors say otherwise.
        row = t.DockStatus(
            site_code=site,
            dock=dock,
            phase=DockPhase.EMPTY,
            since=at,
            last_event_type="",
            last_event_at=at,
        )
    return row


def apply_dock_event(
    session: Session,
    site: str,
    payload: DockEvent,
    *,
    event_type: str,
    at: datetime,
    alert: Alert,
) -> str:
    """Bring the dock's board row up to date with one event; returns a line for the event log."""
    row = _row(session, site, payload.dock, at=at)
    match payload:
        case DockDoorChanged(door=door):
            row.door = door.value
            detail = f"{payload.dock} door {door.value}"
        case DockVehicleChanged(present=present, distance_m=distance):
            row.vehicle_present = present
            row.distance_m = distance
            detail = f"{payload.dock} vehicle {'docked' if present else 'gone'}"
        case DockStateChanged(state=state, shipment_id=shipment, alert=odd):
            if state.value != row.phase:
                row.phase = state.value
                row.since = at
                row.alert = None
            row.shipment = shipment
            detail = f"{payload.dock} {payload.previous.value} -> {state.value}"
            if odd:
                row.alert = odd
                alert("dock_alert", f"{payload.dock} ({state.value}): {odd}", payload.dock)
                detail = f"{detail}: {odd}"
        case LoadingAlarm(reason=reason, shipment_id=shipment, sscc=sscc, detail=why):
            message = (
                f"{reason.value.replace('_', ' ')} at {payload.dock}, shipment {shipment}"
                + (f", pallet {sscc}" if sscc else "")
                + (f": {why}" if why else "")
            )
            row.alert = message
            alert("loading_alarm", message, sscc or shipment)
            detail = message
    if at >= row.last_event_at or not row.last_event_type:
        row.last_event_type = event_type
        row.last_event_at = at
    session.add(row)
    return detail


def dock_board(session: Session, site: str) -> list[DockBoardRow]:
    """Every dock of the site (set up in central or reported by the edge), by dock code."""
    if session.get(t.Site, site) is None:
        raise UnknownSite(f"site {site} does not exist; create it through POST /sites")
    statuses = {
        row.dock: row
        for row in session.exec(select(t.DockStatus).where(t.DockStatus.site_code == site)).all()
    }
    docks = set(statuses) | set(session.exec(select(t.Dock.code).where(t.Dock.site_code == site)))
    devices = session.exec(
        select(t.DeviceStatus)
        .where(t.DeviceStatus.site_code == site)
        .order_by(col(t.DeviceStatus.device))
    ).all()
    shipments = {
        s.reference: s
        for s in session.exec(
            select(t.Shipment).where(
                t.Shipment.site_code == site,
                col(t.Shipment.reference).in_(
                    [r.shipment for r in statuses.values() if r.shipment]
                ),
            )
        ).all()
    }
    progress: dict[int, Counter[str]] = {}
    for shipment_id, pallet_status in session.exec(
        select(t.ShipmentPallet.shipment_id, t.ShipmentPallet.status).where(
            col(t.ShipmentPallet.shipment_id).in_([s.id for s in shipments.values()])
        )
    ).all():
        progress.setdefault(shipment_id, Counter())[pallet_status] += 1
    board = []
    for dock in sorted(docks):
        status = statuses.get(dock)
        shipment = shipments.get(status.shipment) if status and status.shipment else None
        counts = progress.get(shipment.id, Counter()) if shipment and shipment.id else None
        board.append(
            DockBoardRow(
                dock=dock,
                phase=status.phase if status else None,
                door=status.door if status else None,
                vehicle_present=status.vehicle_present if status else None,
                distance_m=status.distance_m if status else None,
                shipment=status.shipment if status else None,
                shipment_status=shipment.status if shipment else None,
                pallets_loaded=None if counts is None else counts["loaded"] + counts["dispatched"],
                pallets_planned=None if counts is None else sum(counts.values()),
                alert=status.alert if status else None,
                since=status.since if status else None,
                last_event_type=status.last_event_type if status else None,
                last_event_at=status.last_event_at if status else None,
                devices=[
                    DockDevicePublic(
                        device=d.device, state=d.state, detail=d.detail, last_seen=d.last_seen
                    )
                    for d in devices
                    if d.device.startswith(f"{dock}/")
                ],
            )
        )
    return board
