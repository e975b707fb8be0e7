"""The books: journal, trial balance, stock valuation, account ledgers, exports, and the ops
commands that move goods and post them (each with an idempotency key)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from sqlmodel import Session, col, select

from central.api.deps import LedgerConfigDep, SessionDep, WriteSessionDep
from central.domain.accounting import AccountingPeriod, ChartOfAccountsError, MovementType
from central.domain.errors import UnknownAccount
from central.ledger import (
    JournalFilter,
    account_ledger,
    export_journal,
    journal,
    open_unvalued_receipts,
    trial_balance,
    valuation_report,
)
from central.ledger_commands import CommandAnswer, LedgerCommands
from central.ledger_schemas import (
    AccountLedgerLinePublic,
    AccountLedgerPublic,
    AccountPublic,
    ClosedPeriodPublic,
    ClosePeriodCreate,
    CountResultCreate,
    CurrencyAmountPublic,
    CurrencyTotalPublic,
    CustomerReturnCreate,
    InitialStockCreate,
    JournalEntryPublic,
    MovementPostedPublic,
    ProofOfDeliveryCreate,
    ReceiptReversalCreate,
    ReceiptValuationCreate,
    ReconciliationPublic,
    ReturnToVendorCreate,
    RevaluationCreate,
    StockIssueCreate,
    TransferDispatchCreate,
    TransferReceiptCreate,
    TrialBalancePublic,
    TrialBalanceRowPublic,
    UnvaluedReceiptPublic,
    ValuationReportPublic,
    ValuationRowPublic,
    VendorInvoiceCreate,
    entry_public,
)
from central.store import tables as t
from contracts.envelope import utc_now

router = APIRouter(tags=["books"])

# ----------------------------------------------------------------------------- reads


@router.get("/journal", response_model=list[JournalEntryPublic])
def list_journal(
    session: SessionDep,
    config: LedgerConfigDep,
    site: Annotated[str | None, Query(description="entries with a line at this site")] = None,
    account: Annotated[str | None, Query(description="entries touching this account")] = None,
    item: Annotated[str | None, Query(description="entries moving this item (GTIN)")] = None,
    event_id: Annotated[UUID | None, Query(description="the entry of one event")] = None,
    date_from: Annotated[date | None, Query(description="posting date from (incl.)")] = None,
    date_to: Annotated[date | None, Query(description="posting date to (incl.)")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[JournalEntryPublic]:
    """Journal entries in posting sequence."""
    entries = journal(
        session,
        JournalFilter(site, account, item, event_id, date_from, date_to),
        offset=offset,
        limit=limit,
    )
    return [entry_public(entry, config.chart) for entry in entries]


@router.get(
    "/journal/export",
    response_class=PlainTextResponse,
    response_model=None,
    responses={200: {"content": {"text/plain": {}, "text/csv": {}}}},
)
def export(
    session: SessionDep,
    config: LedgerConfigDep,
    format: Annotated[Literal["beancount", "csv"], Query()] = "beancount",
) -> PlainTextResponse:
    """The whole journal as a beancount ledger (passes bean-check) or as CSV, one row a line."""
    media = "text/csv" if format == "csv" else "text/plain"
    return PlainTextResponse(export_journal(session, config.chart, format), media_type=media)


@router.get("/trial-balance", response_model=TrialBalancePublic)
def get_trial_balance(
    session: SessionDep,
    config: LedgerConfigDep,
    site: str | None = None,
    as_of: Annotated[date | None, Query(description="entries posted up to this date")] = None,
) -> TrialBalancePublic:
    """Debit and credit totals per account and currency; debits equal credits per currency."""
    rows = trial_balance(session, config.chart, site=site, as_of=as_of)
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        totals[row.currency][0] += row.debit
        totals[row.currency][1] += row.credit
    return TrialBalancePublic(
        site=site,
        as_of=as_of,
        rows=[
            TrialBalanceRowPublic(
                account=row.account.code,
                name=row.account.name,
                type=row.account.type.value,
                currency=row.currency,
                debit=row.debit,
                credit=row.credit,
                balance=row.balance,
            )
            for row in rows
        ],
        totals=[
            CurrencyTotalPublic(currency=c, debit=d, credit=cr)
            for c, (d, cr) in sorted(totals.items())
        ],
        # Per site, a transfer's two sides sit at different sites, so only the whole books
        # must balance.
        balanced=all(d == cr for d, cr in totals.values()),
    )


@router.get("/valuation", response_model=ValuationReportPublic)
def get_valuation(
    session: SessionDep,
    config: LedgerConfigDep,
    site: str | None = None,
    gtin: str | None = None,
) -> ValuationReportPublic:
    """Stock valuation per item and site (quantity, value, unit cost, quantity still waiting
    for a price) and each site's inventory account reconciled to its valuation layers."""
    rows, reconciliation = valuation_report(session, config, site=site, item=gtin)
    names = dict(
        session.exec(
            select(t.Item.gtin, t.Item.name).where(col(t.Item.gtin).in_({row.item for row in rows}))
        ).all()
    )
    return ValuationReportPublic(
        rows=[
            ValuationRowPublic(
                site=row.site,
                gtin=row.item,
                item_name=names.get(row.item),
                currency=row.currency,
                method=row.method,
                quantity=row.quantity,
                value=row.value,
                unit_cost=row.unit_cost,
                unvalued_quantity=row.unvalued_quantity,
            )
            for row in rows
        ],
        reconciliation=[
            ReconciliationPublic(
                site=r.site,
                account=r.account,
                currency=r.currency,
                account_balance=r.account_balance,
                layers_value=r.layers_value,
                difference=r.difference,
                reconciled=r.difference == 0,
            )
            for r in reconciliation
        ],
    )


@router.get("/accounts", response_model=list[AccountPublic])
def list_accounts(config: LedgerConfigDep) -> list[AccountPublic]:
    """The chart of accounts."""
    return [
        AccountPublic(code=a.code, name=a.name, type=a.type.value) for a in config.chart.accounts()
    ]


@router.get("/accounts/{code}/ledger", response_model=AccountLedgerPublic)
def get_account_ledger(
    session: SessionDep,
    config: LedgerConfigDep,
    code: str,
    site: str | None = None,
    item: Annotated[str | None, Query(description="item (GTIN)")] = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> AccountLedgerPublic:
    """One account's lines in posting order with running balances."""
    try:
        account = config.chart.by_code(code)
    except ChartOfAccountsError as err:
        raise UnknownAccount(f"no account {code} in the chart; see GET /accounts") from err
    opening, lines = account_ledger(
        session, code, site=site, item=item, date_from=date_from, date_to=date_to
    )
    return AccountLedgerPublic(
        account=AccountPublic(code=account.code, name=account.name, type=account.type.value),
        site=site,
        item=item,
        opening=[CurrencyAmountPublic(currency=c, amount=a) for c, a in sorted(opening.items())],
        lines=[
            AccountLedgerLinePublic(
                sequence=ln.entry.sequence,
                entry_id=ln.entry.entry_id,
                event_id=ln.entry.event_id,
                posting_date=ln.entry.posting_date,
                movement_type=ln.entry.movement_type.value,
                line_no=ln.line_no,
                site=ln.site,
                item=ln.item,
                quantity=ln.quantity,
                debit=ln.debit,
                credit=ln.credit,
                currency=ln.currency,
                memo=ln.memo,
                balance=ln.balance,
            )
            for ln in lines
        ],
    )


@router.get("/ledger/unvalued-receipts", response_model=list[UnvaluedReceiptPublic])
def list_unvalued_receipts(
    session: SessionDep, site: str | None = None
) -> list[UnvaluedReceiptPublic]:
    """Receipts in stock without a value, waiting for their price."""
    return [
        UnvaluedReceiptPublic(
            event_id=row.event_id,
            site=row.site_code,
            gtin=row.item,
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            reason=row.reason,
            status=row.status,
            created_at=row.created_at,
            valued_at=row.valued_at,
        )
        for row in open_unvalued_receipts(session, site=site)
    ]


# ----------------------------------------------------------------------------- commands


def _answer(
    session: Session,
    response: Response,
    run: Callable[[], CommandAnswer],
) -> MovementPostedPublic:
    answer = run()
    session.commit()
    response.status_code = 200 if answer.replayed else 201
    return answer.posted


def _commands(session: Session, config: LedgerConfigDep) -> LedgerCommands:
    return LedgerCommands(session, config, clock=utc_now)


_REPLAYED: dict[int | str, dict[str, object]] = {
    200: {"model": MovementPostedPublic, "description": "the stored answer of a retried command"}
}


@router.post(
    "/ledger/scrap",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_scrap(
    session: WriteSessionDep, config: LedgerConfigDep, request: StockIssueCreate, response: Response
) -> MovementPostedPublic:
    """Scrap stock out of a location (Dr scrap expense / Cr inventory at valuation price)."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.issue("scrap", MovementType.SCRAP, request))


@router.post(
    "/ledger/consumption",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_consumption(
    session: WriteSessionDep, config: LedgerConfigDep, request: StockIssueCreate, response: Response
) -> MovementPostedPublic:
    """Issue stock for internal use (Dr consumption / Cr inventory at valuation price)."""
    cmd = _commands(session, config)
    return _answer(
        session, response, lambda: cmd.issue("consumption", MovementType.CONSUMPTION, request)
    )


@router.post(
    "/ledger/count-results",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_count_result(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: CountResultCreate,
    response: Response,
) -> MovementPostedPublic:
    """A counted quantity; the difference to the book posts as a surplus or a shortage."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.count(request))


@router.post(
    "/ledger/transfer-dispatches",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_transfer_dispatch(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: TransferDispatchCreate,
    response: Response,
) -> MovementPostedPublic:
    """Send stock to another site; its value is in transit until received there."""
    cmd = _commands(session, config)
    return _answer(
        session,
        response,
        lambda: cmd.issue("transfer_dispatch", MovementType.TRANSFER_DISPATCH, request),
    )


@router.post(
    "/ledger/transfer-receipts",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_transfer_receipt(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: TransferReceiptCreate,
    response: Response,
) -> MovementPostedPublic:
    """Receive a transfer from another site into a location, at the value it left with."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.transfer_receipt(request))


@router.post(
    "/ledger/delivery-dispatches",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_delivery_dispatch(
    session: WriteSessionDep, config: LedgerConfigDep, request: StockIssueCreate, response: Response
) -> MovementPostedPublic:
    """Goods leave for a customer; their value is in transit until proof of delivery."""
    cmd = _commands(session, config)
    return _answer(
        session,
        response,
        lambda: cmd.issue("delivery_dispatch", MovementType.DELIVERY_DISPATCH, request),
    )


@router.post(
    "/ledger/proofs-of-delivery",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_proof_of_delivery(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: ProofOfDeliveryCreate,
    response: Response,
) -> MovementPostedPublic:
    """The customer has the goods: Dr cost of goods sold / Cr stock in transit."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.proof_of_delivery(request))


@router.post(
    "/ledger/customer-returns",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_customer_return(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: CustomerReturnCreate,
    response: Response,
) -> MovementPostedPublic:
    """Goods back from a customer, into a location at their original issue value."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.customer_return(request))


@router.post(
    "/ledger/returns-to-vendor",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_return_to_vendor(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: ReturnToVendorCreate,
    response: Response,
) -> MovementPostedPublic:
    """Send received goods back to the supplier (Dr GR/IR / Cr inventory at receipt price)."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.return_to_vendor(request))


@router.post(
    "/ledger/vendor-invoices",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_vendor_invoice(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: VendorInvoiceCreate,
    response: Response,
) -> MovementPostedPublic:
    """The supplier's invoice against a goods receipt (Dr GR/IR / Cr accounts payable)."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.vendor_invoice(request))


@router.post(
    "/ledger/revaluations",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_revaluation(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: RevaluationCreate,
    response: Response,
) -> MovementPostedPublic:
    """A new unit cost for an item's stock (Dr/Cr inventory against revaluation)."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.revaluation(request))


@router.post(
    "/ledger/receipt-reversals",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_receipt_reversal(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: ReceiptReversalCreate,
    response: Response,
) -> MovementPostedPublic:
    """Reverse a whole goods receipt: a new entry with the sides swapped, original values."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.reverse_receipt(request))


@router.post(
    "/ledger/initial-stock",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_initial_stock(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    request: InitialStockCreate,
    response: Response,
) -> MovementPostedPublic:
    """Opening stock with its value (Dr inventory / Cr opening balance clearing)."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.initial_stock(request))


@router.post(
    "/ledger/unvalued-receipts/{event_id}/valuation",
    response_model=MovementPostedPublic,
    status_code=201,
    responses=_REPLAYED,
)
def post_receipt_valuation(
    session: WriteSessionDep,
    config: LedgerConfigDep,
    event_id: UUID,
    request: ReceiptValuationCreate,
    response: Response,
) -> MovementPostedPublic:
    """Post the price of a receipt that came in without one (idempotent by its event id)."""
    cmd = _commands(session, config)
    return _answer(session, response, lambda: cmd.value_receipt(event_id, request))


@router.post("/ledger/closed-periods", response_model=ClosedPeriodPublic, status_code=201)
def post_closed_period(
    session: WriteSessionDep, config: LedgerConfigDep, request: ClosePeriodCreate
) -> ClosedPeriodPublic:
    """Close a month; entries that would be dated in it post on the next open period."""
    period = AccountingPeriod(request.year, request.month)
    closed_at = _commands(session, config).close_period(period)
    session.commit()
    return ClosedPeriodPublic(period=str(period), closed_at=closed_at)
