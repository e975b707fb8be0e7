"""ESC/POS printer: status parsing, safe print_job, label and sheet bytes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import DeviceState, PutawayLabel
from devices.errors import FrameError, PrinterNoReply, PrinterNotReady
from devices.printer import (
    STATUS_QUERY,
    EscPosPrinter,
    PrinterStatus,
    parse_status,
    putaway_label,
    sscc_hri,
    text_job,
)
from devices.transport import FakeTransport

READY = bytes([0x12, 0x12, 0x12, 0x12])
PAPER_END = bytes([0x1A, 0x32, 0x12, 0x7E])
COVER_OPEN = bytes([0x1A, 0x16, 0x12, 0x12])
NEAR_END = bytes([0x12, 0x12, 0x12, 0x1E])
CUTTER_ERROR = bytes([0x1A, 0x52, 0x1A, 0x12])
OFFLINE = bytes([0x1A, 0x12, 0x12, 0x12])

SSCC = "376130321109103420"
PRINTED_AT = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


def _valid(byte: int) -> bool:
    return byte & 0x81 == 0 and byte & 0x12 == 0x12


# --- parse_status -------------------------------------------------------------------------


def test_all_clear_status_is_ready_and_online() -> None:
    status = parse_status(READY)
    assert status == PrinterStatus(
        online=True, cover_open=False, paper_near_end=False, paper_end=False, error=False
    )
    assert status.ready
    assert status.state is DeviceState.ONLINE


@pytest.mark.parametrize(
    ("replies", "state", "ready"),
    [
        (PAPER_END, DeviceState.PAPER_END, False),
        (COVER_OPEN, DeviceState.COVER_OPEN, False),
        (NEAR_END, DeviceState.PAPER_NEAR_END, True),
        (CUTTER_ERROR, DeviceState.ERROR, False),
        (OFFLINE, DeviceState.OFFLINE, False),
    ],
)
def test_status_bits_map_to_the_reported_state(
    replies: bytes, state: DeviceState, ready: bool
) -> None:
    status = parse_status(replies)
    assert status.state is state
    assert status.ready is ready


def test_paper_end_reply_also_reports_near_end_and_offline() -> None:
    status = parse_status(PAPER_END)
    assert status.paper_end and status.paper_near_end and not status.online


def test_near_end_needs_both_sensor_bits() -> None:
    """Only bit 2 of the n=4 reply (one of the two near-end bits) is not near end."""
    assert not parse_status(bytes([0x12, 0x12, 0x12, 0x16])).paper_near_end
    assert not parse_status(bytes([0x12, 0x12, 0x12, 0x32])).paper_end


@pytest.mark.parametrize(
    "replies",
    [
        b"",
        b"\x12\x12\x12",
        b"\x12\x12\x12\x12\x12",
        b"\x13\x12\x12\x12",
        b"\x12\x92\x12\x12",
        b"\x12\x12\x02\x12",
        b"\x12\x12\x12\x00",
    ],
)
def test_invalid_status_replies_raise_frame_error_with_the_raw_bytes(replies: bytes) -> None:
    with pytest.raises(FrameError) as info:
        parse_status(replies)
    assert info.value.raw == replies


@settings(max_examples=200)
@given(st.binary(max_size=8))
def test_any_bytes_either_parse_or_raise_frame_error(replies: bytes) -> None:
    try:
        status = parse_status(replies)
    except FrameError:
        assert len(replies) != 4 or not all(_valid(b) for b in replies)
    else:
        assert len(replies) == 4 and all(_valid(b) for b in replies)
        assert status.ready == (status.state in (DeviceState.ONLINE, DeviceState.PAPER_NEAR_END))


def test_status_query_is_dle_eot_one_to_four() -> None:
    assert STATUS_QUERY == b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"


def test_status_text_tells_what_is_wrong() -> None:
    assert "out of paper" in str(parse_status(PAPER_END))
    assert str(parse_status(READY)) == "ready"


# --- EscPosPrinter over a fake transport ---------------------------------------------------


class FakePrinterDevice:
    """Answers STATUS_QUERY with `status`; `after_job` may change it when a job arrives."""

    def __init__(self, status: bytes = READY) -> None:
        self.status = status
        self.jobs: list[bytes] = []
        self.after_job: Callable[[], None] | None = None
        self.silent = False

    def __call__(self, data: bytes) -> bytes:
        if data == STATUS_QUERY:
            return b"" if self.silent else self.status
        self.jobs.append(data)
        if self.after_job is not None:
            self.after_job()
        return b""


def _printer(device: FakePrinterDevice) -> tuple[EscPosPrinter, FakeTransport]:
    transport = FakeTransport(device)
    return EscPosPrinter(transport, status_timeout_s=0.2), transport


def test_print_job_writes_the_job_between_two_status_checks() -> None:
    device = FakePrinterDevice()
    printer, transport = _printer(device)
    printer.print_job(b"\x1b@hello\n\x1dV\x00")
    assert transport.writes == [STATUS_QUERY, b"\x1b@hello\n\x1dV\x00", STATUS_QUERY]
    assert device.jobs == [b"\x1b@hello\n\x1dV\x00"]


@pytest.mark.parametrize("replies", [PAPER_END, COVER_OPEN, OFFLINE, CUTTER_ERROR])
def test_print_job_refuses_before_writing_when_printer_not_ready(replies: bytes) -> None:
    device = FakePrinterDevice(replies)
    printer, _ = _printer(device)
    with pytest.raises(PrinterNotReady) as info:
        printer.print_job(b"job")
    assert info.value.status == parse_status(replies)
    assert device.jobs == []


def test_print_job_prints_with_paper_near_end() -> None:
    device = FakePrinterDevice(NEAR_END)
    printer, _ = _printer(device)
    printer.print_job(b"job")
    assert device.jobs == [b"job"]


def test_paper_running_out_during_the_job_raises_after_writing() -> None:
    device = FakePrinterDevice()
    device.after_job = lambda: setattr(device, "status", PAPER_END)
    printer, _ = _printer(device)
    with pytest.raises(PrinterNotReady) as info:
        printer.print_job(b"job")
    assert info.value.status.paper_end
    assert "during the job" in str(info.value)


def test_silent_printer_raises_no_reply() -> None:
    device = FakePrinterDevice()
    device.silent = True
    printer, _ = _printer(device)
    with pytest.raises(PrinterNoReply):
        printer.status()
    with pytest.raises(PrinterNoReply):
        printer.print_job(b"job")
    assert device.jobs == []


def test_stale_bytes_from_an_earlier_query_are_discarded() -> None:
    device = FakePrinterDevice(COVER_OPEN)
    printer, transport = _printer(device)
    transport.inject(b"\x12\x12")  # late half-answer to a timed-out query
    assert printer.status().cover_open


def test_garbage_status_reply_raises_frame_error() -> None:
    printer, _ = _printer(FakePrinterDevice(b"\xff\x00\x12\x12"))
    with pytest.raises(FrameError):
        printer.status()


# --- label and sheet bytes ---------------------------------------------------------------


def _label(**changes: object) -> PutawayLabel:
    fields: dict[str, object] = {
        "sscc": SSCC,
        "gtin": "03761303211094",
        "item_name": "Gouda 5kg",
        "batch": "L2026-11",
        "expiry": date(2027, 3, 31),
        "quantity": Decimal("40"),
        "weight_kg": Decimal("512.40"),
        "location": "A-01-02-3",
    }
    fields.update(changes)
    return PutawayLabel.model_validate(fields)


def _code_c(digits: str) -> bytes:
    return bytes(int(digits[i : i + 2]) for i in range(0, len(digits), 2))


def test_putaway_label_contains_the_escpos_commands() -> None:
    data = putaway_label(_label(), site="WH1", dock="D3", printed_at=PRINTED_AT)
    assert data.startswith(b"\x1b@")
    assert data.endswith(b"\x1dV\x00")
    assert b"WH1  DOCK D3" in data
    assert b"2026-03-04 05:06 UTC" in data
    # Bin in double width and height, bold.
    assert b"\x1b!\x30\x1bE\x01A-01-02-3\n" in data
    for text in (b"Gouda 5kg", b"03761303211094", b"L2026-11", b"2027-03-31", b"512.40 kg"):
        assert text in data
    # CODE128 (GS k 73), HRI below (GS H 2), code set C, FNC1, then AI 00 + SSCC as pairs.
    barcode = b"{C{1" + _code_c("00" + SSCC)
    assert b"\x1dH\x02" in data
    assert b"\x1dkI" + bytes([len(barcode)]) + barcode in data
    # Native QR: model 2, store the payload, print it.
    payload = f"(00){SSCC} BIN A-01-02-3".encode()
    assert b"\x1d(k\x04\x001A2\x00" in data
    store = b"\x1d(k" + (len(payload) + 3).to_bytes(2, "little") + b"1P0" + payload
    assert store in data
    assert b"\x1d(k\x03\x001Q0" in data


def test_label_without_a_bin_says_putaway_pending() -> None:
    data = putaway_label(_label(location=None), site="WH1", dock="D3", printed_at=PRINTED_AT)
    assert b"PUTAWAY PENDING" in data
    assert f"(00){SSCC}".encode() + b"\x1d(k\x03\x001Q0" in data


def test_label_on_hold_shows_the_reason_and_no_bin() -> None:
    data = putaway_label(
        _label(hold_reason="weight off by 12 kg"), site="WH1", dock="D3", printed_at=PRINTED_AT
    )
    assert b"HOLD: weight off by 12 kg" in data
    assert b"A-01-02-3" not in data


def test_label_without_sscc_has_no_barcode_and_a_gtin_qr() -> None:
    data = putaway_label(_label(sscc=None), site="WH1", dock="D3", printed_at=PRINTED_AT)
    assert b"\x1dk" not in data
    assert b"(01)03761303211094 BIN A-01-02-3" in data


def test_label_time_is_printed_in_utc() -> None:
    local = PRINTED_AT.astimezone(timezone(timedelta(hours=2)))
    data = putaway_label(_label(), site="WH1", dock="D3", printed_at=local)
    assert b"2026-03-04 05:06 UTC" in data


def test_label_refuses_naive_time_and_bad_sscc() -> None:
    with pytest.raises(ValueError, match="timezone"):
        putaway_label(_label(), site="WH1", dock="D3", printed_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="18 digits"):
        putaway_label(_label(sscc="12345"), site="WH1", dock="D3", printed_at=PRINTED_AT)


def test_sscc_hri_has_the_ai_in_parentheses() -> None:
    assert sscc_hri(SSCC) == "(00)376130321109103420"


def test_text_job_has_title_lines_qr_and_cut() -> None:
    data = text_job(["Stop 1: Main St 5", "Stop 2: Elm Rd 9"], qr="ROUTE-42", title="Route 42")
    assert data.startswith(b"\x1b@")
    assert b"Route 42\n" in data
    assert b"Stop 1: Main St 5\nStop 2: Elm Rd 9\n" in data
    assert b"1P0ROUTE-42" in data
    assert data.endswith(b"\x1dV\x00")


def test_text_job_without_qr_has_no_2d_code() -> None:
    assert b"\x1d(k" not in text_job(["x"])
