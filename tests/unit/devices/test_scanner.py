"""Scanner framing and decoding: known codes from the reference, fuzzed bytes, round trips."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import FrameError, ScanRejected
from devices.scanner import (
    LocationLabel,
    PalletLabel,
    ScanFramer,
    ScannerSettings,
    decode_scan,
)
from firmware_sim import gs1

DEFAULT = ScannerSettings()
REFERENCE_CODE = b"0107032069804988100329\x1d15210525"


@pytest.mark.parametrize(
    ("suffix", "stream"),
    [
        ("CR", b"A-01-02-3\r0107032069804988\r"),
        ("LF", b"A-01-02-3\n0107032069804988\n"),
        ("CRLF", b"A-01-02-3\r\n0107032069804988\r\n"),
        ("TAB", b"A-01-02-3\t0107032069804988\t"),
    ],
)
def test_framer_cuts_at_the_configured_suffix(suffix: str, stream: bytes) -> None:
    framer = ScanFramer(ScannerSettings(suffix=suffix))  # type: ignore[arg-type]
    assert framer.feed(stream) == [b"A-01-02-3", b"0107032069804988"]
    assert framer.pending == b""


def test_framer_keeps_a_partial_frame_until_its_suffix_arrives() -> None:
    framer = ScanFramer(ScannerSettings(suffix="CRLF"))
    assert framer.feed(b"0107032") == []
    assert framer.feed(b"069804988\r") == []
    assert framer.feed(b"\nA-01") == [b"0107032069804988"]
    assert framer.pending == b"A-01"


def test_framer_rejects_overlong_garbage_and_keeps_earlier_frames() -> None:
    framer = ScanFramer(DEFAULT, max_frame=16)
    with pytest.raises(FrameError) as info:
        framer.feed(b"A-01-02-3\r" + b"\xff" * 20)
    assert info.value.raw == b"\xff" * 20
    assert framer.feed(b"") == [b"A-01-02-3"]
    assert framer.feed(b"B-02-01\r") == [b"B-02-01"]


def test_reference_gs1_code_decodes_to_its_hri() -> None:
    label = decode_scan(REFERENCE_CODE, DEFAULT)
    assert isinstance(label, PalletLabel)
    assert label.hri == "(01)07032069804988(10)0329(15)210525"
    assert label.gtin == "07032069804988"
    assert label.batch == "0329"
    # AI 15 is best-before, not expiry.
    assert label.expiry is None
    assert label.sscc is None


def test_full_pallet_label_with_aim_prefix() -> None:
    sscc = gs1.sscc("7032069", 1234)
    gtin = gs1.gtin14("7032069", 80498, indicator=1)
    code = gs1.pallet_label(
        sscc, gtin, "LOT-7", date(2027, 3, 31), 48, net_weight_kg=Decimal("612.5")
    )
    label = decode_scan(b"]C1" + code.encode(), ScannerSettings(aim_prefix=True))
    assert label == PalletLabel(
        sscc=sscc,
        gtin=gtin,
        batch="LOT-7",
        expiry=date(2027, 3, 31),
        count=48,
        net_weight_kg=Decimal("612.500"),
        hri=f"(00){sscc}(01){gtin}(17)270331(3103)612500(10)LOT-7(37)48",
        symbology="]C1",
    )


def test_expiry_day_00_means_end_of_month() -> None:
    label = decode_scan(b"010703206980498817270200", DEFAULT)
    assert isinstance(label, PalletLabel)
    assert label.expiry == date(2027, 2, 28)


@pytest.mark.parametrize("symbology", ["]C1", "]d2", "]Q3"])
def test_gs1_symbologies_are_recognised(symbology: str) -> None:
    label = decode_scan(symbology.encode() + REFERENCE_CODE, ScannerSettings(aim_prefix=True))
    assert isinstance(label, PalletLabel)
    assert label.symbology == symbology
    assert label.batch == "0329"


def test_ean13_gives_a_gtin14() -> None:
    label = decode_scan(b"]E05901234123457", ScannerSettings(aim_prefix=True))
    assert isinstance(label, PalletLabel)
    assert label.gtin == "05901234123457"
    assert label.symbology == "]E0"


def test_contained_gtin_ai_02_with_count_and_net_weight() -> None:
    label = decode_scan(b"]C102070320698049883712\x1d3102001250", DEFAULT)
    assert isinstance(label, PalletLabel)
    assert label.gtin == "07032069804988"
    assert label.count == 12
    assert label.net_weight_kg == Decimal("12.50")


def test_substitute_separator_replaces_fnc1() -> None:
    settings = ScannerSettings(separators=("|",))
    label = decode_scan(b"0107032069804988100329|3712", settings)
    assert isinstance(label, PalletLabel)
    assert label.batch == "0329"
    assert label.count == 12
    # GS still works when a substitute is configured.
    assert decode_scan(b"0107032069804988100329\x1d3712", settings) == label


def test_leading_gs_sent_for_the_start_fnc1_is_ignored() -> None:
    label = decode_scan(b"\x1d" + REFERENCE_CODE, DEFAULT)
    assert isinstance(label, PalletLabel)
    assert label.gtin == "07032069804988"


def test_bad_sscc_check_digit_is_rejected_with_a_readable_reason() -> None:
    good = gs1.sscc("7032069", 99)
    bad = gs1.with_wrong_check_digit(good)
    with pytest.raises(ScanRejected) as info:
        decode_scan(f"]C100{bad}".encode(), DEFAULT)
    assert "SSCC" in info.value.reason
    assert "check digit" in info.value.reason
    assert "rescan" in info.value.reason
    assert bad in info.value.code


def test_bad_gtin_check_digit_is_rejected() -> None:
    with pytest.raises(ScanRejected, match=r"GTIN.*check digit"):
        decode_scan(b"0107032069804987", DEFAULT)
    with pytest.raises(ScanRejected, match="check digit"):
        decode_scan(b"]E05901234123456", DEFAULT)


def test_invalid_gs1_data_is_rejected() -> None:
    with pytest.raises(ScanRejected, match="invalid GS1 code"):
        decode_scan(b"]C10107032069804988171399", DEFAULT)


def test_gs1_without_sscc_or_gtin_is_not_a_pallet_label() -> None:
    with pytest.raises(ScanRejected, match="not a pallet label"):
        decode_scan(b"]C110LOT1\x1d3712", DEFAULT)


def test_other_text_is_rejected() -> None:
    with pytest.raises(ScanRejected, match="not a GS1 pallet label and not a bin label"):
        decode_scan(b"hello world", DEFAULT)


@pytest.mark.parametrize("code", ["A-01-02-3", "B-12-04", "RCV-D3", "AA1-01-A-2"])
def test_location_labels(code: str) -> None:
    assert decode_scan(code.encode(), DEFAULT) == LocationLabel(code)
    assert decode_scan(b"]C0" + code.encode(), DEFAULT) == LocationLabel(code)


def test_location_pattern_is_configurable() -> None:
    settings = ScannerSettings(location_pattern=r"^LOC\d{4}$")
    assert decode_scan(b"LOC0042", settings) == LocationLabel("LOC0042")
    with pytest.raises(ScanRejected):
        decode_scan(b"A-01-02-3", settings)


@pytest.mark.parametrize("frame", [b"\xff\xfe\x00", b"A-01\x07", "Ä-01".encode(), b"   "])
def test_garbage_is_a_frame_error_with_the_raw_bytes(frame: bytes) -> None:
    with pytest.raises(FrameError) as info:
        decode_scan(frame, DEFAULT)
    assert info.value.raw == frame


def test_settings_reject_an_unknown_suffix() -> None:
    with pytest.raises(ValueError, match="suffix"):
        ScannerSettings(suffix="ETX")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), suffix=st.sampled_from(["CR", "LF", "CRLF", "TAB"]))
def test_random_bytes_never_crash_framer_or_decoder(data: bytes, suffix: str) -> None:
    scanner = ScannerSettings(suffix=suffix, aim_prefix=True)  # type: ignore[arg-type]
    framer = ScanFramer(scanner, max_frame=64)
    try:
        frames = framer.feed(data)
    except FrameError:
        frames = framer.feed(b"")
    for frame in frames:
        try:
            label = decode_scan(frame, scanner)
        except (FrameError, ScanRejected):
            continue
        assert isinstance(label, PalletLabel | LocationLabel)


_code_chars = st.sampled_from("0123456789]C1dQ3E0|-A\x1d")


@settings(max_examples=200, deadline=None)
@given(text=st.text(_code_chars, max_size=60))
def test_gs1_like_text_never_crashes_the_decoder(text: str) -> None:
    try:
        label = decode_scan(text.encode(), ScannerSettings(separators=("|",)))
    except (FrameError, ScanRejected):
        return
    if isinstance(label, PalletLabel):
        assert label.sscc is not None or label.gtin is not None


@settings(max_examples=200, deadline=None)
@given(
    serial=st.integers(min_value=0, max_value=999_999_999),
    item=st.integers(min_value=0, max_value=99_999),
    batch=st.text("ABCXYZ0123456789-", min_size=1, max_size=20),
    expiry=st.dates(min_value=date(2000, 1, 1), max_value=date(2049, 12, 31)),
    count=st.integers(min_value=1, max_value=99_999_999),
    cut=st.integers(min_value=0, max_value=80),
)
def test_built_labels_round_trip_and_truncations_fail_cleanly(
    serial: int, item: int, batch: str, expiry: date, count: int, cut: int
) -> None:
    sscc = gs1.sscc("7032069", serial)
    gtin = gs1.gtin14("7032069", item, indicator=1)
    code = gs1.pallet_label(sscc, gtin, batch, expiry, count)
    label = decode_scan(code.encode(), DEFAULT)
    assert isinstance(label, PalletLabel)
    assert (label.sscc, label.gtin, label.batch, label.expiry, label.count) == (
        sscc,
        gtin,
        batch,
        expiry,
        count,
    )
    with contextlib.suppress(FrameError, ScanRejected):
        truncated = decode_scan(code.encode()[:cut], DEFAULT)
        assert isinstance(truncated, PalletLabel | LocationLabel)
