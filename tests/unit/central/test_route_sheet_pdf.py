"""The driver's route sheet PDF: header, every stop with its pallets, pages, QR code, odd text.

pypdf is not installed, so a small reader below takes fpdf2's output apart: objects, Flate
streams, each page's text-showing operators (core fonts, cp1252) and the QR image's pixels.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import time

import segno

from central.routes_schemas import RouteStatusPublic
from central.web.route_sheet_pdf import render_route_sheet_pdf
from tests.unit.central.route_factories import at, make_route, make_stop, sscc

URL = "https://central.example/driver/routes/17?token=Zm9v-YmFy_0"


def three_stop_route() -> RouteStatusPublic:
    """Stop 1 delivered, stop 2 pending and running late, stop 3 arrived (out of sequence)."""
    return make_route(
        [
            make_stop(
                1,
                state="delivered",
                predicted_eta=None,
                arrived_at=at(8, 5),
                done_at=at(8, 20),
                received_by="J. Kowalski",
            ),
            make_stop(
                2,
                eta=at(9, 0),
                window_earliest=time(8),
                window_latest=time(9, 30),
                predicted_eta=at(9, 42),
                late_by_s=12 * 60,
                instructions="Ring twice; ramp at the back",
            ),
            make_stop(
                3, eta=at(10), predicted_eta=at(10, 3), state="arrived", arrived_at=at(9, 58)
            ),
        ]
    )


def forty_stop_route() -> RouteStatusPublic:
    stops = [
        make_stop(
            n,
            eta=at(8 + n // 6, (n * 7) % 60),
            predicted_eta=None,
            pallets=[sscc(n, p) for p in range(1, 4)],
        )
        for n in range(1, 41)
    ]
    return make_route(stops)


# ----------------------------------------------------------------------------- PDF reader


@dataclass(frozen=True)
class PdfObject:
    head: bytes  # the object's dictionary, without the outer << >>
    stream: bytes | None  # decoded (inflated when Flate) stream data


_OBJ_START = re.compile(rb"(\d+) 0 obj\s*<<")
_STREAM_START = re.compile(rb"\s*stream\r?\n")


def found(pattern: bytes, data: bytes) -> bytes:
    """The first group of `pattern` in `data`, which must be there."""
    match = re.search(pattern, data)
    assert match is not None, pattern
    return match.group(1)


def read_objects(pdf: bytes) -> dict[int, PdfObject]:
    objects: dict[int, PdfObject] = {}
    pos = 0
    while (match := _OBJ_START.search(pdf, pos)) is not None:
        depth, i = 1, match.end()
        while depth:
            if pdf.startswith(b"<<", i):
                depth, i = depth + 1, i + 2
            elif pdf.startswith(b">>", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
        head = pdf[match.end() : i - 2]
        stream = None
        if (start := _STREAM_START.match(pdf, i)) is not None:
            length = int(found(rb"/Length (\d+)", head))
            stream = pdf[start.end() : start.end() + length]
            if b"/FlateDecode" in head:
                stream = zlib.decompress(stream)
            i = start.end() + length
        objects[int(match.group(1))] = PdfObject(head, stream)
        pos = i
    return objects


def ref(head: bytes, key: bytes) -> int:
    return int(found(rb"/" + key + rb" (\d+) 0 R", head))


def pages(objects: dict[int, PdfObject]) -> list[PdfObject]:
    """Page objects in reading order, from the page tree's /Kids."""
    tree = next(o for o in objects.values() if re.search(rb"/Type /Pages\b", o.head))
    kids = found(rb"/Kids \[([^\]]*)\]", tree.head)
    return [objects[int(n)] for n in re.findall(rb"(\d+) 0 R", kids)]


_TEXT_BLOCK = re.compile(rb"\bBT\b(.*?)\bET\b", re.S)
_SHOWN = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj")


def page_text(objects: dict[int, PdfObject], page: PdfObject) -> str:
    """The strings the page's content stream shows, a line per text block (BT ... ET)."""
    content = objects[ref(page.head, b"Contents")].stream
    assert content is not None
    lines = []
    for block in _TEXT_BLOCK.findall(content):
        shown = b"".join(re.sub(rb"\\(.)", rb"\1", s) for s in _SHOWN.findall(block))
        if shown:
            lines.append(shown.decode("cp1252"))
    return "\n".join(lines)


def document_text(pdf: bytes) -> list[str]:
    objects = read_objects(pdf)
    return [page_text(objects, page) for page in pages(objects)]


# ----------------------------------------------------------------------------- tests


def test_sheet_is_a_pdf_with_the_header_and_every_stop() -> None:
    """The header names site, date, vehicle, times, km and load; each stop its customer,
    reference, address, window, ETA, pallets with SSCCs, instructions and the paper boxes."""
    route = three_stop_route()
    pdf = render_route_sheet_pdf(route, driver_url=URL)

    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    (text,) = document_text(pdf)
    for expected in (
        "VAN-07",
        "site WH1 · 2025-06-02",
        "Depart 07:30 UTC · back 15:45 UTC",
        "123.5 km · load 1250 kg, 6 pallets",
        "Page 1/1",
    ):
        assert expected in text
    for stop in route.stops:
        assert f"{stop.sequence}. {stop.customer}" in text
        assert f"Ref {stop.reference}" in text
        assert stop.address in text
        for code in stop.pallets:
            assert code in text
    assert "window 08:00–09:30 · ETA 09:00 · now 09:42 · late by 12 min" in text
    assert "Instructions: Ring twice; ramp at the back" in text
    assert "Delivered 08:20, received by J. Kowalski" in text
    assert text.count("Arrived __:__") == 3
    assert text.count("Signature") == 3


def test_a_predicted_eta_within_five_minutes_is_not_shown() -> None:
    """Stop 3's ETA moved by 3 min only: the sheet shows the planned ETA alone."""
    (text,) = document_text(render_route_sheet_pdf(three_stop_route(), driver_url=URL))

    stop_3 = next(line for line in text.splitlines() if line.startswith("Ref SO-0003"))
    assert stop_3.endswith("ETA 10:00")


def test_forty_stops_run_over_several_pages_without_splitting_a_stop() -> None:
    """Every stop and SSCC is printed; each stop's lines and boxes sit on one page."""
    route = forty_stop_route()
    texts = document_text(render_route_sheet_pdf(route, driver_url=URL))

    assert len(texts) > 1
    assert [t.splitlines()[-1] for t in texts] == [
        f"Page {n}/{len(texts)}" for n in range(1, len(texts) + 1)
    ]
    for stop in route.stops:
        pages_with_stop = [
            i for i, t in enumerate(texts) if f"{stop.sequence}. {stop.customer}\n" in t
        ]
        assert len(pages_with_stop) == 1, stop.sequence
        page = texts[pages_with_stop[0]]
        after = page.split(f"{stop.sequence}. {stop.customer}\n", 1)[1]
        for code in stop.pallets:
            assert code in after
        assert "Arrived __:__" in after


def test_text_outside_the_core_fonts_is_spelt_in_latin_letters() -> None:
    """Polish, German and Cyrillic names print (as near as Windows-1252 allows), not crash."""
    route = make_route(
        [
            make_stop(1, customer="Łódź Müller", address="ul. Żółkiewskiego 5, Gdańsk"),
            make_stop(2, customer="Иван — Café", instructions="Gate code 12\u200b34"),
        ]
    )
    (text,) = document_text(render_route_sheet_pdf(route, driver_url=URL))

    assert "1. Lódz Müller" in text
    assert "ul. Zólkiewskiego 5, Gdansk" in text
    assert "2. ???? — Café" in text
    assert "Gate code 12?34" in text


def test_qr_code_holds_the_driver_url() -> None:
    """The one image on the sheet has exactly segno's modules for the driver URL (dark where
    segno's QR has a dark module, inside a 4-module light quiet zone)."""
    pdf = render_route_sheet_pdf(three_stop_route(), driver_url=URL)
    images = [o for o in read_objects(pdf).values() if b"/Subtype /Image" in o.head]

    assert len(images) == 1
    assert pixels(images[0]) == qr_modules(URL)
    assert pixels(images[0]) != qr_modules(URL.replace("17", "18"))


def pixels(image: PdfObject) -> list[list[int]]:
    """1 where the page shows a dark pixel: 1-bit DeviceGray (0 = black), PNG predictor rows."""
    head = image.head
    assert b"/ColorSpace /DeviceGray" in head and b"/BitsPerComponent 1" in head
    width = int(found(rb"/Width (\d+)", head))
    height = int(found(rb"/Height (\d+)", head))
    row_bytes = (width + 7) // 8
    data = image.stream
    assert data is not None and len(data) == height * (row_bytes + 1)
    rows = []
    for y in range(height):
        row = data[y * (row_bytes + 1) : (y + 1) * (row_bytes + 1)]
        assert row[0] == 0, "only the PNG 'None' row filter is decoded here"
        bits = [(row[1 + x // 8] >> (7 - x % 8)) & 1 for x in range(width)]
        rows.append([1 - bit for bit in bits])
    return rows


def qr_modules(url: str, border: int = 4) -> list[list[int]]:
    matrix = segno.make_qr(url, error="m").matrix
    size = len(matrix) + 2 * border
    blank = [0] * size
    return (
        [blank] * border
        + [[0] * border + [int(bool(m)) for m in row] + [0] * border for row in matrix]
        + [blank] * border
    )
