"""The applied event stream of each site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import SessionDep
from central.schemas import AppliedEventPublic
from central.store import tables as t

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=list[AppliedEventPublic])
def list_events(
    session: SessionDep,
    site: str | None = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    outcome: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AppliedEventPublic]:
    """Applied events in seq order, optionally of one site, after a seq, with one outcome."""
    statement = (
        select(t.AppliedEvent)
        .where(t.AppliedEvent.seq > after_seq)
        .order_by(col(t.AppliedEvent.site_code), col(t.AppliedEvent.seq))
        .limit(limit)
    )
    if site is not None:
        statement = statement.where(t.AppliedEvent.site_code == site)
    if outcome is not None:
        statement = statement.where(t.AppliedEvent.outcome == outcome)
    return [
        AppliedEventPublic(
            site=event.site_code,
            seq=event.seq,
            event_id=event.event_id,
            type=event.type,
            source=event.source,
            applied_at=event.applied_at,
            outcome=event.outcome,
            detail=event.detail,
        )
        for event in session.exec(statement).all()
    ]
