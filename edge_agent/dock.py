"""Runs one dock: feeds scans, weights, answers and timeouts into the receiving state machine
and carries out its effects (outbox events, weighing, timers, print jobs)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from contracts.envelope import utc_now
from devices.printer import putaway_label, text_job
from devices.scanner import LocationLabel, PalletLabel
from edge_agent.coordinators import (
    PrinterCoordinator,
    ScaleCoordinator,
    ScannerCoordinator,
    WeighingFailed,
)
from edge_agent.outbox import Outbox
from edge_agent.receiving import (
    Dock,
    DockEffect,
    DockInput,
    DockState,
    Emit,
    LocationScanned,
    PalletScanned,
    PrintNotice,
    PrintPending,
    ReplyTimedOut,
    StartReplyTimer,
    StartWeighing,
    WeighFailed,
    WeightStable,
    step,
)

if TYPE_CHECKING:
    from edge_agent.dock_control import DockControl

logger = logging.getLogger(__name__)


class DockWorkflow:
    """The receiving workflow of one dock, wired to its scanner, scale and printer."""

    def __init__(
        self,
        *,
        dock: str,
        site: str,
        outbox: Outbox,
        scanner: ScannerCoordinator,
        scale: ScaleCoordinator,
        printer: PrinterCoordinator,
        reply_timeout_s: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.dock = dock
        self.site = site
        self.scanner = scanner
        self.scale = scale
        self.printer = printer
        self._outbox = outbox
        self._reply_timeout_s = reply_timeout_s
        self._clock = clock
        self._inputs: asyncio.Queue[DockInput] = asyncio.Queue()
        self.state = Dock(dock)
        self.control: DockControl | None = None
        """The dock's sensors and loading checks; it sees every scan before receiving does."""

    def submit(self, event: DockInput) -> None:
        """Hand an input to the workflow (from the event loop's thread)."""
        self._inputs.put_nowait(event)

    async def run(self) -> None:
        """Process inputs one at a time until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._feed_scans(), name=f"{self.dock}.scans")
            while True:
                event = await self._inputs.get()
                try:
                    self._handle(event, tg)
                except Exception:
                    # One bad input (e.g. a full disk for a moment) must not stop the dock.
                    logger.exception("%s: handling %s failed", self.dock, type(event).__name__)

    async def _feed_scans(self) -> None:
        async for scan in self.scanner.scans():
            if self.control is not None and self.control.take_scan(scan):
                continue
            if isinstance(scan, PalletLabel):
                self.submit(PalletScanned(scan))
            elif isinstance(scan, LocationLabel):
                self.submit(LocationScanned(scan.code))
            else:
                logger.info("%s: override code with no loading check here: ignored", self.dock)

    def _handle(self, event: DockInput, tg: asyncio.TaskGroup) -> None:
        before = self.state.state
        self.state, effects = step(self.state, event)
        if self.state.state is not before:
            logger.info("%s: %s -> %s", self.dock, before, self.state.state)
        for effect in effects:
            self._carry_out(effect, tg)

    def _carry_out(self, effect: DockEffect, tg: asyncio.TaskGroup) -> None:
        match effect:
            case Emit(type=type_, source=source, payload=payload, event_id=event_id):
                self._outbox.append(type_, source, payload, event_id=event_id)
            case StartWeighing(attempt=attempt):
                tg.create_task(self._weigh(attempt), name=f"{self.dock}.weigh-{attempt}")
            case StartReplyTimer(event_id=event_id):
                tg.create_task(self._reply_timer(event_id), name=f"{self.dock}.reply-{event_id}")
            case PrintPending(event_id=event_id, label=label):
                data = putaway_label(
                    label, site=self.site, dock=self.dock, printed_at=self._clock()
                )
                what = label.sscc or label.gtin
                self._print(f"pending-{event_id}", data, f"PUTAWAY PENDING label for {what}")
            case PrintNotice(title=title, lines=lines):
                self._print(f"notice-{uuid4()}", text_job(list(lines), title=title), title)

    def _print(self, job_id: str, data: bytes, reason: str) -> None:
        self._outbox.enqueue_print(job_id, self.dock, data, reason)
        self.printer.wake()

    async def _weigh(self, attempt: int) -> None:
        try:
            reading = await self.scale.weigh()
        except WeighingFailed as err:
            self.submit(WeighFailed(attempt, err.reason))
        else:
            self.submit(WeightStable(attempt, reading.kg))

    async def _reply_timer(self, event_id: UUID) -> None:
        await asyncio.sleep(self._reply_timeout_s)
        self.submit(ReplyTimedOut(event_id))

    @property
    def dock_state(self) -> DockState:
        """Where the dock is in its workflow."""
        return self.state.state
