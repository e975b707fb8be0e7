"""Barcode scanner on a serial/USB-CDC/TCP link: framing and decoding of scans.

A scanner pushes each scan as `[AIM symbology id] data suffix`. `ScanFramer` cuts the byte
stream into frames at the configured suffix; `decode_scan` turns a frame into a pallet label
(GS1 element string, parsed with biip) or a location (bin) label.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Literal

import biip
from biip import ParseConfig
from biip.gs1_element_strings import GS1ElementString
from biip.symbology import SymbologyIdentifier

from devices.errors import FrameError, ScanRejected

logger = logging.getLogger(__name__)

GS = "\x1d"
"""Group separator: how scanners transmit FNC1 inside a GS1 code."""

SUFFIXES: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "TAB": b"\t"}

# GS1 symbologies (AIM ids from biip's symbology table): a code read from one of these is a GS1
# element string, never a bin label, even when its text happens to look like one.
_GS1_SYMBOLOGIES = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
_AIM_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True)
class ScannerSettings:
    """How the scanner is configured to send its scans."""

    suffix: Literal["CR", "LF", "CRLF", "TAB"] = "CR"
    aim_prefix: bool = False
    separators: tuple[str, ...] = (GS,)
    location_pattern: str = r"^[A-Z]{1,3}\d{0,2}(-[A-Z0-9]{1,4}){1,4}$"

    def __post_init__(self) -> None:
        if self.suffix not in SUFFIXES:
            raise ValueError(
                f"scanner suffix must be one of {sorted(SUFFIXES)}, not {self.suffix!r}"
            )
        for sep in self.separators:
            if len(sep) != 1 or sep.isalnum():
                raise ValueError(f"separator {sep!r} must be one non-alphanumeric character")
        re.compile(self.location_pattern)


@dataclass(frozen=True)
class PalletLabel:
    """A GS1 logistic label: an SSCC and/or a trade item (GTIN) with its batch, expiry, count."""

    sscc: str | None
    gtin: str | None
    batch: str | None
    expiry: date | None
    count: int | None
    net_weight_kg: Decimal | None
    hri: str
    symbology: str | None


@dataclass(frozen=True)
class LocationLabel:
    """A bin label (storage location), e.g. A-01-02-3."""

    code: str


class ScanFramer:
    """Cuts a scanner's byte stream into frames at the configured suffix."""

    def __init__(self, settings: ScannerSettings, *, max_frame: int = 1024) -> None:
        """Args:
        settings: The scanner's configuration (the suffix matters here).
        max_frame: Longest plausible scan; a longer run without suffix is garbage.
        """
        self._suffix = SUFFIXES[settings.suffix]
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._ready: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete frames, without suffix.

        Raises FrameError when more than `max_frame` bytes arrive without a suffix; those bytes
        are dropped, and frames completed before them are returned by the next `feed` call
        (`feed(b"")` is fine).
        """
        self._buffer += data
        frames, self._ready = self._ready, []
        while True:
            end = self._buffer.find(self._suffix)
            if end < 0:
                break
            frame = bytes(self._buffer[:end])
            del self._buffer[: end + len(self._suffix)]
            if frame:
                frames.append(frame)
        if len(self._buffer) > self._max_frame:
            garbage = bytes(self._buffer)
            self._buffer.clear()
            self._ready = frames
            raise FrameError(
                f"{len(garbage)} bytes from the scanner without a {self._suffix!r} suffix: "
                "check the scanner's suffix setting",
                garbage,
            )
        return frames

    @property
    def pending(self) -> bytes:
        """Bytes of a frame not yet complete."""
        return bytes(self._buffer)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _text_of(frame: bytes, separators: tuple[str, ...]) -> str:
    try:
        text = frame.decode("ascii")
    except UnicodeDecodeError as err:
        raise FrameError(
            "scan is not ASCII text: scanner misconfigured or line noise", frame
        ) from err
    for char in text:
        if not (" " <= char <= "~" or char in separators):
            raise FrameError(
                f"scan holds control byte 0x{ord(char):02x}: scanner misconfigured or line noise",
                frame,
            )
    text = text.strip(" ")
    if not text:
        raise FrameError("empty scan", frame)
    return text


def decode_scan(frame: bytes, settings: ScannerSettings) -> PalletLabel | LocationLabel:
    """Decode one frame (suffix already removed) into a pallet or a bin label.

    Raises:
        FrameError: The bytes are not a scan at all (non-ASCII, control bytes, empty).
        ScanRejected: The scan is readable but not usable: bad check digit, invalid GS1 data,
            neither a GS1 pallet label nor a bin label.
    """
    separators = tuple(dict.fromkeys((GS, *settings.separators)))
    text = _text_of(frame, separators)

    scanned = text
    symbology: str | None = None
    if _AIM_ID.match(text) and _known_symbology(text[:3]):
        symbology, text = text[:3], text[3:]
    elif settings.aim_prefix:
        logger.debug("scan without the expected AIM prefix: %r", text)
    # Some scanners send the leading FNC1 of a GS1-128 code as GS too; it carries nothing.
    data = text.lstrip("".join(separators))
    if not data:
        raise ScanRejected("the scan holds no data", scanned)
    if symbology not in _GS1_SYMBOLOGIES and _compiled(settings.location_pattern).fullmatch(data):
        return LocationLabel(code=data)
    return _pallet_label(data, symbology, separators)


def _known_symbology(prefix: str) -> bool:
    try:
        SymbologyIdentifier.extract(prefix)
    except biip.ParseError:
        return False
    return True


def _pallet_label(data: str, symbology: str | None, separators: tuple[str, ...]) -> PalletLabel:
    value = f"{symbology}{data}" if symbology else data
    hri_code = data
    for sep in separators:
        hri_code = hri_code.replace(sep, "<GS>")
    if data.startswith("]"):
        # Not a valid AIM id: biip would read it as one and choke.
        raise ScanRejected("not a GS1 pallet label and not a bin label", hri_code)
    try:
        result = biip.parse(value, config=ParseConfig(separator_chars=list(separators)))
    except biip.ParseError as err:
        raise ScanRejected(f"invalid barcode ({err})", hri_code) from err

    if result.gs1_message is not None:
        strings = result.gs1_message.element_strings
        sscc_es = strings.get(ai="00")
        gtin_es = strings.get(ai="01") or strings.get(ai="02")
        for es, name in ((sscc_es, "SSCC"), (gtin_es, "GTIN")):
            if es is not None and (es.sscc_error or es.gtin_error):
                raise ScanRejected(_check_digit_reason(name, es), hri_code)
        if sscc_es is None and gtin_es is None:
            raise ScanRejected(
                "GS1 code without SSCC (00) or GTIN (01/02): not a pallet label", hri_code
            )
        expiry_es = strings.get(ai="17")
        count_es = strings.get(ai="37")
        weight_es = strings.get(ai="310")
        batch_es = strings.get(ai="10")
        return PalletLabel(
            sscc=sscc_es.value if sscc_es else None,
            gtin=gtin_es.gtin.as_gtin_14() if gtin_es and gtin_es.gtin else None,
            batch=batch_es.value if batch_es else None,
            expiry=expiry_es.date if expiry_es else None,
            count=int(count_es.value) if count_es else None,
            net_weight_kg=weight_es.decimal if weight_es else None,
            hri=result.gs1_message.as_hri(),
            symbology=symbology,
        )
    if result.sscc is not None:
        return PalletLabel(
            sscc=result.sscc.value,
            gtin=None,
            batch=None,
            expiry=None,
            count=None,
            net_weight_kg=None,
            hri=f"(00){result.sscc.value}",
            symbology=symbology,
        )
    if result.gtin is not None:
        gtin14 = result.gtin.as_gtin_14()
        return PalletLabel(
            sscc=None,
            gtin=gtin14,
            batch=None,
            expiry=None,
            count=None,
            net_weight_kg=None,
            hri=f"(01){gtin14}",
            symbology=symbology,
        )
    raise ScanRejected(_rejection_reason(result, data, symbology), hri_code)


def _check_digit_reason(name: str, es: GS1ElementString) -> str:
    detail = es.sscc_error or es.gtin_error or ""
    return f"{name} {es.value} is not valid ({detail}): rescan; if it repeats, relabel the pallet"


def _rejection_reason(result: biip.ParseResult, data: str, symbology: str | None) -> str:
    if symbology in _GS1_SYMBOLOGIES or data.startswith(("00", "01", "02")):
        detail = result.gs1_message_error or result.gtin_error or result.sscc_error
        return f"invalid GS1 code ({detail}): rescan; if it repeats, relabel the pallet"
    for error in (result.sscc_error, result.gtin_error):
        if error and "check digit" in error:
            return f"{error} Rescan; if it repeats, relabel the pallet"
    return "not a GS1 pallet label and not a bin label"
