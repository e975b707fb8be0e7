"""Dead letters: events central could not apply, and re-applying them after a fix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import IngestDep, SessionDep
from central.domain.errors import UnknownDeadLetter
from central.schemas import DeadLetterPublic
from central.store import tables as t

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


def _public(row: t.RejectedEvent) -> DeadLetterPublic:
    return DeadLetterPublic.model_validate(
        {**row.model_dump(exclude={"site_code", "raw_sha256"}), "site": row.site_code}
    )


@router.get("", response_model=list[DeadLetterPublic])
def list_dead_letters(
    session: SessionDep,
    site: str | None = None,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterPublic]:
    """Dead letters, newest first."""
    statement = (
        select(t.RejectedEvent).order_by(col(t.RejectedEvent.id).desc()).offset(offset).limit(limit)
    )
    if site is not None:
        statement = statement.where(t.RejectedEvent.site_code == site)
    if status is not None:
        statement = statement.where(t.RejectedEvent.status == status)
    return [_public(row) for row in session.exec(statement).all()]


@router.post("/{dead_letter_id}/reapply", response_model=DeadLetterPublic)
def reapply(session: SessionDep, ingest: IngestDep, dead_letter_id: int) -> DeadLetterPublic:
    """Apply a dead-lettered event again (after fixing master data); 409 with the reason if not."""
    ingest.reapply_dead_letter(dead_letter_id)
    row = session.get(t.RejectedEvent, dead_letter_id)
    if row is None:
        raise UnknownDeadLetter(f"no dead letter {dead_letter_id}")
    return _public(row)
