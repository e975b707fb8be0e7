"""Items (trade items by GTIN)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import SessionDep, WriteSessionDep
from central.master_data import create_item
from central.schemas import ItemCreate, ItemPublic
from central.store import tables as t

router = APIRouter(prefix="/items", tags=["items"])


@router.post("", response_model=ItemPublic, status_code=201)
def post_item(session: WriteSessionDep, item_in: ItemCreate) -> ItemPublic:
    """Create an item."""
    item = create_item(session=session, item_in=item_in)
    session.commit()
    return ItemPublic.model_validate(item)


@router.get("", response_model=list[ItemPublic])
def list_items(
    session: SessionDep,
    gtin: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ItemPublic]:
    """Items, optionally only the one with `gtin`."""
    statement = select(t.Item).order_by(col(t.Item.gtin)).offset(offset).limit(limit)
    if gtin is not None:
        statement = statement.where(t.Item.gtin == gtin)
    return [ItemPublic.model_validate(item) for item in session.exec(statement).all()]
