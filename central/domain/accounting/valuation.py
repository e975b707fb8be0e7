"""Stock valuation per (site, item): moving average or FIFO layers, as pure functions.

State is a frozen ItemValuation holding ValuationLayer rows; every function returns the new
state and what the journal needs. Values, not unit costs, are stored, so the inventory
account equals the sum of layer values to the cent by construction.

- Moving average keeps one pooled layer; FIFO keeps one layer per receipt, oldest issued first.
- Issues are valued at the layer's unit cost rounded to UNIT_COST_PLACES. When a layer's
  quantity reaches zero, what is left of its value is the rounding residue (own journal line).
- Under NegativeStockPolicy.ALLOW, stock short of an issue becomes a deficit layer (negative
  quantity) valued provisionally at the last known unit cost. The next receipt settles it at
  the receipt's cost; the difference is the true-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from central.domain.accounting.errors import MissingUnitCost, NegativeStockRefused
from central.domain.accounting.money import quantize_money, quantize_unit_cost

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)
POOL_LAYER_ID = "pool"
DEFICIT_LAYER_ID = "deficit"


class ValuationMethod(StrEnum):
    """How issued stock is valued."""

    MOVING_AVERAGE = "moving_average"
    FIFO = "fifo"


class NegativeStockPolicy(StrEnum):
    """What a site does when an issue needs more than is on hand."""

    REFUSE = "refuse"  # raise NegativeStockRefused, nothing posts
    ALLOW = "allow"  # post at the last known unit cost, true it up when stock arrives


@dataclass(frozen=True)
class ValuationLayer:
    """Remaining quantity and value of one receipt (FIFO), the pool (moving average), or a
    deficit (negative quantity, provisional value)."""

    layer_id: str
    sequence: int
    source_event_id: UUID | None
    quantity: Decimal
    value: Decimal

    @property
    def unit_cost(self) -> Decimal:
        """Value per unit (exact to the Decimal context), zero for an empty layer."""
        return self.value / self.quantity if self.quantity else _ZERO


@dataclass(frozen=True)
class ItemValuation:
    """Valuation state of one item at one site.

    Args:
        last_unit_cost: the most recent unit cost seen; values stock short of an issue.
        next_sequence: FIFO order of the next layer.
        last_occurred_at: latest occurrence time posted; an older event is a late one.
    """

    site: str
    item: str
    currency: str
    method: ValuationMethod
    layers: tuple[ValuationLayer, ...] = ()
    last_unit_cost: Decimal | None = None
    next_sequence: int = 1
    last_occurred_at: datetime | None = None

    @property
    def quantity(self) -> Decimal:
        """Quantity on hand (negative while a deficit is open)."""
        return sum((layer.quantity for layer in self.layers), _ZERO)

    @property
    def value(self) -> Decimal:
        """Stock value: the sum of the layer values."""
        return sum((layer.value for layer in self.layers), _ZERO)

    @property
    def unit_cost(self) -> Decimal:
        """Average value per unit on hand (exact), or the last known cost when empty."""
        if self.quantity:
            return self.value / self.quantity
        return self.last_unit_cost or _ZERO

    def _positive(self) -> list[ValuationLayer]:
        return sorted((la for la in self.layers if la.quantity > 0), key=lambda la: la.sequence)

    def _deficit(self) -> ValuationLayer | None:
        return next((la for la in self.layers if la.quantity < 0), None)


@dataclass(frozen=True)
class Receipt:
    """What a receipt did: `true_up` is the settled deficit's value correction (a stock
    value change on top of the receipt's own value; posted against price differences)."""

    true_up: Decimal


@dataclass(frozen=True)
class Issue:
    """What an issue took: `value` at the valuation price (incl. provisional value of
    stock short), `rounding` the residue of emptied layers, `provisional_quantity` short."""

    value: Decimal
    rounding: Decimal
    provisional_quantity: Decimal

    @property
    def stock_value(self) -> Decimal:
        """Total value that left stock."""
        return self.value + self.rounding


def _without(layers: tuple[ValuationLayer, ...], *drop: str) -> list[ValuationLayer]:
    return [la for la in layers if la.layer_id not in drop]


def _share(amount: Decimal, part: Decimal, whole: Decimal, currency: str) -> Decimal:
    """`amount` x part/whole in minor units, exactly `amount` when part is the whole."""
    return amount if part == whole else quantize_money(amount * part / whole, currency)


def receive(
    state: ItemValuation, *, quantity: Decimal, value: Decimal, event_id: UUID
) -> tuple[ItemValuation, Receipt]:
    """Add `quantity` worth `value` to stock, settling an open deficit first."""
    layers = list(state.layers)
    remaining_qty, remaining_value, true_up = quantity, value, _ZERO
    deficit = state._deficit()
    if deficit is not None:
        settled = min(quantity, -deficit.quantity)
        provisional = _share(-deficit.value, settled, -deficit.quantity, state.currency)
        actual = _share(value, settled, quantity, state.currency)
        true_up = provisional - actual
        layers = _without(state.layers, deficit.layer_id)
        if settled < -deficit.quantity:
            layers.append(
                replace(
                    deficit,
                    quantity=deficit.quantity + settled,
                    value=deficit.value + provisional,
                )
            )
        else:
            logger.info("deficit of item %s at site %s settled", state.item, state.site)
        remaining_qty -= settled
        remaining_value -= actual
    sequence = state.next_sequence
    if remaining_qty > 0:
        pool = next((la for la in layers if la.layer_id == POOL_LAYER_ID), None)
        if state.method is ValuationMethod.MOVING_AVERAGE and pool is not None:
            layers = _without(tuple(layers), POOL_LAYER_ID)
            layers.append(
                replace(
                    pool, quantity=pool.quantity + remaining_qty, value=pool.value + remaining_value
                )
            )
        else:
            layer_id = (
                POOL_LAYER_ID if state.method is ValuationMethod.MOVING_AVERAGE else str(event_id)
            )
            layers.append(
                ValuationLayer(layer_id, sequence, event_id, remaining_qty, remaining_value)
            )
            sequence += 1
    new = replace(state, layers=tuple(layers), next_sequence=sequence)
    pooled = state.method is ValuationMethod.MOVING_AVERAGE and new.quantity > 0
    last_cost = new.unit_cost if pooled else value / quantity
    return replace(new, last_unit_cost=quantize_unit_cost(last_cost)), Receipt(true_up)


def issue(
    state: ItemValuation,
    *,
    quantity: Decimal,
    policy: NegativeStockPolicy,
    prefer_layer: str | None = None,
) -> tuple[ItemValuation, Issue]:
    """Take `quantity` out of stock: FIFO oldest layer first (or `prefer_layer` first)."""
    order = state._positive()
    order.sort(key=lambda la: la.layer_id != prefer_layer)
    need, value, rounding = quantity, _ZERO, _ZERO
    last_cost = state.last_unit_cost
    kept: dict[str, ValuationLayer] = {la.layer_id: la for la in state.layers}
    for layer in order:
        if need == 0:
            break
        take = min(need, layer.quantity)
        last_cost = quantize_unit_cost(layer.unit_cost)
        consumed = quantize_money(take * last_cost, state.currency)
        if take == layer.quantity:
            rounding += layer.value - consumed
            del kept[layer.layer_id]
        else:
            # Never take more value than the layer holds while quantity remains.
            consumed = min(consumed, layer.value)
            kept[layer.layer_id] = replace(
                layer, quantity=layer.quantity - take, value=layer.value - consumed
            )
        value += consumed
        need -= take
    if need > 0:
        if policy is NegativeStockPolicy.REFUSE:
            raise NegativeStockRefused(state.site, state.item, max(state.quantity, _ZERO), quantity)
        if last_cost is None:
            raise MissingUnitCost(state.site, state.item)
        provisional = quantize_money(need * last_cost, state.currency)
        deficit = kept.pop(DEFICIT_LAYER_ID, None)
        kept[DEFICIT_LAYER_ID] = ValuationLayer(
            DEFICIT_LAYER_ID,
            deficit.sequence if deficit else state.next_sequence,
            None,
            (deficit.quantity if deficit else _ZERO) - need,
            (deficit.value if deficit else _ZERO) - provisional,
        )
        logger.info(
            "item %s at site %s is %s short, valued provisionally at %s",
            state.item,
            state.site,
            need,
            last_cost,
        )
        value += provisional
    new = replace(
        state,
        last_unit_cost=last_cost,
        layers=tuple(sorted(kept.values(), key=lambda la: la.sequence)),
        next_sequence=state.next_sequence + (1 if need > 0 else 0),
    )
    return new, Issue(value, rounding, need)


def return_received(
    state: ItemValuation,
    *,
    quantity: Decimal,
    original_value: Decimal,
    source_event_id: UUID,
    policy: NegativeStockPolicy,
) -> tuple[ItemValuation, Decimal]:
    """Take received stock back out at the receipt's own value where stock allows.

    Moving average: the pool loses `original_value` (its average is recomputed), unless the
    pool would be emptied or go below zero value; then it loses what it holds. FIFO: the
    receipt's own layer is consumed first. Returns the value that left stock; the caller
    posts the difference to the original value as a price difference.
    """
    if state.method is ValuationMethod.MOVING_AVERAGE:
        pool = next((la for la in state._positive()), None)
        if pool is not None and quantity < pool.quantity:
            taken = min(original_value, pool.value)
            layers = [*_without(state.layers, pool.layer_id)]
            layers.append(
                replace(pool, quantity=pool.quantity - quantity, value=pool.value - taken)
            )
            layers.sort(key=lambda la: la.sequence)
            return replace(state, layers=tuple(layers)), taken
    new, result = issue(state, quantity=quantity, policy=policy, prefer_layer=str(source_event_id))
    return new, result.stock_value


def adjust_value(
    state: ItemValuation,
    *,
    amount: Decimal,
    quantity: Decimal,
    source_event_id: UUID,
) -> tuple[ItemValuation, Decimal]:
    """Put an invoice variance on stock still on hand from the receipt; return the part applied.

    `amount` is the variance for `quantity` invoiced units. The covered share is
    min(on hand, quantity) / quantity, where "on hand" is the pool (moving average) or what is
    left of the receipt's own layer (FIFO). A variance that would drive the value below zero
    is capped there (the rest is a price difference, never negative stock value).
    """
    if state.method is ValuationMethod.MOVING_AVERAGE:
        target = next((la for la in state._positive()), None)
    else:
        target = next((la for la in state._positive() if la.layer_id == str(source_event_id)), None)
    if target is None or amount == 0:
        return state, _ZERO
    applied = _share(amount, min(target.quantity, quantity), quantity, state.currency)
    applied = max(applied, -target.value)
    layers = [
        *_without(state.layers, target.layer_id),
        replace(target, value=target.value + applied),
    ]
    layers.sort(key=lambda la: la.sequence)
    new = replace(state, layers=tuple(layers))
    if state.method is ValuationMethod.MOVING_AVERAGE:
        new = replace(new, last_unit_cost=quantize_unit_cost(new.unit_cost))
    return new, applied


def revalue(state: ItemValuation, *, unit_cost: Decimal) -> tuple[ItemValuation, Decimal]:
    """Set every layer on hand to `unit_cost`; return the change in stock value."""
    layers = []
    delta = _ZERO
    for layer in state.layers:
        new_value = quantize_money(layer.quantity * unit_cost, state.currency)
        delta += new_value - layer.value
        layers.append(replace(layer, value=new_value))
    return replace(state, layers=tuple(layers), last_unit_cost=unit_cost), delta
