"""The dock board: the state of every dock of a site, as its edge reports it."""

from __future__ import annotations

from fastapi import APIRouter

from central.api.deps import SessionDep
from central.dock_service import dock_board
from central.loading_schemas import DockBoardRow

router = APIRouter(prefix="/docks", tags=["docks"])


@router.get("", response_model=list[DockBoardRow])
def get_dock_board(session: SessionDep, site: str) -> list[DockBoardRow]:
    """Every dock: phase, door, vehicle, shipment and its loading progress, last alert, devices."""
    return dock_board(session, site)
