"""Applying edge events exactly once, in order, per site (DESIGN §3). No MQTT in here.

`IngestService.handle(raw, topic=...)` takes one message as it came off the broker and returns
what to acknowledge and which commands to send. Each event's effects, the site cursor
(`site.last_seq`), the applied-event record and any outgoing commands are written in one
transaction, under a lock on the site's row, so several ingest workers (threads or processes on
one PostgreSQL) can share the stream and every event is still applied exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Engine, Float, cast, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from central.command_outbox import store_command
from central.dock_service import apply_dock_event
from central.domain.accounting import (
    AccountingError,
    LedgerConfig,
    Movement,
    MovementType,
    quantize_unit_cost,
)
from central.domain.errors import (
    CentralError,
    DeadLetterNotReapplicable,
    UnhandledEventType,
    UnknownDeadLetter,
    UnknownDock,
    UnknownHandlingUnit,
    UnknownItem,
    UnknownLocation,
)
from central.domain.putaway import BinState, PalletLoad, Point, choose_putaway_bin
from central.domain.receiving import (
    ItemInfo,
    ReceiptLine,
    ReceivedPallet,
    check_receipt,
)
from central.ledger import open_ledger, post_movement
from central.loading_service import (
    PalletMove,
    dispatch_shipment,
    load_pallet,
    shipment_by_reference,
)
from central.route_service import route_sheet_command
from central.route_tokens import RouteLinks
from central.slotting_service import finish_reslot_task, planned_putaway
from central.stock_booking import StockBooking, book_stock_move
from central.store import tables as t
from central.store.db import UnitOfWork
from contracts import (
    Command,
    CommandDone,
    CommandType,
    ContractError,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DockDoorChanged,
    DockStateChanged,
    DockVehicleChanged,
    Envelope,
    GoodsReceived,
    LoadingAlarm,
    PalletLoaded,
    PrintLabel,
    PutawayConfirmed,
    PutawayLabel,
    ScanRejected,
    ShipmentDispatched,
    UnloadingChecked,
    event_payload,
    new_event_id,
)
from contracts.envelope import SiteCode, utc_now
from contracts.topics import site_of_topic

logger = logging.getLogger(__name__)

_SITE_CODE: TypeAdapter[str] = TypeAdapter(SiteCode)
_RESEND_BATCH = 500


class EventOutcome(StrEnum):
    """How an applied event ended, as recorded in `applied_event.outcome`."""

    APPLIED = "applied"
    DISCREPANCY = "discrepancy"
    REJECTED = "rejected"
    REAPPLIED = "reapplied"


class HandlingUnitStatus(StrEnum):
    """Where a pallet is in the inbound flow."""

    RECEIVED = "received"
    HOLD = "hold"
    STORED = "stored"


@dataclass
class IngestOutcome:
    """What the transport must do after a message: ack up to `ack_upto` on `site`, send commands.

    `ack_upto` is None when nothing can be acknowledged (the site or seq could not be read, or
    the site is unknown to central).
    """

    site: str | None
    ack_upto: int | None
    commands: list[Command] = field(default_factory=list)


@dataclass(frozen=True)
class _Unsequenced:
    """A message that cannot take a place in any site's stream."""

    reason: str
    site: str | None


@dataclass(frozen=True)
class _Incoming:
    """A message with a readable site and seq; `problem` says why it cannot be applied, if so."""

    raw: bytes
    topic: str
    site: str
    seq: int
    event_id: UUID | None
    event_type: str
    source: str
    envelope: Envelope | None
    payload: BaseModel | None
    problem: str | None


@dataclass
class _Effects:
    outcome: EventOutcome
    detail: str
    commands: list[Command] = field(default_factory=list)


def _raw_text(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL; undecodable bytes and NUL are kept as \xNN escapes.
    return raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def _readable_header(raw: bytes) -> tuple[str, int, UUID | None, str, str] | None:
    """Site, seq, id, type and source of an envelope that failed validation, if readable."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    site, seq = doc.get("site"), doc.get("seq")
    if not isinstance(site, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    try:
        _SITE_CODE.validate_python(site)
    except ValidationError:
        return None
    event_id: UUID | None
    try:
        event_id = UUID(str(doc.get("id")))
    except ValueError:
        event_id = None
    event_type = doc.get("type")
    source = doc.get("source")
    return (
        site,
        seq,
        event_id,
        event_type[:60] if isinstance(event_type, str) else "?",
        source[:120] if isinstance(source, str) else "",
    )


def _parse(raw: bytes, topic: str) -> _Incoming | _Unsequenced:
    topic_site = site_of_topic(topic)
    try:
        envelope = Envelope.from_json(raw)
    except ContractError as err:
        header = _readable_header(raw)
        if header is None:
            return _Unsequenced(f"unreadable event: {err}", topic_site)
        site, seq, event_id, event_type, source = header
        if site != topic_site:
            return _Unsequenced(f"event of site {site} arrived on topic {topic}", None)
        return _Incoming(raw, topic, site, seq, event_id, event_type, source, None, None, str(err))
    if envelope.site != topic_site:
        return _Unsequenced(f"event of site {envelope.site} arrived on topic {topic}", None)
    try:
        payload: BaseModel | None = event_payload(envelope)
        problem = None
    except ContractError as err:
        payload, problem = None, str(err)
    return _Incoming(
        raw,
        topic,
        envelope.site,
        envelope.seq,
        envelope.id,
        envelope.type,
        envelope.source,
        envelope,
        payload,
        problem,
    )


def _command(site: str, command_type: CommandType, payload: BaseModel) -> Command:
    return Command(
        id=new_event_id(),
        site=site,
        type=command_type,
        at=utc_now(),
        data=payload.model_dump(mode="json"),
    )


def _print_label(site: str, event_id: UUID, dock: str, label: PutawayLabel) -> Command:
    return _command(
        site, CommandType.PRINT_LABEL, PrintLabel(dock=dock, in_reply_to=event_id, label=label)
    )


class IngestService:
    """Applies edge events to central's store exactly once, in per-site seq order.

    Args:
        engine: the database (SQLite or PostgreSQL); the caller owns and disposes it.
        buffer_limit: how many early events (ahead of a gap) to keep per site in memory; more
            are dropped, which is safe because the edge resends everything not acknowledged.
        clock: the current time (UTC); tests may inject one.
        ledger_config: how movements post to the books (currency, valuation method, accounts).
        route_links: driver links for the route sheets printed when a routed truck leaves.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        buffer_limit: int = 1000,
        clock: Callable[[], datetime] = utc_now,
        ledger_config: LedgerConfig | None = None,
        route_links: RouteLinks | None = None,
    ) -> None:
        self._engine = engine
        self._ledger_config = ledger_config or LedgerConfig()
        self._route_links = route_links
        self._buffer_limit = buffer_limit
        self._clock = clock
        self._buffer: dict[str, dict[int, _Incoming]] = {}
        self._buffer_full: set[str] = set()
        self._buffer_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The database this service writes to."""
        return self._engine

    @property
    def ledger_config(self) -> LedgerConfig:
        """How this service's movements post to the books."""
        return self._ledger_config

    # ----------------------------------------------------------------- the stream

    def handle(self, raw: bytes, *, topic: str) -> IngestOutcome:
        """Apply one message from `topic` (e.g. `wms/WH1/up/events`) and say what to ack/send."""
        incoming = _parse(raw, topic)
        if isinstance(incoming, _Unsequenced):
            self.reject(raw, topic=topic, reason=incoming.reason)
            return IngestOutcome(site=None, ack_upto=None)
        return self._then_successors(incoming.site, self._process(incoming))

    def _then_successors(self, site: str, outcome: IngestOutcome) -> IngestOutcome:
        """Apply the early events this worker holds that are now next in line."""
        if outcome.ack_upto is None:
            return outcome
        ack = outcome.ack_upto
        while (successor := self._buffer_take(site, ack + 1)) is not None:
            following = self._process(successor)
            if following.ack_upto is None:
                break
            outcome.commands.extend(following.commands)
            ack = following.ack_upto
        self._buffer_drop_upto(site, ack)
        outcome.ack_upto = ack
        return outcome

    def drain_buffered(self) -> list[IngestOutcome]:
        """Apply early events whose gap another worker has filled since they arrived.

        With a shared subscription the event that fills a gap usually goes to another worker;
        without this, the early event here would wait for the edge to resend it.
        """
        with self._buffer_lock:
            sites = list(self._buffer)
        outcomes = []
        for site in sites:
            with Session(self._engine) as session:
                last = session.exec(select(t.Site.last_seq).where(t.Site.code == site)).first()
            if last is None:
                continue
            self._buffer_drop_upto(site, last)
            successor = self._buffer_take(site, last + 1)
            if successor is not None:
                outcomes.append(self._then_successors(site, self._process(successor)))
        return outcomes

    def buffered(self, site: str) -> list[int]:
        """The seqs this worker holds for `site` while it waits for a gap to be resent."""
        with self._buffer_lock:
            return sorted(self._buffer.get(site, {}))

    def _process(self, incoming: _Incoming) -> IngestOutcome:
        try:
            return self._process_once(incoming)
        except IntegrityError:
            # Another worker applied the same seq between our check and our commit (only
            # possible if a lock was bypassed); re-checking under the lock sees it as a duplicate.
            logger.warning(
                "site %s seq %s hit a uniqueness conflict; re-checking", incoming.site, incoming.seq
            )
            return self._process_once(incoming)

    def _process_once(self, incoming: _Incoming) -> IngestOutcome:
        with UnitOfWork(self._engine, write_lock=True) as uow:
            session = uow.session
            site = self._lock_site(session, incoming.site)
            if site is None:
                uow.rollback()
                self.reject(
                    incoming.raw,
                    topic=incoming.topic,
                    reason=f"site {incoming.site} is not known to central; create it first",
                )
                return IngestOutcome(site=incoming.site, ack_upto=None)
            last = site.last_seq
            if incoming.seq <= last:
                commands = self._replayed(session, incoming)
                uow.commit()
                return IngestOutcome(site=site.code, ack_upto=last, commands=commands)
            if incoming.seq > last + 1:
                # Held in this worker's memory until the gap is applied, here (handle) or by
                # another worker (drain_buffered), or until the edge resends it.
                self._buffer_put(incoming)
                return IngestOutcome(site=site.code, ack_upto=last)
            commands = self._apply_next(session, site, incoming)
            uow.commit()
            return IngestOutcome(site=site.code, ack_upto=incoming.seq, commands=commands)

    @staticmethod
    def _lock_site(session: Session, code: str) -> t.Site | None:
        statement = select(t.Site).where(t.Site.code == code).with_for_update()
        return session.exec(statement).first()

    def _replayed(self, session: Session, incoming: _Incoming) -> list[Command]:
        applied = session.get(t.AppliedEvent, (incoming.site, incoming.seq))
        if applied is None or applied.event_id == incoming.event_id:
            # A plain duplicate: change nothing, but hand back the commands it caused that the
            # edge has not confirmed yet, in case those were lost too.
            return self._unfinished_commands(session, incoming.event_id)
        self._dead_letter(
            session,
            raw=incoming.raw,
            topic=incoming.topic,
            reason=(
                f"conflicting replay: seq {incoming.seq} of site {incoming.site} was applied as "
                f"event {applied.event_id}, this is event {incoming.event_id}"
            ),
            site=incoming.site,
            seq=incoming.seq,
            event_id=incoming.event_id,
            event_type=incoming.event_type,
            counted_as_applied=False,
        )
        return []

    def _unfinished_commands(self, session: Session, event_id: UUID | None) -> list[Command]:
        if event_id is None:
            return []
        rows = session.exec(
            select(t.CommandOutbox).where(
                t.CommandOutbox.cause_event_id == event_id,
                col(t.CommandOutbox.done_at).is_(None),
            )
        ).all()
        now = self._clock()
        for row in rows:
            row.last_sent_at = now
            session.add(row)
        return [Command.from_json(row.payload) for row in rows]

    def _apply_next(self, session: Session, site: t.Site, incoming: _Incoming) -> list[Command]:
        """Apply the event that is next in the site's stream and advance the cursor."""
        now = self._clock()
        event_id = incoming.event_id
        if incoming.problem is not None:
            effects = self._reject(session, incoming, incoming.problem)
        elif event_id is not None and self._event_id_used(session, event_id):
            effects = self._reject(
                session, incoming, f"conflicting replay: event id {event_id} was already applied"
            )
            event_id = None
        else:
            effects = self._apply_effects(session, incoming)
        session.add(
            t.AppliedEvent(
                site_code=site.code,
                seq=incoming.seq,
                event_id=event_id,
                type=incoming.event_type,
                source=incoming.source,
                applied_at=now,
                outcome=effects.outcome,
                detail=effects.detail,
            )
        )
        site.last_seq = incoming.seq
        session.add(site)
        self._store_commands(session, effects.commands, cause=incoming.event_id, sent_at=now)
        logger.debug(
            "site %s seq %s %s: %s", site.code, incoming.seq, effects.outcome, effects.detail
        )
        return effects.commands

    @staticmethod
    def _event_id_used(session: Session, event_id: UUID) -> bool:
        statement = select(t.AppliedEvent.seq).where(t.AppliedEvent.event_id == event_id)
        return session.exec(statement).first() is not None

    def _apply_effects(self, session: Session, incoming: _Incoming) -> _Effects:
        envelope, payload = incoming.envelope, incoming.payload
        assert envelope is not None and payload is not None  # guaranteed when problem is None
        try:
            with session.begin_nested():
                return self._dispatch(session, envelope, payload)
        except CentralError as err:
            return self._reject(session, incoming, str(err))

    def _reject(self, session: Session, incoming: _Incoming, reason: str) -> _Effects:
        """Dead-letter an event that takes its place in the stream but cannot be applied."""
        self._dead_letter(
            session,
            raw=incoming.raw,
            topic=incoming.topic,
            reason=reason,
            site=incoming.site,
            seq=incoming.seq,
            event_id=incoming.event_id,
            event_type=incoming.event_type,
            counted_as_applied=True,
        )
        commands: list[Command] = []
        payload = incoming.payload
        if isinstance(payload, GoodsReceived) and incoming.event_id is not None:
            # The worker at the dock waits for a label: tell them to hold the pallet.
            label = PutawayLabel(
                sscc=payload.sscc,
                gtin=payload.gtin,
                batch=payload.batch,
                expiry=payload.expiry,
                quantity=payload.quantity,
                weight_kg=payload.weight_kg,
                hold_reason=reason[:200],
            )
            commands.append(_print_label(incoming.site, incoming.event_id, payload.dock, label))
        return _Effects(EventOutcome.REJECTED, reason, commands)

    def _dispatch(self, session: Session, envelope: Envelope, payload: BaseModel) -> _Effects:
        if isinstance(payload, GoodsReceived):
            return self._goods_received(session, envelope, payload)
        if isinstance(payload, PutawayConfirmed):
            return self._putaway_confirmed(session, envelope, payload)
        if isinstance(payload, CommandDone):
            return self._command_done(session, envelope, payload)
        if isinstance(payload, DeviceStatus):
            self._device_seen(session, envelope, payload.device, payload.state, payload.detail)
            return _Effects(EventOutcome.APPLIED, f"{payload.device} is {payload.state}")
        if isinstance(payload, DeviceError):
            self._device_seen(session, envelope, payload.device, DeviceState.ERROR, payload.reason)
            message = f"device {payload.device}: {payload.reason} (raw {payload.raw_hex[:64]})"
            self._alert(session, envelope.site, "device_error", message, payload.device)
            return _Effects(EventOutcome.APPLIED, message)
        if isinstance(payload, ScanRejected):
            message = (
                f"scan rejected at {payload.dock} by {payload.device}: {payload.reason} "
                f"(code {payload.code[:80]!r})"
            )
            self._alert(session, envelope.site, "scan_rejected", message, payload.dock)
            return _Effects(EventOutcome.APPLIED, message)
        if isinstance(payload, DockDoorChanged | DockVehicleChanged | DockStateChanged):
            return self._dock_event(session, envelope, payload)
        if isinstance(payload, LoadingAlarm):
            return self._dock_event(session, envelope, payload)
        if isinstance(payload, PalletLoaded):
            return self._pallet_loaded(session, envelope, payload)
        if isinstance(payload, ShipmentDispatched):
            return self._shipment_dispatched(session, envelope, payload)
        if isinstance(payload, UnloadingChecked):
            return self._unloading_checked(session, envelope, payload)
        # A type the contract knows but this central cannot apply yet (an edge newer than
        # central): dead-lettered with the reason, so the site's stream is not blocked.
        raise UnhandledEventType(
            f"central cannot apply {envelope.type} events yet; upgrade central, then re-apply"
        )

    # ----------------------------------------------------------------- goods.received

    def _goods_received(
        self, session: Session, envelope: Envelope, payload: GoodsReceived
    ) -> _Effects:
        site = envelope.site
        dock = session.exec(
            select(t.Dock).where(t.Dock.site_code == site, t.Dock.code == payload.dock)
        ).first()
        if dock is None:
            raise UnknownDock(
                f"dock {payload.dock} is not set up at site {site}; pallet {payload.barcode} "
                "not booked"
            )
        receiving = session.get(t.Location, dock.receiving_location_id)
        assert receiving is not None and receiving.id is not None  # foreign key
        item = session.exec(select(t.Item).where(t.Item.gtin == payload.gtin)).first()
        sscc_taken = payload.sscc is not None and (
            session.exec(
                select(t.HandlingUnit.id).where(t.HandlingUnit.sscc == payload.sscc)
            ).first()
            is not None
        )
        lines = self._open_lines(session, site, sscc=payload.sscc, gtin=payload.gtin)
        check = check_receipt(
            ReceivedPallet(
                gtin=payload.gtin,
                quantity=payload.quantity,
                weight_kg=payload.weight_kg,
                sscc=payload.sscc,
                batch=payload.batch,
            ),
            item=None
            if item is None
            else ItemInfo(item.gtin, item.name, item.unit_weight_kg, item.unit_volume_m3),
            open_lines=[line for line, _row in lines],
            sscc_already_received=sscc_taken,
        )
        if item is None or not check.bookable:
            raise UnknownItem(check.hold_reason or f"unknown item GTIN {payload.gtin}")
        assert item.id is not None
        lot = self._lot(session, item.id, payload.batch, payload.expiry)
        line_row: t.ExpectedReceiptLine | None = None
        if check.line is not None:
            line_row = next(row for line, row in lines if line.line_id == check.line.line_id)
            line_row.received_quantity = line_row.received_quantity + payload.quantity
            session.add(line_row)
        hu: t.HandlingUnit | None = None
        if payload.sscc is not None and not sscc_taken:
            hu = t.HandlingUnit(
                sscc=payload.sscc,
                site_code=site,
                item_id=item.id,
                lot_id=lot.id if lot else None,
                quantity=payload.quantity,
                weight_kg=payload.weight_kg,
                location_id=receiving.id,
                status=HandlingUnitStatus.RECEIVED if check.ok else HandlingUnitStatus.HOLD,
                received_at=self._clock(),
            )
            session.add(hu)
            session.flush()
        self._book(
            session,
            site=site,
            source=None,
            destination=receiving,
            item=item,
            lot=lot,
            hu=hu,
            quantity=payload.quantity,
            cause=envelope.id,
        )
        ref = payload.sscc or payload.gtin
        self._post_receipt(session, envelope, payload, line_row, ref)
        for discrepancy in check.discrepancies:
            self._alert(
                session,
                site,
                discrepancy.kind.value,
                f"pallet {payload.barcode} at {payload.dock}: {discrepancy.message}; "
                f"booked into {receiving.code} on hold",
                ref,
            )
        bin_code: str | None = None
        if check.ok and hu is not None:
            volume = (
                item.unit_volume_m3 * payload.quantity if item.unit_volume_m3 is not None else None
            )
            load = PalletLoad(payload.weight_kg, volume)
            chosen = self._putaway_bin(session, site, dock, item, load)
            if chosen is None:
                self._alert(
                    session,
                    site,
                    "no_free_bin",
                    f"no free bin with room for pallet {payload.sscc} "
                    f"({payload.weight_kg} kg); it waits in {receiving.code}",
                    ref,
                )
            else:
                bin_code = chosen
                self._reserve(session, site, hu, chosen)
        elif check.ok:
            self._alert(
                session,
                site,
                "no_sscc",
                f"pallet {payload.barcode} has no SSCC; booked into {receiving.code}, "
                "put it away by hand",
                ref,
            )
        label = PutawayLabel(
            sscc=payload.sscc,
            gtin=payload.gtin,
            item_name=item.name,
            batch=payload.batch,
            expiry=payload.expiry,
            quantity=payload.quantity,
            weight_kg=payload.weight_kg,
            location=bin_code,
            hold_reason=check.hold_reason[:200] if check.hold_reason else None,
        )
        command = _print_label(site, envelope.id, payload.dock, label)
        if check.ok:
            detail = f"{payload.quantity} x {payload.gtin} into {receiving.code}, bin {bin_code}"
            return _Effects(EventOutcome.APPLIED, detail, [command])
        kinds = ", ".join(d.kind.value for d in check.discrepancies)
        return _Effects(EventOutcome.DISCREPANCY, f"{ref}: {kinds}", [command])

    def _post_receipt(
        self,
        session: Session,
        envelope: Envelope,
        payload: GoodsReceived,
        line: t.ExpectedReceiptLine | None,
        ref: str,
    ) -> None:
        """Post the goods receipt in this transaction: Dr Inventory / Cr GR/IR.

        At the expected receipt line's price when it has one in the site's currency. Otherwise
        (unexpected pallet, line without a price, price in another currency) the goods are on
        the site and owed to the supplier all the same, so they are valued provisionally at
        the item's current unit cost, and ops are told to settle it with the vendor invoice.
        An item that has never had a cost here is booked into stock unvalued: it waits in
        `ledger_unvalued_receipt` (with an alert) until ops post its price through the API.
        The books stay exact either way: the inventory account equals the valuation layers,
        and stock on hand equals valued plus waiting quantity (`wms ledger check`).
        """
        site = envelope.site
        config = self._ledger_config
        currency = config.site(site).currency
        price: Decimal | None = None
        problem: str | None = None
        if line is None:
            problem = "it is not on any expected receipt line"
        elif line.unit_price is None:
            problem = "its expected receipt line has no price"
        elif (line.currency or currency) != currency:
            problem = f"its order price is in {line.currency}, site {site} values in {currency}"
        else:
            price = line.unit_price
        if price is None:
            valuation = open_ledger(session, config, clock=self._clock).valuation(
                site, payload.gtin
            )
            if valuation.quantity != 0:
                price = quantize_unit_cost(valuation.unit_cost)
            else:
                price = valuation.last_unit_cost
        if price is None:
            self._wait_for_price(
                session, envelope, payload, f"no price: {problem} and the item has no cost yet"
            )
            return
        movement = Movement(
            event_id=envelope.id,
            movement_type=MovementType.GOODS_RECEIPT,
            site=site,
            item=payload.gtin,
            quantity=payload.quantity,
            occurred_at=envelope.at,
            currency=currency,
            unit_price=price,
        )
        try:
            post_movement(session, movement, config=config, clock=self._clock)
        except AccountingError as err:
            self._wait_for_price(session, envelope, payload, f"could not be posted: {err}")
            return
        if problem is not None:
            self._alert(
                session,
                site,
                "receipt_valued_provisionally",
                f"pallet {payload.barcode}: {problem}; valued at the current unit cost "
                f"{price} {currency}; post the vendor invoice against event {envelope.id}",
                ref,
            )

    def _wait_for_price(
        self, session: Session, envelope: Envelope, payload: GoodsReceived, reason: str
    ) -> None:
        session.add(
            t.LedgerUnvaluedReceipt(
                event_id=envelope.id,
                site_code=envelope.site,
                item=payload.gtin,
                quantity=payload.quantity,
                occurred_at=envelope.at,
                reason=reason,
                status="open",
                created_at=self._clock(),
            )
        )
        self._alert(
            session,
            envelope.site,
            "receipt_price_needed",
            f"pallet {payload.barcode} ({payload.quantity} x {payload.gtin}) is in stock without "
            f"a value ({reason}); post its price: POST /ledger/unvalued-receipts/{envelope.id}"
            "/valuation",
            payload.sscc or payload.gtin,
        )

    @staticmethod
    def _open_lines(
        session: Session, site: str, *, sscc: str | None, gtin: str
    ) -> list[tuple[ReceiptLine, t.ExpectedReceiptLine]]:
        """The open lines a pallet can match: its SSCC's line, or GTIN lines without SSCC.

        That is every line `check_receipt` could pick, read by index instead of loading the
        site's whole backlog of ASNs on every pallet.
        """
        by_gtin = (col(t.ExpectedReceiptLine.gtin) == gtin) & col(t.ExpectedReceiptLine.sscc).is_(
            None
        )
        matches = by_gtin if sscc is None else or_(col(t.ExpectedReceiptLine.sscc) == sscc, by_gtin)
        rows = session.exec(
            select(t.ExpectedReceiptLine, t.ExpectedReceipt)
            .join(t.ExpectedReceipt, col(t.ExpectedReceipt.id) == t.ExpectedReceiptLine.receipt_id)
            .where(t.ExpectedReceipt.site_code == site, t.ExpectedReceipt.status == "open")
            .where(matches)
            .order_by(col(t.ExpectedReceipt.id), col(t.ExpectedReceiptLine.line_no))
        ).all()
        result = []
        for row, receipt in rows:
            assert row.id is not None
            line = ReceiptLine(
                line_id=row.id,
                reference=f"{receipt.reference}/{row.line_no}",
                gtin=row.gtin,
                quantity=row.quantity,
                received_quantity=row.received_quantity,
                batch=row.batch,
                sscc=row.sscc,
                expected_weight_kg=row.expected_weight_kg,
                weight_tolerance_pct=row.weight_tolerance_pct,
            )
            result.append((line, row))
        return result

    @staticmethod
    def _lot(
        session: Session, item_id: int, batch: str | None, expiry: date | None
    ) -> t.Lot | None:
        if batch is None:
            return None
        lot = session.exec(
            select(t.Lot).where(t.Lot.item_id == item_id, t.Lot.batch == batch)
        ).first()
        if lot is None:
            lot = t.Lot(item_id=item_id, batch=batch, expiry=expiry)
            session.add(lot)
            session.flush()
        return lot

    def _putaway_bin(
        self, session: Session, site: str, dock: t.Dock, item: t.Item, load: PalletLoad
    ) -> str | None:
        """The bin for a received pallet: by the site's slotting plan when it has one (the
        item's slot while it has room, else the cheapest free compatible bin), otherwise the
        nearest free bin with room."""
        planned = planned_putaway(session, site=site, item=item, load=load)
        if planned is not None:
            return planned.bin_code
        origin = Point(dock.x, dock.y)
        chosen = choose_putaway_bin(
            load, self._nearest_free_bins(session, site, load, origin), origin=origin
        )
        return None if chosen is None else chosen.code

    @staticmethod
    def _nearest_free_bins(
        session: Session, site: str, load: PalletLoad, origin: Point, *, limit: int = 20
    ) -> list[BinState]:
        """The free bins nearest to `origin` that can take the load, nearest first.

        The database does the ordering so a receipt costs the same in a site of 100 bins as in
        one of 50,000; `choose_putaway_bin` still makes the final choice among these.
        """
        stocked = select(t.StockBalance.location_id).where(
            t.StockBalance.site_code == site, t.StockBalance.quantity != Decimal(0)
        )
        reserved = select(t.PutawayTask.suggested_location_id).where(
            t.PutawayTask.site_code == site,
            t.PutawayTask.status == "open",
            col(t.PutawayTask.suggested_location_id).is_not(None),
        )

        # Decimals are text on SQLite, so SQL compares them as numbers through a cast; the
        # margin keeps a float's rounding from excluding a bin that fits exactly, and the
        # exact Decimal check is choose_putaway_bin's.
        def number(column: Any) -> Any:
            return cast(column, Float)

        distance = func.abs(number(t.Location.x) - float(origin.x)) + func.abs(
            number(t.Location.y) - float(origin.y)
        )
        margin = 1e-6
        statement = select(t.Location).where(
            t.Location.site_code == site,
            t.Location.kind == "bin",
            col(t.Location.id).not_in(stocked),
            col(t.Location.id).not_in(reserved),
            or_(col(t.Location.max_pallets).is_(None), col(t.Location.max_pallets) >= 1),
            or_(
                col(t.Location.max_weight_kg).is_(None),
                number(t.Location.max_weight_kg) >= float(load.weight_kg) - margin,
            ),
        )
        if load.volume_m3 is not None:
            statement = statement.where(
                or_(
                    col(t.Location.max_volume_m3).is_(None),
                    number(t.Location.max_volume_m3) >= float(load.volume_m3) - margin,
                )
            )
        bins = session.exec(statement.order_by(distance, col(t.Location.code)).limit(limit)).all()
        return [
            BinState(
                code=location.code,
                position=Point(location.x, location.y),
                max_weight_kg=location.max_weight_kg,
                max_volume_m3=location.max_volume_m3,
                max_pallets=location.max_pallets,
            )
            for location in bins
        ]

    def _reserve(self, session: Session, site: str, hu: t.HandlingUnit, bin_code: str) -> None:
        location = self._location(session, site, bin_code)
        assert hu.id is not None and location is not None
        session.add(
            t.PutawayTask(
                site_code=site,
                handling_unit_id=hu.id,
                suggested_location_id=location.id,
                status="open",
                created_at=self._clock(),
            )
        )

    # ----------------------------------------------------------------- putaway.confirmed

    def _putaway_confirmed(
        self, session: Session, envelope: Envelope, payload: PutawayConfirmed
    ) -> _Effects:
        """The worker scanned a pallet, then the bin it now stands in.

        One scan flow for both kinds of task: a received pallet's putaway, and a stored
        pallet's move of an accepted re-slot list (the pallet's open task points at its new
        bin). Either way the stock moves bin to bin, quantity only, with no journal entry
        (SAP 311), and a bin other than the task's raises a putaway deviation alert.
        """
        site = envelope.site
        hu = session.exec(
            select(t.HandlingUnit).where(
                t.HandlingUnit.sscc == payload.sscc, t.HandlingUnit.site_code == site
            )
        ).first()
        if hu is None:
            raise UnknownHandlingUnit(
                f"putaway of SSCC {payload.sscc} to {payload.location} not booked: no such pallet "
                f"was received at {site}"
            )
        destination = self._location(session, site, payload.location)
        if destination is None or destination.id is None:
            raise UnknownLocation(
                f"putaway of SSCC {payload.sscc} not booked: site {site} has no location "
                f"{payload.location}"
            )
        # The oldest open task first: a re-slot cycle can give one pallet two moves in a row
        # (to a parking bin, later on to its slot).
        task = session.exec(
            select(t.PutawayTask)
            .where(t.PutawayTask.handling_unit_id == hu.id, t.PutawayTask.status == "open")
            .order_by(col(t.PutawayTask.id))
        ).first()
        now = self._clock()
        if task is not None:
            task.status = "done"
            task.confirmed_location_id = destination.id
            task.done_at = now
            session.add(task)
            finish_reslot_task(session, task, confirmed_location_id=destination.id, now=now)
            if task.suggested_location_id not in (None, destination.id):
                suggested = session.get(t.Location, task.suggested_location_id)
                self._alert(
                    session,
                    site,
                    "putaway_deviation",
                    f"pallet {hu.sscc} was put away in {destination.code}, "
                    f"suggested {suggested.code if suggested else '?'}",
                    hu.sscc,
                )
        if hu.location_id == destination.id:
            return _Effects(EventOutcome.APPLIED, f"{hu.sscc} already in {destination.code}")
        source = session.get(t.Location, hu.location_id)
        item = session.get(t.Item, hu.item_id)
        lot = session.get(t.Lot, hu.lot_id) if hu.lot_id is not None else None
        assert source is not None and item is not None
        self._book(
            session,
            site=site,
            source=source,
            destination=destination,
            item=item,
            lot=lot,
            hu=hu,
            quantity=hu.quantity,
            cause=envelope.id,
        )
        # A bin-to-bin move inside the site: quantity only, no journal entry (SAP 311).
        post_movement(
            session,
            Movement(
                event_id=envelope.id,
                movement_type=MovementType.BIN_TRANSFER,
                site=site,
                item=item.gtin,
                quantity=hu.quantity,
                occurred_at=envelope.at,
                currency=self._ledger_config.site(site).currency,
            ),
            config=self._ledger_config,
            clock=self._clock,
        )
        if hu.status == HandlingUnitStatus.HOLD:
            self._alert(
                session,
                site,
                "held_pallet_moved",
                f"pallet {hu.sscc} is on hold but was put away in {destination.code}",
                hu.sscc,
            )
        else:
            hu.status = HandlingUnitStatus.STORED
        hu.location_id = destination.id
        session.add(hu)
        return _Effects(EventOutcome.APPLIED, f"{hu.sscc}: {source.code} -> {destination.code}")

    @staticmethod
    def _location(session: Session, site: str, code: str) -> t.Location | None:
        return session.exec(
            select(t.Location).where(t.Location.site_code == site, t.Location.code == code)
        ).first()

    # ----------------------------------------------------------------- docks and loading

    def _alerter(self, session: Session, site: str) -> Callable[[str, str, str | None], None]:
        def alert(kind: str, message: str, ref: str | None) -> None:
            self._alert(session, site, kind, message, ref)

        return alert

    def _dock_event(
        self,
        session: Session,
        envelope: Envelope,
        payload: DockDoorChanged | DockVehicleChanged | DockStateChanged | LoadingAlarm,
    ) -> _Effects:
        detail = apply_dock_event(
            session,
            envelope.site,
            payload,
            event_type=envelope.type,
            at=envelope.at,
            alert=self._alerter(session, envelope.site),
        )
        return _Effects(EventOutcome.APPLIED, detail)

    def _pallet_loaded(
        self, session: Session, envelope: Envelope, payload: PalletLoaded
    ) -> _Effects:
        """The pallet's stock moves to the dock's truck location: quantity only, no journal
        entry (like a bin-to-bin move, SAP 311); the value stays in inventory until dispatch."""
        outcome = load_pallet(
            session,
            envelope.site,
            payload,
            at=envelope.at,
            now=self._clock(),
            cause=envelope.id,
            alert=self._alerter(session, envelope.site),
        )
        for moved in outcome.moved:
            post_movement(
                session,
                Movement(
                    event_id=envelope.id,
                    movement_type=MovementType.BIN_TRANSFER,
                    site=envelope.site,
                    item=moved.gtin,
                    quantity=moved.quantity,
                    occurred_at=envelope.at,
                    currency=self._ledger_config.site(envelope.site).currency,
                ),
                config=self._ledger_config,
                clock=self._clock,
            )
        return _Effects(EventOutcome.APPLIED, outcome.detail)

    def _shipment_dispatched(
        self, session: Session, envelope: Envelope, payload: ShipmentDispatched
    ) -> _Effects:
        """The pallets leave the site's stock and their goods issue is posted, per pallet."""
        outcome = dispatch_shipment(
            session,
            envelope.site,
            payload,
            at=envelope.at,
            now=self._clock(),
            cause=envelope.id,
            alert=self._alerter(session, envelope.site),
        )
        for moved in outcome.moved:
            self._post_dispatch(session, envelope, payload, moved)
        return _Effects(
            EventOutcome.APPLIED,
            outcome.detail,
            self._route_sheet_for(session, envelope.site, payload),
        )

    def _route_sheet_for(
        self, session: Session, site: str, payload: ShipmentDispatched
    ) -> list[Command]:
        """The driver's route sheet, printed at the dock the truck left from (DESIGN §1)."""
        shipment = shipment_by_reference(session, site, payload.shipment_id)
        if shipment is None or shipment.route_id is None or self._route_links is None:
            return []
        return [
            route_sheet_command(
                session,
                shipment.route_id,
                payload.dock,
                links=self._route_links,
                now=self._clock(),
            )
        ]

    def _post_dispatch(
        self,
        session: Session,
        envelope: Envelope,
        payload: ShipmentDispatched,
        moved: PalletMove,
    ) -> None:
        """Post one pallet's goods issue: Dr Stock in transit / Cr Inventory at its value.

        Each pallet is its own movement, under an id derived from the event and the SSCC (the
        same on every re-application, so it posts once). Like a receipt without a price, a
        goods issue the books refuse does not stop the stock from leaving (the truck has
        left): it is raised as an alert for ops to settle.
        """
        site = envelope.site
        currency = self._ledger_config.site(site).currency
        movement = Movement(
            event_id=uuid5(envelope.id, moved.sscc),
            movement_type=MovementType.DELIVERY_DISPATCH,
            site=site,
            item=moved.gtin,
            quantity=moved.quantity,
            occurred_at=envelope.at,
            currency=currency,
        )
        try:
            post_movement(session, movement, config=self._ledger_config, clock=self._clock)
        except AccountingError as err:
            self._alert(
                session,
                site,
                "dispatch_not_posted",
                f"pallet {moved.sscc} ({moved.quantity} x {moved.gtin}) left on shipment "
                f"{payload.shipment_id} but its goods issue could not be posted: {err}; the "
                f"books still count it in inventory (movement {movement.event_id})",
                moved.sscc,
            )

    def _unloading_checked(
        self, session: Session, envelope: Envelope, payload: UnloadingChecked
    ) -> _Effects:
        receipt = f"receipt {payload.receipt_ref}" if payload.receipt_ref else "the unloading"
        for sscc in payload.shortages:
            self._alert(
                session,
                envelope.site,
                "unloading_shortage",
                f"pallet {sscc} of {receipt} was not scanned off the vehicle at {payload.dock}",
                sscc,
            )
        for sscc in payload.extras:
            self._alert(
                session,
                envelope.site,
                "unloading_extra",
                f"pallet {sscc} was scanned off the vehicle at {payload.dock} but is not on "
                f"{receipt}",
                sscc,
            )
        return _Effects(
            EventOutcome.APPLIED,
            f"{payload.dock}: {len(payload.scanned)} scanned, {len(payload.shortages)} short, "
            f"{len(payload.extras)} extra",
        )

    # ----------------------------------------------------------------- other events

    def _command_done(self, session: Session, envelope: Envelope, payload: CommandDone) -> _Effects:
        row = session.get(t.CommandOutbox, payload.command_id)
        if row is None or row.site_code != envelope.site:
            return _Effects(EventOutcome.APPLIED, f"command {payload.command_id} is not ours")
        if row.done_at is not None:
            return _Effects(EventOutcome.APPLIED, f"command {payload.command_id} already done")
        row.done_at = self._clock()
        row.ok = payload.ok
        row.detail = payload.detail[:500]
        session.add(row)
        if not payload.ok:
            self._alert(
                session,
                envelope.site,
                "command_failed",
                f"{row.type} command {row.command_id} failed at the edge: {payload.detail}",
                str(row.command_id),
            )
        return _Effects(EventOutcome.APPLIED, f"command {payload.command_id} done ok={payload.ok}")

    @staticmethod
    def _device_seen(
        session: Session, envelope: Envelope, device: str, state: str, detail: str
    ) -> None:
        row = session.get(t.DeviceStatus, (envelope.site, device))
        if row is None:
            row = t.DeviceStatus(
                site_code=envelope.site,
                device=device,
                state=state,
                detail=detail,
                last_seen=envelope.at,
            )
        else:
            row.state = state
            row.detail = detail
            row.last_seen = max(row.last_seen, envelope.at)
        session.add(row)

    # ----------------------------------------------------------------- ledger, alerts, outbox

    def _book(
        self,
        session: Session,
        *,
        site: str,
        source: t.Location | None,
        destination: t.Location | None,
        item: t.Item,
        lot: t.Lot | None,
        hu: t.HandlingUnit | None,
        quantity: Decimal,
        cause: UUID,
    ) -> None:
        """Write one stock move and bring the balances it touches up to date."""
        book_stock_move(
            session,
            StockBooking(site, source, destination, item, lot, hu, quantity, cause),
            now=self._clock(),
        )

    def _alert(
        self, session: Session, site: str | None, kind: str, message: str, ref: str | None
    ) -> None:
        logger.info("alert %s at %s: %s", kind, site, message)
        session.add(
            t.Alert(
                site_code=site,
                kind=kind,
                message=message,
                ref=ref[:80] if ref else None,
                status="open",
                created_at=self._clock(),
            )
        )

    def _dead_letter(
        self,
        session: Session,
        *,
        raw: bytes,
        topic: str,
        reason: str,
        site: str | None,
        seq: int | None,
        event_id: UUID | None,
        event_type: str | None,
        counted_as_applied: bool,
    ) -> None:
        now = self._clock()
        digest = hashlib.sha256(raw).hexdigest()
        if not counted_as_applied:
            # The same unusable message keeps coming back until someone fixes its source:
            # count it on one dead letter instead of filling the table.
            existing = session.exec(
                select(t.RejectedEvent).where(
                    t.RejectedEvent.raw_sha256 == digest,
                    t.RejectedEvent.status == "open",
                    col(t.RejectedEvent.counted_as_applied).is_(False),
                )
            ).first()
            if existing is not None:
                existing.occurrences += 1
                existing.last_seen_at = now
                session.add(existing)
                return
        logger.warning("dead letter (site %s seq %s): %s", site, seq, reason)
        session.add(
            t.RejectedEvent(
                raw=_raw_text(raw),
                raw_sha256=digest,
                topic=topic[:200],
                site_code=site[:64] if site else None,
                seq=seq,
                event_id=event_id,
                event_type=event_type,
                reason=reason,
                counted_as_applied=counted_as_applied,
                occurrences=1,
                status="open",
                created_at=now,
                last_seen_at=now,
            )
        )
        where = f"seq {seq} of site {site}" if seq is not None else f"a message on {topic}"
        self._alert(session, site, "rejected_event", f"{where} was rejected: {reason}", None)

    def reject(self, raw: bytes, *, topic: str, reason: str) -> None:
        """Keep a message that cannot be applied as a dead letter with its reason (and alert)."""
        header = _readable_header(raw)
        with UnitOfWork(self._engine, write_lock=True) as uow:
            self._dead_letter(
                uow.session,
                raw=raw,
                topic=topic,
                reason=reason,
                site=header[0] if header else site_of_topic(topic),
                seq=header[1] if header else None,
                event_id=header[2] if header else None,
                event_type=header[3] if header else None,
                counted_as_applied=False,
            )
            uow.commit()

    @staticmethod
    def _store_commands(
        session: Session, commands: list[Command], *, cause: UUID | None, sent_at: datetime | None
    ) -> None:
        for command in commands:
            store_command(session, command, cause=cause, sent_at=sent_at)

    # ----------------------------------------------------------------- resend and repair

    def pending_commands(self, *, older_than_s: float, site: str | None = None) -> list[Command]:
        """Commands the edge has not confirmed, last sent more than `older_than_s` ago.

        Marks them as sent now: the caller publishes them.
        """
        now = self._clock()
        cutoff = now - timedelta(seconds=older_than_s)
        with UnitOfWork(self._engine, write_lock=True) as uow:
            statement = (
                select(t.CommandOutbox)
                .where(
                    col(t.CommandOutbox.done_at).is_(None),
                    or_(
                        col(t.CommandOutbox.last_sent_at).is_(None),
                        col(t.CommandOutbox.last_sent_at) <= cutoff,
                    ),
                )
                .order_by(col(t.CommandOutbox.created_at))
                .limit(_RESEND_BATCH)
                .with_for_update(skip_locked=True)
            )
            if site is not None:
                statement = statement.where(t.CommandOutbox.site_code == site)
            rows = uow.session.exec(statement).all()
            for row in rows:
                row.last_sent_at = now
                uow.session.add(row)
            commands = [Command.from_json(row.payload) for row in rows]
            uow.commit()
        return commands

    def reapply_dead_letter(self, dead_letter_id: int) -> IngestOutcome:
        """Apply a dead-lettered event again after its cause was fixed (e.g. the item created).

        Only events that took their place in a site's stream can be re-applied; anything else
        the edge resends by itself. The commands it causes are queued for the resend loop.
        Raises UnknownDeadLetter, or DeadLetterNotReapplicable (with the reason it still fails).
        """
        with UnitOfWork(self._engine, write_lock=True) as uow:
            session = uow.session
            row = session.get(t.RejectedEvent, dead_letter_id)
            if row is None:
                raise UnknownDeadLetter(f"no dead letter {dead_letter_id}")
            if not row.counted_as_applied or row.site_code is None or row.seq is None:
                raise DeadLetterNotReapplicable(
                    f"dead letter {dead_letter_id} never took a place in a site's event stream; "
                    "fix its sender, which resends it"
                )
            site = self._lock_site(session, row.site_code)
            row = session.exec(
                select(t.RejectedEvent)
                .where(t.RejectedEvent.id == dead_letter_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            if row.status != "open" or site is None:
                raise DeadLetterNotReapplicable(
                    f"dead letter {dead_letter_id} was already re-applied"
                )
            incoming = _parse(row.raw.encode(), row.topic)
            if isinstance(incoming, _Unsequenced):
                raise DeadLetterNotReapplicable(f"still not readable: {incoming.reason}")
            if incoming.problem is not None:
                raise DeadLetterNotReapplicable(f"still not readable: {incoming.problem}")
            assert incoming.envelope is not None and incoming.payload is not None
            try:
                with session.begin_nested():
                    effects = self._dispatch(session, incoming.envelope, incoming.payload)
            except CentralError as err:
                raise DeadLetterNotReapplicable(f"still rejected: {err}") from err
            now = self._clock()
            row.status = "reapplied"
            row.reapplied_at = now
            session.add(row)
            applied = session.get(t.AppliedEvent, (row.site_code, row.seq))
            if applied is not None:
                applied.outcome = EventOutcome.REAPPLIED
                applied.detail = f"{effects.outcome}: {effects.detail}"
                session.add(applied)
            self._store_commands(session, effects.commands, cause=row.event_id, sent_at=None)
            uow.commit()
        logger.info("dead letter %s re-applied: %s", dead_letter_id, effects.detail)
        return IngestOutcome(site=incoming.site, ack_upto=None, commands=effects.commands)

    # ----------------------------------------------------------------- early events

    def _buffer_put(self, incoming: _Incoming) -> None:
        with self._buffer_lock:
            pending = self._buffer.setdefault(incoming.site, {})
            if incoming.seq not in pending and len(pending) >= self._buffer_limit:
                if incoming.site not in self._buffer_full:
                    self._buffer_full.add(incoming.site)
                    logger.warning(
                        "site %s: %s early events buffered, dropping more until the gap is resent",
                        incoming.site,
                        len(pending),
                    )
                return
            pending[incoming.seq] = incoming

    def _buffer_take(self, site: str, seq: int) -> _Incoming | None:
        with self._buffer_lock:
            return self._buffer.get(site, {}).pop(seq, None)

    def _buffer_drop_upto(self, site: str, seq: int) -> None:
        with self._buffer_lock:
            pending = self._buffer.get(site)
            if pending is None:
                return
            for stale in [s for s in pending if s <= seq]:
                del pending[stale]
            if len(pending) < self._buffer_limit:
                self._buffer_full.discard(site)
            if not pending:
                del self._buffer[site]
