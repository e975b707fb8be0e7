"""Slotting use cases: plan a site's slotting from its data, put away by the plan, re-slot.

* `compute_plan` reads the site's bins (geometry, capacity, temperature and hazard classes) and
  items (demand from the stock history over a period, with overrides; pallet weight and cube),
  solves `central.optimizers.slotting` to proven optimality and stores the plan as the site's
  current one.
* `planned_putaway` picks the bin for a received pallet: the item's planned bin while it has
  room, else the free compatible bin cheapest under the plan's cost model (`best_bin_for`).
* `propose_reslot` / `accept_reslot`: moves from today's pick faces towards the optimum under a
  move budget. Accepting opens one putaway task per move on the pallet to move; the worker
  scans the pallet's SSCC, then the new bin (`putaway.confirmed`), which books a bin-to-bin
  stock move (quantity only, no journal entry: SAP 311) and, through `finish_reslot_task`,
  marks the move done.

The model is one pick face (pallet position) per item. An item's pick face today is the
cheapest bin that holds nothing but one of its pallets; its other pallets are reserve stock and
their bins are left out of re-slotting.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, or_, select

from central.domain.errors import UnknownSite
from central.domain.putaway import BinState, PalletLoad, Point
from central.optimizers.slotting import (
    AisleLayout,
    Bin,
    CostModel,
    Item,
    SlottingProblem,
    SlottingResult,
    SlottingStatus,
    best_bin_for,
    expected_travel,
    plan_cost,
    rectilinear_travel,
    reslot_moves,
    solve,
)
from central.slotting_errors import (
    NoSlottingPlan,
    ReslotInProgress,
    ReslotListNotProposed,
    SlottingInfeasible,
    StaleReslotList,
    UnknownReslotList,
    UnknownSlottingPlan,
)
from central.slotting_schemas import (
    CostModelIn,
    PickStart,
    ReslotListCreate,
    ReslotListPublic,
    ReslotMovePublic,
    SlottingAssignmentPublic,
    SlottingPlanCreate,
    SlottingPlanPublic,
)
from central.store import tables as t

logger = logging.getLogger(__name__)

AMBIENT = "ambient"
# A bin without a volume or weight limit in the master data: larger than any pallet.
_NO_LIMIT = Decimal(10) ** 9
_SIX_PLACES = Decimal("0.000001")


def _q(value: Decimal) -> Decimal:
    """Six decimal places, the scale of every stored quantity."""
    return value.quantize(_SIX_PLACES)


def split_hazard_classes(value: str | None) -> list[str]:
    """The hazard classes of a location's comma-separated column."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def join_hazard_classes(classes: Iterable[str]) -> str | None:
    """Hazard classes as stored in a location row (None when there are none)."""
    cleaned = sorted({c.strip() for c in classes if c.strip()})
    return ",".join(cleaned) or None


# ----------------------------------------------------------------------------- reading the site


def _cost_model(params: CostModelIn) -> CostModel:
    return CostModel(
        golden_zone_m=(params.golden_zone_low_m, params.golden_zone_high_m),
        waist_height_m=params.waist_height_m,
        heavy_item_kg=params.heavy_item_kg,
        fast_mover_picks=params.fast_mover_picks,
        heavy_above_waist_m_per_pick=params.heavy_above_waist_m_per_pick,
        fast_outside_golden_m_per_pick=params.fast_outside_golden_m_per_pick,
    )


def _layout(params: SlottingPlanCreate) -> AisleLayout:
    assert params.pick_start is not None and params.cross_aisles_y is not None  # resolved
    return AisleLayout(
        dock_x=params.pick_start.x,
        dock_y=params.pick_start.y,
        cross_aisles_y=tuple(params.cross_aisles_y),
        aisle_centres=tuple((a.aisle, a.x) for a in params.aisle_centres),
    )


def _number(text: str | None) -> int:
    return int(text) if text is not None and text.isdigit() else 0


def _bin(location: t.Location, layout: AisleLayout) -> Bin:
    return Bin(
        code=location.code,
        aisle=location.aisle or "",
        bay=_number(location.bay),
        level=_number(location.level),
        x=location.x,
        y=location.y,
        z=location.z,
        travel_m=rectilinear_travel(location.x, location.y, aisle=location.aisle, layout=layout),
        max_volume_m3=_NO_LIMIT if location.max_volume_m3 is None else location.max_volume_m3,
        max_weight_kg=_NO_LIMIT if location.max_weight_kg is None else location.max_weight_kg,
        temperature_class=location.temperature_class or AMBIENT,
        hazard_classes=frozenset(split_hazard_classes(location.hazard_classes)),
    )


def _storage_bins(session: Session, site: str) -> list[t.Location]:
    """The site's bins that can hold a pallet."""
    return list(
        session.exec(
            select(t.Location)
            .where(
                t.Location.site_code == site,
                t.Location.kind == "bin",
                or_(col(t.Location.max_pallets).is_(None), col(t.Location.max_pallets) >= 1),
            )
            .order_by(col(t.Location.code))
        ).all()
    )


def _resolved(session: Session, request: SlottingPlanCreate) -> SlottingPlanCreate:
    """The request with the pick start and cross aisles filled in from the site."""
    if session.get(t.Site, request.site) is None:
        raise UnknownSite(f"site {request.site} does not exist; create it through POST /sites")
    start = request.pick_start
    if start is None:
        dock = session.exec(
            select(t.Dock).where(t.Dock.site_code == request.site).order_by(col(t.Dock.id))
        ).first()
        start = PickStart(x=dock.x, y=dock.y) if dock else PickStart(x=Decimal(0), y=Decimal(0))
    cross = request.cross_aisles_y or [start.y]
    return request.model_copy(update={"pick_start": start, "cross_aisles_y": cross})


def _picks_from_history(session: Session, site: str, since: datetime) -> dict[int, int]:
    """Issues out of storage bins per item since `since`: each stock move out of a bin to
    outside the site or to a location that is not a bin counts as one pick."""
    source = aliased(t.Location)
    target = aliased(t.Location)
    rows = session.exec(
        select(t.StockMove.item_id, func.count())
        .join(source, col(source.id) == t.StockMove.from_location_id)
        .outerjoin(target, col(target.id) == t.StockMove.to_location_id)
        .where(
            t.StockMove.site_code == site,
            source.kind == "bin",
            or_(col(target.id).is_(None), target.kind != "bin"),
            col(t.StockMove.created_at) >= since,
        )
        .group_by(col(t.StockMove.item_id))
    ).all()
    return {item_id: int(count) for item_id, count in rows}


@dataclass
class _Pallets:
    """The biggest pallet seen of an item at a site (received or announced)."""

    weight_kg: Decimal = Decimal(0)
    quantity: Decimal = Decimal(0)

    def add(self, quantity: Decimal, weight_kg: Decimal | None) -> None:
        self.quantity = max(self.quantity, quantity)
        if weight_kg is not None:
            self.weight_kg = max(self.weight_kg, weight_kg)


def _pallet_sizes(session: Session, site: str) -> dict[int, _Pallets]:
    """Per item id, the biggest pallet received at the site or announced on an open ASN line."""
    pallets: dict[int, _Pallets] = defaultdict(_Pallets)
    for hu in session.exec(select(t.HandlingUnit).where(t.HandlingUnit.site_code == site)).all():
        pallets[hu.item_id].add(hu.quantity, hu.weight_kg)
    # A line with an SSCC is one pallet: its quantity and weight are a pallet's.
    for line, item_id in session.exec(
        select(t.ExpectedReceiptLine, t.Item.id)
        .join(t.ExpectedReceipt, col(t.ExpectedReceipt.id) == t.ExpectedReceiptLine.receipt_id)
        .join(t.Item, col(t.Item.gtin) == t.ExpectedReceiptLine.gtin)
        .where(
            t.ExpectedReceipt.site_code == site,
            t.ExpectedReceipt.status == "open",
            col(t.ExpectedReceiptLine.sscc).is_not(None),
        )
    ).all():
        assert item_id is not None
        pallets[item_id].add(line.quantity, line.expected_weight_kg)
    return pallets


def _site_items(
    session: Session, request: SlottingPlanCreate, *, now: datetime
) -> tuple[list[t.Item], dict[int, Decimal]]:
    """Items to slot (stocked, picked, expected or overridden at the site) and their picks."""
    site = request.site
    history = _picks_from_history(session, site, now - timedelta(days=request.period_days))
    expected_gtins = set(
        session.exec(
            select(t.ExpectedReceiptLine.gtin)
            .join(t.ExpectedReceipt, col(t.ExpectedReceipt.id) == t.ExpectedReceiptLine.receipt_id)
            .where(t.ExpectedReceipt.site_code == site, t.ExpectedReceipt.status == "open")
        ).all()
    )
    stocked = set(
        session.exec(
            select(t.StockBalance.item_id).where(
                t.StockBalance.site_code == site, t.StockBalance.quantity != Decimal(0)
            )
        ).all()
    )
    wanted = or_(
        col(t.Item.id).in_(stocked | set(history)),
        col(t.Item.gtin).in_(expected_gtins | set(request.demand_overrides)),
    )
    items = list(session.exec(select(t.Item).where(wanted).order_by(col(t.Item.gtin))).all())
    picks: dict[int, Decimal] = {}
    for item in items:
        assert item.id is not None
        override = request.demand_overrides.get(item.gtin, item.pick_frequency_override)
        picks[item.id] = override if override is not None else Decimal(history.get(item.id, 0))
    return items, picks


def _item(item: t.Item, picks: Decimal, pallet: _Pallets) -> Item:
    volume = (item.unit_volume_m3 or Decimal(0)) * pallet.quantity
    weight = pallet.weight_kg
    if weight == 0 and item.unit_weight_kg is not None:
        weight = item.unit_weight_kg * pallet.quantity
    return Item(
        sku=item.gtin,
        picks_per_period=picks,
        volume_m3=volume,
        weight_kg=weight,
        temperature_class=item.temperature_class or AMBIENT,
        hazard_class=item.hazard_class,
    )


# ----------------------------------------------------------------------------- computing a plan


@dataclass(frozen=True)
class SiteProblem:
    """A site's slotting problem with the database ids behind its codes."""

    problem: SlottingProblem
    item_ids: Mapping[str, int]
    location_ids: Mapping[str, int]
    params: SlottingPlanCreate


def build_problem(session: Session, request: SlottingPlanCreate, *, now: datetime) -> SiteProblem:
    """The site's slotting problem: every storage bin and every item it needs a slot for."""
    params = _resolved(session, request)
    layout = _layout(params)
    locations = _storage_bins(session, params.site)
    items, picks = _site_items(session, params, now=now)
    pallets = _pallet_sizes(session, params.site)
    item_ids: dict[str, int] = {}
    models = []
    for item in items:
        assert item.id is not None
        item_ids[item.gtin] = item.id
        models.append(_item(item, picks[item.id], pallets[item.id]))
    location_ids = {loc.code: loc.id for loc in locations if loc.id is not None}
    problem = SlottingProblem(
        items=tuple(models),
        bins=tuple(_bin(loc, layout) for loc in locations),
        cost_model=_cost_model(params.cost_model),
    )
    return SiteProblem(problem, MappingProxyType(item_ids), MappingProxyType(location_ids), params)


def compute_plan(
    session: Session,
    request: SlottingPlanCreate,
    *,
    now: datetime,
    on_stage: Callable[[str], None] | None = None,
) -> t.SlottingPlan:
    """Solve the site's slotting and store the plan as its current one (the caller commits).

    Raises UnknownSite, or SlottingInfeasible when the bins cannot take every item.
    """
    stage = on_stage or (lambda _name: None)
    stage("reading bins, items and demand")
    site_problem = build_problem(session, request, now=now)
    problem = site_problem.problem
    stage(f"solving {len(problem.items)} items x {len(problem.bins)} bins")
    result = solve(problem, time_limit_s=request.time_limit_s, seed=0)
    if result.objective is None or result.lower_bound is None or result.gap is None:
        raise SlottingInfeasible(
            f"site {request.site}: no plan places all {len(problem.items)} items in its "
            f"{len(problem.bins)} bins ({result.status.value}); add compatible bins (temperature, "
            "hazard class, weight, volume) or take items out"
        )
    stage("storing the plan")
    for old in session.exec(
        select(t.SlottingPlan).where(
            t.SlottingPlan.site_code == request.site, t.SlottingPlan.status == "current"
        )
    ).all():
        old.status = "superseded"
        session.add(old)
    plan = t.SlottingPlan(
        site_code=request.site,
        created_at=now,
        status="current",
        solver_status=result.status.value,
        engine=result.engine,
        objective=_q(result.objective),
        lower_bound=_q(result.lower_bound),
        gap=_q(result.gap),
        expected_travel_m=_q(expected_travel(problem, result.assignment)),
        solve_time_ms=round(result.solve_time_s * 1000),
        parameters=site_problem.params.model_dump_json(),
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    cost = problem.cost_model.cost
    for sku, code in sorted(result.assignment.items()):
        item = problem.item_by_sku[sku]
        session.add(
            t.SlottingAssignment(
                plan_id=plan.id,
                item_id=site_problem.item_ids[sku],
                location_id=site_problem.location_ids[code],
                picks_per_period=item.picks_per_period,
                cost=_q(cost(item, problem.bin_by_code[code])),
            )
        )
    session.flush()
    logger.info(
        "slotting plan %s for %s: %s items, objective %s (%s, gap %s)",
        plan.id,
        request.site,
        len(problem.items),
        plan.objective,
        result.status.value,
        plan.gap,
    )
    return plan


# ----------------------------------------------------------------------------- a stored plan


@dataclass(frozen=True)
class StoredPlan:
    """A stored plan rebuilt as the optimizer's objects, for putaway, views and re-slotting."""

    row: t.SlottingPlan
    params: SlottingPlanCreate
    cost_model: CostModel
    layout: AisleLayout
    planned: Mapping[int, int]  # item id -> location id
    picks: Mapping[int, Decimal]  # item id -> picks per period

    def result(self, assignment: Mapping[str, str]) -> SlottingResult:
        """The plan as a SlottingResult over `assignment` (sku -> bin code)."""
        return SlottingResult(
            status=SlottingStatus(self.row.solver_status),
            assignment=MappingProxyType(dict(assignment)),
            objective=self.row.objective,
            lower_bound=self.row.lower_bound,
            gap=self.row.gap,
            solve_time_s=self.row.solve_time_ms / 1000,
            engine=self.row.engine,
            cost_model=self.cost_model,
        )


def _stored(session: Session, row: t.SlottingPlan) -> StoredPlan:
    params = SlottingPlanCreate.model_validate_json(row.parameters)
    rows = session.exec(
        select(t.SlottingAssignment).where(t.SlottingAssignment.plan_id == row.id)
    ).all()
    return StoredPlan(
        row=row,
        params=params,
        cost_model=_cost_model(params.cost_model),
        layout=_layout(params),
        planned=MappingProxyType({a.item_id: a.location_id for a in rows}),
        picks=MappingProxyType({a.item_id: a.picks_per_period for a in rows}),
    )


def current_plan(session: Session, site: str) -> StoredPlan | None:
    """The site's current plan, or None when none was computed."""
    row = session.exec(
        select(t.SlottingPlan)
        .where(t.SlottingPlan.site_code == site, t.SlottingPlan.status == "current")
        .order_by(col(t.SlottingPlan.id).desc())
    ).first()
    return None if row is None else _stored(session, row)


def _plan(session: Session, plan_id: int) -> StoredPlan:
    row = session.get(t.SlottingPlan, plan_id)
    if row is None:
        raise UnknownSlottingPlan(f"no slotting plan {plan_id}")
    return _stored(session, row)


# ----------------------------------------------------------------------------- bins as they are


@dataclass
class _BinContent:
    """What a bin holds and is promised right now."""

    items: set[int] = field(default_factory=set)
    pallets: set[int] = field(default_factory=set)  # handling unit ids
    loose_stock: bool = False  # stock without a handling unit
    weight_kg: Decimal = Decimal(0)
    volume_m3: Decimal = Decimal(0)
    reserved: int = 0  # open putaway tasks heading here


def _contents(session: Session, site: str) -> dict[int, _BinContent]:
    """Contents of every occupied or reserved location of the site, by location id."""
    contents: dict[int, _BinContent] = defaultdict(_BinContent)
    rows = session.exec(
        select(t.StockBalance, t.HandlingUnit, t.Item)
        .join(t.Item, col(t.Item.id) == t.StockBalance.item_id)
        .outerjoin(t.HandlingUnit, col(t.HandlingUnit.id) == t.StockBalance.handling_unit_id)
        .where(t.StockBalance.site_code == site, t.StockBalance.quantity != Decimal(0))
    ).all()
    for balance, hu, item in rows:
        content = contents[balance.location_id]
        content.items.add(balance.item_id)
        if item.unit_volume_m3 is not None:
            content.volume_m3 += item.unit_volume_m3 * balance.quantity
        if hu is None:
            content.loose_stock = True
            if item.unit_weight_kg is not None:
                content.weight_kg += item.unit_weight_kg * balance.quantity
        elif hu.id not in content.pallets:
            assert hu.id is not None
            content.pallets.add(hu.id)
            content.weight_kg += hu.weight_kg
    for location_id in session.exec(
        select(t.PutawayTask.suggested_location_id).where(
            t.PutawayTask.site_code == site,
            t.PutawayTask.status == "open",
            col(t.PutawayTask.suggested_location_id).is_not(None),
        )
    ).all():
        assert location_id is not None
        contents[location_id].reserved += 1
    return contents


# ----------------------------------------------------------------------------- putaway


@dataclass(frozen=True)
class PlannedPutaway:
    """The bin a received pallet goes to by the site's plan (None: no compatible free bin)."""

    bin_code: str | None
    planned_bin: str | None
    plan_id: int


def planned_putaway(
    session: Session, *, site: str, item: t.Item, load: PalletLoad
) -> PlannedPutaway | None:
    """Putaway bin for a received pallet of `item` by the current plan; None without a plan.

    The item's planned bin while it has room (holds nothing else, and its pallet, weight and
    volume limits take the pallet); otherwise the free (empty, not promised) bin that fits and
    costs least under the plan's cost model, bins planned for other items last.
    """
    plan = current_plan(session, site)
    if plan is None:
        return None
    assert item.id is not None
    contents = _contents(session, site)
    locations = {loc.id: loc for loc in _storage_bins(session, site)}
    planned_id = plan.planned.get(item.id)
    candidates: list[Bin] = []
    for location_id, location in locations.items():
        assert location_id is not None
        content = contents.get(location_id)
        if content is not None and (location_id != planned_id or content.items - {item.id}):
            continue  # occupied or promised, and not the item's own slot
        state = BinState(
            code=location.code,
            position=Point(location.x, location.y),
            max_weight_kg=location.max_weight_kg,
            max_volume_m3=location.max_volume_m3,
            max_pallets=location.max_pallets,
            pallets=len(content.pallets) + content.reserved if content else 0,
            weight_kg=content.weight_kg if content else Decimal(0),
            volume_m3=content.volume_m3 if content else Decimal(0),
        )
        if state.fits(load):
            candidates.append(_bin(location, plan.layout))
    picks = plan.picks.get(item.id, item.pick_frequency_override)
    incoming = Item(
        sku=item.gtin,
        # Without a forecast the item counts as an average mover: travel decides alone.
        picks_per_period=Decimal(1) if picks is None else picks,
        volume_m3=load.volume_m3 or Decimal(0),
        weight_kg=load.weight_kg,
        temperature_class=item.temperature_class or AMBIENT,
        hazard_class=item.hazard_class,
    )
    codes = {loc.id: loc.code for loc in locations.values()}
    gtins = dict(
        session.exec(
            select(t.Item.id, t.Item.gtin).where(col(t.Item.id).in_(list(plan.planned)))
        ).all()
    )
    assignment = {
        gtins[item_id]: codes[location_id]
        for item_id, location_id in plan.planned.items()
        if location_id in codes
    }
    planned_code = codes.get(planned_id) if planned_id is not None else None
    chosen = best_bin_for(incoming, candidates, plan.result(assignment))
    assert plan.row.id is not None
    return PlannedPutaway(chosen.code if chosen else None, planned_code, plan.row.id)


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True)
class _Placement:
    """Where items' pick faces are today, and which bins re-slotting may use."""

    current: dict[str, str]  # sku -> bin code of its pick face
    pallet_of: dict[str, int]  # sku -> handling unit id in that bin
    unavailable: set[str]  # bin codes holding other stock or promised to a pallet


def _placement(
    session: Session,
    site: str,
    bins: Mapping[str, Bin],
    location_codes: Mapping[int, str],
    items: Mapping[int, Item],
    cost_model: CostModel,
) -> _Placement:
    contents = _contents(session, site)
    faces: dict[int, list[tuple[Decimal, str, int]]] = defaultdict(list)
    for location_id, content in contents.items():
        code = location_codes.get(location_id)
        if code is None or content.reserved or content.loose_stock:
            continue
        if len(content.pallets) == 1 and len(content.items) == 1:
            (item_id,) = content.items
            (hu_id,) = content.pallets
            item = items.get(item_id)
            if item is not None:
                faces[item_id].append((cost_model.cost(item, bins[code]), code, hu_id))
    current: dict[str, str] = {}
    pallet_of: dict[str, int] = {}
    for item_id, options in faces.items():
        _cost, code, hu_id = min(options)
        current[items[item_id].sku] = code
        pallet_of[items[item_id].sku] = hu_id
    faces_used = set(current.values())
    unavailable = {
        location_codes[location_id]
        for location_id in contents
        if location_id in location_codes and location_codes[location_id] not in faces_used
    }
    return _Placement(current, pallet_of, unavailable)


@dataclass(frozen=True)
class _PlanContext:
    stored: StoredPlan
    bins: dict[str, Bin]
    location_codes: dict[int, str]
    items: dict[int, Item]
    gtin_of: dict[int, str]
    names: dict[int, str]


def _context(session: Session, stored: StoredPlan) -> _PlanContext:
    site = stored.row.site_code
    locations = _storage_bins(session, site)
    bins = {loc.code: _bin(loc, stored.layout) for loc in locations}
    location_codes = {loc.id: loc.code for loc in locations if loc.id is not None}
    rows = session.exec(select(t.Item).where(col(t.Item.id).in_(list(stored.planned)))).all()
    pallets = _pallet_sizes(session, site)
    items = {}
    for row in rows:
        assert row.id is not None
        items[row.id] = _item(row, stored.picks[row.id], pallets[row.id])
    return _PlanContext(
        stored,
        bins,
        location_codes,
        items,
        {row.id: row.gtin for row in rows if row.id is not None},
        {row.id: row.name for row in rows if row.id is not None},
    )


def plan_view(
    session: Session, *, plan_id: int | None = None, site: str | None = None
) -> SlottingPlanPublic:
    """A plan (by id, or the site's current one) with its cost next to today's layout's."""
    if plan_id is not None:
        stored = _plan(session, plan_id)
    else:
        assert site is not None
        found = current_plan(session, site)
        if found is None:
            raise NoSlottingPlan(
                f"site {site} has no slotting plan; compute one: POST /slotting/plans or "
                f"`wms slotting plan --site {site}`"
            )
        stored = found
    ctx = _context(session, stored)
    placement = _placement(
        session,
        stored.row.site_code,
        ctx.bins,
        ctx.location_codes,
        ctx.items,
        stored.cost_model,
    )
    cost = stored.cost_model.cost
    rows: list[SlottingAssignmentPublic] = []
    current_cost = current_travel = planned_cost = planned_travel = Decimal(0)
    for item_id, location_id in sorted(stored.planned.items(), key=lambda p: ctx.gtin_of[p[0]]):
        item = ctx.items[item_id]
        code = ctx.location_codes.get(location_id)
        if code is None:
            continue  # the bin was taken out of storage since the plan was made
        bin_ = ctx.bins[code]
        now_code = placement.current.get(item.sku)
        now_cost = None
        if now_code is not None:
            now_bin = ctx.bins[now_code]
            now_cost = cost(item, now_bin)
            current_cost += now_cost
            current_travel += item.picks_per_period * now_bin.travel_m
            planned_cost += cost(item, bin_)
            planned_travel += item.picks_per_period * bin_.travel_m
        rows.append(
            SlottingAssignmentPublic(
                gtin=item.sku,
                item_name=ctx.names[item_id],
                picks_per_period=item.picks_per_period,
                bin=code,
                travel_m=bin_.travel_m,
                cost=_q(cost(item, bin_)),
                current_bin=now_code,
                current_cost=None if now_cost is None else _q(now_cost),
            )
        )
    row = stored.row
    assert row.id is not None
    return SlottingPlanPublic(
        id=row.id,
        site=row.site_code,
        created_at=row.created_at,
        status=row.status,
        solver_status=row.solver_status,
        engine=row.engine,
        objective=row.objective,
        lower_bound=row.lower_bound,
        gap=row.gap,
        expected_travel_m=row.expected_travel_m,
        solve_time_ms=row.solve_time_ms,
        items=len(stored.planned),
        items_placed_now=len(placement.current),
        current_cost=_q(current_cost),
        current_travel_m=_q(current_travel),
        planned_cost_same_items=_q(planned_cost),
        planned_travel_m_same_items=_q(planned_travel),
        assignments=rows,
    )


# ----------------------------------------------------------------------------- re-slotting


def propose_reslot(session: Session, request: ReslotListCreate, *, now: datetime) -> t.ReslotList:
    """Moves from today's pick faces towards the optimum, at most `max_moves`, best first.

    The target is solved afresh over the bins re-slotting may use (empty ones and today's pick
    faces), for the items that have a pick face, with the current plan's demand and cost model.
    Raises NoSlottingPlan.
    """
    stored = current_plan(session, request.site)
    if stored is None:
        raise NoSlottingPlan(
            f"site {request.site} has no slotting plan to re-slot towards; compute one first"
        )
    ctx = _context(session, stored)
    placement = _placement(
        session, request.site, ctx.bins, ctx.location_codes, ctx.items, stored.cost_model
    )
    items = tuple(item for item in ctx.items.values() if item.sku in placement.current)
    bins = tuple(b for code, b in ctx.bins.items() if code not in placement.unavailable)
    problem = SlottingProblem(items=items, bins=bins, cost_model=stored.cost_model)
    target = solve(problem, time_limit_s=stored.params.time_limit_s, seed=0)
    if target.objective is None:
        raise SlottingInfeasible(
            f"site {request.site}: today's items cannot be re-slotted into the free bins "
            f"({target.status.value})"
        )
    moves = reslot_moves(problem, placement.current, target, max_moves=request.max_moves)
    before = plan_cost(problem, placement.current)
    assert stored.row.id is not None
    reslot = t.ReslotList(
        site_code=request.site,
        plan_id=stored.row.id,
        created_at=now,
        status="proposed",
        max_moves=request.max_moves,
        cost_before=_q(before),
        cost_after=_q(before - sum((m.saving for m in moves), Decimal(0))),
    )
    session.add(reslot)
    session.flush()
    assert reslot.id is not None
    location_ids = {code: location_id for location_id, code in ctx.location_codes.items()}
    item_ids = {gtin: item_id for item_id, gtin in ctx.gtin_of.items()}
    for position, move in enumerate(moves, start=1):
        session.add(
            t.ReslotMove(
                list_id=reslot.id,
                position=position,
                group_no=move.group,
                item_id=item_ids[move.item],
                handling_unit_id=placement.pallet_of[move.item],
                from_location_id=location_ids[move.from_bin],
                to_location_id=location_ids[move.to_bin],
                saving=_q(move.saving),
                status="proposed",
            )
        )
    session.flush()
    logger.info(
        "re-slot list %s for %s: %s moves save %s pick-m per period",
        reslot.id,
        request.site,
        len(moves),
        reslot.cost_before - reslot.cost_after,
    )
    return reslot


def _moves(session: Session, list_id: int) -> list[t.ReslotMove]:
    return list(
        session.exec(
            select(t.ReslotMove)
            .where(t.ReslotMove.list_id == list_id)
            .order_by(col(t.ReslotMove.position))
        ).all()
    )


def _reslot(session: Session, list_id: int) -> t.ReslotList:
    row = session.get(t.ReslotList, list_id)
    if row is None:
        raise UnknownReslotList(f"no re-slot list {list_id}")
    return row


def accept_reslot(session: Session, list_id: int, *, now: datetime) -> t.ReslotList:
    """Accept a proposed list: one open putaway task per move, on the pallet to move.

    Raises UnknownReslotList, ReslotListNotProposed, ReslotInProgress (another list of the site
    is still open) or StaleReslotList (a pallet is no longer where the list found it, or a
    target bin was promised to another pallet since).
    """
    reslot = _reslot(session, list_id)
    if reslot.status != "proposed":
        raise ReslotListNotProposed(f"re-slot list {list_id} is {reslot.status}, not proposed")
    busy = session.exec(
        select(t.ReslotList.id).where(
            t.ReslotList.site_code == reslot.site_code, t.ReslotList.status == "accepted"
        )
    ).first()
    if busy is not None:
        raise ReslotInProgress(
            f"re-slot list {busy} of site {reslot.site_code} is still being carried out"
        )
    moves = _moves(session, list_id)
    contents = _contents(session, reslot.site_code)
    first_move_of: set[int] = set()
    for move in moves:
        hu = session.get(t.HandlingUnit, move.handling_unit_id)
        assert hu is not None
        if move.handling_unit_id not in first_move_of:
            first_move_of.add(move.handling_unit_id)
            if hu.location_id != move.from_location_id:
                raise StaleReslotList(
                    f"re-slot list {list_id}: pallet {hu.sscc} is no longer in its bin; "
                    "propose a new list"
                )
        target = contents.get(move.to_location_id)
        if target is not None and target.reserved:
            raise StaleReslotList(
                f"re-slot list {list_id}: a target bin was promised to another pallet since; "
                "propose a new list"
            )
        session.add(
            t.PutawayTask(
                site_code=reslot.site_code,
                handling_unit_id=move.handling_unit_id,
                suggested_location_id=move.to_location_id,
                status="open",
                created_at=now,
                reslot_move_id=move.id,
            )
        )
        move.status = "accepted"
        session.add(move)
    reslot.status = "accepted" if moves else "done"
    reslot.accepted_at = now
    session.add(reslot)
    session.flush()
    logger.info("re-slot list %s accepted: %s move tasks open", list_id, len(moves))
    return reslot


def finish_reslot_task(
    session: Session, task: t.PutawayTask, *, confirmed_location_id: int, now: datetime
) -> None:
    """Record the scan that completed a re-slot move task; close the list after its last move.

    A pallet scanned into another bin than planned marks the move `deviated` (the caller
    raises the putaway deviation alert); the stock follows the scan either way.
    """
    if task.reslot_move_id is None:
        return
    move = session.get(t.ReslotMove, task.reslot_move_id)
    assert move is not None
    move.status = "done" if confirmed_location_id == move.to_location_id else "deviated"
    move.done_at = now
    session.add(move)
    session.flush()
    open_moves = session.exec(
        select(t.ReslotMove.id).where(
            t.ReslotMove.list_id == move.list_id, t.ReslotMove.status == "accepted"
        )
    ).first()
    if open_moves is None:
        reslot = _reslot(session, move.list_id)
        reslot.status = "done"
        session.add(reslot)
        logger.info("re-slot list %s done", reslot.id)


def reslot_view(session: Session, list_id: int) -> ReslotListPublic:
    """A re-slot list with its moves."""
    reslot = _reslot(session, list_id)
    moves = _moves(session, list_id)
    location_ids = {m.from_location_id for m in moves} | {m.to_location_id for m in moves}
    codes = {
        loc.id: loc.code
        for loc in session.exec(
            select(t.Location).where(col(t.Location.id).in_(location_ids))
        ).all()
    }
    hus = {
        hu.id: hu
        for hu in session.exec(
            select(t.HandlingUnit).where(
                col(t.HandlingUnit.id).in_({m.handling_unit_id for m in moves})
            )
        ).all()
    }
    gtins = {
        item.id: item.gtin
        for item in session.exec(
            select(t.Item).where(col(t.Item.id).in_({m.item_id for m in moves}))
        ).all()
    }
    assert reslot.id is not None
    return ReslotListPublic(
        id=reslot.id,
        site=reslot.site_code,
        plan_id=reslot.plan_id,
        created_at=reslot.created_at,
        status=reslot.status,
        max_moves=reslot.max_moves,
        cost_before=reslot.cost_before,
        cost_after=reslot.cost_after,
        saving=reslot.cost_before - reslot.cost_after,
        accepted_at=reslot.accepted_at,
        moves=[
            ReslotMovePublic(
                position=m.position,
                group=m.group_no,
                gtin=gtins[m.item_id],
                sscc=hus[m.handling_unit_id].sscc,
                from_bin=codes[m.from_location_id],
                to_bin=codes[m.to_location_id],
                saving=m.saving,
                status=m.status,
            )
            for m in moves
        ],
    )
