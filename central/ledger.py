"""Central's books: post movements in the caller's transaction, and read the journal back.

Postings go through the pure engine (`central.domain.accounting.Ledger`) on a
`DbLedgerStore`, so a movement's journal entry, valuation and idempotency record are written
in the same transaction as the stock move that caused it (the caller commits).

Reads that would scan the whole journal use SQL aggregates over integer minor units (exact on
SQLite and PostgreSQL): the trial balance and account balances. The full invariant check
(`check_books`) reads everything on purpose: it must not trust any projection.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from sqlalchemy import func
from sqlmodel import Session, col, select

from central.domain.accounting import (
    AccountRole,
    ChartOfAccounts,
    InvariantViolation,
    JournalEntry,
    Ledger,
    LedgerConfig,
    Movement,
    NegativeStockPolicy,
    PostingResult,
    SiteConfig,
    TrialBalanceRow,
    ValuationMethod,
    to_beancount,
    to_csv,
)
from central.settings import CentralSettings
from central.store import tables as t
from central.store.ledger_store import (
    DbLedgerStore,
    check_storable,
    from_minor,
    load_entries,
    lock_ledger,
)
from central.store.ledger_store import verify_chain as _verify_chain
from contracts.envelope import utc_now

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)
_INV = AccountRole.INVENTORY
ExportFormat = Literal["beancount", "csv"]


def ledger_config(settings: CentralSettings) -> LedgerConfig:
    """The posting configuration: the LEDGER_* defaults, and each site's exceptions."""
    default = SiteConfig(
        currency=settings.ledger_currency,
        valuation_method=ValuationMethod(settings.ledger_valuation_method),
        negative_stock=NegativeStockPolicy(settings.ledger_negative_stock),
    )
    sites = {
        code: SiteConfig(
            currency=books.currency or default.currency,
            valuation_method=ValuationMethod(books.valuation_method)
            if books.valuation_method
            else default.valuation_method,
            negative_stock=NegativeStockPolicy(books.negative_stock)
            if books.negative_stock
            else default.negative_stock,
            item_methods={
                item: ValuationMethod(method) for item, method in books.item_methods.items()
            },
        )
        for code, books in settings.ledger_sites.items()
    }
    return LedgerConfig(default_site=default, sites=sites)


def open_ledger(
    session: Session, config: LedgerConfig, *, clock: Callable[[], datetime] = utc_now
) -> Ledger:
    """The engine on the caller's session, for reads (valuation state, documents)."""
    return Ledger(config, store=DbLedgerStore(session, clock=clock), clock=clock)


def post_movement(
    session: Session,
    movement: Movement,
    *,
    config: LedgerConfig,
    clock: Callable[[], datetime] = utc_now,
) -> PostingResult:
    """Post one movement in the caller's transaction (exactly once per event id).

    Takes the ledger lock first; callers that lock a site row do so before calling this.
    Raises the engine's AccountingError subclasses; nothing is written then (InvalidMovement
    also for a quantity or price with more decimals than the database keeps).
    """
    check_storable(movement)
    lock_ledger(session)
    ledger = open_ledger(session, config, clock=clock)
    with session.begin_nested():
        result = ledger.post(movement)
    if not result.duplicate:
        logger.info(
            "posted %s of %s %s at %s (event %s)",
            movement.movement_type,
            movement.quantity,
            movement.item,
            movement.site,
            movement.event_id,
        )
    return result


# ----------------------------------------------------------------------------- journal reads


@dataclass(frozen=True)
class JournalFilter:
    """Which entries to list; every field narrows the result (None: no limit)."""

    site: str | None = None
    account: str | None = None
    item: str | None = None
    event_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None


def journal(
    session: Session, where: JournalFilter, *, offset: int = 0, limit: int | None = None
) -> list[JournalEntry]:
    """Entries matching `where`, in posting sequence. Site, account and item match any line."""
    statement = select(t.JournalEntryRow).order_by(col(t.JournalEntryRow.sequence))
    line_filters = []
    if where.site is not None:
        line_filters.append(t.JournalLineRow.site_code == where.site)
    if where.account is not None:
        line_filters.append(t.JournalLineRow.account == where.account)
    if where.item is not None:
        line_filters.append(t.JournalLineRow.item == where.item)
    if line_filters:
        matching = select(t.JournalLineRow.entry_id).where(*line_filters)
        statement = statement.where(col(t.JournalEntryRow.entry_id).in_(matching))
    if where.event_id is not None:
        statement = statement.where(t.JournalEntryRow.event_id == where.event_id)
    if where.date_from is not None:
        statement = statement.where(t.JournalEntryRow.posting_date >= where.date_from)
    if where.date_to is not None:
        statement = statement.where(t.JournalEntryRow.posting_date <= where.date_to)
    statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return load_entries(session, session.exec(statement).all())


def trial_balance(
    session: Session, chart: ChartOfAccounts, *, site: str | None = None, as_of: date | None = None
) -> list[TrialBalanceRow]:
    """Debit and credit totals per account and currency (SQL sums of minor units)."""
    line = t.JournalLineRow
    statement = (
        select(
            line.account,
            line.currency,
            func.sum(line.debit_minor),
            func.sum(line.credit_minor),
        )
        .join(t.JournalEntryRow, col(t.JournalEntryRow.entry_id) == line.entry_id)
        .group_by(col(line.account), col(line.currency))
        .order_by(col(line.account), col(line.currency))
    )
    if site is not None:
        statement = statement.where(line.site_code == site)
    if as_of is not None:
        statement = statement.where(t.JournalEntryRow.posting_date <= as_of)
    return [
        TrialBalanceRow(
            chart.by_code(account),
            currency,
            from_minor(int(debit or 0), currency),
            from_minor(int(credit or 0), currency),
        )
        for account, currency, debit, credit in session.exec(statement).all()
    ]


@dataclass(frozen=True)
class ItemBalance:
    """Balance of one account for one site, item and currency."""

    site: str
    item: str | None
    currency: str
    amount: Decimal


def account_balances_by_item(
    session: Session, account: str, *, site: str | None = None
) -> list[ItemBalance]:
    """An account's balance per (site, item, currency), summed in SQL."""
    line = t.JournalLineRow
    statement = (
        select(
            line.site_code,
            line.item,
            line.currency,
            func.sum(line.debit_minor - line.credit_minor),
        )
        .where(line.account == account)
        .group_by(col(line.site_code), col(line.item), col(line.currency))
    )
    if site is not None:
        statement = statement.where(line.site_code == site)
    return [
        ItemBalance(site_code, item, currency, from_minor(int(net or 0), currency))
        for site_code, item, currency, net in session.exec(statement).all()
    ]


@dataclass(frozen=True)
class AccountLedgerLine:
    """One line of an account's ledger with the running balance after it."""

    entry: JournalEntry
    line_no: int
    site: str
    item: str | None
    quantity: Decimal | None
    debit: Decimal
    credit: Decimal
    currency: str
    memo: str
    balance: Decimal


def opening_balance(
    session: Session, account: str, *, before: date, site: str | None, item: str | None
) -> dict[str, Decimal]:
    """Balance per currency of an account's lines posted before a date."""
    line = t.JournalLineRow
    statement = (
        select(line.currency, func.sum(line.debit_minor - line.credit_minor))
        .join(t.JournalEntryRow, col(t.JournalEntryRow.entry_id) == line.entry_id)
        .where(line.account == account, t.JournalEntryRow.posting_date < before)
        .group_by(col(line.currency))
    )
    if site is not None:
        statement = statement.where(line.site_code == site)
    if item is not None:
        statement = statement.where(line.item == item)
    return {
        currency: from_minor(int(net or 0), currency)
        for currency, net in session.exec(statement).all()
    }


def account_ledger(
    session: Session,
    account: str,
    *,
    site: str | None = None,
    item: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tuple[dict[str, Decimal], list[AccountLedgerLine]]:
    """Opening balance per currency, then the account's lines in posting order."""
    opening = (
        opening_balance(session, account, before=date_from, site=site, item=item)
        if date_from is not None
        else {}
    )
    running = defaultdict(Decimal, opening)
    entries = journal(
        session,
        JournalFilter(site=site, account=account, item=item, date_from=date_from, date_to=date_to),
    )
    lines = []
    for entry in entries:
        for ln in entry.lines:
            if ln.account != account or (site is not None and ln.site != site):
                continue
            if item is not None and ln.item != item:
                continue
            running[ln.currency] += ln.amount
            lines.append(
                AccountLedgerLine(
                    entry,
                    ln.line_no,
                    ln.site,
                    ln.item,
                    ln.quantity,
                    ln.debit,
                    ln.credit,
                    ln.currency,
                    ln.memo,
                    running[ln.currency],
                )
            )
    return opening, lines


def export_journal(session: Session, chart: ChartOfAccounts, fmt: ExportFormat) -> str:
    """The whole journal as a beancount file (checked by bean-check) or CSV."""
    entries = journal(session, JournalFilter())
    return to_beancount(entries, chart) if fmt == "beancount" else to_csv(entries, chart)


# ----------------------------------------------------------------------------- valuation


@dataclass(frozen=True)
class ValuationRow:
    """Stock valuation of one item at one site."""

    site: str
    item: str
    currency: str
    method: str
    quantity: Decimal
    value: Decimal
    unit_cost: Decimal
    unvalued_quantity: Decimal


@dataclass(frozen=True)
class InventoryReconciliation:
    """A site's inventory account against the sum of its valuation layers."""

    site: str
    account: str
    currency: str
    account_balance: Decimal
    layers_value: Decimal

    @property
    def difference(self) -> Decimal:
        """Account minus layers; zero when the books and the stock valuation agree."""
        return self.account_balance - self.layers_value


def valuation_report(
    session: Session, config: LedgerConfig, *, site: str | None = None, item: str | None = None
) -> tuple[list[ValuationRow], list[InventoryReconciliation]]:
    """Quantity, value and unit cost per (site, item), and each site's reconciliation."""
    ledger = open_ledger(session, config)
    unvalued: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for receipt in open_unvalued_receipts(session, site=site):
        unvalued[(receipt.site_code, receipt.item)] += receipt.quantity
    rows: list[ValuationRow] = []
    layers_value: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for v in sorted(ledger.store.valuations(), key=lambda v: (v.site, v.item)):
        if site is not None and v.site != site:
            continue
        layers_value[(v.site, v.currency)] += v.value
        if item is not None and v.item != item:
            continue
        rows.append(
            ValuationRow(
                v.site,
                v.item,
                v.currency,
                v.method.value,
                v.quantity,
                v.value,
                v.unit_cost.quantize(Decimal("0.000001")),
                unvalued.pop((v.site, v.item), _ZERO),
            )
        )
    for (where, what), quantity in sorted(unvalued.items()):
        if item is None or what == item:
            site_config = config.site(where)
            rows.append(
                ValuationRow(
                    site=where,
                    item=what,
                    currency=site_config.currency,
                    method=site_config.method_for(what).value,
                    quantity=_ZERO,
                    value=_ZERO,
                    unit_cost=_ZERO,
                    unvalued_quantity=quantity,
                )
            )
    chart = config.chart
    inventory_codes = {chart.defaults[_INV].code} | {
        account.code for (_s, role), account in chart.site_overrides.items() if role is _INV
    }
    account_totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for code in inventory_codes:
        for balance in account_balances_by_item(session, code, site=site):
            if chart.account(balance.site, _INV).code == code:
                account_totals[(balance.site, balance.currency)] += balance.amount
    reconciliation = [
        InventoryReconciliation(
            s,
            chart.account(s, _INV).code,
            currency,
            account_totals.get((s, currency), _ZERO),
            layers_value.get((s, currency), _ZERO),
        )
        for s, currency in sorted(set(layers_value) | set(account_totals))
    ]
    return rows, reconciliation


def open_unvalued_receipts(session: Session, *, site: str | None) -> list[t.LedgerUnvaluedReceipt]:
    """Receipts in stock without a value yet, oldest first."""
    statement = (
        select(t.LedgerUnvaluedReceipt)
        .where(t.LedgerUnvaluedReceipt.status == "open")
        .order_by(col(t.LedgerUnvaluedReceipt.created_at))
    )
    if site is not None:
        statement = statement.where(t.LedgerUnvaluedReceipt.site_code == site)
    return list(session.exec(statement).all())


# ----------------------------------------------------------------------------- the full check


def check_books(session: Session, config: LedgerConfig) -> list[InvariantViolation]:
    """Every invariant over the whole database; an empty list means the books are sound.

    - the engine's invariants: each entry balanced per currency, the ledger balanced, each
      inventory account = Σ valuation layers per site and item (value and quantity), in transit
      = open shipments;
    - the hash chain: no journal row changed, added or deleted after posting;
    - stock on hand (quantity ledger) = valued quantity + receipts still waiting for a price.
    """
    ledger = open_ledger(session, config)
    found = list(ledger.check_invariants())
    found.extend(
        InvariantViolation("journal unchanged", broken.detail) for broken in _verify_chain(session)
    )
    on_hand: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for balance, gtin in session.exec(
        select(t.StockBalance, t.Item.gtin).join(t.Item, col(t.Item.id) == t.StockBalance.item_id)
    ).all():
        on_hand[(balance.site_code, gtin)] += balance.quantity
    booked: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for v in ledger.store.valuations():
        booked[(v.site, v.item)] += v.quantity
    for receipt in open_unvalued_receipts(session, site=None):
        booked[(receipt.site_code, receipt.item)] += receipt.quantity
    for key in sorted(set(on_hand) | set(booked)):
        if on_hand.get(key, _ZERO) != booked.get(key, _ZERO):
            found.append(
                InvariantViolation(
                    "stock = valued + unvalued",
                    f"site {key[0]} item {key[1]}: {on_hand.get(key, _ZERO)} on hand, "
                    f"{booked.get(key, _ZERO)} in the books (valued + waiting for a price)",
                )
            )
    return found
