"""Input and output models of the slotting API (plans, re-slot lists)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from contracts.envelope import SiteCode

Metres = Annotated[Decimal, Field(max_digits=18, decimal_places=6)]
NonNegative = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Gtin = Annotated[str, Field(pattern=r"^\d{14}$")]


class PickStart(BaseModel):
    """Where pickers start (and end) their trips, in floor metres."""

    x: Metres
    y: Metres


class AisleCentre(BaseModel):
    """The centre-line x of a pick aisle (pickers walk along it)."""

    aisle: str = Field(min_length=1, max_length=20)
    x: Metres


class CostModelIn(BaseModel):
    """Ergonomic penalties, in extra metres per pick (see central.optimizers.slotting_model)."""

    golden_zone_low_m: NonNegative = Decimal("0.0")
    golden_zone_high_m: NonNegative = Decimal("1.6")
    waist_height_m: NonNegative = Decimal("1.0")
    heavy_item_kg: NonNegative = Decimal("25")
    fast_mover_picks: NonNegative = Decimal("50")
    heavy_above_waist_m_per_pick: NonNegative = Decimal("10")
    fast_outside_golden_m_per_pick: NonNegative = Decimal("5")


class SlottingPlanCreate(BaseModel):
    """Compute a slotting plan for a site; it becomes the site's current plan.

    Demand per item is the number of issues out of storage bins in the last `period_days`,
    unless `demand_overrides` (per GTIN, picks per period) or the item's own
    `pick_frequency_override` say otherwise (in that order): new items have no history.
    """

    site: SiteCode
    period_days: int = Field(default=7, ge=1, le=366)
    demand_overrides: dict[Gtin, NonNegative] = Field(default_factory=dict)
    pick_start: PickStart | None = Field(default=None, description="default: the site's first dock")
    cross_aisles_y: list[Metres] | None = Field(
        default=None, min_length=1, description="default: one cross aisle at the pick start"
    )
    aisle_centres: list[AisleCentre] = Field(
        default_factory=list, description="aisles not listed are walked along the bin's own x"
    )
    cost_model: CostModelIn = Field(default_factory=CostModelIn)
    time_limit_s: float = Field(default=10.0, gt=0, le=600)


class SlottingAssignmentPublic(BaseModel):
    """An item's planned bin next to where its pick face is now."""

    gtin: str
    item_name: str
    picks_per_period: Decimal
    bin: str
    travel_m: Decimal
    cost: Decimal
    current_bin: str | None
    current_cost: Decimal | None


class SlottingPlanPublic(BaseModel):
    """A slotting plan: its quality, its expected travel, and the same for today's layout.

    Costs are pick-metres per period (travel + ergonomic penalties); travel is picks × one-way
    metres. `current_*` covers the items that have a pick face today, and `planned_*_same_items`
    the plan's figures for exactly those items, so the two compare like for like.
    """

    id: int
    site: str
    created_at: datetime
    status: str
    solver_status: str
    engine: str
    objective: Decimal
    lower_bound: Decimal
    gap: Decimal
    expected_travel_m: Decimal
    solve_time_ms: int
    items: int
    items_placed_now: int
    current_cost: Decimal
    current_travel_m: Decimal
    planned_cost_same_items: Decimal
    planned_travel_m_same_items: Decimal
    assignments: list[SlottingAssignmentPublic]


class ReslotListCreate(BaseModel):
    """Propose pallet moves towards the current plan's optimum, at most `max_moves` of them."""

    site: SiteCode
    max_moves: int = Field(ge=1, le=10_000)


class ReslotMovePublic(BaseModel):
    """One pallet move: moves of one group are done in position order."""

    position: int
    group: int
    gtin: str
    sscc: str
    from_bin: str
    to_bin: str
    saving: Decimal
    status: str


class ReslotListPublic(BaseModel):
    """A re-slot list with the cost before and after its moves (pick-metres per period)."""

    id: int
    site: str
    plan_id: int
    created_at: datetime
    status: str
    max_moves: int
    cost_before: Decimal
    cost_after: Decimal
    saving: Decimal
    accepted_at: datetime | None
    moves: list[ReslotMovePublic]
