"""The simulated printer's ESC/POS interpreter, fed with the bytes devices/printer.py builds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from barcode import Gs1_128  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from contracts import PutawayLabel
from devices.printer import parse_status, putaway_label, text_job
from firmware_sim.printer import (
    EscPosInterpreter,
    FeedResult,
    PrinterState,
    code128_modules,
)
from firmware_sim.render import (
    Block,
    PrintedBarcode,
    PrintedQr,
    PrintedRaster,
    TextLine,
    render_png,
    render_text,
)

SSCC = "376130321109103420"
LABEL = PutawayLabel(
    sscc=SSCC,
    gtin="03761303211094",
    item_name="Käse Gouda 5kg",
    batch="L2026-11",
    expiry=date(2027, 3, 31),
    quantity=Decimal("40"),
    weight_kg=Decimal("512.40"),
    location="A-01-02-3",
)
PRINTED_AT = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


def _feed(interpreter: EscPosInterpreter, data: bytes, now: float = 100.0) -> FeedResult:
    return interpreter.feed(data, now=now)


def _label_bytes() -> bytes:
    return putaway_label(LABEL, site="WH1", dock="D3", printed_at=PRINTED_AT)


def test_label_round_trip_shows_bin_barcode_and_qr() -> None:
    interpreter = EscPosInterpreter(PrinterState())
    data = _label_bytes()
    result = _feed(interpreter, data)
    assert result.lost == 0
    [(blocks, raw)] = result.jobs
    assert raw == data
    text = render_text(blocks)
    assert "A-01-02-3" in text
    assert "Käse Gouda 5kg" in text
    assert "512.40 kg" in text
    assert f"[BARCODE CODE128 GS1 00{SSCC}]" in text
    assert f"[QR (00){SSCC} BIN A-01-02-3]" in text
    [bin_line] = [b for b in blocks if isinstance(b, TextLine) and b.text == "A-01-02-3"]
    assert (bin_line.width, bin_line.height, bin_line.bold) == (2, 2, True)
    [barcode] = [b for b in blocks if isinstance(b, PrintedBarcode)]
    assert barcode.gs1 and barcode.hri == "00" + SSCC and barcode.hri_position == 2
    [qr] = [b for b in blocks if isinstance(b, PrintedQr)]
    assert qr.payload == f"(00){SSCC} BIN A-01-02-3"
    assert qr.align == "center"


def test_code128_bars_match_an_independent_gs1_128_encoder() -> None:
    """python-barcode's GS1-128 (start C, FNC1, pairs) must give the same bars as the sim."""
    [(blocks, _)] = _feed(EscPosInterpreter(PrinterState()), _label_bytes()).jobs
    [barcode] = [b for b in blocks if isinstance(b, PrintedBarcode)]
    assert barcode.modules == Gs1_128("00" + SSCC).build()[0]


def test_code128_code_set_b_with_literal_brace() -> None:
    values = [104, *[ord(c) - 32 for c in "AB{"]]
    assert code128_modules(values).startswith("11010010000")  # start B


def test_bytes_split_anywhere_give_the_same_job() -> None:
    data = _label_bytes()
    whole = _feed(EscPosInterpreter(PrinterState()), data).jobs
    interpreter = EscPosInterpreter(PrinterState())
    split: list[tuple[list[Block], bytes]] = []
    for i in range(0, len(data), 7):
        split.extend(_feed(interpreter, data[i : i + 7]).jobs)
    assert split == whole


def test_status_queries_are_answered_from_the_state() -> None:
    state = PrinterState()
    interpreter = EscPosInterpreter(state)
    query = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
    assert parse_status(bytes(_feed(interpreter, query).reply)).ready
    state.paper_end = True
    status = parse_status(bytes(_feed(interpreter, query).reply))
    assert status.paper_end and not status.online and not status.ready


@settings(max_examples=100)
@given(
    offline=st.booleans(),
    cover_open=st.booleans(),
    near_end=st.booleans(),
    paper_end=st.booleans(),
    cutter_error=st.booleans(),
)
def test_status_bytes_parse_back_to_the_state(
    offline: bool, cover_open: bool, near_end: bool, paper_end: bool, cutter_error: bool
) -> None:
    state = PrinterState(offline, cover_open, near_end, paper_end, cutter_error)
    status = parse_status(bytes(state.status_byte(n) for n in (1, 2, 3, 4)))
    assert status.ready == state.can_print
    assert status.paper_end == paper_end
    assert status.cover_open == cover_open
    assert status.error == cutter_error
    assert status.paper_near_end == (near_end or paper_end)


def test_jobs_received_at_paper_end_are_lost_not_printed() -> None:
    state = PrinterState(paper_end=True)
    interpreter = EscPosInterpreter(state)
    result = _feed(interpreter, _label_bytes())
    assert result.jobs == [] and result.lost == 1
    state.paper_end = False
    result = _feed(interpreter, text_job(["after recovery"]))
    assert result.lost == 0
    assert "after recovery" in render_text(result.jobs[0][0])


def test_paper_running_out_mid_job_loses_that_job() -> None:
    state = PrinterState()
    interpreter = EscPosInterpreter(state)
    interpreter.paper_left = 50
    result = _feed(interpreter, _label_bytes())
    assert result.jobs == [] and result.lost == 1
    assert state.paper_end


def test_unknown_sequences_are_skipped_and_counted() -> None:
    interpreter = EscPosInterpreter(PrinterState())
    data = b"\x1b@\x1b\x01\x1d\x02\x10\x04\x09\x1d(Z\x02\x00ab\x07Hello\n\x1dV\x00"
    result = _feed(interpreter, data)
    assert interpreter.unknown_commands == 5  # ESC 01, GS 02, DLE EOT 9, GS ( Z, BEL
    assert [b.text for b in result.jobs[0][0] if isinstance(b, TextLine)] == ["Hello"]


def test_code_page_switch_decodes_text() -> None:
    interpreter = EscPosInterpreter(PrinterState())
    result = _feed(interpreter, b"\x1b@\x1bt\x10caf\xe9 \x80\n\x1dV\x00")
    [line] = [b for b in result.jobs[0][0] if isinstance(b, TextLine)]
    assert line.text == "café €"


def test_function_a_barcode_and_raster_image() -> None:
    interpreter = EscPosInterpreter(PrinterState())
    raster = b"\x1dv0\x00\x02\x00\x03\x00" + b"\xff\x00" * 3
    data = b"\x1b@\x1dH\x02\x1dk\x024006381333931\x00" + raster + b"\x1dV\x41\x03"
    [(blocks, _)] = _feed(interpreter, data).jobs
    barcode, image = blocks
    assert isinstance(barcode, PrintedBarcode) and barcode.symbology == "EAN13"
    assert barcode.modules is not None and barcode.hri == "4006381333931"
    assert isinstance(image, PrintedRaster) and (image.width_bytes, image.height_dots) == (2, 3)


def test_invalid_code128_data_prints_no_barcode() -> None:
    [(blocks, _)] = _feed(EscPosInterpreter(PrinterState()), b"\x1dkI\x03abc\x1dV\x00").jobs
    assert blocks == []


def test_an_incomplete_command_is_dropped_after_silence() -> None:
    interpreter = EscPosInterpreter(PrinterState(), stale_after_s=1.0)
    assert _feed(interpreter, b"\x1d(k\xff\x00", now=10.0).reply == b""
    assert _feed(interpreter, b"", now=10.5).jobs == []
    for step in range(1, 6):
        _feed(interpreter, b"", now=11.0 + step)
    result = _feed(interpreter, b"\x10\x04\x01", now=20.0)
    assert result.reply == b"\x12"


def _drain(interpreter: EscPosInterpreter, now: float) -> float:
    while interpreter.pending:
        now += 2.0
        _feed(interpreter, b"", now=now)
    return now


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_crashes_and_a_later_job_still_prints(garbage: bytes) -> None:
    interpreter = EscPosInterpreter(PrinterState())
    _feed(interpreter, garbage, now=0.0)
    now = _drain(interpreter, 0.0)
    result = _feed(interpreter, text_job(["HELLO AFTER GARBAGE"]), now=now)
    assert result.jobs, "the job after the garbage was not printed"
    assert "HELLO AFTER GARBAGE" in render_text(result.jobs[-1][0])


def test_png_rendering_writes_a_valid_image(tmp_path: Path) -> None:
    [(blocks, _)] = _feed(EscPosInterpreter(PrinterState()), _label_bytes()).jobs
    path = tmp_path / "label.png"
    render_png(blocks, path)
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width == 512 and image.height > 300


@pytest.mark.parametrize("n", [0, 5, 255])
def test_dle_eot_with_unknown_n_gets_no_answer(n: int) -> None:
    interpreter = EscPosInterpreter(PrinterState())
    assert _feed(interpreter, bytes([0x10, 0x04, n])).reply == b""


def test_code_page_switch_in_the_middle_of_a_line() -> None:
    interpreter = EscPosInterpreter(PrinterState())
    result = _feed(interpreter, b"\x1b@\x1bt\x00K\x84se \x1bt\x10\x80 5\n\x1dV\x00")
    [line] = [b for b in result.jobs[0][0] if isinstance(b, TextLine)]
    assert line.text == "Käse € 5"


def test_a_job_cut_off_at_paper_end_does_not_taint_the_next_job() -> None:
    state = PrinterState(offline=True)
    interpreter = EscPosInterpreter(state)
    assert _feed(interpreter, b"\x1b@half a job\n").jobs == []
    state.offline = False
    result = _feed(interpreter, text_job(["next job"]))
    assert result.lost == 1
    [(blocks, _)] = result.jobs
    assert [b.text for b in blocks if isinstance(b, TextLine) and b.text] == ["next job"]
