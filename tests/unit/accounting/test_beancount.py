"""The beancount export passes the real `bean-check` (subprocess; a handful of runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from central.domain.accounting import (
    Ledger,
    LedgerConfig,
    MovementType,
    NegativeStockPolicy,
    SiteConfig,
    ValuationMethod,
    to_beancount,
)
from tests.unit.accounting.book import Book
from tests.unit.accounting.simulation import Simulation, _hours, _receive, operation

T = MovementType
BEAN_CHECK = Path(sys.executable).parent / "bean-check"


def bean_check(ledger: Ledger, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{name}.beancount"
    path.write_text(to_beancount(ledger.journal(), ledger.config.chart), encoding="utf-8")
    return subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def full_history() -> Book:
    """Every movement type, two currencies, transit, rounding and a negative-stock true-up."""
    book = Book(
        config=LedgerConfig(
            default_site=SiteConfig(negative_stock=NegativeStockPolicy.ALLOW),
            sites={
                "B": SiteConfig(valuation_method=ValuationMethod.FIFO),
                "C": SiteConfig(currency="USD"),
            },
        )
    )
    receipt, _ = book.post(T.GOODS_RECEIPT, 10, price="5.00")
    book.post(T.GOODS_RECEIPT, 10, price="7.00")
    book.post(T.VENDOR_INVOICE, 10, price="5.20", ref=receipt)
    dispatch, _ = book.post(T.DELIVERY_DISPATCH, 6)
    book.post(T.PROOF_OF_DELIVERY, 6, ref=dispatch)
    book.post(T.CUSTOMER_RETURN, 1, ref=dispatch)
    transfer, _ = book.post(T.TRANSFER_DISPATCH, 4, to_site="B")
    book.post(T.TRANSFER_RECEIPT, 4, site="B", ref=transfer)
    book.post(T.RETURN_TO_VENDOR, 2, ref=receipt)
    book.post(T.BIN_TRANSFER, 1)
    book.post(T.SCRAP, 1)
    book.post(T.COUNT_SURPLUS, 1)
    shortage, _ = book.post(T.COUNT_SHORTAGE, 1)
    book.post(T.REVERSAL, 1, ref=shortage)
    book.post(T.REVALUATION, book.stock()[0], price="6.50")
    book.post(T.CONSUMPTION, book.stock()[0] + 2)  # 2 short, provisional
    book.post(T.GOODS_RECEIPT, 5, price="8.00")  # true-up
    book.post(T.INITIAL_STOCK_LOAD, 30000, item="SCREW", price="0.3333333333")
    book.post(T.CONSUMPTION, 30000, item="SCREW")  # rounding residue
    book.post(T.INITIAL_STOCK_LOAD, 3, site="C", price="9.99")
    return book


def test_a_history_with_every_movement_type_passes_bean_check(tmp_path: Path) -> None:
    book = full_history()
    assert book.ledger.check_invariants() == []
    done = bean_check(book.ledger, tmp_path, "full")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_bean_check_rejects_an_unbalanced_export(tmp_path: Path) -> None:
    """Guards the check itself: a changed amount must make bean-check fail."""
    book = Book()
    book.post(T.GOODS_RECEIPT, 10, price="5.00")
    text = to_beancount(book.ledger.journal(), book.config.chart)
    assert "50.00 EUR" in text
    path = tmp_path / "broken.beancount"
    path.write_text(text.replace("50.00 EUR", "50.01 EUR", 1), encoding="utf-8")
    done = subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    policy=st.sampled_from(NegativeStockPolicy),
    history=st.builds(
        lambda opening, rest: opening + rest,
        st.lists(st.tuples(_hours, _receive), min_size=2, max_size=3),
        st.lists(operation, min_size=8, max_size=20),
    ),
)
def test_generated_histories_pass_bean_check(
    tmp_path: Path, policy: NegativeStockPolicy, history: list[tuple[int, tuple[Any, ...]]]
) -> None:
    sim = Simulation(policy)
    for hours, op in history:
        sim.advance(hours)
        if op[0] == "close":
            sim.close()
        elif (movement := sim.build(op)) is not None:
            sim.post(movement)
    done = bean_check(sim.ledger, tmp_path, f"generated-{len(sim.posted)}")
    assert done.returncode == 0, done.stdout + done.stderr
