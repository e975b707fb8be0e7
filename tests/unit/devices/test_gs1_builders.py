"""The simulator's GS1 builders agree with biip on check digits."""

from __future__ import annotations

import biip
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim import gs1


def test_known_check_digits() -> None:
    # From GS1 / biip examples.
    assert gs1.check_digit("950110153100") == "0"
    assert gs1.check_digit("9501234") == "6"
    assert gs1.check_digit("37613032110910342") == "0"


def test_builders_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        gs1.sscc("12", 1)
    with pytest.raises(ValueError):
        gs1.gtin14("7032069", 10**6)
    with pytest.raises(ValueError):
        gs1.pallet_label()


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text("0123456789", min_size=7, max_size=10),
    serial=st.integers(min_value=0, max_value=999_999),
    item=st.integers(min_value=0, max_value=99),
)
def test_sscc_and_gtin_check_digits_match_biip(prefix: str, serial: int, item: int) -> None:
    sscc = gs1.sscc(prefix, serial)
    gtin = gs1.gtin14(prefix, item)
    assert len(sscc) == 18
    assert len(gtin) == 14
    assert biip.sscc.Sscc.parse(sscc).value == sscc
    assert biip.gtin.Gtin.parse(gtin).as_gtin_14() == gtin
    with pytest.raises(biip.ParseError):
        biip.sscc.Sscc.parse(gs1.with_wrong_check_digit(sscc))
