"""The posting engine's LedgerStore on central's database, inside the caller's transaction.

`DbLedgerStore(session)` reads and writes through the caller's session and never commits:
`apply` only adds rows and flushes, so the stock move, the journal entry and the event's
applied-record commit (or roll back) together in the caller's one transaction.

Concurrency: every posting first calls `lock_ledger`, which locks the single `ledger_lock` row
(PostgreSQL) or relies on the write lock taken at BEGIN IMMEDIATE (SQLite). Postings therefore
take turns, which the gap-free journal sequence and the hash chain need. Callers that also lock
a site row lock it first (site, then ledger), so there is one lock order and no deadlock.

Tamper evidence: each entry's `chain_hash` is sha256(previous entry's chain hash + the entry's
canonical content). `verify_chain` recomputes it; a changed, added or deleted row shows.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from sqlmodel import Session, col, select

from central.domain.accounting import (
    AccountingPeriod,
    Changeset,
    DocumentRecord,
    EntryKind,
    InvalidMovement,
    ItemValuation,
    JournalEntry,
    JournalLine,
    Movement,
    MovementType,
    PostedEvent,
    PostingResult,
    ValuationLayer,
    ValuationMethod,
    minor_unit,
)
from central.store import tables as t
from central.store.types import plain_decimal

GENESIS_HASH = "0" * 64
_LOCK_ROW = 1
# The precision of the decimal columns (NUMERIC(18, 6) on PostgreSQL). A movement's quantity and
# unit price must fit it (post_movement checks), or PostgreSQL would round them: the stored
# movement (the idempotency record) would differ from the one posted, and a retry of the same
# event would be refused as a conflict.
STORED_PLACES = 6
STORED_DIGITS = 18


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount quantized to the currency's minor unit as an integer (12.50 EUR -> 1250)."""
    scaled = amount.scaleb(minor_unit(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def check_storable(movement: Movement) -> None:
    """Raise InvalidMovement if the movement's quantity or unit price has more decimals (or
    digits) than the database keeps."""
    for what, value in (("quantity", movement.quantity), ("unit price", movement.unit_price)):
        if value is None:
            continue
        exponent = value.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        whole = max(value.adjusted() + 1, 0)  # digits before the decimal point
        if places > STORED_PLACES or whole > STORED_DIGITS - STORED_PLACES:
            raise InvalidMovement(
                f"{movement.movement_type} event {movement.event_id}: {what} {value} does not "
                f"fit the books ({STORED_DIGITS - STORED_PLACES} digits before and "
                f"{STORED_PLACES} after the decimal point); round it and send it again"
            )


def from_minor(minor: int, currency: str) -> Decimal:
    """The Decimal amount of an integer in minor units (1250 EUR -> 12.50)."""
    return Decimal(minor).scaleb(-minor_unit(currency))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{plain_decimal(value):f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def entry_content(entry: JournalEntry) -> str:
    """The canonical text of an entry that its hash covers (header fields, then each line)."""
    parts = [
        _text(v)
        for v in (
            entry.entry_id,
            entry.sequence,
            entry.site,
            entry.posting_date.isoformat(),
            entry.occurred_at,
            entry.event_id,
            entry.movement_type.value,
            entry.kind.value,
            entry.rules_version,
            entry.reverses,
            entry.late,
        )
    ]
    for line in entry.lines:
        parts.extend(
            _text(v)
            for v in (
                line.line_no,
                line.account,
                line.site,
                to_minor(line.debit, line.currency),
                to_minor(line.credit, line.currency),
                line.currency,
                line.item,
                line.quantity,
                line.memo,
            )
        )
    return "\x1f".join(parts)


def chain_hash(previous: str, entry: JournalEntry) -> str:
    """The entry's link in the hash chain."""
    return hashlib.sha256((previous + "\x1e" + entry_content(entry)).encode()).hexdigest()


def lock_ledger(session: Session) -> None:
    """Take the ledger's posting lock for the rest of the caller's transaction."""
    row = session.exec(
        select(t.LedgerLock).where(t.LedgerLock.id == _LOCK_ROW).with_for_update()
    ).first()
    if row is None:
        # A database created without the migrations (create_all) lacks the row.
        session.add(t.LedgerLock(id=_LOCK_ROW))
        session.flush()
        session.exec(select(t.LedgerLock).where(t.LedgerLock.id == _LOCK_ROW).with_for_update())


def _entry_from_rows(row: t.JournalEntryRow, lines: Iterable[t.JournalLineRow]) -> JournalEntry:
    return JournalEntry(
        entry_id=row.entry_id,
        sequence=row.sequence,
        site=row.site_code,
        posting_date=row.posting_date,
        occurred_at=row.occurred_at,
        event_id=row.event_id,
        movement_type=MovementType(row.movement_type),
        kind=EntryKind(row.kind),
        rules_version=row.rules_version,
        lines=tuple(
            JournalLine(
                line_no=ln.line_no,
                account=ln.account,
                site=ln.site_code,
                debit=from_minor(ln.debit_minor, ln.currency),
                credit=from_minor(ln.credit_minor, ln.currency),
                currency=ln.currency,
                item=ln.item,
                quantity=ln.quantity,
                memo=ln.memo,
            )
            for ln in sorted(lines, key=lambda ln: ln.line_no)
        ),
        reverses=row.reverses,
        late=row.late,
    )


def load_entries(session: Session, rows: Sequence[t.JournalEntryRow]) -> list[JournalEntry]:
    """Journal entries for header rows (lines fetched in one query), in the rows' order."""
    if not rows:
        return []
    ids = [row.entry_id for row in rows]
    by_entry: dict[UUID, list[t.JournalLineRow]] = defaultdict(list)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for line in session.exec(
            select(t.JournalLineRow).where(col(t.JournalLineRow.entry_id).in_(chunk))
        ).all():
            by_entry[line.entry_id].append(line)
    return [_entry_from_rows(row, by_entry[row.entry_id]) for row in rows]


@dataclass(frozen=True)
class ChainBreak:
    """An entry whose stored hash does not match its content (or a gap in the sequence)."""

    sequence: int
    entry_id: UUID | None
    detail: str


def verify_chain(session: Session) -> list[ChainBreak]:
    """Recompute the hash chain over the whole journal; an empty list means untouched."""
    breaks: list[ChainBreak] = []
    rows = session.exec(select(t.JournalEntryRow).order_by(col(t.JournalEntryRow.sequence))).all()
    previous = GENESIS_HASH
    expected_sequence = 1
    for row, entry in zip(rows, load_entries(session, rows), strict=True):
        if row.sequence != expected_sequence:
            breaks.append(
                ChainBreak(
                    expected_sequence,
                    None,
                    f"journal sequence jumps from {expected_sequence - 1} to {row.sequence}: "
                    "entries were deleted",
                )
            )
        if chain_hash(previous, entry) != row.chain_hash:
            breaks.append(
                ChainBreak(
                    row.sequence,
                    row.entry_id,
                    f"entry {row.entry_id} (event {row.event_id}) does not match its hash: "
                    "a journal row was changed after posting",
                )
            )
        previous = row.chain_hash
        expected_sequence = row.sequence + 1
    return breaks


class DbLedgerStore:
    """LedgerStore on the caller's session; `apply` flushes, the caller commits.

    Args:
        session: the caller's session, inside the transaction that also books the stock move.
        clock: the time recorded on new rows (UTC).
    """

    def __init__(self, session: Session, *, clock: Callable[[], datetime]) -> None:
        self._session = session
        self._clock = clock

    # ------------------------------------------------------------------ reads

    def posted(self, event_id: UUID) -> PostedEvent | None:
        """The stored posting of an event id, if any."""
        row = self._session.get(t.LedgerPostedEvent, event_id)
        if row is None:
            return None
        movement = Movement(
            event_id=row.event_id,
            movement_type=MovementType(row.movement_type),
            site=row.site_code,
            item=row.item,
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            currency=row.currency,
            unit_price=row.unit_price,
            reference=row.reference,
            to_site=row.to_site,
        )
        entry = None
        if row.entry_id is not None:
            header = self._session.get(t.JournalEntryRow, row.entry_id)
            assert header is not None  # written in the same transaction as the posted event
            entry = load_entries(self._session, [header])[0]
        return PostedEvent(movement, PostingResult(row.event_id, entry))

    def valuation(self, site: str, item: str) -> ItemValuation | None:
        """The valuation state of (site, item), if it was ever moved."""
        row = self._session.get(t.LedgerValuation, (site, item))
        if row is None:
            return None
        layers = self._session.exec(
            select(t.LedgerValuationLayer).where(
                t.LedgerValuationLayer.site_code == site, t.LedgerValuationLayer.item == item
            )
        ).all()
        return _valuation(row, layers)

    def document(self, event_id: UUID) -> DocumentRecord | None:
        """The document record of a posted event."""
        row = self._session.get(t.LedgerDocument, event_id)
        return None if row is None else _document(row)

    def valuations(self) -> Sequence[ItemValuation]:
        """All valuation states."""
        layers: dict[tuple[str, str], list[t.LedgerValuationLayer]] = defaultdict(list)
        for layer in self._session.exec(select(t.LedgerValuationLayer)).all():
            layers[(layer.site_code, layer.item)].append(layer)
        return [
            _valuation(row, layers[(row.site_code, row.item)])
            for row in self._session.exec(select(t.LedgerValuation)).all()
        ]

    def documents(self) -> Sequence[DocumentRecord]:
        """All document records."""
        return [_document(row) for row in self._session.exec(select(t.LedgerDocument)).all()]

    def entries(self) -> Sequence[JournalEntry]:
        """All journal entries in posting sequence."""
        rows = self._session.exec(
            select(t.JournalEntryRow).order_by(col(t.JournalEntryRow.sequence))
        ).all()
        return load_entries(self._session, rows)

    def next_entry_sequence(self) -> int:
        """The sequence number the next journal entry gets (callers hold the ledger lock)."""
        last = self._session.exec(
            select(t.JournalEntryRow.sequence).order_by(col(t.JournalEntryRow.sequence).desc())
        ).first()
        return (last or 0) + 1

    def closed_periods(self) -> frozenset[AccountingPeriod]:
        """Periods no entry may be dated in."""
        return frozenset(
            AccountingPeriod(row.year, row.month)
            for row in self._session.exec(select(t.LedgerClosedPeriod)).all()
        )

    # ------------------------------------------------------------------ writes

    def close_period(self, period: AccountingPeriod) -> None:
        """Close a period for posting (closing it again changes nothing)."""
        if self._session.get(t.LedgerClosedPeriod, (period.year, period.month)) is None:
            self._session.add(
                t.LedgerClosedPeriod(year=period.year, month=period.month, closed_at=self._clock())
            )
            self._session.flush()

    def apply(self, change: Changeset) -> None:
        """Add the changeset's rows to the caller's transaction (flushed, not committed)."""
        session = self._session
        now = self._clock()
        movement = change.posted.movement
        entry = change.entry
        if entry is not None:
            previous = session.exec(
                select(t.JournalEntryRow.chain_hash).where(
                    t.JournalEntryRow.sequence == entry.sequence - 1
                )
            ).first()
            session.add(
                t.JournalEntryRow(
                    entry_id=entry.entry_id,
                    sequence=entry.sequence,
                    site_code=entry.site,
                    posting_date=entry.posting_date,
                    occurred_at=entry.occurred_at,
                    event_id=entry.event_id,
                    movement_type=entry.movement_type.value,
                    kind=entry.kind.value,
                    rules_version=entry.rules_version,
                    reverses=entry.reverses,
                    late=entry.late,
                    chain_hash=chain_hash(previous or GENESIS_HASH, entry),
                    recorded_at=now,
                )
            )
            session.flush()
            for line in entry.lines:
                session.add(
                    t.JournalLineRow(
                        entry_id=entry.entry_id,
                        line_no=line.line_no,
                        account=line.account,
                        site_code=line.site,
                        item=line.item,
                        quantity=line.quantity,
                        debit_minor=to_minor(line.debit, line.currency),
                        credit_minor=to_minor(line.credit, line.currency),
                        currency=line.currency,
                        memo=line.memo,
                    )
                )
        session.add(
            t.LedgerPostedEvent(
                event_id=movement.event_id,
                movement_type=movement.movement_type.value,
                site_code=movement.site,
                item=movement.item,
                quantity=movement.quantity,
                occurred_at=movement.occurred_at,
                currency=movement.currency,
                unit_price=movement.unit_price,
                reference=movement.reference,
                to_site=movement.to_site,
                entry_id=entry.entry_id if entry is not None else None,
                posted_at=now,
            )
        )
        for valuation in change.valuations:
            self._put_valuation(valuation)
        for document in change.documents:
            self._put_document(document)
        session.flush()

    def _put_valuation(self, v: ItemValuation) -> None:
        session = self._session
        row = session.get(t.LedgerValuation, (v.site, v.item))
        if row is None:
            row = t.LedgerValuation(site_code=v.site, item=v.item, currency=v.currency, method="")
        row.currency = v.currency
        row.method = v.method.value
        row.last_unit_cost = v.last_unit_cost
        row.next_sequence = v.next_sequence
        row.last_occurred_at = v.last_occurred_at
        session.add(row)
        # Layers are the valuation's current state (not history): brought to the new state.
        stored = {
            layer.layer_id: layer
            for layer in session.exec(
                select(t.LedgerValuationLayer).where(
                    t.LedgerValuationLayer.site_code == v.site,
                    t.LedgerValuationLayer.item == v.item,
                )
            ).all()
        }
        for layer in v.layers:
            layer_row = stored.pop(layer.layer_id, None) or t.LedgerValuationLayer(
                site_code=v.site,
                item=v.item,
                layer_id=layer.layer_id,
                sequence=layer.sequence,
                quantity=layer.quantity,
                value=layer.value,
            )
            layer_row.sequence = layer.sequence
            layer_row.source_event_id = layer.source_event_id
            layer_row.quantity = layer.quantity
            layer_row.value = layer.value
            session.add(layer_row)
        for emptied in stored.values():
            session.delete(emptied)

    def _put_document(self, d: DocumentRecord) -> None:
        row = self._session.get(t.LedgerDocument, d.event_id) or t.LedgerDocument(
            event_id=d.event_id,
            movement_type=d.movement_type.value,
            site_code=d.site,
            item=d.item,
            currency=d.currency,
            quantity=d.quantity,
            value=d.value,
            returned_quantity=d.returned_quantity,
            returned_value=d.returned_value,
            invoiced_quantity=d.invoiced_quantity,
            invoiced_value=d.invoiced_value,
            delivered_quantity=d.delivered_quantity,
            delivered_value=d.delivered_value,
        )
        # Only the running totals and the reversal mark of a document ever change.
        row.to_site = d.to_site
        row.returned_quantity = d.returned_quantity
        row.returned_value = d.returned_value
        row.invoiced_quantity = d.invoiced_quantity
        row.invoiced_value = d.invoiced_value
        row.delivered_quantity = d.delivered_quantity
        row.delivered_value = d.delivered_value
        row.reversed_by = d.reversed_by
        self._session.add(row)


def _valuation(row: t.LedgerValuation, layers: Iterable[t.LedgerValuationLayer]) -> ItemValuation:
    return ItemValuation(
        site=row.site_code,
        item=row.item,
        currency=row.currency,
        method=ValuationMethod(row.method),
        layers=tuple(
            ValuationLayer(la.layer_id, la.sequence, la.source_event_id, la.quantity, la.value)
            for la in sorted(layers, key=lambda la: la.sequence)
        ),
        last_unit_cost=row.last_unit_cost,
        next_sequence=row.next_sequence,
        last_occurred_at=row.last_occurred_at,
    )


def _document(row: t.LedgerDocument) -> DocumentRecord:
    return DocumentRecord(
        event_id=row.event_id,
        movement_type=MovementType(row.movement_type),
        site=row.site_code,
        item=row.item,
        currency=row.currency,
        quantity=row.quantity,
        value=row.value,
        to_site=row.to_site,
        returned_quantity=row.returned_quantity,
        returned_value=row.returned_value,
        invoiced_quantity=row.invoiced_quantity,
        invoiced_value=row.invoiced_value,
        delivered_quantity=row.delivered_quantity,
        delivered_value=row.delivered_value,
        reversed_by=row.reversed_by,
    )
