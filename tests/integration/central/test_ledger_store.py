"""The database LedgerStore behaves exactly like the in-memory reference store, on SQLite and
PostgreSQL: same results, same journal, same valuations, invariants and hash chain intact."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session

from central.domain.accounting import (
    AccountingPeriod,
    Ledger,
    LedgerConfig,
    Movement,
    MovementType,
    NegativeStockPolicy,
    SiteConfig,
    ValuationMethod,
)
from central.store.ledger_store import DbLedgerStore, lock_ledger, verify_chain
from tests.unit.accounting.book import Book, fixed_clock

T = MovementType


def _config() -> LedgerConfig:
    return LedgerConfig(
        default_site=SiteConfig(negative_stock=NegativeStockPolicy.ALLOW),
        sites={
            "B": SiteConfig(valuation_method=ValuationMethod.FIFO),
            "C": SiteConfig(currency="USD"),
        },
    )


def test_the_database_store_posts_exactly_like_the_reference_store(engine: Engine) -> None:
    book = Book(config=_config())
    reference = book.ledger

    with Session(engine, expire_on_commit=False) as session:

        def post(movement: Movement) -> Movement:
            expected = reference.post(movement)
            lock_ledger(session)
            db = Ledger(
                book.config, store=DbLedgerStore(session, clock=fixed_clock), clock=fixed_clock
            )
            with session.begin_nested():
                got = db.post(movement)
            session.commit()
            assert got == expected
            return movement

        def step(kind: MovementType, qty: object, **kwargs: object) -> Movement:
            return post(book.movement(kind, qty, **kwargs))  # type: ignore[arg-type]

        receipt = step(T.GOODS_RECEIPT, 10, price="5.00")
        step(T.GOODS_RECEIPT, 10, price="7.00")
        step(T.VENDOR_INVOICE, 10, price="5.20", ref=receipt)
        dispatch = step(T.DELIVERY_DISPATCH, 6)
        step(T.PROOF_OF_DELIVERY, 6, ref=dispatch)
        step(T.CUSTOMER_RETURN, 1, ref=dispatch)
        transfer = step(T.TRANSFER_DISPATCH, 4, to_site="B")
        step(T.TRANSFER_RECEIPT, 4, site="B", ref=transfer)
        step(T.RETURN_TO_VENDOR, 2, ref=receipt)
        step(T.BIN_TRANSFER, 1)
        step(T.SCRAP, 1)
        step(T.COUNT_SURPLUS, 1)
        shortage = step(T.COUNT_SHORTAGE, 1)
        step(T.REVERSAL, 1, ref=shortage)
        step(T.REVALUATION, reference.valuation("A", "X").quantity, price="6.50")
        step(T.CONSUMPTION, reference.valuation("A", "X").quantity + 2)  # 2 short: provisional
        step(T.GOODS_RECEIPT, 5, price="8.00")  # settles the deficit: true-up line
        step(T.INITIAL_STOCK_LOAD, 30000, item="SCREW", price="0.3333333333")
        step(T.CONSUMPTION, 30000, item="SCREW")  # rounding residue at zero quantity
        step(T.INITIAL_STOCK_LOAD, 3, site="C", price="9.99")
        # A closed period and a late event: dated into the next open period / today.
        for ledger in (
            reference,
            Ledger(book.config, store=DbLedgerStore(session, clock=fixed_clock)),
        ):
            ledger.close_period(AccountingPeriod(2026, 1))
        session.commit()
        step(T.GOODS_RECEIPT, 2, price="6.00", at=datetime(2026, 1, 6, tzinfo=UTC))
        # The same movement again posts nothing, in both stores.
        assert post(receipt) == receipt

        db = Ledger(book.config, store=DbLedgerStore(session, clock=fixed_clock))
        assert db.journal() == reference.journal()
        assert sorted(db.store.valuations(), key=lambda v: (v.site, v.item)) == sorted(
            reference.store.valuations(), key=lambda v: (v.site, v.item)
        )
        assert sorted(db.store.documents(), key=lambda d: str(d.event_id)) == sorted(
            reference.store.documents(), key=lambda d: str(d.event_id)
        )
        assert db.trial_balance() == reference.trial_balance()
        assert db.check_invariants() == []
        assert verify_chain(session) == []
        assert any(entry.late for entry in db.journal())
        assert db.valuation("A", "SCREW").quantity == Decimal(0)
