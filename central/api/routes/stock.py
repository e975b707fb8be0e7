"""Stock by site, item, lot, handling unit and location, and one pallet by SSCC."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from central.api.deps import SessionDep
from central.domain.errors import UnknownHandlingUnit
from central.schemas import HandlingUnitPublic, StockRow
from central.store import tables as t

router = APIRouter(tags=["stock"])


@router.get("/stock", response_model=list[StockRow])
def list_stock(
    session: SessionDep,
    site: str | None = None,
    gtin: Annotated[str | None, Query(description="item GTIN")] = None,
    batch: Annotated[str | None, Query(description="lot / batch")] = None,
    sscc: Annotated[str | None, Query(description="handling unit")] = None,
    location: Annotated[str | None, Query(description="location (bin) code")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[StockRow]:
    """Stock on hand, one row per location / item / lot / handling unit."""
    statement = (
        select(t.StockBalance, t.Location, t.Item, t.Lot)
        .join(t.Location, col(t.Location.id) == t.StockBalance.location_id)
        .join(t.Item, col(t.Item.id) == t.StockBalance.item_id)
        .outerjoin(t.Lot, col(t.Lot.id) == t.StockBalance.lot_id)
        .outerjoin(t.HandlingUnit, col(t.HandlingUnit.id) == t.StockBalance.handling_unit_id)
        .where(t.StockBalance.quantity != Decimal(0))
        .order_by(col(t.StockBalance.site_code), col(t.Location.code), col(t.StockBalance.id))
        .offset(offset)
        .limit(limit)
    )
    if site is not None:
        statement = statement.where(t.StockBalance.site_code == site)
    if gtin is not None:
        statement = statement.where(t.Item.gtin == gtin)
    if batch is not None:
        statement = statement.where(t.Lot.batch == batch)
    if sscc is not None:
        statement = statement.where(t.HandlingUnit.sscc == sscc)
    if location is not None:
        statement = statement.where(t.Location.code == location)
    found = session.exec(statement).all()
    hu_ids = {balance.handling_unit_id for balance, *_ in found if balance.handling_unit_id}
    ssccs = {
        hu.id: hu.sscc
        for hu in session.exec(
            select(t.HandlingUnit).where(col(t.HandlingUnit.id).in_(hu_ids))
        ).all()
    }
    rows = [
        StockRow(
            site=balance.site_code,
            location=loc.code,
            gtin=item.gtin,
            item_name=item.name,
            batch=lot.batch if lot else None,
            expiry=lot.expiry if lot else None,
            sscc=ssccs.get(balance.handling_unit_id) if balance.handling_unit_id else None,
            quantity=balance.quantity,
        )
        for balance, loc, item, lot in found
    ]
    return rows


@router.get("/handling-units/{sscc}", response_model=HandlingUnitPublic, tags=["handling units"])
def get_handling_unit(session: SessionDep, sscc: str) -> HandlingUnitPublic:
    """One pallet by SSCC: what is on it, where it is, where it should go."""
    suggested = aliased(t.Location)
    row = session.exec(
        select(t.HandlingUnit, t.Item, t.Location)
        .join(t.Item, col(t.Item.id) == t.HandlingUnit.item_id)
        .join(t.Location, col(t.Location.id) == t.HandlingUnit.location_id)
        .where(t.HandlingUnit.sscc == sscc)
    ).first()
    if row is None:
        raise UnknownHandlingUnit(f"no pallet with SSCC {sscc} was received")
    hu, item, location = row
    lot = session.get(t.Lot, hu.lot_id) if hu.lot_id is not None else None
    putaway = session.exec(
        select(suggested.code)
        .join(t.PutawayTask, col(t.PutawayTask.suggested_location_id) == suggested.id)
        .where(t.PutawayTask.handling_unit_id == hu.id, t.PutawayTask.status == "open")
    ).first()
    return HandlingUnitPublic(
        sscc=hu.sscc,
        site=hu.site_code,
        gtin=item.gtin,
        item_name=item.name,
        batch=lot.batch if lot else None,
        expiry=lot.expiry if lot else None,
        quantity=hu.quantity,
        weight_kg=hu.weight_kg,
        location=location.code,
        status=hu.status,
        received_at=hu.received_at,
        putaway_location=putaway,
    )
