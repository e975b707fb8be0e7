"""Money: Decimal amounts with a currency, and the one rounding rule of the ledger.

Rounding rule: amounts are quantized to the currency's minor unit with ROUND_HALF_EVEN
(banker's rounding), so rounding over many postings has no upward bias. Unit costs are kept
to UNIT_COST_PLACES decimals (prices such as 0.00125 per screw survive). Whatever an issue at
the rounded unit cost leaves behind when a layer's quantity reaches zero is posted to the
Rounding account, never left in stock.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from central.domain.accounting.errors import UnknownCurrency

ROUNDING = ROUND_HALF_EVEN
UNIT_COST_PLACES = 6

MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "CAD": 2,
    "AUD": 2,
    "CNY": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "BHD": 3,
}

_UNIT_COST_EXPONENT = Decimal(1).scaleb(-UNIT_COST_PLACES)


def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit (ROUND_HALF_EVEN)."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUNDING)


def quantize_unit_cost(amount: Decimal) -> Decimal:
    """Round a unit cost to UNIT_COST_PLACES decimals (ROUND_HALF_EVEN)."""
    return amount.quantize(_UNIT_COST_EXPONENT, rounding=ROUNDING)


@dataclass(frozen=True)
class Money:
    """An amount in one currency, always quantized to its minor unit."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValueError(f"money amount must be a finite Decimal, got {self.amount!r}")
        if quantize_money(self.amount, self.currency) != self.amount or (
            self.amount.as_tuple().exponent != -minor_unit(self.currency)
        ):
            raise ValueError(
                f"{self.amount} is not quantized to {self.currency}'s minor unit; use Money.of()"
            )

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Money rounded to the currency's minor unit."""
        return cls(quantize_money(Decimal(amount), currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in the currency."""
        return cls.of(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money.of(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money.of(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money.of(-self.amount, self.currency)

    def is_zero(self) -> bool:
        """True for an amount of zero."""
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
