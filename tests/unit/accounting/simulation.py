"""Random histories for property tests: abstract operations turned into valid movements."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import strategies as st

from central.domain.accounting import (
    AccountingPeriod,
    Ledger,
    LedgerConfig,
    MissingUnitCost,
    Movement,
    MovementType,
    NegativeStockPolicy,
    NegativeStockRefused,
    QuantityExceedsDocument,
    ReversalNotAllowed,
    SiteConfig,
    ValuationMethod,
)
from central.domain.accounting.rules import REVERSIBLE
from tests.unit.accounting.book import T0, fixed_clock

T = MovementType
# Refusals the generator can provoke on purpose; anything else is a bug.
EXPECTED_REFUSALS = (
    NegativeStockRefused,
    MissingUnitCost,
    QuantityExceedsDocument,
    ReversalNotAllowed,
)

SITES = ("A", "B", "C")
ITEMS = ("X", "Y")
QUANTITIES = [Decimal(q) for q in ("1", "2", "3", "5", "10", "0.5", "2.25", "7", "0.001", "30000")]
PRICES = [Decimal(p) for p in ("5.00", "7.00", "0.333333333", "1234.567", "0.01", "2.49", "0")]
DRAWS = {
    T.PROOF_OF_DELIVERY: T.DELIVERY_DISPATCH,
    T.CUSTOMER_RETURN: T.DELIVERY_DISPATCH,
    T.TRANSFER_RECEIPT: T.TRANSFER_DISPATCH,
    T.RETURN_TO_VENDOR: T.GOODS_RECEIPT,
    T.VENDOR_INVOICE: T.GOODS_RECEIPT,
}


def config(policy: NegativeStockPolicy) -> LedgerConfig:
    """Site A: EUR moving average; B: EUR FIFO; C: USD, moving average but item Y FIFO."""
    return LedgerConfig(
        sites={
            "A": SiteConfig(negative_stock=policy),
            "B": SiteConfig(valuation_method=ValuationMethod.FIFO, negative_stock=policy),
            "C": SiteConfig(
                currency="USD",
                item_methods={"Y": ValuationMethod.FIFO},
                negative_stock=policy,
            ),
        }
    )


_site = st.sampled_from(("A", "A", "A", "A", "B", "B", "C"))
_item = st.sampled_from(("X", "X", "X", "X", "Y"))
_qty = st.sampled_from(QUANTITIES)
_price = st.sampled_from(PRICES)
_pick = st.integers(0, 40)
# A share of what is on hand, so that issues mostly succeed; None: the raw quantity.
_share = st.sampled_from(
    [None, Decimal("0.25"), Decimal("0.5"), Decimal("0.5"), Decimal(1), Decimal(1)]
)
_issue = st.tuples(
    st.just("issue"),
    st.sampled_from(
        [T.CONSUMPTION, T.SCRAP, T.COUNT_SHORTAGE, T.DELIVERY_DISPATCH, T.BIN_TRANSFER]
    ),
    _site,
    _item,
    _qty,
    _share,
    _pick,
)
_ship = st.tuples(st.just("issue"), st.just(T.DELIVERY_DISPATCH), _site, _item, _qty, _share, _pick)
_draw = st.tuples(st.just("draw"), st.sampled_from(sorted(DRAWS)), _pick, _qty, _price)

_hours = st.integers(-3, 8)  # since the previous event; negative: back-dated
_receive = st.tuples(
    st.just("receive"),
    _site,
    _item,
    _qty,
    _price,
    st.sampled_from([T.GOODS_RECEIPT, T.GOODS_RECEIPT, T.INITIAL_STOCK_LOAD]),
)
# sampled_from + flatmap picks the kind uniformly; one_of would favour its first branches.
operation = st.tuples(
    _hours,
    st.sampled_from(
        [
            _receive,
            _issue,
            _issue,
            _ship,
            st.tuples(st.just("surplus"), _site, _item, _qty, st.none() | _price),
            st.tuples(
                st.just("transfer"),
                st.sampled_from([("A", "B"), ("B", "A")]),
                _item,
                _qty,
                _share,
                _pick,
            ),
            _draw,
            _draw,
            _draw,
            st.tuples(st.just("revalue"), _site, _item, _price),
            st.tuples(st.just("reverse"), _pick),
            st.tuples(st.just("reverse_last")),
            st.tuples(st.just("duplicate"), _pick),
            st.tuples(st.just("close")),
        ]
    ).flatmap(lambda kind: kind),
)
# Histories open with a few receipts so that later issues and draws have stock to work on.
histories = st.builds(
    lambda opening, rest: opening + rest,
    st.lists(st.tuples(_hours, _receive), min_size=1, max_size=3),
    st.lists(operation, max_size=14),
)


@dataclass
class Simulation:
    """Runs operations against a ledger and records what was posted, in order."""

    policy: NegativeStockPolicy
    ledger: Ledger = field(init=False)
    tape: list[Movement | AccountingPeriod] = field(default_factory=list)
    posted: list[Movement] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self) -> None:
        self.ledger = Ledger(config(self.policy), clock=fixed_clock)
        self.at = T0

    def movement(
        self, movement_type: MovementType, site: str, item: str, qty: Decimal, **kwargs: Any
    ) -> Movement:
        currency = self.ledger.config.site(site).currency
        return Movement(uuid4(), movement_type, site, item, qty, self.at, currency, **kwargs)

    def build(self, op: tuple[Any, ...]) -> Movement | None:
        """The movement for an operation, or None if the operation posts nothing new."""
        kind = op[0]
        if kind == "receive":
            _, site, item, qty, price, movement_type = op
            return self.movement(movement_type, site, item, qty, unit_price=price)
        if kind == "issue":
            _, movement_type, site, item, qty, share, pick = op
            site, item = self._stocked(site, item, share, pick, SITES)
            return self.movement(movement_type, site, item, self._part(site, item, qty, share))
        if kind == "surplus":
            _, site, item, qty, price = op
            return self.movement(T.COUNT_SURPLUS, site, item, qty, unit_price=price)
        if kind == "transfer":
            _, (source, target), item, qty, share, pick = op
            source, item = self._stocked(source, item, share, pick, ("A", "B"))
            target = "B" if source == "A" else "A"
            qty = self._part(source, item, qty, share)
            return self.movement(T.TRANSFER_DISPATCH, source, item, qty, to_site=target)
        if kind == "draw":
            return self._draw(*op[1:])
        if kind == "revalue":
            _, site, item, price = op
            on_hand = self.ledger.valuation(site, item).quantity
            if on_hand <= 0:
                return None
            return self.movement(T.REVALUATION, site, item, on_hand, unit_price=price)
        if kind == "reverse":
            live = [
                m for m in self.posted if m.movement_type in REVERSIBLE and not self._reversed(m)
            ]
            return self._reversal(live[op[1] % len(live)]) if live else None
        if kind == "reverse_last":
            last = self.posted[-1] if self.posted else None
            if last is None or last.movement_type not in REVERSIBLE or self._reversed(last):
                return None
            return self._reversal(last)
        return None

    def _stocked(
        self, site: str, item: str, share: Decimal | None, pick: int, sites: tuple[str, ...]
    ) -> tuple[str, str]:
        """With a share, a (site, item) that has stock (if any); else the drawn one."""
        stocked = [
            (v.site, v.item)
            for v in self.ledger.store.valuations()
            if v.quantity > 0 and v.site in sites
        ]
        return stocked[pick % len(stocked)] if share is not None and stocked else (site, item)

    def _part(self, site: str, item: str, qty: Decimal, share: Decimal | None) -> Decimal:
        on_hand = self.ledger.valuation(site, item).quantity
        if share is None or on_hand <= 0:
            return qty
        return max((on_hand * share).quantize(Decimal("0.001")), Decimal("0.001"))

    def _reversed(self, m: Movement) -> bool:
        doc = self.ledger.store.document(m.event_id)
        return doc is not None and doc.reversed_by is not None

    def _reversal(self, original: Movement) -> Movement:
        return self.movement(
            T.REVERSAL,
            original.site,
            original.item,
            original.quantity,
            reference=original.event_id,
        )

    def _available(self, movement_type: MovementType, source: Movement) -> Decimal:
        doc = self.ledger.store.document(source.event_id)
        assert doc is not None
        return {
            T.PROOF_OF_DELIVERY: doc.in_transit_quantity,
            T.TRANSFER_RECEIPT: doc.in_transit_quantity,
            T.CUSTOMER_RETURN: doc.delivered_quantity - doc.returned_quantity,
            T.RETURN_TO_VENDOR: doc.quantity - doc.returned_quantity,
            T.VENDOR_INVOICE: doc.quantity - doc.invoiced_quantity,
        }[movement_type]

    def _draw(
        self, movement_type: MovementType, pick: int, qty: Decimal, price: Decimal
    ) -> Movement | None:
        """Draw on a live document of the right type; if none has anything left, on any
        document that has (so deliveries and returns actually happen)."""
        live = [m for m in self.posted if not self._reversed(m)]
        pairs = [(movement_type, m) for m in live if m.movement_type is DRAWS[movement_type]]
        if not any(self._available(t, m) > 0 for t, m in pairs):
            pairs = [
                (t, m)
                for t in sorted(DRAWS)
                for m in live
                if m.movement_type is DRAWS[t] and self._available(t, m) > 0
            ]
        if not pairs:
            return None
        movement_type, source = pairs[pick % len(pairs)]
        available = self._available(movement_type, source)
        qty = min(qty, available) if available > 0 else qty
        site = source.to_site if movement_type is T.TRANSFER_RECEIPT else source.site
        assert site is not None
        return self.movement(
            movement_type,
            site,
            source.item,
            qty,
            reference=source.event_id,
            unit_price=price if movement_type is T.VENDOR_INVOICE else None,
        )

    def duplicate(self, pick: int) -> Movement | None:
        """A movement posted before, to send again."""
        return self.posted[pick % len(self.posted)] if self.posted else None

    def close(self) -> AccountingPeriod:
        """Close the month before the current event time."""
        period = AccountingPeriod.of((self.at - timedelta(days=31)).date())
        self.ledger.close_period(period)
        self.tape.append(period)
        return period

    def advance(self, hours: int) -> None:
        self.at += timedelta(hours=hours)

    def post(self, movement: Movement) -> bool:
        """Post; True if posted, False if refused (then the ledger must be unchanged)."""
        journal, valuations = self.ledger.journal(), list(self.ledger.store.valuations())
        try:
            self.ledger.post(movement)
        except EXPECTED_REFUSALS:
            self.refused += 1
            assert self.ledger.journal() == journal
            assert list(self.ledger.store.valuations()) == valuations
            assert self.ledger.store.posted(movement.event_id) is None
            return False
        self.posted.append(movement)
        self.tape.append(movement)
        return True


def replay_tape(sim: Simulation) -> Ledger:
    """A fresh ledger fed the same movements and period closings in the same order."""
    ledger = Ledger(sim.ledger.config, clock=fixed_clock)
    for step in sim.tape:
        if isinstance(step, AccountingPeriod):
            ledger.close_period(step)
        else:
            ledger.post(replace(step))
    return ledger
