"""Posting rules as data: which role is debited and credited, and how the value is found.

A rule set is versioned. Entries record the version they were posted under, so a later
RULES_V2 never changes how history reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from central.domain.accounting.accounts import AccountRole
from central.domain.accounting.movements import MovementType


class StockEffect(StrEnum):
    """What a movement does to the valuation of (site, item)."""

    RECEIVE = "receive"  # adds stock at the basis value
    ISSUE = "issue"  # removes stock at the valuation price
    RETURN_RECEIVED = "return_received"  # removes stock at the referenced receipt's value
    INVOICE = "invoice"  # settles GR/IR; the variance revalues stock still covered
    CLEAR_TRANSIT = "clear_transit"  # in-transit value leaves to the debit account
    RECEIVE_FROM_TRANSIT = "receive_from_transit"  # in-transit value enters stock
    REVALUE = "revalue"  # new unit cost for the quantity on hand
    QUANTITY_ONLY = "quantity_only"  # no journal entry
    REVERSE = "reverse"  # storno of the referenced movement


class ValuationBasis(StrEnum):
    """Where the amount of the rule's debit/credit pair comes from."""

    ORDER_PRICE = "order_price"  # quantity x PO price on the movement
    ENTERED_VALUE = "entered_value"  # quantity x unit price entered on the movement
    VALUATION_PRICE = "valuation_price"  # the current moving average or FIFO layers
    ORIGINAL_DOCUMENT = "original_document"  # the referenced document's own values
    TRANSIT_VALUE = "transit_value"  # the value the goods left the issuing site with
    PRICE_CHANGE = "price_change"  # delta (new - old unit cost) x quantity on hand
    NONE = "none"


class PriceUse(StrEnum):
    """Whether the movement's unit_price is required, optional or not accepted."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class PostingRule:
    """How one movement type posts.

    Args:
        debit: role debited with the basis value (None for quantity-only or reversals).
        credit: role credited with the basis value.
        basis: how the value is found.
        effect: what happens to the valuation.
        price: whether the movement carries a unit price.
        references: movement types the reference may point to (empty: no reference).
        opens_transit: the value stays in transit until a later movement clears it.
        needs_to_site: a receiving site is required (site-to-site transfer).
        sap_code: the SAP movement type, for people who know it.
    """

    debit: AccountRole | None
    credit: AccountRole | None
    basis: ValuationBasis
    effect: StockEffect
    price: PriceUse = PriceUse.FORBIDDEN
    references: frozenset[MovementType] = frozenset()
    opens_transit: bool = False
    needs_to_site: bool = False
    sap_code: str = ""


@dataclass(frozen=True)
class RuleSet:
    """A versioned table of posting rules, one per movement type."""

    version: str
    rules: Mapping[MovementType, PostingRule]

    def __post_init__(self) -> None:
        missing = [t.value for t in MovementType if t not in self.rules]
        if missing:
            raise ValueError(f"rule set {self.version} has no rule for: {', '.join(missing)}")

    def rule(self, movement_type: MovementType) -> PostingRule:
        """The rule for a movement type."""
        return self.rules[movement_type]


_R = AccountRole
_M = MovementType

# Invoices and revaluations are settled by a new document (credit note, new price), not by
# a storno: their valuation effect depends on stock that has moved on since.
REVERSIBLE: frozenset[MovementType] = frozenset(MovementType) - {
    _M.REVERSAL,
    _M.VENDOR_INVOICE,
    _M.REVALUATION,
}

RULES_V1 = RuleSet(
    version="v1",
    rules={
        _M.GOODS_RECEIPT: PostingRule(
            _R.INVENTORY,
            _R.GR_IR_CLEARING,
            ValuationBasis.ORDER_PRICE,
            StockEffect.RECEIVE,
            price=PriceUse.REQUIRED,
            sap_code="101",
        ),
        _M.RETURN_TO_VENDOR: PostingRule(
            _R.GR_IR_CLEARING,
            _R.INVENTORY,
            ValuationBasis.ORIGINAL_DOCUMENT,
            StockEffect.RETURN_RECEIVED,
            references=frozenset({_M.GOODS_RECEIPT}),
            sap_code="122",
        ),
        _M.VENDOR_INVOICE: PostingRule(
            _R.GR_IR_CLEARING,
            _R.ACCOUNTS_PAYABLE,
            ValuationBasis.ORIGINAL_DOCUMENT,
            StockEffect.INVOICE,
            price=PriceUse.REQUIRED,
            references=frozenset({_M.GOODS_RECEIPT}),
            sap_code="MIRO",
        ),
        _M.DELIVERY_DISPATCH: PostingRule(
            _R.STOCK_IN_TRANSIT,
            _R.INVENTORY,
            ValuationBasis.VALUATION_PRICE,
            StockEffect.ISSUE,
            opens_transit=True,
            sap_code="601",
        ),
        _M.PROOF_OF_DELIVERY: PostingRule(
            _R.COGS,
            _R.STOCK_IN_TRANSIT,
            ValuationBasis.TRANSIT_VALUE,
            StockEffect.CLEAR_TRANSIT,
            references=frozenset({_M.DELIVERY_DISPATCH}),
            sap_code="601",
        ),
        _M.CUSTOMER_RETURN: PostingRule(
            _R.INVENTORY,
            _R.COGS,
            ValuationBasis.ORIGINAL_DOCUMENT,
            StockEffect.RECEIVE,
            references=frozenset({_M.DELIVERY_DISPATCH}),
            sap_code="653",
        ),
        _M.CONSUMPTION: PostingRule(
            _R.CONSUMPTION,
            _R.INVENTORY,
            ValuationBasis.VALUATION_PRICE,
            StockEffect.ISSUE,
            sap_code="201",
        ),
        _M.SCRAP: PostingRule(
            _R.SCRAP,
            _R.INVENTORY,
            ValuationBasis.VALUATION_PRICE,
            StockEffect.ISSUE,
            sap_code="551",
        ),
        _M.COUNT_SURPLUS: PostingRule(
            _R.INVENTORY,
            _R.INVENTORY_GAIN,
            ValuationBasis.VALUATION_PRICE,
            StockEffect.RECEIVE,
            price=PriceUse.OPTIONAL,
            sap_code="701",
        ),
        _M.COUNT_SHORTAGE: PostingRule(
            _R.INVENTORY_LOSS,
            _R.INVENTORY,
            ValuationBasis.VALUATION_PRICE,
            StockEffect.ISSUE,
            sap_code="702",
        ),
        _M.TRANSFER_DISPATCH: PostingRule(
            _R.STOCK_IN_TRANSIT,
            _R.INVENTORY,
            ValuationBasis.VALUATION_PRICE,
            StockEffect.ISSUE,
            opens_transit=True,
            needs_to_site=True,
            sap_code="303",
        ),
        _M.TRANSFER_RECEIPT: PostingRule(
            _R.INVENTORY,
            _R.STOCK_IN_TRANSIT,
            ValuationBasis.TRANSIT_VALUE,
            StockEffect.RECEIVE_FROM_TRANSIT,
            references=frozenset({_M.TRANSFER_DISPATCH}),
            sap_code="305",
        ),
        _M.BIN_TRANSFER: PostingRule(
            None, None, ValuationBasis.NONE, StockEffect.QUANTITY_ONLY, sap_code="311"
        ),
        _M.INITIAL_STOCK_LOAD: PostingRule(
            _R.INVENTORY,
            _R.OPENING_BALANCE,
            ValuationBasis.ENTERED_VALUE,
            StockEffect.RECEIVE,
            price=PriceUse.REQUIRED,
            sap_code="561",
        ),
        _M.REVALUATION: PostingRule(
            _R.INVENTORY,
            _R.REVALUATION,
            ValuationBasis.PRICE_CHANGE,
            StockEffect.REVALUE,
            price=PriceUse.REQUIRED,
            sap_code="MR21",
        ),
        _M.REVERSAL: PostingRule(
            None,
            None,
            ValuationBasis.ORIGINAL_DOCUMENT,
            StockEffect.REVERSE,
            references=REVERSIBLE,
            sap_code="storno",
        ),
    },
)
