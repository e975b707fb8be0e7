"""Master data and edge event streams for central's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Engine
from sqlmodel import Session, select

from central.master_data import create_expected_receipt, create_item, create_location, create_site
from central.schemas import (
    DockCreate,
    ExpectedReceiptCreate,
    ExpectedReceiptLineCreate,
    ItemCreate,
    LocationCreate,
    SiteCreate,
)
from central.store import tables as t
from central.store.db import make_engine, upgrade
from contracts import Envelope, Topics, new_event_id
from firmware_sim import gs1

GTIN = "04012345000016"
OTHER_GTIN = "04012345000023"
UNKNOWN_GTIN = "09999999999994"
PALLET_QTY = Decimal(10)
PALLET_KG = Decimal("500.0")


def sscc(serial: int) -> str:
    """A valid SSCC: extension 0, company prefix 4012345, the serial, check digit."""
    return gs1.sscc("4012345", serial)


@contextmanager
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """Migrate the database, yield an engine, dispose it afterwards."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def bin_code(row: int, col: int) -> str:
    """Bin code in the scanner's location pattern, e.g. A-03-07."""
    return f"A-{row:02d}-{col:02d}"


def seed_site(
    engine: Engine,
    site: str,
    *,
    pallets: int = 40,
    bins_rows: int = 8,
    bins_cols: int = 8,
    max_weight_kg: Decimal = Decimal(1000),
) -> None:
    """Site with dock-1 at (0, 0), a grid of bins, two items, and an ASN of SSCC lines."""
    with Session(engine) as session:
        create_site(
            session=session,
            site_in=SiteCreate(
                code=site,
                name=f"Test {site}",
                docks=[DockCreate(code="dock-1", receiving_location="RCV-1", x=Decimal(0))],
            ),
        )
        for row in range(1, bins_rows + 1):
            for col in range(1, bins_cols + 1):
                create_location(
                    session=session,
                    location_in=LocationCreate(
                        site=site,
                        code=bin_code(row, col),
                        x=Decimal(col * 3),
                        y=Decimal(row * 2),
                        max_weight_kg=max_weight_kg,
                        max_pallets=1,
                    ),
                )
        for gtin, name in ((GTIN, "Widget 10-pack"), (OTHER_GTIN, "Gadget")):
            if session.exec(select(t.Item).where(t.Item.gtin == gtin)).first() is None:
                create_item(
                    session=session,
                    item_in=ItemCreate(gtin=gtin, name=name, unit_weight_kg=Decimal(50)),
                )
        create_expected_receipt(
            session=session,
            receipt_in=ExpectedReceiptCreate(
                site=site,
                reference=f"ASN-{site}",
                supplier="ACME",
                lines=[
                    ExpectedReceiptLineCreate(
                        gtin=GTIN,
                        sscc=sscc(i),
                        quantity=PALLET_QTY,
                        expected_weight_kg=PALLET_KG,
                        weight_tolerance_pct=Decimal(2),
                        unit_price=Decimal("12.50"),
                        currency="EUR",
                    )
                    for i in range(1, pallets + 1)
                ],
            ),
        )
        session.commit()


@dataclass
class EdgeStream:
    """Builds one site's event stream the way an edge's outbox numbers it."""

    site: str
    seq: int = 0
    ids: dict[int, UUID] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        """The site's up/events topic."""
        return Topics(self.site).up_events

    def event(self, event_type: str, data: dict[str, object], *, source: str = "dock-1") -> bytes:
        """The next envelope of the stream, as bytes on the wire."""
        self.seq += 1
        event_id = new_event_id()
        self.ids[self.seq] = event_id
        return Envelope(
            id=event_id,
            site=self.site,
            seq=self.seq,
            source=source,
            type=event_type,
            at=datetime.now(UTC),
            data=data,
        ).to_json()

    def goods_received(
        self,
        serial: int | None,
        *,
        gtin: str = GTIN,
        quantity: Decimal = PALLET_QTY,
        weight_kg: Decimal = PALLET_KG,
        batch: str | None = None,
    ) -> bytes:
        """goods.received for the pallet with SSCC serial `serial` (None: no SSCC)."""
        data: dict[str, object] = {
            "dock": "dock-1",
            "gtin": gtin,
            "quantity": str(quantity),
            "weight_kg": str(weight_kg),
            "barcode": f"(00){sscc(serial)}" if serial is not None else f"(01){gtin}",
        }
        if serial is not None:
            data["sscc"] = sscc(serial)
        if batch is not None:
            data["batch"] = batch
        return self.event("goods.received", data, source="dock-1/scale")

    def putaway(self, serial: int, location: str) -> bytes:
        """putaway.confirmed of pallet `serial` into `location`."""
        return self.event(
            "putaway.confirmed",
            {"dock": "dock-1", "sscc": sscc(serial), "location": location},
            source="dock-1/scanner",
        )
