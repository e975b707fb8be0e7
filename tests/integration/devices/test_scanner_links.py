"""Scans travel from the simulated scanner through a real pty pair or TCP socket to the decoder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import pytest

from devices.errors import FrameError, ScanRejected
from devices.scanner import LocationLabel, PalletLabel, ScanFramer, ScannerSettings, decode_scan
from devices.transport import SerialTransport
from firmware_sim import gs1
from firmware_sim.links import PtyLink, TcpLink
from firmware_sim.scanner import SimScanner

Decoded = PalletLabel | LocationLabel | FrameError | ScanRejected


def _read_scans(
    transport: SerialTransport, settings: ScannerSettings, count: int, guard_s: float = 5.0
) -> list[Decoded]:
    """Read until `count` frames were decoded (or failed to); the guard only stops a hang."""
    framer = ScanFramer(settings)
    results: list[Decoded] = []
    deadline = time.monotonic() + guard_s
    while len(results) < count and time.monotonic() < deadline:
        try:
            frames = framer.feed(transport.read(timeout=0.1))
        except FrameError as err:
            results.append(err)
            continue
        for frame in frames:
            try:
                results.append(decode_scan(frame, settings))
            except (FrameError, ScanRejected) as err:
                results.append(err)
    return results


@pytest.fixture
def pty() -> Iterator[PtyLink]:
    with PtyLink() as link:
        yield link


def test_pallet_and_bin_labels_arrive_through_a_pty(pty: PtyLink) -> None:
    settings = ScannerSettings(suffix="CRLF", aim_prefix=True)
    scanner = SimScanner(pty, settings)
    sscc = gs1.sscc("7032069", 42)
    gtin = gs1.gtin14("7032069", 80498)
    with SerialTransport.open(pty.device_url) as transport:
        scanner.scan(gs1.pallet_label(sscc, gtin, "L1", date(2027, 1, 31), 40))
        scanner.scan("A-01-02-3", symbology="]C0")
        first, second = _read_scans(transport, settings, 2)
    assert isinstance(first, PalletLabel)
    assert (first.sscc, first.gtin, first.batch, first.count) == (sscc, gtin, "L1", 40)
    assert first.symbology == "]C1"
    assert second == LocationLabel("A-01-02-3")


def test_slow_partial_writes_with_a_substitute_separator(pty: PtyLink) -> None:
    settings = ScannerSettings(suffix="TAB", separators=("|",))
    scanner = SimScanner(pty, settings, chunk_size=3, char_delay_s=0.005)
    code = gs1.pallet_label(gtin=gs1.gtin14("7032069", 7), batch="B-9", count=12)
    with SerialTransport.open(pty.device_url) as transport:
        scanner.scan(code)
        [label] = _read_scans(transport, settings, 1)
    assert isinstance(label, PalletLabel)
    assert (label.batch, label.count) == ("B-9", 12)


def test_garbage_and_bad_check_digits_come_out_as_typed_errors(pty: PtyLink) -> None:
    settings = ScannerSettings()
    scanner = SimScanner(pty, settings)
    bad = gs1.with_wrong_check_digit(gs1.sscc("7032069", 5))
    with SerialTransport.open(pty.device_url) as transport:
        scanner.send_raw(b"\xff\x00\x9b\x1b[2J\r")
        scanner.scan(f"00{bad}")
        scanner.scan("B-02-01")
        garbage, rejected, location = _read_scans(transport, settings, 3)
    assert isinstance(garbage, FrameError)
    assert garbage.raw == b"\xff\x00\x9b\x1b[2J"
    assert isinstance(rejected, ScanRejected)
    assert "check digit" in rejected.reason
    assert location == LocationLabel("B-02-01")


def test_scans_arrive_over_tcp() -> None:
    settings = ScannerSettings(suffix="CR", aim_prefix=True)
    with TcpLink() as link, SerialTransport.open(link.device_url) as transport:
        assert link.wait_for_client(5.0)
        SimScanner(link, settings).scan("0107032069804988100329\x1d15210525")
        [label] = _read_scans(transport, settings, 1)
    assert isinstance(label, PalletLabel)
    assert label.hri == "(01)07032069804988(10)0329(15)210525"
