"""Input and output models of the books' API (the Create / Public split)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from central.domain.accounting import ChartOfAccounts, JournalEntry
from contracts.envelope import SiteCode

_GTIN = r"^\d{14}$"
_SSCC = r"^\d{18}$"

Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Gtin = Annotated[str, Field(pattern=_GTIN, examples=["04012345000016"])]
LocationCode = Annotated[str, Field(min_length=1, max_length=40, examples=["A-01-01"])]
Batch = Annotated[str | None, Field(default=None, max_length=40)]
Sscc = Annotated[str | None, Field(default=None, pattern=_SSCC)]


# ----------------------------------------------------------------------------- commands


class CommandBase(BaseModel):
    """Every ops command carries a client-made UUID: a retried POST with the same key and body
    returns the first answer and posts nothing new; the same key with another body is refused.
    The key is also the movement's event id in the journal."""

    idempotency_key: UUID
    site: SiteCode
    occurred_at: AwareDatetime | None = Field(
        default=None, description="when it physically happened; default: now"
    )


class StockIssueCreate(CommandBase):
    """Take stock out of a location (scrap, consumption, a customer delivery).

    Name the SSCC or batch when the location holds several pallets or lots of the item.
    """

    gtin: Gtin
    location: LocationCode
    quantity: Quantity
    batch: Batch = None
    sscc: Sscc = None


class TransferDispatchCreate(StockIssueCreate):
    """Send stock to another site: it leaves this site into transit until received there."""

    to_site: SiteCode


class CountResultCreate(CommandBase):
    """A counted quantity of an item in a location; the difference to the book posts as a
    count surplus or shortage. `unit_price` values a surplus of an item that has no cost yet."""

    gtin: Gtin
    location: LocationCode
    counted_quantity: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
    batch: Batch = None
    sscc: Sscc = None
    unit_price: Price | None = None


class TransferReceiptCreate(CommandBase):
    """Receive (part of) a transfer at `site`, the dispatch's receiving site, into a location."""

    dispatch_event_id: UUID
    location: LocationCode
    quantity: Quantity
    batch: Batch = None


class ProofOfDeliveryCreate(CommandBase):
    """The customer has (part of) a delivery: its value leaves transit into cost of goods sold."""

    dispatch_event_id: UUID
    quantity: Quantity


class CustomerReturnCreate(CommandBase):
    """A customer sends back (part of) a delivery, taken into a location at its issue value."""

    dispatch_event_id: UUID
    location: LocationCode
    quantity: Quantity
    batch: Batch = None


class ReturnToVendorCreate(CommandBase):
    """Send (part of) a goods receipt back to the supplier, at the receipt's price."""

    receipt_event_id: UUID
    location: LocationCode
    quantity: Quantity
    batch: Batch = None
    sscc: Sscc = None


class VendorInvoiceCreate(CommandBase):
    """The supplier's invoice for (part of) a goods receipt, at the invoiced unit price."""

    receipt_event_id: UUID
    quantity: Quantity
    unit_price: Price


class RevaluationCreate(CommandBase):
    """A new unit cost for an item's stock at the site. `quantity_on_hand` is the quantity the
    price was decided on; if stock has moved since, the command is refused (send it again)."""

    gtin: Gtin
    unit_cost: Price
    quantity_on_hand: Quantity


class ReceiptReversalCreate(CommandBase):
    """Reverse a goods receipt as a whole (storno at the receipt's own values).

    The stock is taken from `location`, by default where the receipt's pallet is now (or the
    location it was received into)."""

    receipt_event_id: UUID
    location: LocationCode | None = None


class InitialStockCreate(CommandBase):
    """Opening stock of an item, entered with its unit value."""

    gtin: Gtin
    location: LocationCode
    quantity: Quantity
    unit_price: Price
    batch: Batch = None


class ReceiptValuationCreate(BaseModel):
    """The price of a receipt that is in stock without a value. Posting it twice with the same
    price posts once; a different price is refused (reverse and receive again)."""

    unit_price: Price
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class ClosePeriodCreate(BaseModel):
    """Close a month: later entries dated in it are posted on the first day of the next one."""

    year: int = Field(ge=2000, le=9999)
    month: int = Field(ge=1, le=12)


# ----------------------------------------------------------------------------- answers


class JournalLinePublic(BaseModel):
    """One debit or credit of an entry."""

    line_no: int
    account: str
    account_name: str
    site: str
    item: str | None
    quantity: Decimal | None
    debit: Decimal
    credit: Decimal
    currency: str
    memo: str


class JournalEntryPublic(BaseModel):
    """A posted journal entry; never changed, corrected only by a reversal entry."""

    entry_id: UUID
    sequence: int
    site: str
    posting_date: date
    occurred_at: datetime
    event_id: UUID
    movement_type: str
    kind: str
    rules_version: str
    reverses: UUID | None
    late: bool
    lines: list[JournalLinePublic]


def entry_public(entry: JournalEntry, chart: ChartOfAccounts) -> JournalEntryPublic:
    """The API view of an entry, with account names from the chart."""
    return JournalEntryPublic(
        entry_id=entry.entry_id,
        sequence=entry.sequence,
        site=entry.site,
        posting_date=entry.posting_date,
        occurred_at=entry.occurred_at,
        event_id=entry.event_id,
        movement_type=entry.movement_type.value,
        kind=entry.kind.value,
        rules_version=entry.rules_version,
        reverses=entry.reverses,
        late=entry.late,
        lines=[
            JournalLinePublic(
                line_no=line.line_no,
                account=line.account,
                account_name=chart.by_code(line.account).name,
                site=line.site,
                item=line.item,
                quantity=line.quantity,
                debit=line.debit,
                credit=line.credit,
                currency=line.currency,
                memo=line.memo,
            )
            for line in entry.lines
        ],
    )


class MovementPostedPublic(BaseModel):
    """What an ops command posted: the movement and its journal entry (None: quantity only,
    or nothing to post, e.g. a count that matches the book)."""

    idempotency_key: UUID
    command: str
    movement_type: str | None
    site: str
    gtin: str | None
    quantity: Decimal | None
    entry: JournalEntryPublic | None
    detail: str


class AccountPublic(BaseModel):
    """An account of the chart."""

    code: str
    name: str
    type: str


class TrialBalanceRowPublic(BaseModel):
    """Debit and credit totals of one account in one currency."""

    account: str
    name: str
    type: str
    currency: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


class CurrencyTotalPublic(BaseModel):
    """Total debits and credits in one currency; equal when the books balance."""

    currency: str
    debit: Decimal
    credit: Decimal


class TrialBalancePublic(BaseModel):
    """The trial balance, optionally of one site and up to a date."""

    site: str | None
    as_of: date | None
    rows: list[TrialBalanceRowPublic]
    totals: list[CurrencyTotalPublic]
    balanced: bool


class ValuationRowPublic(BaseModel):
    """Stock valuation of one item at one site; `unvalued_quantity` waits for a price."""

    site: str
    gtin: str
    item_name: str | None
    currency: str
    method: str
    quantity: Decimal
    value: Decimal
    unit_cost: Decimal
    unvalued_quantity: Decimal


class ReconciliationPublic(BaseModel):
    """A site's inventory account against the sum of its valuation layers."""

    site: str
    account: str
    currency: str
    account_balance: Decimal
    layers_value: Decimal
    difference: Decimal
    reconciled: bool


class ValuationReportPublic(BaseModel):
    """The stock valuation report and its reconciliation to the inventory account."""

    rows: list[ValuationRowPublic]
    reconciliation: list[ReconciliationPublic]


class CurrencyAmountPublic(BaseModel):
    """An amount in one currency."""

    currency: str
    amount: Decimal


class AccountLedgerLinePublic(BaseModel):
    """One line of an account's ledger and the running balance after it."""

    sequence: int
    entry_id: UUID
    event_id: UUID
    posting_date: date
    movement_type: str
    line_no: int
    site: str
    item: str | None
    quantity: Decimal | None
    debit: Decimal
    credit: Decimal
    currency: str
    memo: str
    balance: Decimal


class AccountLedgerPublic(BaseModel):
    """An account's lines in posting order with the opening balance before `date_from`."""

    account: AccountPublic
    site: str | None
    item: str | None
    opening: list[CurrencyAmountPublic]
    lines: list[AccountLedgerLinePublic]


class UnvaluedReceiptPublic(BaseModel):
    """Goods in stock without a value, waiting for ops to post their price."""

    event_id: UUID
    site: str
    gtin: str
    quantity: Decimal
    occurred_at: datetime
    reason: str
    status: str
    created_at: datetime
    valued_at: datetime | None


class ClosedPeriodPublic(BaseModel):
    """A closed accounting month."""

    period: str
    closed_at: datetime
