"""Device health as the edges report it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from central.api.deps import SessionDep
from central.schemas import DevicePublic
from central.store import tables as t

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(session: SessionDep, site: str | None = None) -> list[DevicePublic]:
    """Every device's last known state."""
    statement = select(t.DeviceStatus).order_by(
        col(t.DeviceStatus.site_code), col(t.DeviceStatus.device)
    )
    if site is not None:
        statement = statement.where(t.DeviceStatus.site_code == site)
    return [
        DevicePublic(
            site=row.site_code,
            device=row.device,
            state=row.state,
            detail=row.detail,
            last_seen=row.last_seen,
        )
        for row in session.exec(statement).all()
    ]
