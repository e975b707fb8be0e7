"""Alerts for ops: discrepancies, rejected events, device faults."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import SessionDep
from central.schemas import AlertPublic
from central.store import tables as t

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertPublic])
def list_alerts(
    session: SessionDep,
    site: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertPublic]:
    """Alerts, newest first."""
    statement = select(t.Alert).order_by(col(t.Alert.id).desc()).offset(offset).limit(limit)
    if site is not None:
        statement = statement.where(t.Alert.site_code == site)
    if kind is not None:
        statement = statement.where(t.Alert.kind == kind)
    if status is not None:
        statement = statement.where(t.Alert.status == status)
    return [
        AlertPublic.model_validate(
            {**alert.model_dump(exclude={"site_code"}), "site": alert.site_code}
        )
        for alert in session.exec(statement).all()
    ]
