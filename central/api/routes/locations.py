"""Locations: receiving areas and bins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import SessionDep, WriteSessionDep
from central.master_data import create_location
from central.schemas import LocationCreate, LocationPublic
from central.store import tables as t

router = APIRouter(prefix="/locations", tags=["locations"])


def _public(location: t.Location) -> LocationPublic:
    return LocationPublic.model_validate(
        {**location.model_dump(exclude={"site_code"}), "site": location.site_code}
    )


@router.post("", response_model=LocationPublic, status_code=201)
def post_location(session: WriteSessionDep, location_in: LocationCreate) -> LocationPublic:
    """Create a location (bin or receiving area) at a site."""
    location = create_location(session=session, location_in=location_in)
    session.commit()
    return _public(location)


@router.get("", response_model=list[LocationPublic])
def list_locations(
    session: SessionDep,
    site: str | None = None,
    kind: Literal["receiving", "bin"] | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[LocationPublic]:
    """Locations, optionally of one site and of one kind."""
    statement = (
        select(t.Location)
        .order_by(col(t.Location.site_code), col(t.Location.code))
        .offset(offset)
        .limit(limit)
    )
    if site is not None:
        statement = statement.where(t.Location.site_code == site)
    if kind is not None:
        statement = statement.where(t.Location.kind == kind)
    return [_public(location) for location in session.exec(statement).all()]
