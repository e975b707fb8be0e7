"""A simulated ESC/POS label printer on a pty or TCP link.

`EscPosInterpreter` turns the byte stream into printed jobs (a job ends at a cut) and answers
the real-time status queries DLE EOT 1-4 from the printer's state. `SimEscPosPrinter` runs it
in a background thread on a `firmware_sim.links` link, keeps every job, writes `job-0001.txt`
and `job-0001.png` per job, and offers fault modes (paper end, cover open, offline...). While
it cannot print, job bytes are thrown away, as a real printer loses them; the status replies
say why, so a careful host notices.

The parser is incremental (commands may be split across reads) and never raises on garbage:
unknown ESC/GS sequences are logged and skipped, and a command left incomplete for
`stale_after_s` is dropped so the printer does not hang on a garbled length.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Self

from barcode.charsets import code128  # type: ignore[import-untyped]

from firmware_sim.links import Link
from firmware_sim.render import (
    Align,
    Block,
    PrintedBarcode,
    PrintedQr,
    PrintedRaster,
    TextLine,
    pybarcode_modules,
    render_png,
    render_text,
)

logger = logging.getLogger(__name__)

ESC, GS, DLE = 0x1B, 0x1D, 0x10
LF, CR, HT, FF = 0x0A, 0x0D, 0x09, 0x0C

# Character code tables of the simulated model (TM-T88V ROM), ESC t n -> Python codec.
_CODE_PAGES = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    32: "cp720",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    36: "cp862",
    37: "cp864",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    49: "cp1255",
    50: "cp1256",
    51: "cp1257",
    52: "cp1258",
}

# ESC commands with a fixed number of parameter bytes that change nothing we draw.
_ESC_FIXED = {
    0x20: 1,  # ESC SP n: right-side character spacing
    0x2D: 1,  # ESC - n: underline
    0x32: 0,  # ESC 2: default line spacing
    0x33: 1,  # ESC 3 n: line spacing
    0x3C: 0,  # ESC <: return home
    0x3D: 1,  # ESC = n: select peripheral device
    0x3F: 1,  # ESC ? n: cancel user-defined character
    0x24: 2,  # ESC $ nL nH: absolute position
    0x5C: 2,  # ESC \ nL nH: relative position
    0x25: 1,  # ESC % n: user-defined character set
    0x47: 1,  # ESC G n: double strike
    0x4A: 1,  # ESC J n: feed n dots
    0x4B: 1,  # ESC K n: reverse feed
    0x4C: 0,  # ESC L: page mode
    0x4D: 1,  # ESC M n: font
    0x52: 1,  # ESC R n: international character set
    0x53: 0,  # ESC S: standard mode
    0x54: 1,  # ESC T n: print direction in page mode
    0x55: 1,  # ESC U n: unidirectional printing
    0x56: 1,  # ESC V n: 90 degree rotation
    0x57: 8,  # ESC W: print area in page mode
    0x63: 2,  # ESC c x n: paper sensors, panel buttons
    0x65: 1,  # ESC e n: reverse feed lines
    0x69: 0,  # ESC i: partial cut (older models)
    0x6D: 0,  # ESC m: partial cut (older models)
    0x70: 3,  # ESC p m t1 t2: drawer kick
    0x72: 1,  # ESC r n: colour
    0x74: 1,  # ESC t n: code page (handled, listed for the length)
    0x75: 1,  # ESC u n: drawer status
    0x76: 0,  # ESC v: paper sensor status
    0x7B: 1,  # ESC { n: upside-down
    0x42: 2,  # ESC B n t: buzzer
}

# GS commands with a fixed number of parameter bytes that change nothing we draw.
_GS_FIXED = {
    0x2F: 1,  # GS / m: print downloaded bit image
    0x3A: 0,  # GS :: macro definition
    0x42: 1,  # GS B n: reverse printing
    0x49: 1,  # GS I n: printer ID
    0x4C: 2,  # GS L nL nH: left margin
    0x50: 2,  # GS P x y: motion units
    0x57: 2,  # GS W nL nH: print area width
    0x5E: 3,  # GS ^ r t m: execute macro
    0x61: 1,  # GS a n: automatic status back
    0x62: 1,  # GS b n: smoothing
    0x63: 0,  # GS c: counter
    0x72: 1,  # GS r n: transmit status
    0x24: 2,  # GS $: absolute vertical position
    0x5C: 2,  # GS \: relative vertical position
}

_MAX_RASTER_WIDTH_BYTES = 256
_MAX_RASTER_HEIGHT = 8192
_MAX_QR_DATA = 7089 + 3
_QR_EC_LEVELS = {0x30: "L", 0x31: "M", 0x32: "Q", 0x33: "H"}

# Code 128 symbol values (ISO/IEC 15417).
_C128_START = {ord("A"): 103, ord("B"): 104, ord("C"): 105}
_C128_SWITCH = {ord("A"): 101, ord("B"): 100, ord("C"): 99}
_C128_FNC1 = 102
_C128_SHIFT = 98
_C128_STOP: str = code128.STOP + "11"


class _Incomplete(Exception):
    """More bytes are needed to finish the command at the head of the buffer."""


class _InvalidCode128(ValueError):
    """GS k CODE128 data that a printer would refuse to print."""


@dataclass(frozen=True)
class PrintedJob:
    """One job as it came out of the printer (everything up to a cut)."""

    number: int
    blocks: tuple[Block, ...]
    raw: bytes
    text: str

    @property
    def lines(self) -> list[str]:
        """The text lines, as printed (without alignment padding)."""
        return [b.text for b in self.blocks if isinstance(b, TextLine)]

    @property
    def barcodes(self) -> list[PrintedBarcode]:
        """The 1D barcodes, in print order."""
        return [b for b in self.blocks if isinstance(b, PrintedBarcode)]

    @property
    def qr_payloads(self) -> list[str]:
        """The content of each QR code, in print order."""
        return [b.payload for b in self.blocks if isinstance(b, PrintedQr)]


@dataclass
class PrinterState:
    """The mechanism's state, which fault modes change and DLE EOT reports."""

    offline: bool = False
    cover_open: bool = False
    paper_near_end: bool = False
    paper_end: bool = False
    cutter_error: bool = False

    @property
    def can_print(self) -> bool:
        """False while paper-end, cover open, offline or in error: jobs are lost."""
        return not (self.offline or self.cover_open or self.paper_end or self.cutter_error)

    def status_byte(self, n: int) -> int:
        """The answer to DLE EOT n (n = 1..4) per the Epson bit assignments."""
        value = 0x12
        if n == 1:
            value |= 0x08 if not self.can_print else 0
        elif n == 2:
            value |= 0x04 if self.cover_open else 0
            value |= 0x20 if self.paper_end else 0
            value |= 0x40 if self.cutter_error else 0
        elif n == 3:
            value |= 0x08 if self.cutter_error else 0
        elif n == 4:
            value |= 0x0C if self.paper_near_end or self.paper_end else 0
            value |= 0x60 if self.paper_end else 0
        return value


@dataclass
class _Style:
    align: Align = "left"
    bold: bool = False
    width: int = 1
    height: int = 1
    code_page: int = 0
    hri_position: int = 0
    barcode_height: int = 162
    barcode_module_dots: int = 3
    qr_module_dots: int = 3
    qr_ec: str = "L"


@dataclass
class FeedResult:
    """What one `feed` produced: bytes to send back, jobs finished, jobs lost."""

    reply: bytearray = field(default_factory=bytearray)
    jobs: list[tuple[list[Block], bytes]] = field(default_factory=list)
    lost: int = 0


def _code128(data: bytes) -> tuple[list[int], str]:
    """Epson GS k CODE128 data ({A/{B/{C, {1 FNC1, {S shift, {{) -> symbol values and text."""
    if len(data) < 2 or data[0] != ord("{") or data[1] not in _C128_START:
        raise _InvalidCode128("data must start with {A, {B or {C")
    code_set = data[1]
    values = [_C128_START[code_set]]
    text: list[str] = []
    shift = False
    i = 2
    while i < len(data):
        byte = data[i]
        active = (ord("B") if code_set == ord("A") else ord("A")) if shift else code_set
        if byte == ord("{"):
            if i + 1 >= len(data):
                raise _InvalidCode128("data ends inside a { escape")
            esc = data[i + 1]
            i += 2
            if esc in _C128_SWITCH:
                values.append(_C128_SWITCH[esc])
                code_set = esc
            elif esc == ord("1"):
                values.append(_C128_FNC1)
                if len(values) > 2:
                    text.append("\x1d")
            elif esc == ord("S") and code_set != ord("C"):
                values.append(_C128_SHIFT)
                shift = True
                continue
            elif esc == ord("{") and active == ord("B"):
                values.append(ord("{") - 32)
                text.append("{")
            else:
                raise _InvalidCode128(f"unknown escape {{{chr(esc)!r}")
            shift = False
            continue
        if active == ord("C"):
            if byte > 99:
                raise _InvalidCode128(f"code set C value {byte} is above 99")
            values.append(byte)
            text.append(f"{byte:02d}")
        elif active == ord("A"):
            if byte > 0x5F:
                raise _InvalidCode128(f"byte 0x{byte:02x} is not in code set A")
            values.append(byte + 64 if byte < 0x20 else byte - 32)
            text.append(chr(byte))
        else:
            if not 0x20 <= byte <= 0x7F:
                raise _InvalidCode128(f"byte 0x{byte:02x} is not in code set B")
            values.append(byte - 32)
            text.append(chr(byte))
        shift = False
        i += 1
    if len(values) < 2:
        raise _InvalidCode128("no data")
    return values, "".join(text)


def code128_modules(values: list[int]) -> str:
    """The bar pattern of Code 128 symbol values (start..data), adding check and stop."""
    check = (values[0] + sum(pos * v for pos, v in enumerate(values[1:], start=1))) % 103
    bars: list[str] = [code128.CODES[v] for v in [*values, check]]
    return "".join(bars) + _C128_STOP


_FUNCTION_A = {0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "NW7"}
_FUNCTION_B = {
    65: "UPC-A",
    66: "UPC-E",
    67: "EAN13",
    68: "EAN8",
    69: "CODE39",
    70: "ITF",
    71: "NW7",
    72: "CODE93",
    73: "CODE128",
    74: "GS1-128",
    75: "GS1 DATABAR OMNIDIRECTIONAL",
    76: "GS1 DATABAR TRUNCATED",
    77: "GS1 DATABAR LIMITED",
    78: "GS1 DATABAR EXPANDED",
}


class EscPosInterpreter:
    """ESC/POS bytes in; printed jobs, status replies and lost-job counts out. No I/O."""

    def __init__(self, state: PrinterState, *, stale_after_s: float = 1.0) -> None:
        """Interpret against `state`, which the owner may change between feeds."""
        self.state = state
        self.stale_after_s = stale_after_s
        self.unknown_commands = 0
        self.paper_left: int | None = None
        self._buffer = bytearray()
        self._last_input = 0.0
        self._style = _Style()
        self._blocks: list[Block] = []
        self._line: list[str] = []
        self._line_style = _Style()
        self._job_raw = bytearray()
        self._job_lost = False
        self._cut_pending = False
        self._qr_data = b""
        self._result = FeedResult()

    @property
    def pending(self) -> int:
        """Bytes received but not yet interpreted (an incomplete command)."""
        return len(self._buffer)

    def feed(self, data: bytes, *, now: float) -> FeedResult:
        """Interpret `data` (any bytes); `now` is a monotonic time for stale-command detection."""
        self._result = FeedResult()
        if data:
            self._buffer += data
            self._last_input = now
        elif self._buffer and now - self._last_input >= self.stale_after_s:
            logger.warning(
                "dropping incomplete command after %.1f s of silence: %s",
                now - self._last_input,
                bytes(self._buffer[:16]).hex(" "),
            )
            self.unknown_commands += 1
            self._consume(1)
            self._last_input = now
        while self._buffer:
            try:
                used = self._command(self._buffer)
            except _Incomplete:
                break
            self._consume(used)
        return self._result

    def _consume(self, used: int) -> None:
        chunk = bytes(self._buffer[:used])
        del self._buffer[:used]
        # Real-time queries are not part of the job; everything else is.
        if not (chunk[:2] == b"\x10\x04" and len(chunk) == 3):
            self._job_raw += chunk
            if self.paper_left is not None:
                self.paper_left -= len(chunk)
                if self.paper_left <= 0:
                    logger.info("simulated printer ran out of paper during a job")
                    self.state.paper_end = True
                    self.paper_left = None
        if self._cut_pending:
            self._cut_pending = False
            self._finish_job()

    def _printing(self) -> bool:
        """Whether the mechanism prints now; marks the current job lost if it cannot."""
        if not self.state.can_print:
            self._job_lost = True
        return not self._job_lost

    @staticmethod
    def _need(buf: bytearray, size: int) -> None:
        if len(buf) < size:
            raise _Incomplete

    def _unknown(self, buf: bytearray, size: int, what: str) -> int:
        self.unknown_commands += 1
        logger.info(
            "skipping unknown ESC/POS command %s: %s", what, bytes(buf[: min(size, 16)]).hex(" ")
        )
        return size

    def _command(self, buf: bytearray) -> int:
        head = buf[0]
        if head == DLE:
            return self._dle(buf)
        if head == ESC:
            return self._esc(buf)
        if head == GS:
            return self._gs(buf)
        if head == LF:
            self._end_line()
            return 1
        if head == FF:
            self._end_line()
            return 1
        if head == HT:
            self._text("    ")
            return 1
        if head in (CR, 0x00, 0x18):
            return 1
        if head < 0x20:
            return self._unknown(buf, 1, f"control 0x{head:02x}")
        end = 1
        while end < len(buf) and buf[end] >= 0x20:
            end += 1
        self._text(self._decode(bytes(buf[:end]), self._style.code_page))
        return end

    def _text(self, text: str) -> None:
        if not self._line:
            self._line_style = replace(self._style)
        self._line.append(text)

    def _dle(self, buf: bytearray) -> int:
        self._need(buf, 2)
        if buf[1] == 0x04:
            self._need(buf, 3)
            n = buf[2]
            if 1 <= n <= 4:
                self._result.reply.append(self.state.status_byte(n))
                return 3
            return self._unknown(buf, 3, f"DLE EOT {n}")
        if buf[1] == 0x05:  # DLE ENQ n: real-time request to recover
            self._need(buf, 3)
            return 3
        if buf[1] == 0x14:  # DLE DC4 fn ...: real-time pulse / power-off / clear buffer
            self._need(buf, 3)
            size = 5 if buf[2] in (1, 2, 8) else 3
            self._need(buf, size)
            return self._unknown(buf, size, "DLE DC4")
        return self._unknown(buf, 1, "DLE")

    def _esc(self, buf: bytearray) -> int:
        self._need(buf, 2)
        cmd = buf[1]
        if cmd == ord("@"):
            self._end_line(only_if_text=True)
            self._style = _Style()
            if self._job_lost and self.state.can_print:
                # The rest of a job lost at paper end never gets its cut; a new job starts here.
                self._result.lost += 1
                self._job_lost = False
                self._blocks.clear()
                self._job_raw.clear()
            return 2
        if cmd in (ord("a"), ord("E"), ord("!"), ord("d"), ord("t")):
            self._need(buf, 3)
            n = buf[2]
            if cmd == ord("a"):
                self._style.align = ("left", "center", "right")[n % 48 if n % 48 < 3 else 0]
            elif cmd == ord("E"):
                self._style.bold = bool(n & 1)
            elif cmd == ord("!"):
                self._style.bold = bool(n & 0x08)
                self._style.height = 2 if n & 0x10 else 1
                self._style.width = 2 if n & 0x20 else 1
            elif cmd == ord("d"):
                self._end_line(only_if_text=True)
                for _ in range(n):
                    self._add(TextLine(""))
            else:
                self._style.code_page = n
            return 3
        if cmd == ord("*"):  # ESC * m nL nH d: bit image, 1 or 3 bytes per column
            self._need(buf, 5)
            columns = buf[3] + 256 * buf[4]
            if buf[2] not in (0, 1, 32, 33):
                return self._unknown(buf, 2, "ESC * with a bad mode")
            size = 5 + columns * (3 if buf[2] >= 32 else 1)
            self._need(buf, size)
            return self._unknown(buf, size, "ESC * bit image (not drawn)")
        if cmd == ord("D"):  # ESC D n1..nk NUL: tab stops
            end = buf.find(b"\x00", 2)
            if end < 0:
                if len(buf) > 2 + 32:
                    return self._unknown(buf, 2, "ESC D without NUL")
                raise _Incomplete
            return end + 1
        if cmd == ord("&"):  # ESC & y c1 c2 data: user-defined characters; not drawn
            return self._unknown(buf, 2, "ESC &")
        if cmd in _ESC_FIXED:
            size = 2 + _ESC_FIXED[cmd]
            self._need(buf, size)
            return size
        return self._unknown(buf, 2, f"ESC 0x{cmd:02x}")

    def _gs(self, buf: bytearray) -> int:
        self._need(buf, 2)
        cmd = buf[1]
        if cmd == ord("!"):
            self._need(buf, 3)
            self._style.width = (buf[2] >> 4 & 0x07) + 1
            self._style.height = (buf[2] & 0x07) + 1
            return 3
        if cmd in (ord("H"), ord("f"), ord("h"), ord("w")):
            self._need(buf, 3)
            n = buf[2]
            if cmd == ord("H"):
                self._style.hri_position = n % 48 if n % 48 <= 3 else 0
            elif cmd == ord("h") and n >= 1:
                self._style.barcode_height = n
            elif cmd == ord("w") and 1 <= n <= 6:
                self._style.barcode_module_dots = n
            return 3
        if cmd == ord("V"):
            self._need(buf, 3)
            size = 4 if buf[2] in (65, 66, 97, 98, 103, 104) else 3
            self._need(buf, size)
            self._cut()
            return size
        if cmd == ord("k"):
            return self._barcode(buf)
        if cmd == ord("("):
            return self._gs_paren(buf)
        if cmd == ord("v"):
            return self._raster(buf)
        if cmd == ord("*"):  # GS * x y d: define downloaded bit image (x*y*8 bytes)
            self._need(buf, 4)
            size = 4 + buf[2] * buf[3] * 8
            self._need(buf, size)
            return size
        if cmd in _GS_FIXED:
            size = 2 + _GS_FIXED[cmd]
            self._need(buf, size)
            return size
        return self._unknown(buf, 2, f"GS 0x{cmd:02x}")

    def _barcode(self, buf: bytearray) -> int:
        self._need(buf, 3)
        m = buf[2]
        if m in _FUNCTION_A:
            end = buf.find(b"\x00", 3)
            if end < 0:
                if len(buf) > 3 + 255:
                    return self._unknown(buf, 3, "GS k function A without NUL")
                raise _Incomplete
            data, size, symbology = bytes(buf[3:end]), end + 1, _FUNCTION_A[m]
        elif m in _FUNCTION_B:
            self._need(buf, 4)
            size = 4 + buf[3]
            self._need(buf, size)
            data, symbology = bytes(buf[4:size]), _FUNCTION_B[m]
        else:
            return self._unknown(buf, 3, f"GS k {m}")
        self._end_line(only_if_text=True)
        if self._printing():
            barcode = self._make_barcode(symbology, data)
            if barcode is not None:
                self._add(barcode)
        return size

    def _make_barcode(self, symbology: str, data: bytes) -> PrintedBarcode | None:
        style = self._style
        gs1 = False
        if symbology in ("CODE128", "GS1-128"):
            try:
                values, text = _code128(data)
            except _InvalidCode128 as err:
                # A printer prints nothing for data it cannot encode.
                logger.warning("barcode %s not printed: %s", symbology, err)
                return None
            if symbology == "GS1-128" and values[1] != _C128_FNC1:
                # (verify) Epson inserts the leading FNC1 itself for GS1-128.
                values.insert(1, _C128_FNC1)
            gs1 = values[1] == _C128_FNC1
            modules: str | None = code128_modules(values)
        else:
            text = data.decode("ascii", errors="replace")
            modules = pybarcode_modules(symbology, text)
        return PrintedBarcode(
            symbology=symbology,
            data=text,
            gs1=gs1,
            modules=modules,
            hri_position=style.hri_position,
            height=style.barcode_height,
            module_dots=style.barcode_module_dots,
            align=style.align,
        )

    def _gs_paren(self, buf: bytearray) -> int:
        self._need(buf, 5)
        fn_group = buf[2]
        length = buf[3] + 256 * buf[4]
        if fn_group == ord("k") and length > _MAX_QR_DATA:
            return self._unknown(buf, 2, "GS ( k with an impossible length")
        size = 5 + length
        self._need(buf, size)
        body = bytes(buf[5:size])
        if fn_group == ord("k") and len(body) >= 2 and body[0] == 0x31:
            self._qr(body[1], body[2:])
            return size
        return self._unknown(buf, size, f"GS ( {chr(fn_group)!r}")

    def _qr(self, fn: int, args: bytes) -> None:
        if fn == 0x43 and args:
            self._style.qr_module_dots = max(1, min(args[0], 16))
        elif fn == 0x45 and args:
            self._style.qr_ec = _QR_EC_LEVELS.get(args[0], "L")
        elif fn == 0x50 and args[:1] == b"0":
            self._qr_data = args[1:]
        elif fn == 0x51:
            self._end_line(only_if_text=True)
            if self._printing() and self._qr_data:
                self._add(
                    PrintedQr(
                        payload=self._qr_data.decode("utf-8", errors="replace"),
                        module_dots=self._style.qr_module_dots,
                        ec=self._style.qr_ec,
                        align=self._style.align,
                    )
                )

    def _raster(self, buf: bytearray) -> int:
        self._need(buf, 8)
        if buf[2] != ord("0"):
            return self._unknown(buf, 2, "GS v")
        width = buf[4] + 256 * buf[5]
        height = buf[6] + 256 * buf[7]
        if not 0 < width <= _MAX_RASTER_WIDTH_BYTES or not 0 < height <= _MAX_RASTER_HEIGHT:
            return self._unknown(buf, 3, "GS v 0 with an impossible size")
        size = 8 + width * height
        self._need(buf, size)
        self._end_line(only_if_text=True)
        if self._printing():
            self._add(PrintedRaster(width, height, bytes(buf[8:size]), self._style.align))
        return size

    def _decode(self, raw: bytes, code_page: int) -> str:
        codec = _CODE_PAGES.get(code_page, "cp437")
        return codecs.decode(raw, codec, errors="replace")

    def _end_line(self, *, only_if_text: bool = False) -> None:
        if only_if_text and not self._line:
            return
        style = self._line_style if self._line else self._style
        text = "".join(self._line)
        self._line.clear()
        self._add(TextLine(text, style.align, style.bold, style.width, style.height))

    def _add(self, block: Block) -> None:
        if self._printing():
            self._blocks.append(block)

    def _cut(self) -> None:
        self._end_line(only_if_text=True)
        self._printing()
        # The job ends once the cut command itself is consumed, so its raw bytes include it.
        self._cut_pending = True

    def _finish_job(self) -> None:
        raw = bytes(self._job_raw)
        blocks, self._blocks = self._blocks, []
        lost, self._job_lost = self._job_lost, False
        self._job_raw.clear()
        if lost:
            self._result.lost += 1
        else:
            self._result.jobs.append((blocks, raw))


def _reset(state: PrinterState) -> None:
    state.offline = state.cover_open = state.paper_end = False
    state.paper_near_end = state.cutter_error = False


class SimEscPosPrinter:
    """A simulated ESC/POS printer answering on `link` from a background thread.

    Args:
        link: The device end of a pty or TCP link (the edge opens `link.device_url`).
        out_dir: Where `job-0001.txt` / `job-0001.png` are written, one pair per job.
        render_png: Set False to skip drawing PNGs (load tests).
    """

    def __init__(self, link: Link, *, out_dir: Path, render_png: bool = True) -> None:
        self._link = link
        self.out_dir = out_dir
        self._render_png = render_png
        out_dir.mkdir(parents=True, exist_ok=True)
        self._state = PrinterState()
        self._interpreter = EscPosInterpreter(self._state)
        self._lock = threading.Condition()
        self._jobs: list[PrintedJob] = []
        self._lost_jobs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sim-printer-{link.device_url}", daemon=True
        )
        self._thread.start()

    @property
    def jobs(self) -> list[PrintedJob]:
        """Every job printed so far, oldest first."""
        with self._lock:
            return list(self._jobs)

    @property
    def lost_jobs(self) -> int:
        """Jobs received while the printer could not print (discarded)."""
        with self._lock:
            return self._lost_jobs

    @property
    def unknown_commands(self) -> int:
        """Commands skipped because the printer did not understand them."""
        with self._lock:
            return self._interpreter.unknown_commands

    @property
    def state(self) -> PrinterState:
        """A copy of the mechanism's state."""
        with self._lock:
            return replace(self._state)

    def wait_for_jobs(self, count: int, timeout: float) -> bool:
        """Block until at least `count` jobs were printed; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._jobs) >= count, timeout)

    def wait_for_lost(self, count: int, timeout: float) -> bool:
        """Block until at least `count` jobs were lost; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._lost_jobs >= count, timeout)

    def _change(self, what: str, change: Callable[[PrinterState], None]) -> None:
        with self._lock:
            change(self._state)
        logger.info("simulated printer: %s", what)

    def paper_end(self) -> None:
        """The roll runs out: offline, jobs lost until `recover`."""
        self._change("paper end", lambda s: setattr(s, "paper_end", True))

    def paper_near_end(self) -> None:
        """The roll is nearly empty: still prints, status says so."""
        self._change("paper near end", lambda s: setattr(s, "paper_near_end", True))

    def cover_open(self) -> None:
        """The cover is opened: offline, jobs lost until `recover`."""
        self._change("cover open", lambda s: setattr(s, "cover_open", True))

    def go_offline(self) -> None:
        """The printer goes offline (e.g. the feed button is held)."""
        self._change("offline", lambda s: setattr(s, "offline", True))

    def cutter_error(self) -> None:
        """The autocutter jams: an error, jobs lost until `recover`."""
        self._change("cutter error", lambda s: setattr(s, "cutter_error", True))

    def paper_runs_out_after(self, job_bytes: int) -> None:
        """The paper ends once `job_bytes` more bytes of job data have been processed."""
        with self._lock:
            self._interpreter.paper_left = job_bytes
        logger.info("simulated printer: paper runs out after %d bytes", job_bytes)

    def recover(self) -> None:
        """New paper loaded, cover closed, errors cleared, back online."""
        with self._lock:
            self._interpreter.paper_left = None
        self._change("recovered", _reset)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._link.read(4096, 0.05)
                with self._lock:
                    result = self._interpreter.feed(data, now=time.monotonic())
                if result.reply:
                    self._link.write(bytes(result.reply))
                for blocks, raw in result.jobs:
                    self._finish(blocks, raw)
                if result.lost:
                    with self._lock:
                        self._lost_jobs += result.lost
                        self._lock.notify_all()
                    logger.warning("simulated printer discarded %d job(s)", result.lost)
            except Exception:
                # The simulated firmware must keep running whatever the link or a job does.
                logger.exception("simulated printer loop failed; continuing")
                self._stop.wait(0.1)

    def _finish(self, blocks: list[Block], raw: bytes) -> None:
        with self._lock:
            number = len(self._jobs) + 1
        text = render_text(blocks)
        stem = self.out_dir / f"job-{number:04d}"
        stem.with_suffix(".txt").write_text(text, encoding="utf-8")
        if self._render_png:
            render_png(blocks, stem.with_suffix(".png"))
        job = PrintedJob(number=number, blocks=tuple(blocks), raw=raw, text=text)
        with self._lock:
            self._jobs.append(job)
            self._lock.notify_all()
        logger.info("simulated printer printed job %d", number)

    def stop(self) -> None:
        """Stop the firmware thread; the link stays open (it is the caller's)."""
        self._stop.set()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
