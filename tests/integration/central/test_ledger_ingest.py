"""Edge events reach the books in the same transaction as the stock move, exactly once."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from central.domain.accounting import JournalEntry, LedgerConfig, MovementType
from central.ingest import IngestService
from central.ledger import JournalFilter, check_books, journal, open_ledger
from central.ledger_commands import LedgerCommands
from central.ledger_schemas import ReceiptValuationCreate
from central.store import tables as t
from contracts.envelope import utc_now
from tests.integration.central.scenario import (
    GTIN,
    OTHER_GTIN,
    EdgeStream,
    migrated_engine,
    seed_site,
)
from tests.support.services import POSTGRES_ADMIN_URL

CONFIG = LedgerConfig()


def _entries(engine: Engine) -> list[JournalEntry]:
    with Session(engine) as session:
        return journal(session, JournalFilter())


def _net(entry: JournalEntry) -> dict[str, Decimal]:
    net: dict[str, Decimal] = {}
    for line in entry.lines:
        net[line.account] = net.get(line.account, Decimal(0)) + line.amount
    return {account: amount for account, amount in net.items() if amount}


def _check(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [f"{v.invariant}: {v.detail}" for v in check_books(session, CONFIG)]


@contextmanager
def _another_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind as `database_url`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'replay.db'}"
        return
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"wms_replay_{secrets.token_hex(6)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_receipts_post_at_the_order_price_once_and_a_replay_rebuilds_the_same_journal(
    seeded: Engine, service: IngestService, stream: EdgeStream, database_url: str, tmp_path: Path
) -> None:
    raws = [stream.goods_received(serial) for serial in (1, 2, 3)]
    for raw in raws:
        service.handle(raw, topic=stream.topic)
    service.handle(raws[1], topic=stream.topic)  # the edge resends: nothing new is posted
    with Session(seeded) as session:
        task = session.exec(select(t.PutawayTask)).first()
        assert task is not None
        target = session.get(t.Location, task.suggested_location_id)
        assert target is not None
    raws.append(stream.putaway(1, target.code))
    service.handle(raws[-1], topic=stream.topic)

    entries = _entries(seeded)
    assert [e.event_id for e in entries] == [stream.ids[1], stream.ids[2], stream.ids[3]]
    for entry in entries:
        assert entry.movement_type is MovementType.GOODS_RECEIPT
        # 10 units at the ASN's 12.50 EUR: Dr Inventory / Cr GR/IR clearing.
        assert _net(entry) == {"1400": Decimal("125.00"), "2150": Decimal("-125.00")}
        assert [line.quantity for line in entry.lines if line.account == "1400"] == [Decimal(10)]
    with Session(seeded) as session:
        ledger = open_ledger(session, CONFIG)
        valuation = ledger.valuation(stream.site, GTIN)
        assert (valuation.quantity, valuation.value) == (Decimal(30), Decimal("375.00"))
        putaway = ledger.store.posted(stream.ids[4])
        assert putaway is not None
        assert putaway.movement.movement_type is MovementType.BIN_TRANSFER
        assert putaway.result.entry is None  # a bin-to-bin move has no journal entry
    assert _check(seeded) == []

    # The same event stream into an empty database yields the same journal, entry for entry.
    with (
        _another_database(database_url, tmp_path) as replay_url,
        migrated_engine(replay_url) as replay_engine,
    ):
        seed_site(replay_engine, stream.site)
        replayed = IngestService(replay_engine)
        for raw in raws:
            replayed.handle(raw, topic=stream.topic)
        assert _entries(replay_engine) == entries
        assert _check(replay_engine) == []


def test_a_failed_event_posts_nothing_and_leaves_no_stock(
    seeded: Engine, service: IngestService, stream: EdgeStream
) -> None:
    service.handle(stream.goods_received(1), topic=stream.topic)
    # An unknown dock is rejected: neither a stock move nor a journal entry is written.
    bad = stream.event(
        "goods.received",
        {
            "dock": "dock-9",
            "gtin": GTIN,
            "quantity": "10",
            "weight_kg": "500",
            "barcode": "(01)" + GTIN,
        },
    )
    service.handle(bad, topic=stream.topic)
    assert [e.event_id for e in _entries(seeded)] == [stream.ids[1]]
    assert _check(seeded) == []


def test_discrepancy_receipts_without_a_price_are_valued_at_cost_or_wait_for_one(
    seeded: Engine, service: IngestService, stream: EdgeStream
) -> None:
    service.handle(stream.goods_received(1), topic=stream.topic)  # 10 @ 12.50 from the ASN
    # A pallet of the known item that is on no ASN line: valued at the current unit cost.
    service.handle(stream.goods_received(900), topic=stream.topic)
    # A pallet of an item that never had a cost: in stock, unvalued, waiting for a price.
    service.handle(
        stream.goods_received(901, gtin=OTHER_GTIN, quantity=Decimal(4), weight_kg=Decimal(200)),
        topic=stream.topic,
    )

    entries = _entries(seeded)
    assert [e.event_id for e in entries] == [stream.ids[1], stream.ids[2]]
    assert _net(entries[1]) == {"1400": Decimal("125.00"), "2150": Decimal("-125.00")}
    with Session(seeded) as session:
        kinds = {a.kind for a in session.exec(select(t.Alert)).all()}
        assert {"receipt_valued_provisionally", "receipt_price_needed"} <= kinds
        waiting = session.get(t.LedgerUnvaluedReceipt, stream.ids[3])
        assert waiting is not None
        assert (waiting.item, waiting.quantity, waiting.status) == (OTHER_GTIN, Decimal(4), "open")
    assert _check(seeded) == []  # stock on hand = valued + waiting

    with Session(seeded) as session:
        commands = LedgerCommands(session, CONFIG, clock=utc_now)
        price = ReceiptValuationCreate(unit_price=Decimal("3.25"))
        first = commands.value_receipt(stream.ids[3], price)
        session.commit()
        again = commands.value_receipt(stream.ids[3], price)
        session.commit()
    assert first.posted.entry is not None and not first.replayed
    assert again.replayed and again.posted.entry == first.posted.entry
    assert _net(_entries(seeded)[-1]) == {"1400": Decimal("13.00"), "2150": Decimal("-13.00")}
    assert _check(seeded) == []
