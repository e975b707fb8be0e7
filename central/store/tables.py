"""Central's database tables (SQLModel). Schema changes go through Alembic in central/migrations."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from central.store.types import DecimalType, UtcDateTime


def _decimal(*, nullable: bool = False, scale: int = 6) -> Column[Decimal]:
    return Column(DecimalType(18, scale), nullable=nullable)


def _when(*, nullable: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable)


class Site(SQLModel, table=True):
    """A warehouse; `last_seq` is the cursor of its edge's event stream (DESIGN §3)."""

    __tablename__ = "site"

    code: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=120)
    last_seq: int = Field(default=0)
    created_at: datetime = Field(sa_column=_when())


class Location(SQLModel, table=True):
    """A place stock can be: a dock's receiving area or a storage bin."""

    __tablename__ = "location"
    __table_args__ = (UniqueConstraint("site_code", "code", name="uq_location_site_code"),)

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    code: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    zone: str | None = Field(default=None, max_length=20)
    aisle: str | None = Field(default=None, max_length=20)
    bay: str | None = Field(default=None, max_length=20)
    level: str | None = Field(default=None, max_length=20)
    x: Decimal = Field(sa_column=_decimal())
    y: Decimal = Field(sa_column=_decimal())
    z: Decimal = Field(sa_column=_decimal())
    max_weight_kg: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    max_volume_m3: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    max_pallets: int | None = Field(default=None)
    # Slotting attributes: None means ambient, and no hazardous goods allowed.
    temperature_class: str | None = Field(default=None, max_length=20)
    hazard_classes: str | None = Field(default=None, max_length=120)  # comma-separated


class Dock(SQLModel, table=True):
    """A dock door of a site, where it is, and where received goods are booked."""

    __tablename__ = "dock"
    __table_args__ = (UniqueConstraint("site_code", "code", name="uq_dock_site_code"),)

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    code: str = Field(max_length=40)
    receiving_location_id: int = Field(foreign_key="location.id")
    x: Decimal = Field(sa_column=_decimal())
    y: Decimal = Field(sa_column=_decimal())


class Item(SQLModel, table=True):
    """A trade item, identified by its GTIN-14."""

    __tablename__ = "item"

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(unique=True, max_length=14)
    name: str = Field(max_length=200)
    unit_weight_kg: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    unit_volume_m3: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    # Slotting attributes: None means ambient / not hazardous / demand from the stock history.
    temperature_class: str | None = Field(default=None, max_length=20)
    hazard_class: str | None = Field(default=None, max_length=20)
    pick_frequency_override: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))


class Lot(SQLModel, table=True):
    """A batch of an item, with its expiry date if the label gave one."""

    __tablename__ = "lot"
    __table_args__ = (UniqueConstraint("item_id", "batch", name="uq_lot_item_batch"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    batch: str = Field(max_length=40)
    expiry: date | None = Field(default=None)


class HandlingUnit(SQLModel, table=True):
    """A pallet, identified by its SSCC; `status` is received, hold or stored."""

    __tablename__ = "handling_unit"

    id: int | None = Field(default=None, primary_key=True)
    sscc: str = Field(unique=True, max_length=18)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    item_id: int = Field(foreign_key="item.id")
    lot_id: int | None = Field(default=None, foreign_key="lot.id")
    quantity: Decimal = Field(sa_column=_decimal())
    weight_kg: Decimal = Field(sa_column=_decimal())
    location_id: int = Field(foreign_key="location.id", index=True)
    status: str = Field(max_length=16)
    received_at: datetime = Field(sa_column=_when())


class ExpectedReceipt(SQLModel, table=True):
    """An advance shipping notice or purchase order the site expects to receive."""

    __tablename__ = "expected_receipt"
    __table_args__ = (
        UniqueConstraint("site_code", "reference", name="uq_expected_receipt_site_reference"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    reference: str = Field(max_length=60)
    supplier: str | None = Field(default=None, max_length=120)
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_when())


class ExpectedReceiptLine(SQLModel, table=True):
    """One line of an expected receipt: by SSCC (one pallet) or by GTIN (and batch)."""

    __tablename__ = "expected_receipt_line"

    id: int | None = Field(default=None, primary_key=True)
    receipt_id: int = Field(foreign_key="expected_receipt.id", index=True)
    line_no: int
    gtin: str = Field(max_length=14, index=True)
    batch: str | None = Field(default=None, max_length=40)
    sscc: str | None = Field(default=None, max_length=18, index=True)
    quantity: Decimal = Field(sa_column=_decimal())
    received_quantity: Decimal = Field(sa_column=_decimal())
    expected_weight_kg: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    weight_tolerance_pct: Decimal = Field(sa_column=_decimal())
    unit_price: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    currency: str | None = Field(default=None, max_length=3)


class StockMove(SQLModel, table=True):
    """An immutable stock ledger row; `cause_event_id` is the edge event that caused it."""

    __tablename__ = "stock_move"

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    from_location_id: int | None = Field(default=None, foreign_key="location.id")
    to_location_id: int | None = Field(default=None, foreign_key="location.id")
    item_id: int = Field(foreign_key="item.id")
    lot_id: int | None = Field(default=None, foreign_key="lot.id")
    handling_unit_id: int | None = Field(default=None, foreign_key="handling_unit.id")
    quantity: Decimal = Field(sa_column=_decimal())
    cause_event_id: UUID | None = Field(default=None, index=True)
    created_at: datetime = Field(sa_column=_when())


class StockBalance(SQLModel, table=True):
    """The stock ledger's projection: quantity per location, item, lot and handling unit."""

    __tablename__ = "stock_balance"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=80)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    location_id: int = Field(foreign_key="location.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="lot.id")
    handling_unit_id: int | None = Field(default=None, foreign_key="handling_unit.id")
    quantity: Decimal = Field(sa_column=_decimal())
    updated_at: datetime = Field(sa_column=_when())


class AppliedEvent(SQLModel, table=True):
    """One entry of a site's applied event stream; (site, seq) is unique by construction.

    `event_id` is None when the event's id could not be read or was already used by another seq.
    """

    __tablename__ = "applied_event"

    site_code: str = Field(foreign_key="site.code", primary_key=True, max_length=16)
    seq: int = Field(primary_key=True)
    event_id: UUID | None = Field(default=None, unique=True)
    type: str = Field(max_length=60)
    source: str = Field(default="", max_length=120)
    applied_at: datetime = Field(sa_column=_when())
    outcome: str = Field(max_length=16)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))


class RejectedEvent(SQLModel, table=True):
    """A dead letter: an event central could not apply, kept with its raw text and the reason."""

    __tablename__ = "rejected_event"

    id: int | None = Field(default=None, primary_key=True)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    raw_sha256: str = Field(max_length=64, index=True)
    topic: str = Field(default="", max_length=200)
    site_code: str | None = Field(default=None, max_length=64, index=True)
    seq: int | None = Field(default=None)
    event_id: UUID | None = Field(default=None)
    event_type: str | None = Field(default=None, max_length=60)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    counted_as_applied: bool = Field(default=False)
    occurrences: int = Field(default=1)
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_when())
    last_seen_at: datetime = Field(sa_column=_when())
    reapplied_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class Alert(SQLModel, table=True):
    """Something ops must look at: a discrepancy, a rejected event, a device fault."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    site_code: str | None = Field(default=None, max_length=64, index=True)
    kind: str = Field(max_length=40)
    message: str = Field(sa_column=Column(Text, nullable=False))
    ref: str | None = Field(default=None, max_length=80)
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_when())


class PutawayTask(SQLModel, table=True):
    """Take a received pallet to its suggested bin; an open task reserves that bin."""

    __tablename__ = "putaway_task"

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    handling_unit_id: int = Field(foreign_key="handling_unit.id", index=True)
    suggested_location_id: int | None = Field(default=None, foreign_key="location.id")
    confirmed_location_id: int | None = Field(default=None, foreign_key="location.id")
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_when())
    done_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    # Set when the task moves a stored pallet for an accepted re-slot move (bin to bin).
    reslot_move_id: int | None = Field(default=None, foreign_key="reslot_move.id", index=True)


class CommandOutbox(SQLModel, table=True):
    """A command for an edge, kept until the edge reports it done; resent while it is not."""

    __tablename__ = "command_outbox"

    command_id: UUID = Field(primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    type: str = Field(max_length=40)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    cause_event_id: UUID | None = Field(default=None, index=True)
    created_at: datetime = Field(sa_column=_when())
    last_sent_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    done_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    ok: bool | None = Field(default=None)
    detail: str = Field(default="", sa_column=Column(String(500), nullable=False))


class DeviceStatus(SQLModel, table=True):
    """The last known state of each edge device, for ops' device health view."""

    __tablename__ = "device_status"

    site_code: str = Field(foreign_key="site.code", primary_key=True, max_length=16)
    device: str = Field(primary_key=True, max_length=120)
    state: str = Field(max_length=20)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    last_seen: datetime = Field(sa_column=_when())


# ----------------------------------------------------------------------------- slotting


class SlottingPlan(SQLModel, table=True):
    """A computed slotting plan of a site; the newest one is `current`, older ones `superseded`.

    Costs are pick-metres per period (travel + ergonomic penalties); travel is one-way metres per
    period. `parameters` holds the request (period, layout, cost model) as JSON, so putaway uses
    the plan's own cost model.
    """

    __tablename__ = "slotting_plan"

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    created_at: datetime = Field(sa_column=_when())
    status: str = Field(max_length=16)
    solver_status: str = Field(max_length=16)
    engine: str = Field(max_length=40)
    objective: Decimal = Field(sa_column=_decimal())
    lower_bound: Decimal = Field(sa_column=_decimal())
    gap: Decimal = Field(sa_column=_decimal())
    expected_travel_m: Decimal = Field(sa_column=_decimal())
    solve_time_ms: int
    parameters: str = Field(sa_column=Column(Text, nullable=False))


class SlottingAssignment(SQLModel, table=True):
    """The bin a plan gives an item, with the demand and cost it was planned with."""

    __tablename__ = "slotting_assignment"
    __table_args__ = (UniqueConstraint("plan_id", "item_id", name="uq_slotting_plan_item"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="slotting_plan.id", index=True)
    item_id: int = Field(foreign_key="item.id")
    location_id: int = Field(foreign_key="location.id")
    picks_per_period: Decimal = Field(sa_column=_decimal())
    cost: Decimal = Field(sa_column=_decimal())


class ReslotList(SQLModel, table=True):
    """Proposed pallet moves towards the optimal layout under a move budget.

    `status`: proposed, accepted (move tasks open), done (every move confirmed by scans).
    """

    __tablename__ = "reslot_list"

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    plan_id: int = Field(foreign_key="slotting_plan.id")
    created_at: datetime = Field(sa_column=_when())
    status: str = Field(max_length=16)
    max_moves: int
    cost_before: Decimal = Field(sa_column=_decimal())
    cost_after: Decimal = Field(sa_column=_decimal())
    accepted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class ReslotMove(SQLModel, table=True):
    """One pallet move of a re-slot list; moves of a `group_no` are done in `position` order.

    `status`: proposed, accepted, done (scanned into `to_location`), deviated (scanned elsewhere).
    """

    __tablename__ = "reslot_move"

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="reslot_list.id", index=True)
    position: int
    group_no: int
    item_id: int = Field(foreign_key="item.id")
    handling_unit_id: int = Field(foreign_key="handling_unit.id")
    from_location_id: int = Field(foreign_key="location.id")
    to_location_id: int = Field(foreign_key="location.id")
    saving: Decimal = Field(sa_column=_decimal())
    status: str = Field(max_length=16)
    done_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


# ----------------------------------------------------------------------------- financial ledger
# The journal (journal_entry, journal_line) is append-only: no code path updates or deletes it;
# each entry carries a hash chained to the previous one, so `wms ledger check` finds any change.
# Money in the journal is stored as integers in the currency's minor unit: exact on SQLite
# (which would sum decimal text as floats) and on PostgreSQL, so SQL can aggregate it.


def _money_minor() -> Column[int]:
    return Column(BigInteger, nullable=False)


class LedgerLock(SQLModel, table=True):
    """One row, locked (SELECT ... FOR UPDATE) by every posting: journal sequence numbers and
    the hash chain need postings to take turns, across sites and ingest workers."""

    __tablename__ = "ledger_lock"

    id: int = Field(primary_key=True)


class JournalEntryRow(SQLModel, table=True):
    """A posted journal entry (header); immutable."""

    __tablename__ = "journal_entry"

    entry_id: UUID = Field(primary_key=True)
    sequence: int = Field(unique=True)
    site_code: str = Field(max_length=16, index=True)
    posting_date: date = Field(index=True)
    occurred_at: datetime = Field(sa_column=_when())
    event_id: UUID = Field(unique=True)
    movement_type: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    rules_version: str = Field(max_length=16)
    reverses: UUID | None = Field(default=None)
    late: bool = Field(default=False)
    chain_hash: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_column=_when())


class JournalLineRow(SQLModel, table=True):
    """One debit or credit of a journal entry; immutable. Amounts in minor units."""

    __tablename__ = "journal_line"
    __table_args__ = (
        UniqueConstraint("entry_id", "line_no", name="uq_journal_line_entry_line"),
        Index("ix_journal_line_account_site", "account", "site_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: UUID = Field(foreign_key="journal_entry.entry_id", index=True)
    line_no: int
    account: str = Field(max_length=20)
    site_code: str = Field(max_length=16)
    item: str | None = Field(default=None, max_length=40, index=True)
    quantity: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    debit_minor: int = Field(sa_column=_money_minor())
    credit_minor: int = Field(sa_column=_money_minor())
    currency: str = Field(max_length=3)
    memo: str = Field(default="", max_length=200)


class LedgerPostedEvent(SQLModel, table=True):
    """The idempotency record of a posted movement: the movement as first posted."""

    __tablename__ = "ledger_posted_event"

    event_id: UUID = Field(primary_key=True)
    movement_type: str = Field(max_length=40)
    site_code: str = Field(max_length=16, index=True)
    item: str = Field(max_length=40)
    quantity: Decimal = Field(sa_column=_decimal())
    occurred_at: datetime = Field(sa_column=_when())
    currency: str = Field(max_length=3)
    unit_price: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    reference: UUID | None = Field(default=None)
    to_site: str | None = Field(default=None, max_length=16)
    entry_id: UUID | None = Field(default=None)
    posted_at: datetime = Field(sa_column=_when())


class LedgerValuation(SQLModel, table=True):
    """Valuation state of one item at one site (its layers are in valuation_layer)."""

    __tablename__ = "ledger_valuation"

    site_code: str = Field(primary_key=True, max_length=16)
    item: str = Field(primary_key=True, max_length=40)
    currency: str = Field(max_length=3)
    method: str = Field(max_length=20)
    last_unit_cost: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    next_sequence: int = Field(default=1)
    last_occurred_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class LedgerValuationLayer(SQLModel, table=True):
    """Remaining quantity and value of one layer (FIFO receipt, moving-average pool, deficit)."""

    __tablename__ = "ledger_valuation_layer"

    site_code: str = Field(primary_key=True, max_length=16)
    item: str = Field(primary_key=True, max_length=40)
    layer_id: str = Field(primary_key=True, max_length=40)
    sequence: int
    source_event_id: UUID | None = Field(default=None)
    quantity: Decimal = Field(sa_column=_decimal())
    value: Decimal = Field(sa_column=_decimal())


class LedgerDocument(SQLModel, table=True):
    """What later movements can still draw on a posted event (returns, invoices, deliveries)."""

    __tablename__ = "ledger_document"

    event_id: UUID = Field(primary_key=True)
    movement_type: str = Field(max_length=40)
    site_code: str = Field(max_length=16)
    item: str = Field(max_length=40)
    currency: str = Field(max_length=3)
    quantity: Decimal = Field(sa_column=_decimal())
    value: Decimal = Field(sa_column=_decimal())
    to_site: str | None = Field(default=None, max_length=16)
    returned_quantity: Decimal = Field(sa_column=_decimal())
    returned_value: Decimal = Field(sa_column=_decimal())
    invoiced_quantity: Decimal = Field(sa_column=_decimal())
    invoiced_value: Decimal = Field(sa_column=_decimal())
    delivered_quantity: Decimal = Field(sa_column=_decimal())
    delivered_value: Decimal = Field(sa_column=_decimal())
    reversed_by: UUID | None = Field(default=None)


class LedgerClosedPeriod(SQLModel, table=True):
    """A closed accounting month: entries dated in it move to the next open period."""

    __tablename__ = "ledger_closed_period"

    year: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    closed_at: datetime = Field(sa_column=_when())


class LedgerUnvaluedReceipt(SQLModel, table=True):
    """Goods booked into stock without a value (no price known yet); ops posts one later.

    `status` is open until the receipt is valued (then `valued`).
    """

    __tablename__ = "ledger_unvalued_receipt"

    event_id: UUID = Field(primary_key=True)
    site_code: str = Field(max_length=16, index=True)
    item: str = Field(max_length=40)
    quantity: Decimal = Field(sa_column=_decimal())
    occurred_at: datetime = Field(sa_column=_when())
    reason: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_when())
    valued_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class LedgerCommand(SQLModel, table=True):
    """An ops command posted through the API, kept by its idempotency key with its answer."""

    __tablename__ = "ledger_command"

    idempotency_key: UUID = Field(primary_key=True)
    kind: str = Field(max_length=40)
    request_sha256: str = Field(max_length=64)
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_when())


# ----------------------------------------------------------------------------- docks and loading


class DockStatus(SQLModel, table=True):
    """The dock board: what the edge last reported of each dock (door, vehicle, phase).

    `phase` is a `contracts.DockPhase`; `door` open/closed and `vehicle_present` are None until
    the dock's sensor first reports; `since` is when the dock entered `phase`; `alert` is the
    last odd thing the edge reported there (cleared when the phase changes).
    """

    __tablename__ = "dock_status"

    site_code: str = Field(foreign_key="site.code", primary_key=True, max_length=16)
    dock: str = Field(primary_key=True, max_length=40)
    phase: str = Field(max_length=24)
    door: str | None = Field(default=None, max_length=8)
    vehicle_present: bool | None = Field(default=None)
    distance_m: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    shipment: str | None = Field(default=None, max_length=64)
    alert: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    since: datetime = Field(sa_column=_when())
    last_event_type: str = Field(max_length=60)
    last_event_at: datetime = Field(sa_column=_when())


class Shipment(SQLModel, table=True):
    """Pallets leaving a site on one vehicle from one dock; `reference` is the shipment id the
    edge and the loading sheet use. `status`: planned, loading (first pallet on), dispatched."""

    __tablename__ = "shipment"
    __table_args__ = (
        UniqueConstraint("site_code", "reference", name="uq_shipment_site_reference"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    reference: str = Field(max_length=64)
    dock: str = Field(max_length=40)
    trailer: str = Field(max_length=40)
    route_ref: str | None = Field(default=None, max_length=64)
    vehicle_ref: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=_when())
    dispatched_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    dispatch_event_id: UUID | None = Field(default=None)
    route_id: int | None = Field(default=None, foreign_key="planned_route.id", index=True)


class ShipmentPallet(SQLModel, table=True):
    """A pallet of a shipment with its stop; `status`: planned, loaded, dispatched."""

    __tablename__ = "shipment_pallet"
    __table_args__ = (
        UniqueConstraint("shipment_id", "handling_unit_id", name="uq_shipment_pallet_hu"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    handling_unit_id: int = Field(foreign_key="handling_unit.id", index=True)
    stop_index: int
    status: str = Field(max_length=16)
    loaded_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    loaded_sequence: int | None = Field(default=None)
    override_reason: str | None = Field(default=None, max_length=200)
    order_id: int | None = Field(default=None, foreign_key="delivery_order.id", index=True)


class ShipmentLoadPlan(SQLModel, table=True):
    """A computed load plan of a shipment; the newest is `current`, older ones `superseded`.

    Weights in kg, `cog_m` from the front wall; `objective`/`bound` in kg·m (see
    `central.optimizers.loading.LoadPlan`). `reasons` is a JSON list of {code, detail, pallets},
    `left_out` a JSON list of SSCCs. `command_id` is set once the plan was sent to the edge.
    """

    __tablename__ = "shipment_load_plan"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    status: str = Field(max_length=16)
    solver_status: str = Field(max_length=16)
    objective: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    bound: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    solve_time_ms: int
    load_kg: Decimal = Field(sa_column=_decimal())
    kingpin_kg: Decimal = Field(sa_column=_decimal())
    rear_kg: Decimal = Field(sa_column=_decimal())
    cog_m: Decimal | None = Field(default=None, sa_column=_decimal(nullable=True))
    lateral_imbalance_kg: Decimal = Field(sa_column=_decimal())
    reasons: str = Field(sa_column=Column(Text, nullable=False))
    left_out: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_when())
    command_id: UUID | None = Field(default=None)
    sent_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class ShipmentLoadPlacement(SQLModel, table=True):
    """Where one pallet of a load plan stands on the vehicle and when it goes on."""

    __tablename__ = "shipment_load_placement"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="shipment_load_plan.id", index=True)
    handling_unit_id: int = Field(foreign_key="handling_unit.id")
    row_no: int
    column_no: int
    deck: int
    level: int
    sequence: int
    stop_index: int
    weight_kg: Decimal = Field(sa_column=_decimal())


# ----------------------------------------------------------------------------- routing


class Vehicle(SQLModel, table=True):
    """A delivery vehicle based at a site, with its capacity, costs and driver rules."""

    __tablename__ = "vehicle"
    __table_args__ = (UniqueConstraint("site_code", "ref", name="uq_vehicle_site_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    ref: str = Field(max_length=40)
    capacity_kg: Decimal = Field(sa_column=_decimal())
    capacity_pallets: int | None = Field(default=None)
    fixed_cost: Decimal = Field(sa_column=_decimal())
    cost_per_km: Decimal = Field(sa_column=_decimal())
    cost_per_hour: Decimal = Field(sa_column=_decimal())
    shift_length_s: int | None = Field(default=None)
    break_after_driving_s: int | None = Field(default=None)
    break_duration_s: int = Field(default=0)
    available: bool = Field(default=True)
    maintenance_due: date | None = Field(default=None)


class DeliveryOrder(SQLModel, table=True):
    """A delivery to a customer on a day; its window bounds the start of unloading (UTC)."""

    __tablename__ = "delivery_order"
    __table_args__ = (UniqueConstraint("site_code", "reference", name="uq_delivery_order_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    reference: str = Field(max_length=64)
    customer: str = Field(max_length=120)
    address: str = Field(default="", max_length=200)
    lat: Decimal = Field(sa_column=_decimal())
    lon: Decimal = Field(sa_column=_decimal())
    demand_kg: Decimal = Field(sa_column=_decimal())
    demand_pallets: int = Field(default=0)
    window_earliest: time = Field()
    window_latest: time | None = Field(default=None)
    service_s: int = Field(default=0)
    delivery_date: date = Field(index=True)
    status: str = Field(default="open", max_length=16)
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False))
    optional: bool = Field(default=False)
    penalty: Decimal = Field(default=Decimal(0), sa_column=_decimal())


class RoutePlan(SQLModel, table=True):
    """A computed route plan of a site's deliveries on one day, from the site's depot."""

    __tablename__ = "route_plan"

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(foreign_key="site.code", index=True, max_length=16)
    plan_date: date = Field()
    depot_lat: Decimal = Field(sa_column=_decimal())
    depot_lon: Decimal = Field(sa_column=_decimal())
    circuity: Decimal = Field(default=Decimal("1.3"), sa_column=_decimal())
    speed_kmh: Decimal = Field(default=Decimal(50), sa_column=_decimal())
    engine: str = Field(max_length=40)
    status: str = Field(max_length=16)
    cost: Decimal = Field(sa_column=_decimal())
    dropped: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # order ids, JSON
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_when())


class PlannedRoute(SQLModel, table=True):
    """One vehicle's tour in a route plan; `breaks` is JSON [[leg, start_s, duration_s], ...].

    `state`: planned (not left yet), under_way, completed. The `position_*` columns hold the
    vehicle's newest telematics sample while the route is driven.
    """

    __tablename__ = "planned_route"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="route_plan.id", index=True)
    vehicle_id: int = Field(foreign_key="vehicle.id")
    start_at: datetime = Field(sa_column=_when())
    end_at: datetime = Field(sa_column=_when())
    distance_m: int = Field()
    load_kg: Decimal = Field(sa_column=_decimal())
    load_pallets: int = Field()
    breaks: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    state: str = Field(default="planned", max_length=16)
    departed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    position_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    position_lat: float | None = Field(default=None)
    position_lon: float | None = Field(default=None)
    position_speed_kmh: float | None = Field(default=None)


class PlannedStop(SQLModel, table=True):
    """A delivery on a planned route: `eta` is the planned (promised) start of unloading.

    `state`: pending, arrived, delivered, failed (`central.domain.route_tracking.StopState`);
    `predicted_eta` / `late_by_s` are the newest prediction while it is not done.
    """

    __tablename__ = "planned_stop"
    __table_args__ = (UniqueConstraint("route_id", "sequence", name="uq_planned_stop_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    route_id: int = Field(foreign_key="planned_route.id", index=True)
    sequence: int = Field()
    order_id: int = Field(foreign_key="delivery_order.id")
    eta: datetime = Field(sa_column=_when())
    departure_at: datetime = Field(sa_column=_when())
    state: str = Field(default="pending", max_length=16)
    arrived_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    done_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    received_by: str | None = Field(default=None, max_length=120)
    failed_reason: str | None = Field(default=None, max_length=200)
    predicted_eta: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    late_by_s: int = Field(default=0)


class RouteEvent(SQLModel, table=True):
    """A driver's report on a route, once per `id` (the client's idempotency key)."""

    __tablename__ = "route_event"

    id: UUID = Field(primary_key=True)
    route_id: int = Field(foreign_key="planned_route.id", index=True)
    type: str = Field(max_length=16)
    stop: int | None = Field(default=None)
    order_id: int | None = Field(default=None, foreign_key="delivery_order.id")
    at: datetime = Field(sa_column=_when())
    received_by: str | None = Field(default=None, max_length=120)
    reason: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=500)
    source: str = Field(max_length=16)
    recorded_at: datetime = Field(sa_column=_when())


class VehiclePositionRow(SQLModel, table=True):
    """A telematics sample of a vehicle on a route (the track, for idle and replay)."""

    __tablename__ = "vehicle_position"
    __table_args__ = (UniqueConstraint("route_id", "at", name="uq_vehicle_position_at"),)

    id: int | None = Field(default=None, primary_key=True)
    route_id: int = Field(foreign_key="planned_route.id", index=True)
    at: datetime = Field(sa_column=_when())
    lat: float
    lon: float
    speed_kmh: float
