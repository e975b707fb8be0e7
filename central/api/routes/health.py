"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from central.api.deps import SessionDep
from central.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(session: SessionDep) -> Health:
    """OK when the service runs and its database answers."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return Health(status="ok", database="ok")
