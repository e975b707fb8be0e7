"""Outbound loads: plan a shipment's load, view it and its floor plan, send it to the dock.

A load that does not fit is still created (201) and shown with solver status INFEASIBLE, the
reasons and the pallets left out, so the dispatcher sees why; sending it is refused (422).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import Engine
from sqlmodel import Session

from central.api.deps import SessionDep, WriteSessionDep, get_engine
from central.loading_schemas import LoadCommandPublic, LoadCreate, LoadPublic
from central.loading_service import (
    cancel_load,
    create_load,
    list_loads,
    load_svg,
    load_view,
    send_load,
)
from contracts.envelope import utc_now

router = APIRouter(prefix="/loads", tags=["loads"])


@router.post("", response_model=LoadPublic, status_code=201)
def post_load(engine: Annotated[Engine, Depends(get_engine)], load_in: LoadCreate) -> LoadPublic:
    """Create a shipment of pallets in stock, each with its stop, and plan its load: positions
    and loading sequence with the last stop's pallets at the front (LIFO), within payload,
    axle and balance limits."""
    shipment_id = create_load(engine, load_in, now=utc_now())
    with Session(engine) as session:
        return load_view(session, shipment_id)


@router.get("", response_model=list[LoadPublic])
def get_loads(session: SessionDep, site: str, status: str | None = None) -> list[LoadPublic]:
    """The site's shipments, newest first (status: planned, loading, dispatched, cancelled)."""
    return list_loads(session, site, status=status)


@router.get("/{shipment_id}", response_model=LoadPublic)
def get_load(session: SessionDep, shipment_id: int) -> LoadPublic:
    """A shipment: its pallets (where each is now) and its current load plan."""
    return load_view(session, shipment_id)


@router.get(
    "/{shipment_id}/floor.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def get_floor_svg(session: SessionDep, shipment_id: int) -> Response:
    """The current plan seen from above: front wall left, doors right, stop per pallet."""
    return Response(load_svg(session, shipment_id), media_type="image/svg+xml")


@router.post("/{shipment_id}/send", response_model=LoadCommandPublic, status_code=202)
def post_send(session: WriteSessionDep, shipment_id: int) -> LoadCommandPublic:
    """Send the plan to the dock's edge (load.plan); resent until the edge confirms it."""
    queued = send_load(session, shipment_id, now=utc_now())
    session.commit()
    return queued


@router.post("/{shipment_id}/cancel", response_model=LoadPublic)
def post_cancel(session: WriteSessionDep, shipment_id: int) -> LoadPublic:
    """Cancel a shipment that has not started loading; its pallets are free for another."""
    cancel_load(session, shipment_id)
    session.commit()
    return load_view(session, shipment_id)
