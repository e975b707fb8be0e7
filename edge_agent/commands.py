"""Executes central's commands exactly once and answers each with a command.done event.

A command is claimed in the same outbox transaction that queues its print job, so a
redelivered command (QoS 1 after a reconnect, or central resending) never prints twice, and a
crash can never leave a claimed command without its job. The MQTT PUBACK is sent only after
that commit, so a command lost in a crash is redelivered by the broker. `command.done` goes
out once the job is actually printed (see `PrinterCoordinator`); a command that cannot be
executed is answered at once with ok=false.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from uuid import UUID

from contracts.commands import (
    Alarm,
    Command,
    ExpectUnloading,
    LoadPlan,
    PrintLabel,
    PrintRouteSheet,
    command_payload,
)
from contracts.envelope import utc_now
from contracts.errors import ContractError
from contracts.events import CommandDone, EventType
from devices.printer import putaway_label, text_job
from edge_agent.dock import DockWorkflow
from edge_agent.outbox import Outbox
from edge_agent.receiving import BinAnswered
from edge_agent.uplink import InboundCommand

logger = logging.getLogger(__name__)

SOURCE = "edge/commands"


def readable_id(raw: bytes) -> UUID | None:
    """The `id` of a command that failed validation, if it can still be read."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    try:
        return UUID(str(value.get("id")))
    except ValueError:
        return None


class CommandExecutor:
    """Turns commands into durable print jobs at the right dock."""

    def __init__(
        self,
        *,
        site: str,
        outbox: Outbox,
        docks: Mapping[str, DockWorkflow],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.site = site
        self._outbox = outbox
        self._docks = docks
        self._clock = clock

    async def run(self, commands: AsyncIterator[InboundCommand]) -> None:
        """Execute commands as they arrive; each is acknowledged once durably handled."""
        async for command in commands:
            try:
                self.execute(command.raw)
            except Exception:
                # Not acked: the broker redelivers it after the next reconnect.
                logger.exception("executing a command failed; it will be redelivered")
                continue
            command.ack()

    def execute(self, raw: bytes) -> None:
        """Execute one command message (idempotent per command id)."""
        try:
            command = Command.from_json(raw)
        except ContractError as err:
            command_id = readable_id(raw)
            if command_id is None:
                logger.error("unreadable command from central kept in the outbox db: %s", err)
                self._outbox.reject_command(raw, str(err))
            else:
                self._fail(command_id, str(err))
            return
        if command.site != self.site:
            self._fail(command.id, f"command for site {command.site} sent to site {self.site}")
            return
        try:
            payload = command_payload(command)
        except ContractError as err:
            self._fail(command.id, str(err))
            return
        match payload:
            case PrintLabel():
                self._print_label(command.id, payload)
            case Alarm():
                self._alarm(command.id, payload)
            case PrintRouteSheet():
                self._route_sheet(command.id, payload)
            case LoadPlan() | ExpectUnloading():
                self._dock_control(command.id, payload)
            case _:
                self._fail(command.id, f"this edge cannot execute {command.type!r} commands")

    def _dock(self, command_id: UUID, dock: str) -> DockWorkflow | None:
        workflow = self._docks.get(dock)
        if workflow is None:
            self._fail(command_id, f"site {self.site} has no dock {dock!r}")
        return workflow

    def _print_label(self, command_id: UUID, cmd: PrintLabel) -> None:
        workflow = self._dock(command_id, cmd.dock)
        if workflow is None:
            return
        label = cmd.label
        try:
            data = putaway_label(label, site=self.site, dock=cmd.dock, printed_at=self._clock())
        except ValueError as err:
            self._fail(command_id, f"cannot print this label: {err}")
            return
        shows = label.location or (f"HOLD {label.hold_reason}" if label.hold_reason else "PENDING")
        reason = f"putaway label {shows} for {label.sscc or label.gtin}"
        if not self._queue(command_id, cmd.dock, data, reason):
            return
        workflow.submit(BinAnswered(cmd.in_reply_to))
        workflow.printer.wake()

    def _alarm(self, command_id: UUID, cmd: Alarm) -> None:
        workflow = self._dock(command_id, cmd.dock)
        if workflow is None:
            return
        data = text_job(
            [cmd.reason, f"{cmd.dock} {self._clock():%Y-%m-%d %H:%M} UTC"], title="ALARM"
        )
        if self._queue(command_id, cmd.dock, data, f"alarm: {cmd.reason}"):
            workflow.printer.wake()

    def _route_sheet(self, command_id: UUID, cmd: PrintRouteSheet) -> None:
        workflow = self._dock(command_id, cmd.dock)
        if workflow is None:
            return
        data = text_job(cmd.lines, qr=cmd.qr, title=f"ROUTE {cmd.route_id}")
        if self._queue(command_id, cmd.dock, data, f"route sheet {cmd.route_id}"):
            workflow.printer.wake()

    def _dock_control(self, command_id: UUID, cmd: LoadPlan | ExpectUnloading) -> None:
        workflow = self._dock(command_id, cmd.dock)
        if workflow is None:
            return
        control = workflow.control
        if control is None:
            self._fail(command_id, f"dock {cmd.dock} has no loading control")
            return
        if isinstance(cmd, LoadPlan):
            control.load_plan(command_id, cmd)
        else:
            control.expect_unloading(command_id, cmd)

    def _queue(self, command_id: UUID, dock: str, data: bytes, reason: str) -> bool:
        with self._outbox.transaction() as tx:
            if not tx.claim_command(command_id):
                logger.info("command %s was executed before; not printing it again", command_id)
                return False
            tx.enqueue_print(str(command_id), dock, data, reason, command_id=command_id)
        logger.info("command %s: queued %s at %s", command_id, reason, dock)
        return True

    def _fail(self, command_id: UUID, detail: str) -> None:
        with self._outbox.transaction() as tx:
            if not tx.claim_command(command_id):
                return
            tx.append(
                EventType.COMMAND_DONE,
                SOURCE,
                CommandDone(command_id=command_id, ok=False, detail=detail[:1000]),
            )
        logger.warning("command %s rejected: %s", command_id, detail)
