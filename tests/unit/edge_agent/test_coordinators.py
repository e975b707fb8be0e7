"""Device coordinators over FakeTransport: events for bad reads, status once per change,
print jobs only when the printer is ready."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from contracts import CommandDone, DeviceError, DeviceState, DeviceStatus, EventType, event_payload
from devices.printer import STATUS_QUERY
from devices.scanner import LocationLabel, ScannerSettings
from devices.transport import FakeTransport
from edge_agent.coordinators import PrinterCoordinator, ScannerCoordinator
from edge_agent.outbox import Outbox

OK = bytes([0x12, 0x12, 0x12, 0x12])
PAPER_END = bytes([0x1A, 0x32, 0x12, 0x72])


async def eventually(check: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "o.sqlite3", "WH1") as box:
        yield box


def payloads(outbox: Outbox, type_: EventType) -> list[object]:
    return [event_payload(e) for e in outbox.unacked(limit=1000) if e.type == type_]


async def test_scanner_yields_labels_and_reports_unreadable_bytes(outbox: Outbox):
    transport = FakeTransport()
    scanner = ScannerCoordinator(
        device="dock-1/scanner",
        dock="dock-1",
        transport=transport,
        settings=ScannerSettings(),
        outbox=outbox,
    )
    try:
        transport.inject(b"\xff\xfe\x01\rA-01-02\r")
        scans = scanner.scans()
        first = await asyncio.wait_for(anext(scans), 5)
        await scans.aclose()
        assert first == LocationLabel("A-01-02")
        (error,) = payloads(outbox, EventType.DEVICE_ERROR)
        assert isinstance(error, DeviceError)
        assert error.device == "dock-1/scanner" and error.raw_hex.startswith("fffe")
        assert payloads(outbox, EventType.DEVICE_STATUS) == [
            DeviceStatus(device="dock-1/scanner", state=DeviceState.ONLINE)
        ]
    finally:
        scanner.close()


async def test_printer_prints_queued_jobs_in_order_only_while_ready(outbox: Outbox):
    reply = {"status": PAPER_END}
    printed: list[bytes] = []

    def printer_device(data: bytes) -> bytes:
        if data == STATUS_QUERY:
            return reply["status"]
        printed.append(data)
        return b""

    printer = PrinterCoordinator(
        device="dock-1/printer",
        dock="dock-1",
        transport=FakeTransport(printer_device),
        outbox=outbox,
        status_poll_s=0.05,
    )
    command_id = uuid4()
    outbox.enqueue_print("one", "dock-1", b"JOB-1", "first label", command_id=command_id)
    outbox.enqueue_print("two", "dock-1", b"JOB-2", "second label")
    task = asyncio.create_task(printer.run())
    try:
        await eventually(lambda: printer.health.state is DeviceState.PAPER_END)
        await asyncio.sleep(0.3)
        assert printed == []
        reply["status"] = OK
        printer.wake()
        await eventually(lambda: printed == [b"JOB-1", b"JOB-2"])
        await asyncio.sleep(0.3)
        assert printed == [b"JOB-1", b"JOB-2"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        printer.close()
    assert outbox.pending_prints("dock-1") == []
    states = [s.state for s in payloads(outbox, EventType.DEVICE_STATUS)]  # type: ignore[attr-defined]
    assert states == [DeviceState.PAPER_END, DeviceState.ONLINE]
    (done,) = payloads(outbox, EventType.COMMAND_DONE)
    assert isinstance(done, CommandDone) and done.command_id == command_id and done.ok
