"""Properties of the books over random movement histories, on the real databases.

The same random histories as the pure property tests (tests/unit/accounting/simulation.py),
here posted through `post_movement` on the database store, each with its stock move in the
same transaction, on SQLite and PostgreSQL. After every movement, read back with SQL: every
entry balances per currency, and each (site, item)'s inventory account equals its valuation
layers to the cent; a reversal nets its original out, a duplicate posts nothing. At the end, an
empty in-memory ledger fed the same movements produces the same journal, entry for entry, and
`check_books` (engine invariants, hash chain, stock = valued quantity) finds nothing.

Each example starts from empty books on the test's one database (the rows of the books and of
the quantity ledger are deleted): journal sequence numbers and closed periods are global, so
sharing them between examples would make the replay comparison meaningless.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from central.domain.accounting import (
    InvalidMovement,
    JournalEntry,
    Ledger,
    LedgerConfig,
    Movement,
    MovementType,
    NegativeStockPolicy,
    quantize_money,
)
from central.ledger import JournalFilter, account_balances_by_item, check_books, journal
from central.ledger import post_movement as db_post
from central.stock_booking import StockBooking, book_stock_move
from central.store import tables as t
from central.store.ledger_store import DbLedgerStore, lock_ledger
from tests.unit.accounting.book import NOW, fixed_clock
from tests.unit.accounting.simulation import (
    EXPECTED_REFUSALS,
    ITEMS,
    SITES,
    Simulation,
    histories,
    operation,
    replay_tape,
)

T = MovementType
INVENTORY = "1400"
PRICE_DIFFERENCES = "5400"
BIN = "BIN-1"
_ZERO = Decimal(0)

# How each movement changes the stock on hand at its site (a reversal undoes its original's).
_STOCK_IN = {
    T.GOODS_RECEIPT,
    T.INITIAL_STOCK_LOAD,
    T.COUNT_SURPLUS,
    T.CUSTOMER_RETURN,
    T.TRANSFER_RECEIPT,
}
_STOCK_OUT = {
    T.CONSUMPTION,
    T.SCRAP,
    T.COUNT_SHORTAGE,
    T.DELIVERY_DISPATCH,
    T.TRANSFER_DISPATCH,
    T.RETURN_TO_VENDOR,
}
# Longer than the pure tests' histories: each example pays for a database reset, so make it
# count (the pure tests carry the number of examples).
long_histories = st.builds(
    lambda history, more: history + more, histories, st.lists(operation, min_size=4, max_size=16)
)
# Children first, so no foreign key points at a deleted row.
_BOOKS_TABLES: tuple[Any, ...] = (
    t.JournalLineRow,
    t.JournalEntryRow,
    t.LedgerPostedEvent,
    t.LedgerValuationLayer,
    t.LedgerValuation,
    t.LedgerDocument,
    t.LedgerClosedPeriod,
    t.StockMove,
    t.StockBalance,
)


@dataclass
class Books:
    """The test database with sites A, B, C (one bin each) and items X, Y."""

    engine: Engine

    def reset(self) -> None:
        """Empty books and stock; master data stays."""
        with Session(self.engine) as session:
            for table in _BOOKS_TABLES:
                session.exec(delete(table))
            session.commit()


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with Session(engine) as session:
        for site in SITES:
            session.add(t.Site(code=site, name=f"site {site}", created_at=NOW))
        session.flush()
        for site in SITES:
            session.add(t.Location(site_code=site, code=BIN, kind="bin", x=_ZERO, y=_ZERO, z=_ZERO))
        for item in ITEMS:
            session.add(t.Item(gtin=item, name=f"item {item}"))
        session.commit()
    yield Books(engine)


def _stock_change(ledger: Ledger, movement: Movement) -> Decimal:
    """Signed change of the stock on hand at the movement's site."""
    if movement.movement_type is T.REVERSAL:
        assert movement.reference is not None
        original = ledger.store.posted(movement.reference)
        assert original is not None
        return -_stock_change(ledger, original.movement)
    if movement.movement_type in _STOCK_IN:
        return movement.quantity
    if movement.movement_type in _STOCK_OUT:
        return -movement.quantity
    return _ZERO


def _book_stock(session: Session, movement: Movement, change: Decimal) -> None:
    """The movement's stock move in the quantity ledger, as the ops commands book it."""
    if change == 0:
        return
    location = session.exec(
        select(t.Location).where(t.Location.site_code == movement.site, t.Location.code == BIN)
    ).one()
    item = session.exec(select(t.Item).where(t.Item.gtin == movement.item)).one()
    book_stock_move(
        session,
        StockBooking(
            movement.site,
            None if change > 0 else location,
            location if change > 0 else None,
            item,
            None,
            None,
            abs(change),
            movement.event_id,
        ),
        now=NOW,
    )


def _count(session: Session, table: Any) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def _unbalanced_entries(session: Session) -> list[tuple[Any, ...]]:
    """Entries whose debits and credits differ in some currency, summed by the database."""
    line = t.JournalLineRow
    statement = (
        select(line.entry_id, line.currency, func.sum(line.debit_minor - line.credit_minor))
        .group_by(col(line.entry_id), col(line.currency))
        .having(func.sum(line.debit_minor - line.credit_minor) != 0)
    )
    return [tuple(row) for row in session.exec(statement).all()]


def _assert_inventory_equals_layers(session: Session, ledger: Ledger) -> None:
    """Per (site, item): the inventory account (SQL sum of its lines) = Σ valuation layers."""
    accounts = {
        (b.site, b.item, b.currency): b.amount
        for b in account_balances_by_item(session, INVENTORY)
        if b.item is not None
    }
    for v in ledger.store.valuations():
        layers = sum((layer.value for layer in v.layers), _ZERO)
        assert layers == quantize_money(layers, v.currency), f"{v.site}/{v.item}: {layers}"
        account = accounts.pop((v.site, v.item, v.currency), _ZERO)
        assert account == layers, f"{v.site}/{v.item}: account {account}, layers {layers}"
        assert sum((layer.quantity for layer in v.layers), _ZERO) == v.quantity
    assert all(amount == 0 for amount in accounts.values()), f"without layers: {accounts}"


def _net(*entries: JournalEntry | None) -> dict[str, Decimal]:
    net: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        assert entry is not None
        for line in entry.lines:
            net[f"{line.account}@{line.site}"] += line.amount
    return {k: v for k, v in net.items() if v}


def _assert_reversal_nets_out(ledger: Ledger, reversal: Movement, *, immediate: bool) -> None:
    """The original plus its reversal: zero on every account but stock and price differences
    (stock leaves at today's layer value, the difference to the original goes to price
    differences), and zero on those two together; zero everywhere right after the original."""
    assert reversal.reference is not None
    first = ledger.store.posted(reversal.reference)
    second = ledger.store.posted(reversal.event_id)
    assert first is not None and second is not None
    if first.result.entry is None:
        assert second.result.entry is None  # quantity only: nothing to take back
        return
    assert second.result.entry is not None
    assert second.result.entry.reverses == reversal.reference
    net = _net(first.result.entry, second.result.entry)
    if immediate:
        assert net == {}
        return
    valued = {k: v for k, v in net.items() if k.startswith((f"{INVENTORY}@", "5400@"))}
    assert {k: v for k, v in net.items() if k not in valued} == {}
    assert sum(valued.values(), _ZERO) == 0, net


class Run:
    """One example: a Simulation whose ledger is the database store on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # The quantity ledger refuses what the stock does not hold, before the books see it;
        # so on the database only REFUSE histories are reachable (ALLOW is covered in memory).
        self.sim = Simulation(NegativeStockPolicy.REFUSE)
        self.config: LedgerConfig = self.sim.ledger.config
        self.sim.ledger = Ledger(
            self.config, store=DbLedgerStore(session, clock=fixed_clock), clock=fixed_clock
        )

    @property
    def ledger(self) -> Ledger:
        return self.sim.ledger

    def post(self, movement: Movement) -> bool:
        """Post with its stock move in one transaction; False if the books refused it."""
        session = self.session
        entries = _count(session, t.JournalEntryRow)
        valuations = sorted(self.ledger.store.valuations(), key=lambda v: (v.site, v.item))
        try:
            with session.begin_nested():
                change = _stock_change(self.ledger, movement)
                result = db_post(session, movement, config=self.config, clock=fixed_clock)
                # The books refuse what the stock lacks, so the stock move must go through.
                _book_stock(session, movement, change)
        except EXPECTED_REFUSALS:
            session.commit()
            assert _count(session, t.JournalEntryRow) == entries
            assert self.ledger.store.posted(movement.event_id) is None
            assert (
                sorted(self.ledger.store.valuations(), key=lambda v: (v.site, v.item)) == valuations
            )
            return False
        session.commit()
        assert not result.duplicate
        assert _count(session, t.JournalEntryRow) == entries + (result.entry is not None)
        if result.entry is not None:
            assert result.entry.is_balanced()
        self.sim.posted.append(movement)
        self.sim.tape.append(movement)
        return True

    def storable(self, movement: Movement) -> Movement:
        """A price with more decimals than the database keeps is refused, nothing written;
        the history goes on with the price rounded, as a client would send it again."""
        price = movement.unit_price
        if price is None or price == price.quantize(Decimal("0.000001")):
            return movement
        counts = [_count(self.session, table) for table in _BOOKS_TABLES]
        with pytest.raises(InvalidMovement, match="does not fit the books"):
            db_post(self.session, movement, config=self.config, clock=fixed_clock)
        self.session.rollback()
        assert [_count(self.session, table) for table in _BOOKS_TABLES] == counts
        return replace(movement, unit_price=price.quantize(Decimal("0.000001")))

    def post_again(self, movement: Movement) -> None:
        """A duplicate: the stored result comes back and nothing is written."""
        session = self.session
        counts = [_count(session, table) for table in _BOOKS_TABLES]
        stored = self.ledger.store.posted(movement.event_id)
        result = db_post(session, movement, config=self.config, clock=fixed_clock)
        session.commit()
        assert result.duplicate
        assert stored is not None and result.entry == stored.result.entry
        assert [_count(session, table) for table in _BOOKS_TABLES] == counts

    def close(self) -> None:
        lock_ledger(self.session)
        self.sim.close()
        self.session.commit()

    def step(self, hours: int, op: tuple[Any, ...]) -> None:
        self.sim.advance(hours)
        if op[0] == "close":
            self.close()
            return
        if op[0] == "duplicate":
            again = self.sim.duplicate(op[1])
            if again is not None:
                self.post_again(again)
            return
        movement = self.sim.build(op)
        if movement is None:
            return
        movement = self.storable(movement)
        previous = self.sim.posted[-1] if self.sim.posted else None
        if self.post(movement) and movement.movement_type is T.REVERSAL:
            immediate = previous is not None and previous.event_id == movement.reference
            _assert_reversal_nets_out(self.ledger, movement, immediate=immediate)
        assert _unbalanced_entries(self.session) == []
        _assert_inventory_equals_layers(self.session, self.ledger)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=long_histories)
def test_random_histories_keep_the_books_sound_in_the_database(
    books: Books, history: list[tuple[int, tuple[Any, ...]]]
) -> None:
    books.reset()
    with Session(books.engine, expire_on_commit=False) as session:
        run = Run(session)
        for hours, op in history:
            run.step(hours, op)
        config, sim = run.config, run.sim
    kinds = {m.movement_type for m in sim.posted}
    event(f"posted {len(sim.posted) // 5 * 5}+ movements")
    event(f"{len(kinds) // 3 * 3}+ kinds of movement")
    if T.REVERSAL in kinds:
        event("with a reversal")

    # A new session: what was committed, not what the first session still holds.
    with Session(books.engine) as session:
        stored = journal(session, JournalFilter())
        replayed = replay_tape(sim)
        assert replayed.journal() == stored
        db = Ledger(config, store=DbLedgerStore(session, clock=fixed_clock))
        assert sorted(db.store.valuations(), key=lambda v: (v.site, v.item)) == sorted(
            replayed.store.valuations(), key=lambda v: (v.site, v.item)
        )
        assert check_books(session, config) == []


def test_the_checks_see_a_layer_changed_behind_the_journals_back(books: Books) -> None:
    """The per-movement checks can fail: one cent more on a layer is found by both."""
    with Session(books.engine, expire_on_commit=False) as session:
        run = Run(session)
        receipt = run.sim.movement(
            T.GOODS_RECEIPT, "A", "X", Decimal("3"), unit_price=Decimal("0.333333")
        )
        assert run.post(receipt)
        _assert_inventory_equals_layers(session, run.ledger)
        layer = session.exec(select(t.LedgerValuationLayer)).one()
        layer.value = layer.value + Decimal("0.01")
        session.add(layer)
        session.commit()
        with pytest.raises(AssertionError, match=re.escape("account 1.00, layers 1.01")):
            _assert_inventory_equals_layers(session, run.ledger)
        assert [v.invariant for v in check_books(session, run.config)] == ["inventory = layers"]
