"""Builders of GS1 identifiers and pallet label element strings, with correct check digits.

The check digit is computed here rather than with biip, so that tests of the scanner decoder
(which uses biip) check it against an independent implementation.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

GS = "\x1d"


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit: weights 3,1,3... from the right."""
    if not digits.isdigit():
        raise ValueError(f"GS1 check digits need digits only, got {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def with_wrong_check_digit(code: str) -> str:
    """The same code with its last (check) digit changed: a misprint or misread."""
    wrong = (int(code[-1]) + 1) % 10
    return f"{code[:-1]}{wrong}"


def sscc(company_prefix: str, serial: int, *, extension: int = 0) -> str:
    """An 18-digit SSCC: extension digit, company prefix, serial reference, check digit."""
    width = 16 - len(company_prefix)
    if not company_prefix.isdigit() or not 6 <= len(company_prefix) <= 12:
        raise ValueError(f"GS1 company prefix must be 6-12 digits, got {company_prefix!r}")
    if not 0 <= serial < 10**width or not 0 <= extension <= 9:
        raise ValueError(f"serial {serial} does not fit in {width} digits")
    body = f"{extension}{company_prefix}{serial:0{width}d}"
    return body + check_digit(body)


def gtin14(company_prefix: str, item_reference: int, *, indicator: int = 0) -> str:
    """A 14-digit GTIN: indicator digit, company prefix, item reference, check digit."""
    width = 12 - len(company_prefix)
    if not company_prefix.isdigit() or not 6 <= len(company_prefix) <= 11:
        raise ValueError(f"GS1 company prefix must be 6-11 digits, got {company_prefix!r}")
    if not 0 <= item_reference < 10**width or not 0 <= indicator <= 9:
        raise ValueError(f"item reference {item_reference} does not fit in {width} digits")
    body = f"{indicator}{company_prefix}{item_reference:0{width}d}"
    return body + check_digit(body)


def pallet_label(
    sscc: str | None = None,
    gtin: str | None = None,
    batch: str | None = None,
    expiry: date | None = None,
    count: int | None = None,
    *,
    net_weight_kg: Decimal | None = None,
    gtin_ai: Literal["01", "02"] = "01",
    separator: str = GS,
) -> str:
    """A GS1 element string as a scanner sends it (no AIM prefix), GS after variable fields.

    Fixed-length fields come first so that only the variable ones (batch, count) need a
    separator, and none ends the string.
    """
    fixed: list[str] = []
    if sscc is not None:
        fixed.append(f"00{sscc}")
    if gtin is not None:
        fixed.append(f"{gtin_ai}{gtin}")
    if expiry is not None:
        fixed.append(f"17{expiry:%y%m%d}")
    if net_weight_kg is not None:
        grams = int((net_weight_kg * 1000).to_integral_value())
        if not 0 <= grams <= 999_999:
            raise ValueError(f"net weight {net_weight_kg} kg does not fit AI 3103")
        fixed.append(f"3103{grams:06d}")
    variable: list[str] = []
    if batch is not None:
        variable.append(f"10{batch}")
    if count is not None:
        variable.append(f"37{count}")
    if not fixed and not variable:
        raise ValueError("a pallet label needs at least one field")
    return "".join(fixed) + separator.join(variable)
