"""Runs one dock's sensors, loading checks and unloading check (the outbound half of the dock).

`DockControl` feeds sensor readings, scans and load plans into the pure machines
(`edge_agent.dock_state`, `edge_agent.loading`) and carries out what they decide: events into
the outbox, print jobs (loading sheet, alarm slips) into the durable print queue, and the
dock's signal light (`wms/{site}/dock/{dock}/signal`). Everything runs on the event loop, one
input at a time, so an alarm is queued and signalled before the next scan is looked at.

Load plans live in the outbox database (`load_plans`, `loaded_pallets`): a restart or a central
that cannot be reached changes nothing at the dock. Unloading: the pallets scanned for receiving
while the door is open are compared, when it closes, with the pallets of the dock's last
`unloading.expect` command (if there is none, nothing is flagged: central compares against its
receipt). That scanned list is kept in memory only; a restart mid-unloading starts it afresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from contracts.commands import ExpectUnloading, LoadPlan
from contracts.envelope import utc_now
from contracts.events import (
    CommandDone,
    DockPhase,
    EventType,
    LoadingAlarm,
    LoadingAlarmReason,
    LoadPosition,
    PalletLoaded,
    ScanRejected,
    ShipmentDispatched,
    UnloadingChecked,
)
from devices.dock_sensors import DoorReading, PresenceReading, SensorReading, TemperatureReading
from devices.printer import text_job
from devices.scanner import LocationLabel, PalletLabel
from edge_agent.coordinators import PrinterCoordinator
from edge_agent.dock_state import (
    DockInput,
    DockStatus,
    DockTimers,
    DoorClosedAfter,
    DoorSensed,
    PlanChanged,
    Tick,
    VehicleSensed,
    WorkDone,
    step,
)
from edge_agent.loading import (
    OVERRIDE_PREFIX,
    AlreadyLoaded,
    InOrder,
    LoadingCheck,
    NotInPlan,
    OutOfOrder,
    OverrideCode,
    PlannedPallet,
    check_unloading,
)
from edge_agent.outbox import Outbox
from edge_agent.receiving import Emit

logger = logging.getLogger(__name__)

SignalPublisher = Callable[[str, bytes], None]
"""Publishes a payload to a dock's signal light: (dock, JSON bytes)."""


@dataclass
class ActiveLoad:
    """A load plan being loaded, and the pallets on the vehicle so far (SSCC → override)."""

    dock: str
    check: LoadingCheck
    command_id: UUID
    loaded: dict[str, str | None] = field(default_factory=dict)

    @property
    def shipment_id(self) -> str:
        """The shipment."""
        return self.check.shipment_id


class LoadRegistry:
    """The site's open load plans, shared by its docks (a pallet for another dock's vehicle
    raises a wrong-truck alarm)."""

    def __init__(self) -> None:
        self._loads: dict[str, ActiveLoad] = {}

    @classmethod
    def from_outbox(cls, outbox: Outbox) -> LoadRegistry:
        """The plans the outbox database holds (after a restart)."""
        registry = cls()
        for stored in outbox.open_load_plans():
            plan = LoadPlan.model_validate_json(stored.plan_json)
            registry.put(
                ActiveLoad(
                    dock=stored.dock,
                    check=LoadingCheck(plan),
                    command_id=stored.command_id,
                    loaded=dict(stored.loaded),
                )
            )
        return registry

    def put(self, load: ActiveLoad) -> None:
        """Hold `load`; a dock has one open plan, so another shipment's plan there is dropped."""
        for other in list(self._loads.values()):
            if other.dock == load.dock and other.shipment_id != load.shipment_id:
                del self._loads[other.shipment_id]
        self._loads[load.shipment_id] = load

    def get(self, shipment_id: str) -> ActiveLoad | None:
        """The open load of a shipment."""
        return self._loads.get(shipment_id)

    def remove(self, shipment_id: str) -> None:
        """The shipment left."""
        self._loads.pop(shipment_id, None)

    def at_dock(self, dock: str) -> ActiveLoad | None:
        """The open load at a dock."""
        return next((load for load in self._loads.values() if load.dock == dock), None)

    def holding(self, sscc: str) -> ActiveLoad | None:
        """The open load whose plan has this pallet."""
        return next((ld for ld in self._loads.values() if ld.check.pallet(sscc) is not None), None)


class DockControl:
    """Sensors, load checks and unloading check of one dock."""

    def __init__(
        self,
        *,
        dock: str,
        site: str,
        outbox: Outbox,
        printer: PrinterCoordinator,
        registry: LoadRegistry,
        timers: DockTimers,
        signal: SignalPublisher | None = None,
        tick_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.dock = dock
        self.site = site
        self._outbox = outbox
        self._printer = printer
        self._registry = registry
        self._timers = timers
        self._signal = signal
        self._tick_s = tick_s
        self._clock = clock
        self._wall_clock = wall_clock
        self.status = DockStatus(dock)
        self.temperature_c: Decimal | None = None
        self._pending: PlannedPallet | None = None
        self._signalled = False
        self._unloading_scanned: list[str] = []
        raw = outbox.unloading_expectations().get(dock)
        self._expected = ExpectUnloading.model_validate_json(raw) if raw else None
        active = registry.at_dock(dock)
        if active is not None:
            self._step(PlanChanged(active.shipment_id, clock()))

    @property
    def scanner(self) -> str:
        """Device id of the dock's scanner (source of loading events)."""
        return f"{self.dock}/scanner"

    @property
    def load(self) -> ActiveLoad | None:
        """The load plan open at this dock."""
        return self._registry.at_dock(self.dock)

    async def run(self) -> None:
        """Check the dock's timers (vehicle docked too long, door left open) until cancelled."""
        while True:
            await asyncio.sleep(self._tick_s)
            self._step(Tick(self._clock()))

    # Inputs -------------------------------------------------------------------------------

    def sensor_reading(self, role: str, device: str, reading: SensorReading) -> None:
        """A reading from one of the dock's sensors."""
        now = self._clock()
        match reading:
            case DoorReading(open=is_open) if role == "door":
                self._step(DoorSensed(is_open, device, now))
            case PresenceReading(present=present, distance_m=distance) if role == "vehicle":
                self._step(VehicleSensed(present, device, now, distance))
            case TemperatureReading(celsius=celsius):
                if celsius != self.temperature_c:
                    logger.debug("%s temperature %s °C", self.dock, celsius)
                self.temperature_c = celsius
            case _:
                pass

    def take_scan(self, scan: PalletLabel | LocationLabel | OverrideCode) -> bool:
        """Look at a scan first; True if it was a loading scan (receiving must not see it)."""
        load = self.load
        if isinstance(scan, OverrideCode):
            self._override(scan.reason, load)
            return True
        if not isinstance(scan, PalletLabel):
            return False
        if load is None:
            if scan.sscc:
                self._unloading_scanned.append(scan.sscc)
            self._step(WorkDone(loading=False, at=self._clock()))
            return False
        self._step(WorkDone(loading=True, at=self._clock()))
        self._check(load, scan)
        return True

    def load_plan(self, command_id: UUID, plan: LoadPlan) -> bool:
        """Hold a load plan and print its loading sheet; False if this command ran before."""
        check = LoadingCheck(plan)
        sheet = text_job(check.sheet_lines(), title="LOADING SHEET", qr=plan.shipment_id)
        reason = f"loading sheet of shipment {plan.shipment_id}"
        with self._outbox.transaction() as tx:
            if not tx.claim_command(command_id):
                logger.info("load.plan %s was executed before; not printing it again", command_id)
                return False
            tx.save_load_plan(plan.shipment_id, self.dock, command_id, plan.model_dump_json())
            tx.enqueue_print(str(command_id), self.dock, sheet, reason, command_id=command_id)
        previous = self._registry.get(plan.shipment_id)
        loaded = previous.loaded if previous is not None else {}
        self._registry.put(ActiveLoad(self.dock, check, command_id, loaded))
        self._pending = None
        logger.info(
            "%s: load plan for shipment %s (%d pallets), %d already loaded",
            self.dock,
            plan.shipment_id,
            len(plan.placements),
            len(loaded),
        )
        self._step(PlanChanged(plan.shipment_id, self._clock()))
        self._printer.wake()
        return True

    def expect_unloading(self, command_id: UUID, expected: ExpectUnloading) -> bool:
        """Hold the pallets expected off the vehicle; False if this command ran before."""
        with self._outbox.transaction() as tx:
            if not tx.claim_command(command_id):
                return False
            tx.save_unloading_expectation(self.dock, command_id, expected.model_dump_json())
            tx.append(
                EventType.COMMAND_DONE,
                f"{self.dock}/control",
                CommandDone(
                    command_id=command_id,
                    ok=True,
                    detail=f"{len(expected.pallets)} pallets of {expected.receipt_ref} expected",
                ),
            )
        self._expected = expected
        return True

    # Machines and effects -----------------------------------------------------------------

    def _step(self, event: DockInput) -> None:
        before = self.status.phase
        self.status, effects = step(self.status, event, self._timers)
        if self.status.phase is not before:
            logger.info("%s: %s -> %s", self.dock, before, self.status.phase)
        for effect in effects:
            match effect:
                case Emit(type=type_, source=source, payload=payload):
                    self._outbox.append(type_, source, payload)
                case DoorClosedAfter(phase=phase):
                    self._door_closed(phase)

    def _check(self, load: ActiveLoad, label: PalletLabel) -> None:
        self._pending = None
        sscc = label.sscc
        if sscc is None:
            self._alarm(
                load,
                None,
                LoadingAlarmReason.UNKNOWN_PALLET,
                f"label {label.hri} has no SSCC: scan the pallet's SSCC label",
            )
            return
        match load.check.verdict(sscc, load.loaded):
            case InOrder(pallet=pallet):
                self._loaded(load, pallet, None)
            case AlreadyLoaded(pallet=pallet):
                self._outbox.append(
                    EventType.SCAN_REJECTED,
                    self.scanner,
                    ScanRejected(
                        dock=self.dock,
                        device=self.scanner,
                        code=sscc,
                        reason=f"pallet already loaded ({pallet.where()})",
                    ),
                )
            case OutOfOrder(pallet=pallet, missing=missing):
                self._pending = pallet
                first = missing[0]
                self._alarm(
                    load,
                    sscc,
                    LoadingAlarmReason.WRONG_ORDER,
                    f"goes to {pallet.where()}; load {len(missing)} pallet(s) before it, "
                    f"next {first.sscc} ({first.where()}). "
                    f"To load it anyway scan {OVERRIDE_PREFIX}<REASON>",
                )
            case NotInPlan():
                other = self._registry.holding(sscc)
                if other is not None:
                    self._alarm(
                        load,
                        sscc,
                        LoadingAlarmReason.WRONG_TRUCK,
                        f"belongs to shipment {other.shipment_id} at {other.dock}: take it off",
                    )
                else:
                    self._alarm(
                        load,
                        sscc,
                        LoadingAlarmReason.UNKNOWN_PALLET,
                        f"not on the load plan of shipment {load.shipment_id}: take it off",
                    )

    def _override(self, reason: str, load: ActiveLoad | None) -> None:
        pallet, self._pending = self._pending, None
        if load is None or pallet is None or pallet.sscc in load.loaded:
            self._outbox.append(
                EventType.SCAN_REJECTED,
                self.scanner,
                ScanRejected(
                    dock=self.dock,
                    device=self.scanner,
                    code=f"{OVERRIDE_PREFIX}{reason}",
                    reason="no wrong-order alarm to override: scan the pallet, then the override",
                ),
            )
            return
        logger.warning("%s: %s loaded out of order, override %s", self.dock, pallet.sscc, reason)
        self._loaded(load, pallet, reason)

    def _loaded(self, load: ActiveLoad, pallet: PlannedPallet, override: str | None) -> None:
        p = pallet.placement
        event = PalletLoaded(
            dock=self.dock,
            shipment_id=load.shipment_id,
            sscc=p.sscc,
            position=LoadPosition(row=p.row, column=p.column, deck=p.deck, level=p.level),
            sequence=p.sequence,
            override_reason=override,
        )
        with self._outbox.transaction() as tx:
            tx.append(EventType.PALLET_LOADED, self.scanner, event)
            tx.record_loaded(load.shipment_id, p.sscc, override)
        load.loaded[p.sscc] = override
        self._publish_signal(None)

    def _alarm(
        self,
        load: ActiveLoad,
        sscc: str | None,
        reason: LoadingAlarmReason,
        detail: str,
    ) -> None:
        alarm = LoadingAlarm(
            dock=self.dock, shipment_id=load.shipment_id, sscc=sscc, reason=reason, detail=detail
        )
        title = reason.value.replace("_", " ").upper()
        lines = [sscc or "", detail, f"{self.dock} {self._wall_clock():%Y-%m-%d %H:%M:%S} UTC"]
        with self._outbox.transaction() as tx:
            envelope = tx.append(EventType.LOADING_ALARM, self.scanner, alarm)
            tx.enqueue_print(f"alarm-{envelope.id}", self.dock, text_job(lines, title=title), title)
        logger.warning("%s: loading alarm %s for %s: %s", self.dock, reason, sscc, detail)
        self._printer.wake()
        self._publish_signal(reason)

    def _publish_signal(self, reason: LoadingAlarmReason | None) -> None:
        if self._signal is None or (reason is None and not self._signalled):
            return
        self._signalled = reason is not None
        self._signal(
            self.dock, json.dumps({"alarm": None if reason is None else str(reason)}).encode()
        )

    def _door_closed(self, phase: DockPhase) -> None:
        load = self.load
        if load is not None:
            remaining = load.check.remaining(load.loaded)
            if not remaining:
                self._dispatch(load)
            elif load.loaded:
                nxt = remaining[0]
                self._alarm(
                    load,
                    None,
                    LoadingAlarmReason.INCOMPLETE_LOAD,
                    f"door closed with {len(remaining)} of {len(load.check.pallets)} pallets "
                    f"not loaded; next {nxt.sscc} ({nxt.where()})",
                )
            return
        unloaded = phase is DockPhase.UNLOADING
        if not (unloaded or (phase is DockPhase.DOOR_OPEN and self._expected is not None)):
            return
        expected = self._expected.pallets if self._expected else None
        result = check_unloading(expected, self._unloading_scanned)
        checked = UnloadingChecked(
            dock=self.dock,
            receipt_ref=self._expected.receipt_ref if self._expected else None,
            expected=list(result.expected),
            scanned=list(result.scanned),
            shortages=list(result.shortages),
            extras=list(result.extras),
        )
        with self._outbox.transaction() as tx:
            tx.append(EventType.UNLOADING_CHECKED, f"{self.dock}/control", checked)
            tx.clear_unloading_expectation(self.dock)
        logger.info(
            "%s: unloading checked: %d scanned, %d short, %d extra",
            self.dock,
            len(result.scanned),
            len(result.shortages),
            len(result.extras),
        )
        self._expected = None
        self._unloading_scanned = []

    def _dispatch(self, load: ActiveLoad) -> None:
        dispatched = ShipmentDispatched(
            dock=self.dock, shipment_id=load.shipment_id, pallets=list(load.loaded)
        )
        with self._outbox.transaction() as tx:
            tx.append(EventType.SHIPMENT_DISPATCHED, f"{self.dock}/control", dispatched)
            tx.close_load_plan(load.shipment_id)
        self._registry.remove(load.shipment_id)
        logger.info("%s: shipment %s dispatched", self.dock, load.shipment_id)
        self._publish_signal(None)
        self._step(PlanChanged(None, self._clock()))
