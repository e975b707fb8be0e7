"""ESC/POS label printer: job building with python-escpos, real-time status, safe printing.

Jobs are built as bytes with `escpos.printer.Dummy` and sent over our own `Transport`, so the
same code drives a serial printer, a pty and a raw TCP port 9100 (`socket://host:9100`).
python-escpos's own device classes are not used for sending: its status reads are known to
return nothing or block (python-escpos #143, #242) and a job sent to a powered-down printer is
lost without an error (#253). `EscPosPrinter.print_job` therefore asks the printer for its
real-time status (DLE EOT 1-4) before and after writing a job and raises `PrinterNotReady`
instead of reporting a label printed that never came out.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from escpos.printer import Dummy

from contracts import DeviceState, PutawayLabel
from devices.errors import FrameError, PrinterNoReply, PrinterNotReady
from devices.transport import Transport

logger = logging.getLogger(__name__)

_DLE_EOT = b"\x10\x04"
STATUS_QUERY: bytes = b"".join(_DLE_EOT + bytes([n]) for n in (1, 2, 3, 4))
"""DLE EOT 1 (printer), 2 (offline cause), 3 (error cause), 4 (roll paper), in this order."""
_STATUS_REPLY_SIZE = 4

# Every real-time status byte has bits 0 and 7 clear and bits 1 and 4 set.
_FIXED_MASK = 0x81 | 0x12
_FIXED_VALUE = 0x12
_N1_OFFLINE = 0x08
_N2_COVER_OPEN = 0x04
_N2_STOPPED_PAPER_END = 0x20
_N2_ERROR = 0x40
# n=3: bit 2 mechanical, bit 3 autocutter, bit 5 unrecoverable, bit 6 auto-recoverable error.
_N3_ERRORS = 0x04 | 0x08 | 0x20 | 0x40
_N4_NEAR_END = 0x0C
_N4_PAPER_END = 0x60

# The printer model whose capabilities python-escpos assumes: native QR and GS k function B.
ESCPOS_PROFILE = "TM-T88V"
_QR_SIZE = 6
_BARCODE_HEIGHT = 100
# 3 dots per module keeps a code-set-C SSCC symbol (156 modules) inside 512 printable dots.
_BARCODE_MODULE_DOTS = 3


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer reported in answer to DLE EOT 1-4."""

    online: bool
    cover_open: bool
    paper_near_end: bool
    paper_end: bool
    error: bool

    @property
    def ready(self) -> bool:
        """True when a job sent now would be printed."""
        return self.online and not self.cover_open and not self.paper_end and not self.error

    @property
    def state(self) -> DeviceState:
        """The single state to report for this status, most urgent first."""
        if self.paper_end:
            return DeviceState.PAPER_END
        if self.cover_open:
            return DeviceState.COVER_OPEN
        if self.error:
            return DeviceState.ERROR
        if not self.online:
            return DeviceState.OFFLINE
        if self.paper_near_end:
            return DeviceState.PAPER_NEAR_END
        return DeviceState.ONLINE

    def __str__(self) -> str:
        problems = [
            text
            for flag, text in (
                (self.paper_end, "out of paper"),
                (self.cover_open, "cover open"),
                (self.error, "printer error (cutter jam or mechanism)"),
                (not self.online, "offline"),
                (self.paper_near_end, "paper roll nearly empty"),
            )
            if flag
        ]
        return ", ".join(problems) or "ready"


def _check_byte(n: int, value: int, replies: bytes) -> None:
    if value & _FIXED_MASK != _FIXED_VALUE:
        raise FrameError(
            f"invalid printer status byte 0x{value:02x} in answer to DLE EOT {n}", replies
        )


def parse_status(replies: bytes) -> PrinterStatus:
    """Parse the four one-byte answers to `STATUS_QUERY`; FrameError if they are not valid."""
    if len(replies) != _STATUS_REPLY_SIZE:
        raise FrameError(
            f"printer status must be 4 bytes (one per DLE EOT 1-4), got {len(replies)}", replies
        )
    for n, value in enumerate(replies, start=1):
        _check_byte(n, value, replies)
    printer, offline_cause, error_cause, paper = replies
    return PrinterStatus(
        online=not printer & _N1_OFFLINE,
        cover_open=bool(offline_cause & _N2_COVER_OPEN),
        paper_near_end=paper & _N4_NEAR_END == _N4_NEAR_END,
        paper_end=paper & _N4_PAPER_END == _N4_PAPER_END
        or bool(offline_cause & _N2_STOPPED_PAPER_END),
        error=bool(offline_cause & _N2_ERROR) or bool(error_cause & _N3_ERRORS),
    )


class EscPosPrinter:
    """An ESC/POS printer on a bidirectional link; never reports a lost job as printed.

    Thread-safe: a lock keeps a status query from interleaving with a job.
    """

    def __init__(self, transport: Transport, *, status_timeout_s: float = 1.0) -> None:
        """Use `transport` (serial, pty or `socket://host:9100`), which stays the caller's."""
        self._transport = transport
        self._status_timeout_s = status_timeout_s
        self._lock = threading.Lock()
        self._last_state: DeviceState | None = None

    def status(self) -> PrinterStatus:
        """Ask the printer for its real-time status.

        Raises:
            PrinterNoReply: no complete answer within `status_timeout_s`.
            FrameError: the answer is not a valid status.
            PortUnavailable: the port vanished.
        """
        with self._lock:
            return self._status()

    def print_job(self, data: bytes) -> None:
        """Print `data`, or raise so that the caller knows to print it again later.

        Raises:
            PrinterNotReady: the printer could not print before the job (nothing was sent), or
                reported a problem right after it (paper ran out, cover opened: the label
                may be missing or incomplete).
            PrinterNoReply, FrameError, PortUnavailable: as for `status`.
        """
        with self._lock:
            before = self._status()
            if not before.ready:
                raise PrinterNotReady(
                    before,
                    f"label printer not ready ({before}): fix it, then the label is reprinted",
                )
            self._transport.write(data)
            after = self._status()
            if not after.ready:
                raise PrinterNotReady(
                    after,
                    f"label printer failed during the job ({after}): the label may be missing, "
                    "fix the printer and it is reprinted",
                )
            logger.debug("printed a %d-byte job", len(data))

    def _status(self) -> PrinterStatus:
        self._discard_stale_input()
        self._transport.write(STATUS_QUERY)
        reply = self._read_reply(_STATUS_REPLY_SIZE)
        status = parse_status(reply)
        self._note(status)
        return status

    def _discard_stale_input(self) -> None:
        # A late answer to an earlier, timed-out query would shift this query's answer.
        for _ in range(16):
            stale = self._transport.read(4096, 0.0)
            if not stale:
                return
            logger.debug("discarding %d stale bytes from the printer: %s", len(stale), stale.hex())

    def _read_reply(self, size: int) -> bytes:
        reply = b""
        deadline = time.monotonic() + self._status_timeout_s
        while len(reply) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            reply += self._transport.read(size - len(reply), remaining)
        if len(reply) < size:
            if self._last_state is not None:
                logger.warning("label printer stopped answering status requests")
                self._last_state = None
            raise PrinterNoReply(
                f"label printer did not answer its status request within "
                f"{self._status_timeout_s:g} s ({len(reply)} of {size} bytes): check power, "
                "cable, and that the link is bidirectional (not a print spooler)"
            )
        return reply

    def _note(self, status: PrinterStatus) -> None:
        state = status.state
        if state == self._last_state:
            return
        if state is DeviceState.ONLINE:
            logger.info("label printer ready")
        else:
            logger.warning("label printer: %s", status)
        self._last_state = state


def _new_job() -> Dummy:
    job = Dummy(profile=ESCPOS_PROFILE)
    job.hw("INIT")
    return job


def _fmt_decimal(value: Decimal) -> str:
    return f"{value:f}"


def sscc_hri(sscc: str) -> str:
    """The human-readable form of an SSCC element string: `(00)` + 18 digits."""
    return f"(00){sscc}"


def _gs1_128_sscc_data(sscc: str) -> str:
    """GS k function B data: code set C, FNC1 (GS1), then AI 00 and the SSCC as digit pairs.

    In code set C each data byte is one value 0-99 (two digits); python-escpos's barcode check
    accepts it because it only requires a `{A`/`{B`/`{C` start and 7-bit bytes.
    """
    digits = "00" + sscc
    return "{C{1" + "".join(chr(int(digits[i : i + 2])) for i in range(0, len(digits), 2))


def putaway_label(label: PutawayLabel, *, site: str, dock: str, printed_at: datetime) -> bytes:
    """The ESC/POS bytes of a putaway label.

    Shows the site and dock, the bin in large letters (or PUTAWAY PENDING / HOLD: reason),
    item, GTIN, batch, expiry, quantity, weight, the SSCC as a GS1-128 barcode and a QR code
    with the SSCC (and bin), then cuts.

    Raises:
        ValueError: `printed_at` is naive, or the SSCC is not 18 digits.
    """
    if printed_at.tzinfo is None:
        raise ValueError("printed_at must be timezone-aware")
    if label.sscc is not None and not (len(label.sscc) == 18 and label.sscc.isdigit()):
        raise ValueError(f"SSCC must be 18 digits, got {label.sscc!r}")
    job = _new_job()
    job.set(align="center", bold=True)
    job.textln(f"{site}  DOCK {dock}")
    job.set(bold=False)
    job.textln(printed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    job.textln("-" * 42)
    if label.hold_reason:
        headline = f"HOLD: {label.hold_reason}"
    elif label.location:
        job.textln("PUT AWAY TO")
        headline = label.location
    else:
        headline = "PUTAWAY PENDING"
    job.set(bold=True, double_width=True, double_height=True)
    job.textln(headline)
    job.set(normal_textsize=True, bold=False, align="left")
    job.textln("-" * 42)
    fields = [
        ("Item", label.item_name),
        ("GTIN", label.gtin),
        ("Batch", label.batch),
        ("Expiry", label.expiry.isoformat() if label.expiry else None),
        ("Qty", _fmt_decimal(label.quantity)),
        ("Weight", f"{_fmt_decimal(label.weight_kg)} kg"),
        ("SSCC", label.sscc),
    ]
    for name, value in fields:
        if value:
            job.textln(f"{name + ':':<8}{value}")
    job.ln()
    if label.sscc is not None:
        # The private renderer is called directly: the public barcode() print()s to stdout
        # on every call and may silently fall back to a software image of another symbology.
        job._hw_barcode(
            _gs1_128_sscc_data(label.sscc),
            "CODE128",
            height=_BARCODE_HEIGHT,
            width=_BARCODE_MODULE_DOTS,
            pos="BELOW",
            font="A",
            align_ct=True,
            function_type="B",
            check=True,
        )
        job.ln()
        qr = sscc_hri(label.sscc)
    else:
        qr = f"(01){label.gtin}"
    if label.location and not label.hold_reason:
        qr += f" BIN {label.location}"
    job.set(align="center")
    job.qr(qr, native=True, size=_QR_SIZE, ec=1)
    job.cut()
    return bytes(job.output)


def text_job(lines: list[str], *, qr: str | None = None, title: str | None = None) -> bytes:
    """The ESC/POS bytes of a plain sheet: optional large title, lines, optional QR, cut."""
    job = _new_job()
    if title:
        job.set(align="center", bold=True, double_height=True, double_width=True)
        job.textln(title)
        job.set(normal_textsize=True, bold=False, align="left")
    for line in lines:
        job.textln(line)
    if qr:
        job.ln()
        job.set(align="center")
        job.qr(qr, native=True, size=_QR_SIZE, ec=1)
    job.cut()
    return bytes(job.output)
