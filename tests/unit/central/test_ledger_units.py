"""Pure parts of the database ledger: minor units, the hash chain, request digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from central.domain.accounting import (
    EntryKind,
    JournalEntry,
    JournalLine,
    MovementType,
    quantize_money,
)
from central.ledger_commands import request_digest
from central.ledger_schemas import StockIssueCreate
from central.store.ledger_store import GENESIS_HASH, chain_hash, from_minor, to_minor


@settings(max_examples=200)
@given(
    amount=st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=4),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_minor_units_round_trip_exactly(amount: Decimal, currency: str) -> None:
    money = quantize_money(amount, currency)
    assert from_minor(to_minor(money, currency), currency) == money


def _entry(debit: str) -> JournalEntry:
    event = uuid4()
    lines = (
        JournalLine(1, "1400", "WH1", Decimal(debit), Decimal(0), "EUR", "X", Decimal(10)),
        JournalLine(2, "2150", "WH1", Decimal(0), Decimal(debit), "EUR"),
    )
    return JournalEntry(
        entry_id=uuid4(),
        sequence=1,
        site="WH1",
        posting_date=date(2026, 1, 5),
        occurred_at=datetime(2026, 1, 5, 8, tzinfo=UTC),
        event_id=event,
        movement_type=MovementType.GOODS_RECEIPT,
        kind=EntryKind.MOVEMENT,
        rules_version="v1",
        lines=lines,
    )


def test_the_hash_changes_with_any_field_and_not_with_number_spelling() -> None:
    entry = _entry("125.00")
    digest = chain_hash(GENESIS_HASH, entry)
    respelled = replace(
        entry, lines=(replace(entry.lines[0], quantity=Decimal("10.000000")), entry.lines[1])
    )
    assert chain_hash(GENESIS_HASH, respelled) == digest
    changed = replace(entry, lines=(replace(entry.lines[0], memo="x"), entry.lines[1]))
    assert chain_hash(GENESIS_HASH, changed) != digest
    assert chain_hash(digest, entry) != digest


def test_request_digests_ignore_how_numbers_are_written() -> None:
    key = uuid4()
    base = {"idempotency_key": key, "site": "WH1", "gtin": "04012345000016", "location": "A-01"}
    a = StockIssueCreate.model_validate(base | {"quantity": "10"})
    b = StockIssueCreate.model_validate(base | {"quantity": "10.000"})
    c = StockIssueCreate.model_validate(base | {"quantity": "11"})
    assert request_digest(a) == request_digest(b) != request_digest(c)
