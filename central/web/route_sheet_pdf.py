"""The driver's route sheet as an A4 PDF: the route's header with a QR code of the driver page,
then each stop in delivery order with boxes to fill in by hand when the phone is no help.

Text is set in the PDF core fonts (Helvetica, Courier): nothing to embed, the same on every
system, and extractable. They cover Windows-1252 only, so other characters are spelt with
their Latin base letter ("Łódź" → "Lódz") or "?" rather than failing the whole sheet.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass, replace

import segno
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

from central.routes_schemas import RouteStatusPublic, StopStatusPublic
from central.web.route_format import (
    changed_eta,
    clock,
    in_sequence,
    late_minutes,
    quantity,
    state_label,
    window,
)

logger = logging.getLogger(__name__)

_ENCODING = "cp1252"  # what fpdf2 declares for core fonts (WinAnsiEncoding)
# Letters NFKD does not take apart into a Latin base letter and accents.
_LATIN_FALLBACK = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŧ": "T", "ŧ": "t"}
)

_MARGIN = 12.0  # mm
_QR_SIZE = 34.0  # mm: scans easily from a phone held at arm's length
_BOX_HEIGHT = 13.0  # mm: room for a handwritten time, name and signature
_FOOTER_ROOM = 15.0  # mm kept free at the bottom of each page


@dataclass(frozen=True)
class _Line:
    """A paragraph of a stop's block, wrapped to the page width."""

    text: str
    family: str = "helvetica"
    style: str = ""
    size: float = 10.0
    height: float = 5.0


def _pdf_text(text: str) -> str:
    """`text` with each character the core fonts cannot print replaced by its Latin base
    letter, else by "?"; line breaks are kept for multi_cell."""
    out: list[str] = []
    for char in text.translate(_LATIN_FALLBACK):
        if char == "\n" or _printable(char):
            out.append(char)
            continue
        base = "".join(
            part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
        )
        out.append(base if base and all(_printable(part) for part in base) else "?")
    return "".join(out)


def _printable(char: str) -> bool:
    if unicodedata.category(char) == "Cc":
        return False
    try:
        char.encode(_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class _RouteSheet(FPDF):
    """An A4 page set with the route named and the page numbered at the foot of every page."""

    def __init__(self, route: RouteStatusPublic) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = _pdf_text(
            f"Route {route.route_id} · {route.vehicle_ref} · {route.date.isoformat()}"
        )
        self.core_fonts_encoding = _ENCODING
        # fpdf2 stores 1-bit images as CCITT only where Pillow has libtiff: Flate everywhere
        # keeps the sheet the same on every system.
        self.set_image_filter("FlateDecode")
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_FOOTER_ROOM)
        self.set_title(self.footer_text)
        self.set_creator("wms-edge")

    def footer(self) -> None:
        """Route, vehicle, date and page number, so loose pages find their route again."""
        self.set_y(-_FOOTER_ROOM + 4)
        self.set_font("helvetica", size=8)
        self.cell(self.epw / 2, 5, self.footer_text, align="L")
        self.cell(self.epw / 2, 5, f"Page {self.page_no()}/{{nb}}", align="R")


def render_route_sheet_pdf(route: RouteStatusPublic, *, driver_url: str) -> bytes:
    """The route's driver sheet as PDF bytes; the QR code opens `driver_url`."""
    pdf = _RouteSheet(route)
    pdf.add_page()
    _header(pdf, route, driver_url)
    for stop in in_sequence(route):
        _stop(pdf, route, stop)
    data = bytes(pdf.output())
    logger.debug(
        "route sheet of route %d: %d stops on %d pages",
        route.route_id,
        len(route.stops),
        pdf.pages_count,
    )
    return data


def _header(pdf: FPDF, route: RouteStatusPublic, driver_url: str) -> None:
    qr_x = pdf.w - _MARGIN - _QR_SIZE
    top = pdf.get_y()
    pdf.image(_qr_png(driver_url), x=qr_x, y=top, w=_QR_SIZE, h=_QR_SIZE)
    pdf.set_xy(qr_x, top + _QR_SIZE)
    pdf.set_font("helvetica", size=7)
    pdf.cell(_QR_SIZE, 4, "Scan: driver page", align="C")

    text_width = qr_x - _MARGIN - 4
    pdf.set_xy(_MARGIN, top)
    pdf.set_font("helvetica", style="B", size=18)
    pdf.multi_cell(
        text_width, 9, _pdf_text(route.vehicle_ref), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font("helvetica", size=11)
    rows = [
        f"Route sheet · site {route.site} · {route.date.isoformat()}",
        f"Route {route.route_id} (plan {route.plan_id}) · {len(route.stops)} stops"
        + ("" if route.state == "planned" else f" · {state_label(route.state)}"),
        f"Depart {clock(route.start_at, day=route.date)} UTC · "
        f"back {clock(route.end_at, day=route.date)} UTC",
        f"{quantity(route.km)} km · load {quantity(route.load_kg)} kg, "
        f"{route.load_pallets} pallets",
        "All times UTC.",
    ]
    for row in rows:
        pdf.multi_cell(
            text_width, 6, _pdf_text(row), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.set_y(max(pdf.get_y(), top + _QR_SIZE + 5) + 2)
    _rule(pdf)


def _qr_png(url: str) -> io.BytesIO:
    # A full QR symbol, never Micro QR (which segno.make picks for short data): not every
    # phone reads Micro QR. One pixel per module; the PDF scales it without smoothing.
    png = io.BytesIO()
    segno.make_qr(url, error="m").save(png, kind="png", scale=1, border=4)
    png.seek(0)
    return png


def _stop(pdf: FPDF, route: RouteStatusPublic, stop: StopStatusPublic) -> None:
    lines = _stop_lines(route, stop)
    block = sum(_height(pdf, line) for line in lines) + _BOX_HEIGHT + 6
    # A stop's lines and its boxes stay on one page, so the driver never turns a page mid-stop
    # (unless one stop fills more than a page).
    if pdf.will_page_break(block) and pdf.get_y() > pdf.t_margin:
        pdf.add_page()
    for line in lines:
        _font(pdf, line)
        pdf.multi_cell(
            pdf.epw, line.height, line.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(1)
    _boxes(pdf)
    pdf.ln(3)
    _rule(pdf)


def _stop_lines(route: RouteStatusPublic, stop: StopStatusPublic) -> list[_Line]:
    timing = f"Ref {stop.reference} · window {window(stop.window_earliest, stop.window_latest)}"
    timing += f" · ETA {clock(stop.eta, day=route.date)}"
    moved = changed_eta(stop)
    if moved is not None:
        timing += f" · now {clock(moved, day=route.date)}"
    late = late_minutes(stop)
    if late:
        timing += f" · late by {late} min"
    lines = [
        _Line(f"{stop.sequence}. {stop.customer}", style="B", size=12, height=6),
        _Line(timing),
    ]
    if stop.address:
        lines.append(_Line(stop.address))
    lines.append(_Line(f"{stop.demand_pallets} pallets · {quantity(stop.demand_kg)} kg"))
    if stop.pallets:
        lines.append(_Line("SSCC " + "  ".join(stop.pallets), family="courier", size=9, height=4))
    if stop.instructions:
        lines.append(_Line(f"Instructions: {stop.instructions}", style="I"))
    done = _done(route, stop)
    if done:
        lines.append(_Line(done, style="B"))
    return [replace(line, text=_pdf_text(line.text)) for line in lines]


def _done(route: RouteStatusPublic, stop: StopStatusPublic) -> str:
    """What already happened at the stop when the sheet is printed again on the way."""
    if stop.state == "pending":
        return ""
    when = stop.done_at or stop.arrived_at
    text = state_label(stop.state) + ("" if when is None else f" {clock(when, day=route.date)}")
    if stop.state == "delivered" and stop.received_by:
        text += f", received by {stop.received_by}"
    if stop.state == "failed" and stop.failed_reason:
        text += f": {stop.failed_reason}"
    return text


def _boxes(pdf: FPDF) -> None:
    """Empty boxes for arrival time, the receiver's name and signature: the paper fallback."""
    top = pdf.get_y()
    x = pdf.l_margin
    for label, width in (
        ("Arrived __:__", 40.0),
        ("Received by (name)", 70.0),
        ("Signature", pdf.epw - 110.0),
    ):
        pdf.rect(x, top, width, _BOX_HEIGHT)
        pdf.set_xy(x + 1, top + 1)
        pdf.set_font("helvetica", size=8)
        pdf.cell(width - 2, 4, label)
        x += width
    pdf.set_xy(pdf.l_margin, top + _BOX_HEIGHT)


def _rule(pdf: FPDF) -> None:
    y = pdf.get_y()
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.ln(2)


def _font(pdf: FPDF, line: _Line) -> None:
    pdf.set_font(line.family, style=line.style, size=line.size)


def _height(pdf: FPDF, line: _Line) -> float:
    _font(pdf, line)
    wrapped = pdf.multi_cell(
        pdf.epw, line.height, line.text, align="L", dry_run=True, output=MethodReturnValue.LINES
    )
    assert isinstance(wrapped, list)
    return len(wrapped) * line.height
