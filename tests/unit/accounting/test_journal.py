"""Exactly-once posting, reversals, periods, late events, chart and money rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal as D
from uuid import uuid4

import pytest

from central.domain.accounting import (
    RULES_V1,
    Account,
    AccountingPeriod,
    AccountRole,
    AccountType,
    ChartOfAccounts,
    ChartOfAccountsError,
    DocumentReversed,
    IdempotencyConflict,
    InvalidMovement,
    Money,
    Movement,
    MovementType,
    ReferenceMismatch,
    ReferenceNotFound,
    ReversalNotAllowed,
    UnknownCurrency,
    quantize_money,
    replay,
    to_csv,
)
from tests.unit.accounting.book import NOW, Book, amounts, fixed_clock

T = MovementType


def test_posting_the_same_event_twice_posts_once_and_returns_the_stored_result() -> None:
    book = Book()
    receipt = book.movement(T.GOODS_RECEIPT, 10, price="5.00")
    first = book.ledger.post(receipt)
    again = book.ledger.post(receipt)
    assert again.duplicate and not first.duplicate
    assert again.entry == first.entry
    assert len(book.ledger.journal()) == 1
    assert book.stock() == (D(10), D("50.00"))


def test_the_same_event_id_with_different_content_is_a_conflict() -> None:
    book = Book()
    receipt = book.movement(T.GOODS_RECEIPT, 10, price="5.00")
    book.ledger.post(receipt)
    with pytest.raises(IdempotencyConflict):
        book.ledger.post(dataclasses.replace(receipt, quantity=D(11)))
    assert len(book.ledger.journal()) == 1


def test_a_refused_movement_can_be_posted_later_under_the_same_id() -> None:
    book = Book()
    issue = book.movement(T.CONSUMPTION, 5)
    with pytest.raises(Exception, match="on hand"):
        book.ledger.post(issue)
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    assert book.ledger.post(issue).entry is not None


@pytest.mark.parametrize(
    ("movement_type", "kwargs"),
    [
        (T.GOODS_RECEIPT, {"price": "5.00"}),
        (T.INITIAL_STOCK_LOAD, {"price": "4.00"}),
        (T.COUNT_SURPLUS, {}),
        (T.CONSUMPTION, {}),
        (T.SCRAP, {}),
        (T.COUNT_SHORTAGE, {}),
        (T.DELIVERY_DISPATCH, {}),
        (T.TRANSFER_DISPATCH, {"to_site": "B"}),
    ],
)
def test_a_reversal_nets_the_original_to_zero_on_every_account(
    movement_type: MovementType, kwargs: dict[str, str]
) -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 5, price="6.10")
    stock_before = book.stock()
    original, posted = book.post(movement_type, 4, **kwargs)
    _, reversal = book.post(T.REVERSAL, 4, ref=original)
    net = amounts(posted.entry)
    for code, amount in amounts(reversal.entry).items():
        net[code] = net.get(code, D(0)) + amount
    assert all(v == 0 for v in net.values())
    assert book.stock() == stock_before
    assert book.ledger.check_invariants() == []


def test_reversal_rules() -> None:
    book = Book()
    receipt, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    invoice, _ = book.post(T.VENDOR_INVOICE, 10, price="5.00", ref=receipt)
    with pytest.raises(ReversalNotAllowed, match="invoices"):
        book.post(T.REVERSAL, 10, ref=receipt)
    with pytest.raises(ReversalNotAllowed):
        book.post(T.REVERSAL, 10, ref=invoice)
    issue, _ = book.post(T.CONSUMPTION, 2)
    with pytest.raises(ReferenceMismatch, match="takes back all"):
        book.post(T.REVERSAL, 1, ref=issue)
    storno, _ = book.post(T.REVERSAL, 2, ref=issue)
    with pytest.raises(DocumentReversed):
        book.post(T.REVERSAL, 2, ref=issue)
    with pytest.raises(ReversalNotAllowed):
        book.post(T.REVERSAL, 2, ref=storno)
    missing = book.movement(T.CONSUMPTION, 1)
    with pytest.raises(ReferenceNotFound):
        book.post(T.REVERSAL, 1, ref=missing)


def test_a_delivered_dispatch_cannot_be_reversed_but_its_proof_of_delivery_can() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    dispatch, _ = book.post(T.DELIVERY_DISPATCH, 4)
    pod, _ = book.post(T.PROOF_OF_DELIVERY, 4, ref=dispatch)
    with pytest.raises(ReversalNotAllowed):
        book.post(T.REVERSAL, 4, ref=dispatch)
    _, undone = book.post(T.REVERSAL, 4, ref=pod)
    assert amounts(undone.entry) == {"1450": D("20.00"), "5000": D("-20.00")}
    _, cancelled = book.post(T.REVERSAL, 4, ref=dispatch)
    assert amounts(cancelled.entry) == {"1400": D("20.00"), "1450": D("-20.00")}
    assert book.stock() == (D(10), D("50.00"))
    assert book.ledger.check_invariants() == []


def test_an_event_dated_in_a_closed_period_posts_on_the_first_open_day() -> None:
    book = Book()
    book.ledger.close_period(AccountingPeriod(2026, 1))
    book.ledger.close_period(AccountingPeriod(2026, 2))
    _, result = book.post(T.GOODS_RECEIPT, 1, price="1.00", at=datetime(2026, 1, 20, tzinfo=UTC))
    assert result.entry is not None
    assert result.entry.posting_date == date(2026, 3, 1)
    assert result.entry.late
    assert result.entry.occurred_at == datetime(2026, 1, 20, tzinfo=UTC)


def test_a_back_dated_event_posts_dated_now_referencing_the_event() -> None:
    """The valuation after 10 Jan was already booked, so a receipt that happened on 5 Jan
    is booked today (the true-up dated now) instead of rewriting January's issues."""
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00", at=datetime(2026, 1, 10, tzinfo=UTC))
    late, result = book.post(T.GOODS_RECEIPT, 10, price="7.00", at=datetime(2026, 1, 5, tzinfo=UTC))
    assert result.entry is not None
    assert result.entry.late
    assert result.entry.posting_date == NOW.date()
    assert result.entry.event_id == late.event_id
    _, on_time = book.post(T.CONSUMPTION, 1, at=datetime(2026, 1, 11, tzinfo=UTC))
    assert on_time.entry is not None and not on_time.entry.late
    assert on_time.entry.posting_date == date(2026, 1, 11)


def test_replay_into_an_empty_ledger_reproduces_the_journal() -> None:
    book = Book()
    receipt, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 3, price="5.55")
    dispatch, _ = book.post(T.DELIVERY_DISPATCH, 7)
    book.post(T.PROOF_OF_DELIVERY, 7, ref=dispatch)
    book.post(T.VENDOR_INVOICE, 10, price="5.10", ref=receipt)
    posted = [book.ledger.store.posted(e.event_id) for e in book.ledger.journal()]
    movements = [p.movement for p in posted if p is not None]
    again = replay(movements, book.config, clock=fixed_clock)
    assert again.journal() == book.ledger.journal()
    assert again.valuation("A", "X") == book.ledger.valuation("A", "X")


def test_movement_validation() -> None:
    book = Book()
    with pytest.raises(InvalidMovement, match="unit price is required"):
        book.post(T.GOODS_RECEIPT, 1)
    with pytest.raises(InvalidMovement, match="takes no unit price"):
        book.post(T.CONSUMPTION, 1, price="1.00")
    with pytest.raises(InvalidMovement, match="reference"):
        book.post(T.PROOF_OF_DELIVERY, 1)
    with pytest.raises(InvalidMovement, match="receiving site"):
        book.post(T.TRANSFER_DISPATCH, 1)
    with pytest.raises(InvalidMovement, match="positive"):
        book.movement(T.CONSUMPTION, 0)
    with pytest.raises(InvalidMovement, match="timezone"):
        Movement(uuid4(), T.CONSUMPTION, "A", "X", D(1), datetime(2026, 1, 1))
    with pytest.raises(InvalidMovement, match="values stock in EUR"):
        book.ledger.post(
            Movement(uuid4(), T.GOODS_RECEIPT, "A", "X", D(1), NOW, "USD", unit_price=D(1))
        )
    with pytest.raises(UnknownCurrency):
        Movement(uuid4(), T.CONSUMPTION, "A", "X", D(1), NOW, "XXX")


def test_every_movement_type_has_a_rule_in_v1() -> None:
    assert set(RULES_V1.rules) == set(MovementType)
    assert RULES_V1.rule(T.BIN_TRANSFER).debit is None


def test_chart_of_accounts_needs_every_role_and_unique_codes() -> None:
    chart = ChartOfAccounts()
    assert str(chart.account("ANY", AccountRole.INVENTORY)) == "1400 Inventory"
    with pytest.raises(ChartOfAccountsError, match="no default account"):
        ChartOfAccounts(defaults={AccountRole.INVENTORY: chart.by_code("1400")})
    with pytest.raises(ChartOfAccountsError, match="used for both"):
        ChartOfAccounts(
            site_overrides={
                ("B", AccountRole.INVENTORY): Account("1400", "Other", AccountType.ASSET)
            }
        )


def test_money_rounds_half_even_to_the_minor_unit() -> None:
    assert quantize_money(D("0.125"), "EUR") == D("0.12")
    assert quantize_money(D("0.135"), "EUR") == D("0.14")
    assert quantize_money(D("2.5"), "JPY") == D("2")
    assert quantize_money(D("0.0005"), "KWD") == D("0.000")
    assert Money.of("1.005", "EUR") + Money.of("2", "EUR") == Money.of("3.00", "EUR")
    with pytest.raises(ValueError, match="quantized"):
        Money(D("1.5"), "EUR")
    with pytest.raises(ValueError, match="combine"):
        Money.of(1, "EUR") + Money.of(1, "USD")


def test_csv_export_has_one_row_per_line() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.CONSUMPTION, 3)
    rows = to_csv(book.ledger.journal(), book.config.chart).splitlines()
    assert rows[0].startswith("entry_id,sequence,posting_date")
    assert len(rows) == 1 + 4
    assert rows[1].split(",")[12:14] == ["1400", "Inventory"]
    assert rows[4].split(",")[-4:-2] == ["0.00", "15.00"]
