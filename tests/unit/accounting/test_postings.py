"""Hand-computed postings for each movement type (the rules of reference/postings.md)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from central.domain.accounting import (
    Account,
    AccountRole,
    AccountType,
    ChartOfAccounts,
    EntryKind,
    LedgerConfig,
    MissingUnitCost,
    MovementType,
    NegativeStockPolicy,
    NegativeStockRefused,
    QuantityExceedsDocument,
    ReferenceMismatch,
    SiteConfig,
    StaleRevaluation,
    ValuationMethod,
)
from tests.unit.accounting.book import Book, amounts

MA = ValuationMethod.MOVING_AVERAGE
FIFO = ValuationMethod.FIFO
T = MovementType


def two_receipts(book: Book) -> None:
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 10, price="7.00")


def test_goods_receipt_debits_inventory_and_credits_gr_ir_at_po_price() -> None:
    book = Book()
    _, result = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    assert amounts(result.entry) == {"1400": D("50.00"), "2150": D("-50.00")}
    assert book.stock() == (D(10), D("50.00"))
    assert result.entry is not None and result.entry.kind is EntryKind.MOVEMENT


@pytest.mark.parametrize(("method", "cogs"), [(MA, "90.00"), (FIFO, "85.00")])
def test_issue_of_15_after_10_at_5_and_10_at_7(method: ValuationMethod, cogs: str) -> None:
    """Moving average issues at 6.00 (90.00); FIFO takes 10 x 5.00 + 5 x 7.00 (85.00)."""
    book = Book(method=method)
    two_receipts(book)
    _, result = book.post(T.CONSUMPTION, 15)
    assert amounts(result.entry) == {"5100": D(cogs), "1400": -D(cogs)}
    assert book.stock() == (D(5), D("120.00") - D(cogs))


def test_receipt_reversal_is_a_storno_at_the_original_value() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    receipt, original = book.post(T.GOODS_RECEIPT, 10, price="7.00")
    _, reversal = book.post(T.REVERSAL, 10, ref=receipt)
    assert reversal.entry is not None
    assert reversal.entry.kind is EntryKind.REVERSAL
    assert reversal.entry.reverses == receipt.event_id
    assert amounts(reversal.entry) == {k: -v for k, v in amounts(original.entry).items()}
    assert book.stock() == (D(10), D("50.00"))


def test_moving_average_receipt_reversal_recomputes_the_average() -> None:
    """10 @ 5 + 10 @ 7, 5 issued at 6.00: reversing the first receipt takes its 50.00 out,
    leaving 5 units worth 40.00 (average 8.00), as SAP's 102 does."""
    book = Book()
    first, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 10, price="7.00")
    book.post(T.CONSUMPTION, 5)
    _, reversal = book.post(T.REVERSAL, 10, ref=first)
    assert amounts(reversal.entry) == {"2150": D("50.00"), "1400": D("-50.00")}
    assert book.stock() == (D(5), D("40.00"))


def test_fifo_receipt_reversal_takes_its_own_layer_first_rest_is_price_difference() -> None:
    book = Book(method=FIFO)
    first, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 10, price="7.00")
    book.post(T.CONSUMPTION, 5)  # 5 x 5.00 out of the first layer
    _, reversal = book.post(T.REVERSAL, 10, ref=first)
    # 5 left of the first layer (25.00) + 5 of the second (35.00) = 60.00 out of stock.
    assert amounts(reversal.entry) == {"2150": D("50.00"), "1400": D("-60.00"), "5400": D("10.00")}
    assert book.stock() == (D(5), D("35.00"))


def test_receipt_reversal_beyond_stock_is_refused_when_negative_stock_is_refused() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    second, _ = book.post(T.GOODS_RECEIPT, 10, price="7.00")
    book.post(T.CONSUMPTION, 15)
    before = book.ledger.journal()
    with pytest.raises(NegativeStockRefused):
        book.post(T.REVERSAL, 10, ref=second)
    assert book.ledger.journal() == before


def test_return_to_vendor_is_valued_at_the_original_receipt_price() -> None:
    book = Book()
    first, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 10, price="7.00")
    _, result = book.post(T.RETURN_TO_VENDOR, 4, ref=first)
    assert amounts(result.entry) == {"2150": D("20.00"), "1400": D("-20.00")}
    assert book.stock() == (D(16), D("100.00"))
    with pytest.raises(QuantityExceedsDocument):
        book.post(T.RETURN_TO_VENDOR, 7, ref=first)


def test_invoice_variance_goes_to_stock_when_moving_average_stock_covers_it() -> None:
    book = Book()
    receipt, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    _, result = book.post(T.VENDOR_INVOICE, 10, price="5.50", ref=receipt)
    assert amounts(result.entry) == {"2150": D("50.00"), "2000": D("-55.00"), "1400": D("5.00")}
    assert book.stock() == (D(10), D("55.00"))


def test_invoice_variance_splits_between_stock_and_price_difference_when_partly_issued() -> None:
    """6 of 10 issued: 4/10 of the 5.00 variance stays on stock, 6/10 is a price difference."""
    book = Book()
    receipt, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.CONSUMPTION, 6)
    _, result = book.post(T.VENDOR_INVOICE, 10, price="5.50", ref=receipt)
    assert amounts(result.entry) == {
        "2150": D("50.00"),
        "2000": D("-55.00"),
        "1400": D("2.00"),
        "5400": D("3.00"),
    }
    assert book.stock() == (D(4), D("22.00"))


def test_fifo_invoice_variance_adjusts_what_is_left_of_the_receipt_layer() -> None:
    book = Book(method=FIFO)
    first, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    second, _ = book.post(T.GOODS_RECEIPT, 10, price="6.00")
    book.post(T.CONSUMPTION, 12)  # all of the first layer, 2 of the second
    _, late_bill = book.post(T.VENDOR_INVOICE, 10, price="6.50", ref=second)
    assert amounts(late_bill.entry) == {
        "2150": D("60.00"),
        "2000": D("-65.00"),
        "1400": D("4.00"),
        "5400": D("1.00"),
    }
    _, cheap_bill = book.post(T.VENDOR_INVOICE, 10, price="4.00", ref=first)
    assert amounts(cheap_bill.entry) == {
        "2150": D("50.00"),
        "2000": D("-40.00"),
        "5400": D("-10.00"),
    }
    assert book.stock() == (D(8), D("52.00"))


def test_invoice_variance_never_drives_stock_value_below_zero() -> None:
    """odoo#187169: a late bill correction must not make the stock value negative."""
    book = Book()
    receipt, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.REVALUATION, 10, price="1.00")
    _, result = book.post(T.VENDOR_INVOICE, 10, price="0.00", ref=receipt)
    assert amounts(result.entry) == {"2150": D("50.00"), "1400": D("-10.00"), "5400": D("-40.00")}
    assert book.stock() == (D(10), D("0.00"))
    with pytest.raises(QuantityExceedsDocument):
        book.post(T.VENDOR_INVOICE, 1, price="5.00", ref=receipt)


def test_delivery_goes_through_transit_and_reaches_cogs_at_proof_of_delivery() -> None:
    book = Book()
    two_receipts(book)
    dispatch, sent = book.post(T.DELIVERY_DISPATCH, 15)
    assert amounts(sent.entry) == {"1450": D("90.00"), "1400": D("-90.00")}
    _, pod1 = book.post(T.PROOF_OF_DELIVERY, 10, ref=dispatch)
    _, pod2 = book.post(T.PROOF_OF_DELIVERY, 5, ref=dispatch)
    assert amounts(pod1.entry) == {"5000": D("60.00"), "1450": D("-60.00")}
    assert amounts(pod2.entry) == {"5000": D("30.00"), "1450": D("-30.00")}
    assert book.ledger.role_balance(
        AccountRole.STOCK_IN_TRANSIT, site="A", currency="EUR"
    ).is_zero()
    with pytest.raises(QuantityExceedsDocument):
        book.post(T.PROOF_OF_DELIVERY, 1, ref=dispatch)


def test_customer_return_is_valued_at_the_original_issue_value() -> None:
    book = Book()
    two_receipts(book)
    dispatch, _ = book.post(T.DELIVERY_DISPATCH, 15)  # 90.00, 6.00 each
    with pytest.raises(QuantityExceedsDocument):
        book.post(T.CUSTOMER_RETURN, 3, ref=dispatch)  # nothing delivered yet
    book.post(T.PROOF_OF_DELIVERY, 15, ref=dispatch)
    book.post(T.GOODS_RECEIPT, 10, price="10.00")  # the average moves to 8.67
    _, result = book.post(T.CUSTOMER_RETURN, 3, ref=dispatch)
    assert amounts(result.entry) == {"1400": D("18.00"), "5000": D("-18.00")}
    assert book.stock() == (D(18), D("148.00"))


def test_scrap_posts_scrap_expense_at_the_valuation_price() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    _, result = book.post(T.SCRAP, 2)
    assert amounts(result.entry) == {"5200": D("10.00"), "1400": D("-10.00")}


def test_count_surplus_at_valuation_price_or_entered_price() -> None:
    book = Book()
    with pytest.raises(MissingUnitCost):
        book.post(T.COUNT_SURPLUS, 2)
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    _, at_average = book.post(T.COUNT_SURPLUS, 2)
    _, entered = book.post(T.COUNT_SURPLUS, 2, price="6.00")
    assert amounts(at_average.entry) == {"1400": D("10.00"), "4300": D("-10.00")}
    assert amounts(entered.entry) == {"1400": D("12.00"), "4300": D("-12.00")}


def test_fifo_count_shortage_takes_the_oldest_layers() -> None:
    book = Book(method=FIFO)
    two_receipts(book)
    _, result = book.post(T.COUNT_SHORTAGE, 12)
    assert amounts(result.entry) == {"5300": D("64.00"), "1400": D("-64.00")}


def test_site_transfer_moves_value_through_transit_at_the_issuing_sites_value() -> None:
    """Issuing site A (moving average) at 6.00; receiving site B (FIFO, own inventory
    account 1410) takes the transit value; A's transit account is cleared."""
    chart = ChartOfAccounts(
        site_overrides={
            ("B", AccountRole.INVENTORY): Account("1410", "Inventory B", AccountType.ASSET)
        }
    )
    book = Book(config=LedgerConfig(chart=chart, sites={"B": SiteConfig(valuation_method=FIFO)}))
    two_receipts(book)
    dispatch, sent = book.post(T.TRANSFER_DISPATCH, 5, to_site="B")
    assert amounts(sent.entry) == {"1450": D("30.00"), "1400": D("-30.00")}
    with pytest.raises(ReferenceMismatch):
        book.post(T.TRANSFER_RECEIPT, 5, site="C", ref=dispatch)
    _, received = book.post(T.TRANSFER_RECEIPT, 5, site="B", ref=dispatch)
    assert amounts(received.entry) == {"1410": D("30.00"), "1450": D("-30.00")}
    assert received.entry is not None
    assert {ln.site for ln in received.entry.lines} == {"A", "B"}
    assert book.stock("B") == (D(5), D("30.00"))
    assert book.ledger.role_balance(
        AccountRole.STOCK_IN_TRANSIT, site="A", currency="EUR"
    ).is_zero()
    assert book.ledger.check_invariants() == []


def test_bin_transfer_posts_no_journal_entry() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    before = book.ledger.journal()
    _, result = book.post(T.BIN_TRANSFER, 4)
    assert result.entry is None
    assert book.ledger.journal() == before
    assert book.stock() == (D(10), D("50.00"))


def test_initial_stock_load_credits_opening_balance_at_entered_value() -> None:
    book = Book()
    _, result = book.post(T.INITIAL_STOCK_LOAD, 100, price="2.50")
    assert amounts(result.entry) == {"1400": D("250.00"), "2990": D("-250.00")}


@pytest.mark.parametrize(("price", "delta"), [("6.00", "10.00"), ("4.00", "-10.00")])
def test_revaluation_posts_the_value_change_to_revaluation(price: str, delta: str) -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    _, result = book.post(T.REVALUATION, 10, price=price)
    assert amounts(result.entry) == {"1400": D(delta), "4400": -D(delta)}
    with pytest.raises(StaleRevaluation):
        book.post(T.REVALUATION, 9, price=price)


def test_fifo_revaluation_resets_every_layer() -> None:
    book = Book(method=FIFO)
    two_receipts(book)
    _, result = book.post(T.REVALUATION, 20, price="6.50")
    assert amounts(result.entry) == {"1400": D("10.00"), "4400": D("-10.00")}
    _, issue = book.post(T.CONSUMPTION, 10)
    assert amounts(issue.entry) == {"5100": D("65.00"), "1400": D("-65.00")}


def test_rounding_residue_at_zero_quantity_goes_to_the_rounding_account() -> None:
    """30,000 units for 10,000.00: the unit cost 0.333333 issues 9,999.99; the 0.01 left when
    the quantity reaches zero is posted to Rounding, not left in stock (odoo PR #46850)."""
    book = Book()
    book.post(T.GOODS_RECEIPT, 30000, price="0.3333333333")
    assert book.stock() == (D(30000), D("10000.00"))
    _, result = book.post(T.CONSUMPTION, 30000)
    assert amounts(result.entry) == {
        "5100": D("9999.99"),
        "5900": D("0.01"),
        "1400": D("-10000.00"),
    }
    assert book.stock() == (D(0), D(0))


def test_negative_stock_is_refused_by_default_and_nothing_posts() -> None:
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    issue = book.movement(T.CONSUMPTION, 12)
    with pytest.raises(NegativeStockRefused, match="10 of item X on hand but 12"):
        book.ledger.post(issue)
    assert book.stock() == (D(10), D("50.00"))
    assert book.ledger.store.posted(issue.event_id) is None


@pytest.mark.parametrize("method", [MA, FIFO])
def test_allowed_negative_stock_is_provisional_and_trued_up_on_receipt(
    method: ValuationMethod,
) -> None:
    """12 issued with 10 @ 5.00 on hand: 2 are valued provisionally at 5.00. The receipt of
    10 @ 6.00 settles them at 6.00: 2.00 true-up from stock to price differences."""
    book = Book(method=method, negative=NegativeStockPolicy.ALLOW)
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    _, issue = book.post(T.CONSUMPTION, 12)
    assert amounts(issue.entry) == {"5100": D("60.00"), "1400": D("-60.00")}
    assert book.stock() == (D(-2), D("-10.00"))
    _, receipt = book.post(T.GOODS_RECEIPT, 10, price="6.00")
    assert amounts(receipt.entry) == {"1400": D("58.00"), "2150": D("-60.00"), "5400": D("2.00")}
    assert book.stock() == (D(8), D("48.00"))
    assert book.ledger.check_invariants() == []


def test_allowed_negative_stock_without_any_known_cost_is_refused() -> None:
    book = Book(negative=NegativeStockPolicy.ALLOW)
    with pytest.raises(MissingUnitCost):
        book.post(T.CONSUMPTION, 1)


def test_trial_balance_sums_to_zero_and_lists_accounts_by_code() -> None:
    book = Book()
    two_receipts(book)
    book.post(T.CONSUMPTION, 15)
    rows = book.ledger.trial_balance()
    assert [r.account.code for r in rows] == ["1400", "2150", "5100"]
    assert sum(r.balance for r in rows) == 0
    assert book.ledger.account_balance("1400", currency="EUR").amount == D("30.00")
    assert book.ledger.account_balance("1400", currency="EUR", item="Y").is_zero()
