"""Use cases for master data: sites with docks, items, locations and expected receipts."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from central.domain.errors import AlreadyExists, UnknownItem, UnknownSite
from central.schemas import ExpectedReceiptCreate, ItemCreate, LocationCreate, SiteCreate
from central.store import tables as t
from contracts.envelope import utc_now


def _require_site(session: Session, code: str) -> t.Site:
    site = session.get(t.Site, code)
    if site is None:
        raise UnknownSite(f"site {code} does not exist; create it through POST /sites")
    return site


def create_site(*, session: Session, site_in: SiteCreate) -> t.Site:
    """Create a site, and for each dock the dock and its receiving location."""
    if session.get(t.Site, site_in.code) is not None:
        raise AlreadyExists(f"site {site_in.code} already exists")
    codes = [dock.code for dock in site_in.docks]
    if len(set(codes)) != len(codes):
        raise AlreadyExists(f"site {site_in.code}: dock codes must be unique, got {codes}")
    site = t.Site(code=site_in.code, name=site_in.name, last_seq=0, created_at=utc_now())
    session.add(site)
    session.flush()
    for dock_in in site_in.docks:
        location = t.Location(
            site_code=site.code,
            code=dock_in.receiving_location,
            kind="receiving",
            x=dock_in.x,
            y=dock_in.y,
            z=Decimal(0),
        )
        session.add(location)
        session.flush()
        assert location.id is not None
        session.add(
            t.Dock(
                site_code=site.code,
                code=dock_in.code,
                receiving_location_id=location.id,
                x=dock_in.x,
                y=dock_in.y,
            )
        )
    session.flush()
    return site


def create_item(*, session: Session, item_in: ItemCreate) -> t.Item:
    """Create an item; AlreadyExists if the GTIN is taken."""
    if session.exec(select(t.Item).where(t.Item.gtin == item_in.gtin)).first() is not None:
        raise AlreadyExists(f"an item with GTIN {item_in.gtin} already exists")
    item = t.Item.model_validate(item_in)
    session.add(item)
    session.flush()
    return item


def create_location(*, session: Session, location_in: LocationCreate) -> t.Location:
    """Create a location at a site; AlreadyExists if the code is taken there."""
    _require_site(session, location_in.site)
    existing = session.exec(
        select(t.Location).where(
            t.Location.site_code == location_in.site, t.Location.code == location_in.code
        )
    ).first()
    if existing is not None:
        raise AlreadyExists(f"site {location_in.site} already has a location {location_in.code}")
    location = t.Location(
        site_code=location_in.site,
        hazard_classes=",".join(location_in.hazard_classes) or None,
        **location_in.model_dump(exclude={"site", "hazard_classes"}),
    )
    session.add(location)
    session.flush()
    return location


def create_expected_receipt(
    *, session: Session, receipt_in: ExpectedReceiptCreate
) -> tuple[t.ExpectedReceipt, list[t.ExpectedReceiptLine]]:
    """Create an expected receipt; every line's GTIN must be a known item."""
    _require_site(session, receipt_in.site)
    existing = session.exec(
        select(t.ExpectedReceipt).where(
            t.ExpectedReceipt.site_code == receipt_in.site,
            t.ExpectedReceipt.reference == receipt_in.reference,
        )
    ).first()
    if existing is not None:
        raise AlreadyExists(
            f"site {receipt_in.site} already has an expected receipt {receipt_in.reference}"
        )
    for line_in in receipt_in.lines:
        if session.exec(select(t.Item.id).where(t.Item.gtin == line_in.gtin)).first() is None:
            raise UnknownItem(
                f"line with GTIN {line_in.gtin}: no such item; create it through POST /items"
            )
    receipt = t.ExpectedReceipt(
        site_code=receipt_in.site,
        reference=receipt_in.reference,
        supplier=receipt_in.supplier,
        status="open",
        created_at=utc_now(),
    )
    session.add(receipt)
    session.flush()
    assert receipt.id is not None
    lines = []
    for number, line_in in enumerate(receipt_in.lines, start=1):
        line = t.ExpectedReceiptLine(
            receipt_id=receipt.id,
            line_no=number,
            received_quantity=Decimal(0),
            **line_in.model_dump(),
        )
        session.add(line)
        lines.append(line)
    session.flush()
    return receipt, lines
