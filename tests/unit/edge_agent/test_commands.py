"""Command execution: exactly once per command id, and an answer for every readable command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from contracts import (
    Alarm,
    Command,
    CommandDone,
    EventType,
    PrintLabel,
    PrintRouteSheet,
    PutawayLabel,
    event_payload,
)
from contracts.envelope import utc_now
from devices.scales import MtSicsCodec
from devices.scanner import ScannerSettings
from devices.transport import FakeTransport
from edge_agent.commands import CommandExecutor, readable_id
from edge_agent.coordinators import PrinterCoordinator, ScaleCoordinator, ScannerCoordinator
from edge_agent.dock import DockWorkflow
from edge_agent.outbox import Outbox

SITE = "WH1"


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "o.sqlite3", SITE) as box:
        yield box


@pytest.fixture
def dock(outbox: Outbox) -> Iterator[DockWorkflow]:
    scanner = ScannerCoordinator(
        device="dock-1/scanner",
        dock="dock-1",
        transport=FakeTransport(),
        settings=ScannerSettings(),
        outbox=outbox,
    )
    scale = ScaleCoordinator(
        device="dock-1/scale",
        transport=FakeTransport(),
        codec=MtSicsCodec(),
        outbox=outbox,
        stable_timeout_s=1,
        min_kg=Decimal("0.5"),
    )
    printer = PrinterCoordinator(
        device="dock-1/printer", dock="dock-1", transport=FakeTransport(), outbox=outbox
    )
    workflow = DockWorkflow(
        dock="dock-1",
        site=SITE,
        outbox=outbox,
        scanner=scanner,
        scale=scale,
        printer=printer,
        reply_timeout_s=3,
    )
    yield workflow
    scanner.close()
    scale.close()
    printer.close()


def command(type_: str, data: dict[str, object], *, site: str = SITE) -> Command:
    return Command(id=uuid4(), site=site, type=type_, at=utc_now(), data=data)


def print_label(location: str | None = "A-01-02") -> Command:
    label = PutawayLabel(
        sscc="376130321109103420",
        gtin="07612345678900",
        quantity=Decimal(40),
        weight_kg=Decimal("612.4"),
        location=location,
    )
    payload = PrintLabel(dock="dock-1", in_reply_to=uuid4(), label=label)
    return command("print.label", payload.model_dump(mode="json"))


def answers(outbox: Outbox) -> list[CommandDone]:
    out = []
    for env in outbox.unacked(limit=1000):
        if env.type == EventType.COMMAND_DONE:
            done = event_payload(env)
            assert isinstance(done, CommandDone)
            out.append(done)
    return out


def test_a_redelivered_print_label_is_queued_once(outbox: Outbox, dock: DockWorkflow):
    executor = CommandExecutor(site=SITE, outbox=outbox, docks={"dock-1": dock})
    cmd = print_label()
    executor.execute(cmd.to_json())
    executor.execute(cmd.to_json())
    (job,) = outbox.pending_prints("dock-1")
    assert job.command_id == cmd.id
    assert b"A-01-02" in job.data
    # command.done comes when the label is printed, not when it is queued.
    assert answers(outbox) == []


def test_an_alarm_prints_a_text_job(outbox: Outbox, dock: DockWorkflow):
    executor = CommandExecutor(site=SITE, outbox=outbox, docks={"dock-1": dock})
    cmd = command("alarm", Alarm(dock="dock-1", reason="wrong truck at dock 1").model_dump())
    executor.execute(cmd.to_json())
    (job,) = outbox.pending_prints("dock-1")
    assert b"wrong truck" in job.data and job.command_id == cmd.id


def test_a_redelivered_route_sheet_is_queued_once(outbox: Outbox, dock: DockWorkflow):
    executor = CommandExecutor(site=SITE, outbox=outbox, docks={"dock-1": dock})
    sheet = PrintRouteSheet(
        dock="dock-1",
        route_id="17",
        lines=["Vehicle VAN-1", "1. Bakery Miller 08:00-10:00 ETA 08:41 2 pal"],
        qr="/driver/routes/17",
    )
    cmd = command("print.route_sheet", sheet.model_dump(mode="json"))
    executor.execute(cmd.to_json())
    executor.execute(cmd.to_json())
    (job,) = outbox.pending_prints("dock-1")
    assert job.command_id == cmd.id
    assert b"Bakery Miller" in job.data and b"ROUTE 17" in job.data
    assert b"/driver/routes/17" in job.data
    # Answered once printed, like a label.
    assert answers(outbox) == []


@pytest.mark.parametrize(
    ("cmd", "detail"),
    [
        (command("alarm", {"dock": "dock-9", "reason": "x"}), "no dock 'dock-9'"),
        (command("alarm", {"dock": "dock-1"}), "reason"),
        (command("route.teleport", {}), "unknown command type"),
        (command("print.route_sheet", {"dock": "dock-1", "route_id": "1"}), "lines"),
        (command("alarm", {"dock": "dock-1", "reason": "x"}, site="WH2"), "site WH2"),
    ],
)
def test_commands_that_cannot_run_are_answered_not_ok_once(
    outbox: Outbox, dock: DockWorkflow, cmd: Command, detail: str
):
    executor = CommandExecutor(site=SITE, outbox=outbox, docks={"dock-1": dock})
    executor.execute(cmd.to_json())
    executor.execute(cmd.to_json())
    (done,) = answers(outbox)
    assert done.command_id == cmd.id and not done.ok
    assert detail in done.detail
    assert outbox.pending_prints("dock-1") == []


def test_a_malformed_command_with_a_readable_id_is_answered(outbox: Outbox):
    command_id = uuid4()
    raw = json.dumps({"id": str(command_id), "type": "alarm"}).encode()
    CommandExecutor(site=SITE, outbox=outbox, docks={}).execute(raw)
    (done,) = answers(outbox)
    assert done.command_id == command_id and not done.ok


@pytest.mark.parametrize("raw", [b"\xff\xfe garbage", b"[1, 2]", b'{"id": "not-a-uuid"}'])
def test_an_unreadable_command_is_kept_raw(outbox: Outbox, raw: bytes):
    CommandExecutor(site=SITE, outbox=outbox, docks={}).execute(raw)
    assert answers(outbox) == []
    ((reason, kept),) = outbox.rejected_commands()
    assert kept == raw and reason


def test_readable_id():
    some = UUID(int=7)
    assert readable_id(json.dumps({"id": str(some)}).encode()) == some
    assert readable_id(b"{") is None
