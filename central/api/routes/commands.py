"""Central's command outbox: what was sent to each edge and whether it was done."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import SessionDep
from central.schemas import CommandPublic
from central.store import tables as t

router = APIRouter(prefix="/commands", tags=["commands"])


@router.get("", response_model=list[CommandPublic])
def list_commands(
    session: SessionDep,
    site: str | None = None,
    pending: Annotated[bool | None, Query(description="only commands not done yet")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CommandPublic]:
    """Commands, newest first."""
    statement = (
        select(t.CommandOutbox)
        .order_by(col(t.CommandOutbox.created_at).desc())
        .offset(offset)
        .limit(limit)
    )
    if site is not None:
        statement = statement.where(t.CommandOutbox.site_code == site)
    if pending is not None:
        done = col(t.CommandOutbox.done_at)
        statement = statement.where(done.is_(None) if pending else done.is_not(None))
    return [
        CommandPublic(
            command_id=row.command_id,
            site=row.site_code,
            type=row.type,
            cause_event_id=row.cause_event_id,
            created_at=row.created_at,
            last_sent_at=row.last_sent_at,
            done_at=row.done_at,
            ok=row.ok,
            detail=row.detail,
            data=json.loads(row.payload)["data"],
        )
        for row in session.exec(statement).all()
    ]
