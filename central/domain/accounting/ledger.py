"""The Ledger aggregate: posts movements into a balanced journal and keeps stock valuation.

Decisions (see also money.py for rounding):
- One event, one entry. Auxiliary lines (rounding residue, negative-stock true-up, price
  differences) are lines of that entry, never separate entries.
- Exactly once: the event id is the key; the same movement again returns the stored result
  with duplicate=True; the same id with different content raises IdempotencyConflict.
- Late events: valuation is never re-run over history (no "repost"). An event older than the
  latest event already posted for its (site, item) is valued on the current state and dated
  on the ledger clock's date (late=True): the entry is the true-up dated now, referencing the
  event. Closed periods: an entry whose date falls in a closed period is dated on the first
  day of the next open period (late=True), because the goods did move; refusing it would
  leave stock and books apart.
- Vendor invoice variance: moving average puts it on stock for the invoiced share still on
  hand, FIFO on what is left of the receipt's own layer; the rest goes to Price differences.
  A variance never drives stock value below zero.
- Negative stock true-ups and reversal differences go to Price differences.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from central.domain.accounting.accounts import Account, AccountRole, ChartOfAccounts
from central.domain.accounting.errors import (
    AccountingError,
    DocumentReversed,
    IdempotencyConflict,
    InvalidMovement,
    MissingUnitCost,
    QuantityExceedsDocument,
    ReferenceMismatch,
    ReferenceNotFound,
    ReversalNotAllowed,
    StaleRevaluation,
)
from central.domain.accounting.journal import (
    AccountingPeriod,
    EntryKind,
    JournalEntry,
    JournalLine,
    entry_id_for,
)
from central.domain.accounting.money import Money, quantize_money, quantize_unit_cost
from central.domain.accounting.movements import Movement, MovementType
from central.domain.accounting.rules import (
    RULES_V1,
    PostingRule,
    PriceUse,
    RuleSet,
    StockEffect,
    ValuationBasis,
)
from central.domain.accounting.store import (
    Changeset,
    DocumentRecord,
    InMemoryLedgerStore,
    LedgerStore,
    PostedEvent,
    PostingResult,
)
from central.domain.accounting.valuation import (
    ItemValuation,
    NegativeStockPolicy,
    ValuationMethod,
    adjust_value,
    issue,
    receive,
    return_received,
    revalue,
)

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)
_R = AccountRole


@dataclass(frozen=True)
class SiteConfig:
    """Valuation settings of one site."""

    currency: str = "EUR"
    valuation_method: ValuationMethod = ValuationMethod.MOVING_AVERAGE
    item_methods: Mapping[str, ValuationMethod] = field(default_factory=dict)
    negative_stock: NegativeStockPolicy = NegativeStockPolicy.REFUSE

    def method_for(self, item: str) -> ValuationMethod:
        """The item's valuation method at this site."""
        return self.item_methods.get(item, self.valuation_method)


@dataclass(frozen=True)
class LedgerConfig:
    """Chart of accounts, site settings (unlisted sites get `default_site`) and rules."""

    chart: ChartOfAccounts = field(default_factory=ChartOfAccounts)
    default_site: SiteConfig = field(default_factory=SiteConfig)
    sites: Mapping[str, SiteConfig] = field(default_factory=dict)
    rules: RuleSet = RULES_V1

    def site(self, site: str) -> SiteConfig:
        """Settings of a site."""
        return self.sites.get(site, self.default_site)


@dataclass(frozen=True)
class InvariantViolation:
    """A broken ledger invariant, with enough detail to find it."""

    invariant: str
    detail: str


@dataclass(frozen=True)
class TrialBalanceRow:
    """Debit and credit totals of one account in one currency."""

    account: Account
    currency: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Debit minus credit."""
        return self.debit - self.credit


@dataclass(frozen=True)
class _Line:
    account: str
    site: str
    amount: Decimal
    item: str | None
    quantity: Decimal | None
    memo: str
    keep_zero: bool


def _draw(
    total: Decimal,
    total_qty: Decimal,
    drawn: Decimal,
    drawn_qty: Decimal,
    qty: Decimal,
    currency: str,
) -> Decimal:
    """Value of `qty` out of a document; the last draw takes exactly what is left."""
    if drawn_qty + qty == total_qty:
        return total - drawn
    return quantize_money(total * qty / total_qty, currency)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Draft:
    """Working copy of everything one movement changes; discarded if posting fails."""

    def __init__(self, ledger: Ledger, movement: Movement) -> None:
        self.ledger = ledger
        self.movement = movement
        self.lines: list[_Line] = []
        self.valuations: dict[tuple[str, str], ItemValuation] = {}
        self.documents: dict[UUID, DocumentRecord] = {}

    def valuation(self, site: str, item: str) -> ItemValuation:
        key = (site, item)
        if key not in self.valuations:
            stored = self.ledger.store.valuation(site, item)
            cfg = self.ledger.config.site(site)
            self.valuations[key] = stored or ItemValuation(
                site, item, cfg.currency, cfg.method_for(item)
            )
        return self.valuations[key]

    def set_valuation(self, valuation: ItemValuation) -> None:
        self.valuations[(valuation.site, valuation.item)] = valuation

    def document(self, event_id: UUID) -> DocumentRecord:
        if event_id in self.documents:
            return self.documents[event_id]
        stored = self.ledger.store.document(event_id)
        if stored is None:
            raise ReferenceNotFound(self.movement.event_id, event_id)
        return stored

    def set_document(self, document: DocumentRecord) -> None:
        self.documents[document.event_id] = document

    def add(
        self,
        role: AccountRole,
        amount: Decimal,
        *,
        site: str | None = None,
        stock: Decimal | None = None,
        aux: bool = False,
        memo: str = "",
    ) -> None:
        """A line on `role` at `site` (default: the movement's); `stock` is the quantity it
        moves, which also tags the line with the item."""
        m = self.movement
        line_site = site or m.site
        account = self.ledger.config.chart.account(line_site, role).code
        self.add_line(
            _Line(
                account,
                line_site,
                amount,
                m.item
                if stock is not None or role in (_R.INVENTORY, _R.STOCK_IN_TRANSIT)
                else None,
                stock,
                memo,
                not aux,
            )
        )

    def add_line(self, line: _Line) -> None:
        self.lines.append(line)

    def policy(self, site: str) -> NegativeStockPolicy:
        return self.ledger.config.site(site).negative_stock

    def referenced(self, *, same_site: bool = True) -> DocumentRecord:
        """The referenced document, checked to be live and to match the movement."""
        m = self.movement
        assert m.reference is not None  # the rule check guarantees a reference here
        doc = self.document(m.reference)
        if doc.reversed_by is not None:
            raise DocumentReversed(doc.event_id, doc.reversed_by)
        if doc.item != m.item or doc.currency != m.currency or (same_site and doc.site != m.site):
            raise ReferenceMismatch(
                f"event {m.event_id} ({m.site}, {m.item}, {m.currency}) does not match "
                f"referenced event {doc.event_id} ({doc.site}, {doc.item}, {doc.currency})"
            )
        return doc


_Handler = Callable[[_Draft, PostingRule], Decimal]


def _original_issue_value(d: _Draft) -> Decimal:
    """A customer return's share of the value its dispatch took out of stock."""
    m = d.movement
    doc = d.referenced(same_site=False)
    available = doc.delivered_quantity - doc.returned_quantity
    if m.quantity > available:
        raise QuantityExceedsDocument(doc.event_id, m.quantity, available)
    value = _draw(
        doc.value, doc.quantity, doc.returned_value, doc.returned_quantity, m.quantity, m.currency
    )
    d.set_document(
        replace(
            doc,
            returned_quantity=doc.returned_quantity + m.quantity,
            returned_value=doc.returned_value + value,
        )
    )
    return value


def _receipt_value(d: _Draft, rule: PostingRule) -> Decimal:
    """Value of a receipt-like movement under its rule's basis."""
    m = d.movement
    if rule.basis is ValuationBasis.ORIGINAL_DOCUMENT:
        return _original_issue_value(d)
    if m.unit_price is not None:  # order price, entered value, or a counted item's price
        return quantize_money(m.quantity * m.unit_price, m.currency)
    v = d.valuation(m.site, m.item)
    cost = quantize_unit_cost(v.unit_cost) if v.quantity > 0 else v.last_unit_cost
    if cost is None:
        raise MissingUnitCost(m.site, m.item)
    return quantize_money(m.quantity * cost, m.currency)


def _receive_into(d: _Draft, site: str, value: Decimal) -> None:
    m = d.movement
    v, receipt = receive(
        d.valuation(site, m.item), quantity=m.quantity, value=value, event_id=m.event_id
    )
    d.set_valuation(v)
    d.add(_R.INVENTORY, value, site=site, stock=m.quantity)
    _true_up(d, site, receipt.true_up)


def _true_up(d: _Draft, site: str, amount: Decimal) -> None:
    d.add(_R.INVENTORY, amount, site=site, aux=True, memo="negative stock true-up")
    d.add(_R.PRICE_DIFFERENCE, -amount, site=site, aux=True, memo="negative stock true-up")


def _on_receive(d: _Draft, rule: PostingRule) -> Decimal:
    assert rule.credit is not None
    value = _receipt_value(d, rule)
    _receive_into(d, d.movement.site, value)
    d.add(rule.credit, -value)
    return value


def _on_issue(d: _Draft, rule: PostingRule) -> Decimal:
    m = d.movement
    assert rule.debit is not None
    v, taken = issue(d.valuation(m.site, m.item), quantity=m.quantity, policy=d.policy(m.site))
    d.set_valuation(v)
    d.add(rule.debit, taken.value, stock=m.quantity if rule.opens_transit else None)
    d.add(_R.INVENTORY, -taken.stock_value, stock=-m.quantity)
    d.add(_R.ROUNDING, taken.rounding, aux=True, memo="rounding residue at zero quantity")
    return taken.value


def _on_return_received(d: _Draft, rule: PostingRule) -> Decimal:
    m = d.movement
    doc = d.referenced()
    available = doc.quantity - doc.returned_quantity
    if m.quantity > available:
        raise QuantityExceedsDocument(doc.event_id, m.quantity, available)
    value = _draw(
        doc.value, doc.quantity, doc.returned_value, doc.returned_quantity, m.quantity, m.currency
    )
    v, removed = return_received(
        d.valuation(m.site, m.item),
        quantity=m.quantity,
        original_value=value,
        source_event_id=doc.event_id,
        policy=d.policy(m.site),
    )
    d.set_valuation(v)
    d.set_document(
        replace(
            doc,
            returned_quantity=doc.returned_quantity + m.quantity,
            returned_value=doc.returned_value + value,
        )
    )
    d.add(_R.GR_IR_CLEARING, value)
    d.add(_R.INVENTORY, -removed, stock=-m.quantity)
    d.add(_R.PRICE_DIFFERENCE, removed - value, aux=True, memo="stock value differs from receipt")
    return value


def _on_invoice(d: _Draft, rule: PostingRule) -> Decimal:
    m = d.movement
    assert m.unit_price is not None
    doc = d.referenced()
    available = doc.quantity - doc.invoiced_quantity
    if m.quantity > available:
        raise QuantityExceedsDocument(doc.event_id, m.quantity, available)
    received = _draw(
        doc.value, doc.quantity, doc.invoiced_value, doc.invoiced_quantity, m.quantity, m.currency
    )
    invoiced = quantize_money(m.quantity * m.unit_price, m.currency)
    v, applied = adjust_value(
        d.valuation(m.site, m.item),
        amount=invoiced - received,
        quantity=m.quantity,
        source_event_id=doc.event_id,
    )
    d.set_valuation(v)
    d.set_document(
        replace(
            doc,
            invoiced_quantity=doc.invoiced_quantity + m.quantity,
            invoiced_value=doc.invoiced_value + received,
        )
    )
    d.add(_R.GR_IR_CLEARING, received)
    d.add(_R.ACCOUNTS_PAYABLE, -invoiced)
    d.add(_R.INVENTORY, applied, aux=True, memo="invoice price variance on stock")
    d.add(
        _R.PRICE_DIFFERENCE,
        invoiced - received - applied,
        aux=True,
        memo="invoice price variance not on stock",
    )
    return invoiced


def _draw_transit(d: _Draft, doc: DocumentRecord) -> Decimal:
    m = d.movement
    if m.quantity > doc.in_transit_quantity:
        raise QuantityExceedsDocument(doc.event_id, m.quantity, doc.in_transit_quantity)
    value = _draw(
        doc.value, doc.quantity, doc.delivered_value, doc.delivered_quantity, m.quantity, m.currency
    )
    d.set_document(
        replace(
            doc,
            delivered_quantity=doc.delivered_quantity + m.quantity,
            delivered_value=doc.delivered_value + value,
        )
    )
    d.add(_R.STOCK_IN_TRANSIT, -value, site=doc.site, stock=-m.quantity)
    return value


def _on_clear_transit(d: _Draft, rule: PostingRule) -> Decimal:
    assert rule.debit is not None
    value = _draw_transit(d, d.referenced())
    d.add(rule.debit, value)
    return value


def _on_receive_from_transit(d: _Draft, rule: PostingRule) -> Decimal:
    m = d.movement
    doc = d.referenced(same_site=False)
    if doc.to_site != m.site:
        raise ReferenceMismatch(
            f"transfer {doc.event_id} goes to site {doc.to_site}, not to site {m.site}"
        )
    value = _draw_transit(d, doc)
    _receive_into(d, m.site, value)
    return value


def _on_revalue(d: _Draft, rule: PostingRule) -> Decimal:
    m = d.movement
    assert m.unit_price is not None and rule.credit is not None
    v = d.valuation(m.site, m.item)
    if v.quantity != m.quantity:
        raise StaleRevaluation(m.site, m.item, m.quantity, v.quantity)
    v, delta = revalue(v, unit_cost=quantize_unit_cost(m.unit_price))
    d.set_valuation(v)
    d.add(_R.INVENTORY, delta)
    d.add(rule.credit, -delta)
    return delta


def _on_quantity_only(d: _Draft, rule: PostingRule) -> Decimal:
    return _ZERO


def _on_reverse(d: _Draft, rule: PostingRule) -> Decimal:
    m = d.movement
    assert m.reference is not None
    ledger = d.ledger
    original = ledger.store.posted(m.reference)
    if original is None:
        raise ReferenceNotFound(m.event_id, m.reference)
    om = original.movement
    doc = d.referenced()
    if om.quantity != m.quantity:
        raise ReferenceMismatch(
            f"a reversal takes back all of event {om.event_id} ({om.quantity}), "
            f"not {m.quantity}; post a return for part of it"
        )
    effect = ledger.config.rules.rule(om.movement_type).effect
    entry = original.result.entry
    if effect is StockEffect.QUANTITY_ONLY or entry is None:
        d.set_document(replace(doc, reversed_by=m.event_id))
        return _ZERO
    if (
        doc.returned_quantity
        or doc.invoiced_quantity
        or (effect is StockEffect.ISSUE and doc.delivered_quantity)
    ):
        raise ReversalNotAllowed(
            f"event {om.event_id} has returns, invoices or deliveries drawn on it; "
            "reverse those first, or post a return instead"
        )
    inventory = ledger.config.chart.account(m.site, _R.INVENTORY).code

    def is_stock(line: JournalLine) -> bool:
        return line.account == inventory and line.site == m.site and line.item == m.item

    original_stock_value = sum((ln.amount for ln in entry.lines if is_stock(ln)), _ZERO)
    if effect in (StockEffect.RECEIVE, StockEffect.RECEIVE_FROM_TRANSIT):
        v, removed = return_received(
            d.valuation(m.site, m.item),
            quantity=m.quantity,
            original_value=original_stock_value,
            source_event_id=om.event_id,
            policy=d.policy(m.site),
        )
        d.set_valuation(v)
        for line in entry.lines:
            if not is_stock(line):
                d.add_line(_storno(line))
        d.add(_R.INVENTORY, -removed, stock=-m.quantity)
        d.add(
            _R.PRICE_DIFFERENCE,
            removed - original_stock_value,
            aux=True,
            memo="stock value differs from the reversed document",
        )
        if om.reference is not None:
            _undo_draw(d, om, doc.value)
    else:
        for line in entry.lines:
            d.add_line(_storno(line))
        if effect in (StockEffect.ISSUE, StockEffect.RETURN_RECEIVED):
            v, receipt = receive(
                d.valuation(m.site, m.item),
                quantity=m.quantity,
                value=-original_stock_value,
                event_id=m.event_id,
            )
            d.set_valuation(v)
            _true_up(d, m.site, receipt.true_up)
        if om.reference is not None:
            _undo_draw(d, om, doc.value)
    d.set_document(replace(d.document(om.event_id), reversed_by=m.event_id))
    return doc.value


def _storno(line: JournalLine) -> _Line:
    return _Line(
        line.account,
        line.site,
        -line.amount,
        line.item,
        -line.quantity if line.quantity is not None else None,
        line.memo,
        True,
    )


def _undo_draw(d: _Draft, original: Movement, value: Decimal) -> None:
    """Give back what the reversed movement drew on its own reference."""
    assert original.reference is not None
    ref = d.document(original.reference)
    q = original.quantity
    match original.movement_type:
        case MovementType.RETURN_TO_VENDOR | MovementType.CUSTOMER_RETURN:
            ref = replace(
                ref,
                returned_quantity=ref.returned_quantity - q,
                returned_value=ref.returned_value - value,
            )
        case MovementType.PROOF_OF_DELIVERY | MovementType.TRANSFER_RECEIPT:
            if ref.delivered_quantity - q < ref.returned_quantity:
                raise ReversalNotAllowed(
                    f"customer returns were posted against delivery {ref.event_id}; "
                    "reverse them first"
                )
            ref = replace(
                ref,
                delivered_quantity=ref.delivered_quantity - q,
                delivered_value=ref.delivered_value - value,
            )
        case _:
            raise ReversalNotAllowed(f"cannot reverse a {original.movement_type}")
    d.set_document(ref)


_HANDLERS: Mapping[StockEffect, _Handler] = {
    StockEffect.RECEIVE: _on_receive,
    StockEffect.ISSUE: _on_issue,
    StockEffect.RETURN_RECEIVED: _on_return_received,
    StockEffect.INVOICE: _on_invoice,
    StockEffect.CLEAR_TRANSIT: _on_clear_transit,
    StockEffect.RECEIVE_FROM_TRANSIT: _on_receive_from_transit,
    StockEffect.REVALUE: _on_revalue,
    StockEffect.QUANTITY_ONLY: _on_quantity_only,
    StockEffect.REVERSE: _on_reverse,
}


class Ledger:
    """Posting engine and stock valuation over a LedgerStore (in memory by default).

    Args:
        config: chart of accounts, site settings and posting rules.
        store: where state lives; InMemoryLedgerStore when omitted.
        clock: the time "now" for late events (timezone-aware).
    """

    def __init__(
        self,
        config: LedgerConfig | None = None,
        *,
        store: LedgerStore | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config or LedgerConfig()
        self.store: LedgerStore = store if store is not None else InMemoryLedgerStore()
        self._clock = clock

    def post(self, movement: Movement) -> PostingResult:
        """Post one movement exactly once and return its journal entry (None: quantity only).

        Raises:
            IdempotencyConflict: the event id was posted with different content.
            AccountingError: the movement cannot post; nothing was changed.
        """
        stored = self.store.posted(movement.event_id)
        if stored is not None:
            if stored.movement != movement:
                raise IdempotencyConflict(movement.event_id)
            return replace(stored.result, duplicate=True)
        rule = self.config.rules.rule(movement.movement_type)
        self._validate(movement, rule)
        draft = _Draft(self, movement)
        before = draft.valuation(movement.site, movement.item)
        is_late = (
            before.last_occurred_at is not None and movement.occurred_at < before.last_occurred_at
        )
        document_value = _HANDLERS[rule.effect](draft, rule)
        entry = self._entry(draft, rule, late=is_late)
        if entry is not None:
            current = draft.valuation(movement.site, movement.item)
            if current.last_occurred_at is None or movement.occurred_at > current.last_occurred_at:
                draft.set_valuation(replace(current, last_occurred_at=movement.occurred_at))
        else:
            # Quantity-only: valuation is untouched, and no empty row is created for it.
            draft.valuations.clear()
        if movement.event_id not in draft.documents:
            draft.set_document(
                DocumentRecord(
                    movement.event_id,
                    movement.movement_type,
                    movement.site,
                    movement.item,
                    movement.currency,
                    movement.quantity,
                    document_value,
                    to_site=movement.to_site,
                )
            )
        result = PostingResult(movement.event_id, entry)
        self.store.apply(
            Changeset(
                posted=PostedEvent(movement, result),
                entry=entry,
                valuations=tuple(draft.valuations.values()),
                documents=tuple(draft.documents.values()),
            )
        )
        logger.debug("posted %s %s", movement.movement_type, movement.event_id)
        return result

    def post_all(self, movements: Iterable[Movement]) -> list[PostingResult]:
        """Post movements in order (stops at the first error)."""
        return [self.post(m) for m in movements]

    def _validate(self, m: Movement, rule: PostingRule) -> None:
        def bad(reason: str) -> InvalidMovement:
            return InvalidMovement(f"{m.movement_type} event {m.event_id}: {reason}")

        if rule.price is PriceUse.REQUIRED and m.unit_price is None:
            raise bad("a unit price is required")
        if rule.price is PriceUse.FORBIDDEN and m.unit_price is not None:
            raise bad("takes no unit price (its value comes from the stock or the document)")
        if rule.references and m.reference is None:
            raise bad("needs a reference to the original event")
        if not rule.references and m.reference is not None:
            raise bad("takes no reference")
        if m.reference is not None:
            original = self.store.posted(m.reference)
            if original is None:
                raise ReferenceNotFound(m.event_id, m.reference)
            if original.movement.movement_type not in rule.references:
                raise (
                    ReversalNotAllowed if rule.effect is StockEffect.REVERSE else ReferenceMismatch
                )(
                    f"{m.movement_type} cannot refer to a {original.movement.movement_type} "
                    f"(event {m.reference})"
                )
        if rule.needs_to_site != (m.to_site is not None):
            raise bad("needs a receiving site" if rule.needs_to_site else "takes no to_site")
        for site in (m.site, m.to_site):
            if site is not None and self.config.site(site).currency != m.currency:
                raise bad(
                    f"site {site} values stock in {self.config.site(site).currency}, "
                    f"not {m.currency}"
                )

    def _entry(self, d: _Draft, rule: PostingRule, *, late: bool) -> JournalEntry | None:
        m = d.movement
        if rule.effect is StockEffect.QUANTITY_ONLY or (
            rule.effect is StockEffect.REVERSE and not d.lines
        ):
            return None
        occurred_on = m.occurred_at.astimezone(UTC).date()
        posting_date = (
            max(self._clock().astimezone(UTC).date(), occurred_on) if late else (occurred_on)
        )
        closed = self.store.closed_periods()
        period = AccountingPeriod.of(posting_date)
        while period in closed:
            period = period.next()
            posting_date = period.first_day
        lines = tuple(
            JournalLine(
                line_no=n,
                account=ln.account,
                site=ln.site,
                debit=quantize_money(max(ln.amount, _ZERO), m.currency),
                credit=quantize_money(max(-ln.amount, _ZERO), m.currency),
                currency=m.currency,
                item=ln.item,
                quantity=ln.quantity,
                memo=ln.memo,
            )
            for n, ln in enumerate((ln for ln in d.lines if ln.keep_zero or ln.amount), start=1)
        )
        entry = JournalEntry(
            entry_id=entry_id_for(m.event_id),
            sequence=self.store.next_entry_sequence(),
            site=m.site,
            posting_date=posting_date,
            occurred_at=m.occurred_at,
            event_id=m.event_id,
            movement_type=m.movement_type,
            kind=EntryKind.REVERSAL if rule.effect is StockEffect.REVERSE else EntryKind.MOVEMENT,
            rules_version=self.config.rules.version,
            lines=lines,
            reverses=m.reference if rule.effect is StockEffect.REVERSE else None,
            late=posting_date != occurred_on,
        )
        if not entry.is_balanced():
            raise AccountingError(f"internal error: unbalanced entry for event {m.event_id}")
        return entry

    def close_period(self, period: AccountingPeriod) -> None:
        """Close a period: later entries dated in it move to the next open period."""
        self.store.close_period(period)
        logger.info("accounting period %s closed", period)

    def journal(self) -> list[JournalEntry]:
        """All entries in posting sequence."""
        return list(self.store.entries())

    def valuation(self, site: str, item: str) -> ItemValuation:
        """Valuation state of (site, item) (empty if it never moved)."""
        stored = self.store.valuation(site, item)
        if stored is not None:
            return stored
        cfg = self.config.site(site)
        return ItemValuation(site, item, cfg.currency, cfg.method_for(item))

    def _lines(
        self, *, site: str | None = None, item: str | None = None, as_of: date | None = None
    ) -> Iterable[JournalLine]:
        for entry in self.store.entries():
            if as_of is not None and entry.posting_date > as_of:
                continue
            for line in entry.lines:
                if (site is None or line.site == site) and (item is None or line.item == item):
                    yield line

    def account_balance(
        self,
        account: str,
        *,
        currency: str,
        site: str | None = None,
        item: str | None = None,
        as_of: date | None = None,
    ) -> Money:
        """Debit minus credit of an account code, optionally per site, item and date."""
        total = sum(
            (
                ln.amount
                for ln in self._lines(site=site, item=item, as_of=as_of)
                if ln.account == account and ln.currency == currency
            ),
            _ZERO,
        )
        return Money.of(total, currency)

    def role_balance(
        self, role: AccountRole, *, site: str, currency: str, item: str | None = None
    ) -> Money:
        """Balance of the site's account for a role (e.g. INVENTORY), at this site's lines."""
        account = self.config.chart.account(site, role).code
        return self.account_balance(account, currency=currency, site=site, item=item)

    def trial_balance(
        self, *, site: str | None = None, as_of: date | None = None
    ) -> list[TrialBalanceRow]:
        """Debit/credit totals per account and currency, ordered by account code."""
        sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [_ZERO, _ZERO])
        for line in self._lines(site=site, as_of=as_of):
            sums[(line.account, line.currency)][0] += line.debit
            sums[(line.account, line.currency)][1] += line.credit
        return [
            TrialBalanceRow(self.config.chart.by_code(code), currency, d, c)
            for (code, currency), (d, c) in sorted(sums.items())
        ]

    def check_invariants(self) -> list[InvariantViolation]:
        """Check the hard invariants of postings.md; an empty list means all hold."""
        found: list[InvariantViolation] = []
        entries = self.store.entries()
        stock: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [_ZERO, _ZERO])
        transit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        debits: dict[str, Decimal] = defaultdict(Decimal)
        chart = self.config.chart
        for entry in entries:
            if not entry.is_balanced():
                found.append(
                    InvariantViolation("balanced", f"entry {entry.entry_id} {entry.totals()}")
                )
            for line in entry.lines:
                debits[line.currency] += line.amount
                if line.account == chart.account(line.site, _R.INVENTORY).code and line.item:
                    key = (line.site, line.item, line.currency)
                    stock[key][0] += line.amount
                    stock[key][1] += line.quantity or _ZERO
                if line.account == chart.account(line.site, _R.STOCK_IN_TRANSIT).code and line.item:
                    transit[(line.site, line.item)] += line.amount
        for currency, net in debits.items():
            if net:
                found.append(InvariantViolation("ledger balanced", f"{currency} off by {net}"))
        for v in self.store.valuations():
            amount, qty = stock.pop((v.site, v.item, v.currency), [_ZERO, _ZERO])
            where = f"site {v.site} item {v.item}"
            if amount != v.value:
                found.append(
                    InvariantViolation(
                        "inventory = layers", f"{where}: account {amount}, layers {v.value}"
                    )
                )
            if qty != v.quantity:
                found.append(
                    InvariantViolation(
                        "quantity = layers", f"{where}: lines {qty}, layers {v.quantity}"
                    )
                )
            if v.quantity == 0 and (v.value != 0 or v.layers):
                found.append(InvariantViolation("zero quantity, zero value", f"{where}: {v.value}"))
            if v.quantity and quantize_money(v.quantity * v.unit_cost, v.currency) != v.value:
                found.append(InvariantViolation("quantity x unit cost", f"{where}"))
            for layer in v.layers:
                if (layer.quantity > 0 and layer.value < 0) or (
                    layer.quantity < 0 and layer.value > 0
                ):
                    found.append(InvariantViolation("layer sign", f"{where}: {layer}"))
        for (site, item, _currency), (amount, _qty) in stock.items():
            if amount:
                found.append(
                    InvariantViolation(
                        "inventory = layers", f"site {site} item {item}: {amount} without layers"
                    )
                )
        expected_transit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for doc in self.store.documents():
            rule = self.config.rules.rule(doc.movement_type)
            if rule.opens_transit and doc.reversed_by is None:
                expected_transit[(doc.site, doc.item)] += doc.in_transit_value
        for place in set(transit) | set(expected_transit):
            if transit.get(place, _ZERO) != expected_transit.get(place, _ZERO):
                found.append(
                    InvariantViolation(
                        "in transit = open shipments",
                        f"site {place[0]} item {place[1]}: account {transit.get(place, _ZERO)}, "
                        f"shipments {expected_transit.get(place, _ZERO)}",
                    )
                )
        return found


def replay(
    movements: Sequence[Movement],
    config: LedgerConfig | None = None,
    *,
    clock: Callable[[], datetime] = _utc_now,
) -> Ledger:
    """A fresh in-memory ledger with `movements` posted in order."""
    ledger = Ledger(config, clock=clock)
    ledger.post_all(movements)
    return ledger
