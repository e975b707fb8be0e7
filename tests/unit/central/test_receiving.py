"""Receiving checks: matching pallets to expected receipt lines, tolerances, discrepancies."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from central.domain.receiving import (
    DiscrepancyKind,
    ItemInfo,
    ReceiptLine,
    ReceivedPallet,
    check_receipt,
    weight_within_tolerance,
)

GTIN = "04012345000016"
SSCC_A = "040123450000000017"
SSCC_B = "040123450000000024"
ITEM = ItemInfo(GTIN, "Widget", unit_weight_kg=Decimal(50))


def pallet(**overrides: object) -> ReceivedPallet:
    values: dict[str, object] = {
        "gtin": GTIN,
        "quantity": Decimal(10),
        "weight_kg": Decimal(500),
        "sscc": SSCC_A,
    }
    values.update(overrides)
    return ReceivedPallet(**values)  # type: ignore[arg-type]


def line(line_id: int = 1, **overrides: object) -> ReceiptLine:
    values: dict[str, object] = {
        "line_id": line_id,
        "reference": f"ASN-1/{line_id}",
        "gtin": GTIN,
        "quantity": Decimal(10),
        "expected_weight_kg": Decimal(500),
    }
    values.update(overrides)
    return ReceiptLine(**values)  # type: ignore[arg-type]


def kinds(check: object) -> list[DiscrepancyKind]:
    return [d.kind for d in check.discrepancies]  # type: ignore[attr-defined]


def test_pallet_listed_by_sscc_matches_its_line() -> None:
    lines = [line(1, sscc=SSCC_B), line(2, sscc=SSCC_A)]
    check = check_receipt(pallet(), item=ITEM, open_lines=lines, sscc_already_received=False)
    assert check.ok and check.line is not None and check.line.line_id == 2
    assert check.hold_reason is None


def test_sscc_not_listed_on_an_asn_that_lists_ssccs_is_unexpected() -> None:
    check = check_receipt(
        pallet(), item=ITEM, open_lines=[line(sscc=SSCC_B)], sscc_already_received=False
    )
    assert kinds(check) == [DiscrepancyKind.UNEXPECTED_PALLET]
    assert check.line is None and check.bookable
    assert SSCC_A in (check.hold_reason or "")


def test_listed_sscc_with_another_gtin_is_unexpected() -> None:
    lines = [line(sscc=SSCC_A, gtin="04012345000023")]
    check = check_receipt(pallet(), item=ITEM, open_lines=lines, sscc_already_received=False)
    assert kinds(check) == [DiscrepancyKind.UNEXPECTED_PALLET]


def test_gtin_line_takes_pallets_without_listed_sscc_and_respects_batch() -> None:
    lines = [line(1, batch="B1", quantity=Decimal(100)), line(2, quantity=Decimal(100))]
    check_b1 = check_receipt(
        pallet(batch="B1", weight_kg=Decimal(50)),
        item=ITEM,
        open_lines=lines,
        sscc_already_received=False,
    )
    check_b2 = check_receipt(
        pallet(batch="B2", weight_kg=Decimal(50)),
        item=ITEM,
        open_lines=lines,
        sscc_already_received=False,
    )
    assert check_b1.ok and check_b1.line is not None and check_b1.line.line_id == 1
    assert check_b2.ok and check_b2.line is not None and check_b2.line.line_id == 2


def test_gtin_line_prefers_the_first_line_with_enough_room() -> None:
    lines = [
        line(1, quantity=Decimal(10), received_quantity=Decimal(5)),
        line(2, quantity=Decimal(10)),
    ]
    check = check_receipt(pallet(), item=ITEM, open_lines=lines, sscc_already_received=False)
    assert check.ok and check.line is not None and check.line.line_id == 2


def test_more_than_remaining_is_an_over_receipt_on_the_line() -> None:
    lines = [line(quantity=Decimal(10), received_quantity=Decimal(4))]
    check = check_receipt(
        pallet(sscc=None, weight_kg=Decimal(300)),
        item=ITEM,
        open_lines=lines,
        sscc_already_received=False,
    )
    assert DiscrepancyKind.OVER_RECEIPT in kinds(check)
    assert check.line is not None and check.line.line_id == 1


def test_unknown_item_cannot_be_booked() -> None:
    check = check_receipt(pallet(), item=None, open_lines=[line()], sscc_already_received=False)
    assert kinds(check) == [DiscrepancyKind.UNKNOWN_ITEM]
    assert not check.bookable


def test_sscc_already_received_is_a_duplicate() -> None:
    check = check_receipt(
        pallet(), item=ITEM, open_lines=[line(sscc=SSCC_A)], sscc_already_received=True
    )
    assert kinds(check) == [DiscrepancyKind.DUPLICATE_SSCC]
    assert check.line is None and check.bookable


def test_weight_is_checked_against_the_lines_share_for_the_pallet() -> None:
    lines = [line(quantity=Decimal(40), expected_weight_kg=Decimal(2000))]
    ok = check_receipt(
        pallet(sscc=None, weight_kg=Decimal(505)),
        item=ITEM,
        open_lines=lines,
        sscc_already_received=False,
    )
    heavy = check_receipt(
        pallet(sscc=None, weight_kg=Decimal(520)),
        item=ITEM,
        open_lines=lines,
        sscc_already_received=False,
    )
    assert ok.ok
    assert kinds(heavy) == [DiscrepancyKind.WEIGHT_OUT_OF_TOLERANCE]


def test_without_expected_weight_the_item_unit_weight_is_used() -> None:
    lines = [line(expected_weight_kg=None, sscc=SSCC_A)]
    check = check_receipt(
        pallet(weight_kg=Decimal(400)), item=ITEM, open_lines=lines, sscc_already_received=False
    )
    assert kinds(check) == [DiscrepancyKind.WEIGHT_OUT_OF_TOLERANCE]


def test_no_weight_check_when_nothing_says_what_to_expect() -> None:
    item = ItemInfo(GTIN, "Widget")
    lines = [line(expected_weight_kg=None, sscc=SSCC_A)]
    check = check_receipt(
        pallet(weight_kg=Decimal(1)), item=item, open_lines=lines, sscc_already_received=False
    )
    assert check.ok


decimals = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(5000), places=3)
percents = st.decimals(min_value=Decimal(0), max_value=Decimal(20), places=2)


@settings(max_examples=200)
@given(expected=decimals, tolerance=percents, offset_fraction=st.fractions(-2, 2))
def test_tolerance_band_is_inclusive_and_symmetric(
    expected: Decimal, tolerance: Decimal, offset_fraction: object
) -> None:
    band = expected * tolerance / 100
    offset = band * Decimal(offset_fraction.numerator) / Decimal(offset_fraction.denominator)  # type: ignore[attr-defined]
    inside = abs(offset) <= band
    assert weight_within_tolerance(expected + offset, expected, tolerance) is inside
    assert weight_within_tolerance(expected - offset, expected, tolerance) is inside
