"""The stock ledger: moves add up to balances; stock never goes negative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.domain.errors import InvalidStockMove, NegativeStock
from central.domain.stock import StockKey, StockMove, apply_move, project

GTIN = "04012345000016"


def test_receipt_then_putaway_leaves_stock_only_in_the_bin() -> None:
    moves = [
        StockMove(None, "RCV-1", GTIN, Decimal(10), batch="B1", sscc="1" * 18),
        StockMove("RCV-1", "A-01-01", GTIN, Decimal(10), batch="B1", sscc="1" * 18),
    ]
    assert project(moves) == {StockKey("A-01-01", GTIN, "B1", "1" * 18): Decimal(10)}


def test_moving_more_than_is_there_is_refused() -> None:
    balances = project([StockMove(None, "RCV-1", GTIN, Decimal(5))])
    with pytest.raises(NegativeStock, match="only 5 there"):
        apply_move(balances, StockMove("RCV-1", "A-01-01", GTIN, Decimal(6)))


@pytest.mark.parametrize(
    ("source", "target", "quantity"),
    [("A", "A", Decimal(1)), (None, "A", Decimal(0)), (None, "A", Decimal(-1))],
)
def test_nonsense_moves_are_invalid(source: str | None, target: str, quantity: Decimal) -> None:
    with pytest.raises(InvalidStockMove):
        StockMove(source, target, GTIN, quantity)


locations = st.sampled_from(["RCV-1", "A-01-01", "A-01-02", "B-02-01"])


@settings(max_examples=200)
@given(
    steps=st.lists(st.tuples(locations, locations, st.integers(1, 20)), min_size=1, max_size=30),
)
def test_balances_stay_non_negative_and_total_equals_receipts(
    steps: list[tuple[str, str, int]],
) -> None:
    balances: dict[StockKey, Decimal] = {}
    received = Decimal(0)
    for source, target, qty in steps:
        if source == target:
            move = StockMove(None, target, GTIN, Decimal(qty))
            received += qty
        else:
            move = StockMove(source, target, GTIN, Decimal(qty))
        try:
            balances = apply_move(balances, move)
        except NegativeStock:
            continue
    assert all(qty > 0 for qty in balances.values())
    assert sum(balances.values(), Decimal(0)) == received
