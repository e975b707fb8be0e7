"""Slotting from the database: optimal plans, putaway by plan, re-slot moves confirmed by scans."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from central.ingest import IngestService
from central.master_data import create_expected_receipt, create_item, create_location, create_site
from central.schemas import (
    DockCreate,
    ExpectedReceiptCreate,
    ExpectedReceiptLineCreate,
    ItemCreate,
    LocationCreate,
    SiteCreate,
)
from central.slotting_errors import NoSlottingPlan, ReslotListNotProposed
from central.slotting_schemas import ReslotListCreate, SlottingPlanCreate
from central.slotting_service import (
    accept_reslot,
    compute_plan,
    plan_view,
    propose_reslot,
    reslot_view,
)
from central.store import tables as t
from central.store.db import UnitOfWork
from tests.integration.central.scenario import (
    GTIN,
    OTHER_GTIN,
    PALLET_KG,
    PALLET_QTY,
    EdgeStream,
    bin_code,
    sscc,
)
from tests.integration.central.test_ingest import label_of

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def plan(engine: Engine, request: SlottingPlanCreate, *, now: datetime = NOW) -> int:
    with UnitOfWork(engine, write_lock=True) as uow:
        row = compute_plan(uow.session, request, now=now)
        uow.commit()
    assert row.id is not None
    return row.id


def planned_bins(engine: Engine, plan_id: int) -> dict[str, str]:
    with Session(engine) as session:
        view = plan_view(session, plan_id=plan_id)
    return {row.gtin: row.bin for row in view.assignments}


# ----------------------------------------------------------------------------- optimality


def _small_site(engine: Engine, site: str) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Two aisles x two bays x two levels (z 0 and 2 m); returns bin code -> (x, y, z)."""
    bins: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    with Session(engine) as session:
        create_site(
            session=session,
            site_in=SiteCreate(
                code=site,
                name="Small",
                docks=[DockCreate(code="dock-1", receiving_location="RCV-1")],
            ),
        )
        for aisle, x in (("A", Decimal(4)), ("B", Decimal(9))):
            for bay, y in ((1, Decimal(2)), (2, Decimal(5))):
                for level, z in ((1, Decimal(0)), (2, Decimal(2))):
                    code = f"{aisle}-{bay:02d}-{level}"
                    bins[code] = (x, y, z)
                    create_location(
                        session=session,
                        location_in=LocationCreate(
                            site=site,
                            code=code,
                            aisle=aisle,
                            bay=f"{bay:02d}",
                            level=str(level),
                            x=x,
                            y=y,
                            z=z,
                            max_weight_kg=Decimal(1000),
                            max_pallets=1,
                            # Only aisle B takes flammables; one bin is a freezer.
                            hazard_classes=["3"] if aisle == "B" else [],
                            temperature_class="frozen" if code == "B-02-1" else None,
                        ),
                    )
        session.commit()
    return bins


def test_plan_from_stock_history_is_as_good_as_brute_force(engine: Engine, site_code: str) -> None:
    """Demand comes from issues out of bins in the period (older ones and bin-to-bin moves do
    not count), or from the override of an item without history; heavy items above the waist
    and fast movers outside the golden zone pay their penalties; hazard classes are kept."""
    bins = _small_site(engine, site_code)
    gtins = [f"0401234500{n:03d}{d}" for n, d in ((101, 7), (102, 4), (103, 1), (104, 8), (105, 5))]
    history = {gtins[0]: 60, gtins[1]: 12, gtins[2]: 30, gtins[3]: 3}  # gtins[4] is new
    with Session(engine) as session:
        source = session.exec(
            select(t.Location).where(t.Location.site_code == site_code, t.Location.code == "A-01-1")
        ).one()
        other_bin = session.exec(
            select(t.Location).where(t.Location.site_code == site_code, t.Location.code == "A-02-1")
        ).one()
        ids: dict[str, int] = {}
        for n, gtin in enumerate(gtins):
            item = create_item(
                session=session,
                item_in=ItemCreate(
                    gtin=gtin,
                    name=f"item {n}",
                    unit_weight_kg=Decimal(40) if n == 1 else Decimal(1),  # item 1 is heavy
                    hazard_class="3" if n == 3 else None,
                    pick_frequency_override=Decimal(45) if n == 4 else None,
                ),
            )
            assert item.id is not None
            ids[gtin] = item.id
        for gtin, issues in history.items():
            for k in range(issues):
                session.add(
                    t.StockMove(
                        site_code=site_code,
                        from_location_id=source.id,
                        item_id=ids[gtin],
                        quantity=Decimal(1),
                        created_at=NOW - timedelta(hours=k + 1),
                    )
                )
            # Outside the 7-day period, and a bin-to-bin move: neither is a pick.
            session.add(
                t.StockMove(
                    site_code=site_code,
                    from_location_id=source.id,
                    item_id=ids[gtin],
                    quantity=Decimal(1),
                    created_at=NOW - timedelta(days=8),
                )
            )
            session.add(
                t.StockMove(
                    site_code=site_code,
                    from_location_id=source.id,
                    to_location_id=other_bin.id,
                    item_id=ids[gtin],
                    quantity=Decimal(1),
                    created_at=NOW - timedelta(hours=1),
                )
            )
        create_expected_receipt(
            session=session,
            receipt_in=ExpectedReceiptCreate(
                site=site_code,
                reference="ASN-1",
                lines=[
                    ExpectedReceiptLineCreate(
                        gtin=gtin, sscc=sscc(900 + n), quantity=Decimal(20), expected_weight_kg=None
                    )
                    for n, gtin in enumerate(gtins)
                ],
            ),
        )
        session.commit()

    plan_id = plan(engine, SlottingPlanCreate(site=site_code))

    picks = {**{g: Decimal(p) for g, p in history.items()}, gtins[4]: Decimal(45)}
    weight = {g: Decimal(20) * (Decimal(40) if n == 1 else Decimal(1)) for n, g in enumerate(gtins)}

    def cost(gtin: str, code: str) -> Decimal:
        x, y, z = bins[code]
        penalty = Decimal(0)
        if weight[gtin] >= 25 and z > 1:
            penalty += 10
        if picks[gtin] >= 50 and z > Decimal("1.6"):
            penalty += 5
        return picks[gtin] * (x + y + penalty)  # dock at (0, 0): rectilinear travel

    def allowed(gtin: str, code: str) -> bool:
        hazardous = gtin == gtins[3]
        return code != "B-02-1" and (not hazardous or code.startswith("B"))

    best = min(
        sum(cost(g, c) for g, c in zip(gtins, codes, strict=True))
        for codes in itertools.permutations(sorted(bins), len(gtins))
        if all(allowed(g, c) for g, c in zip(gtins, codes, strict=True))
    )
    with Session(engine) as session:
        view = plan_view(session, plan_id=plan_id)
    assert view.solver_status == "optimal"
    assert view.gap == 0
    assert view.objective == best
    assert {row.gtin: row.picks_per_period for row in view.assignments} == picks
    assert sum(cost(row.gtin, row.bin) for row in view.assignments) == best
    assert all(allowed(row.gtin, row.bin) for row in view.assignments)


# ----------------------------------------------------------------------------- putaway


def test_putaway_follows_the_plan_and_falls_back_when_the_planned_bin_is_full(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    plan_id = plan(
        seeded,
        SlottingPlanCreate(
            site=stream.site, demand_overrides={GTIN: Decimal(10), OTHER_GTIN: Decimal(100)}
        ),
    )
    planned = planned_bins(seeded, plan_id)
    # Dock at (0, 0), bins at x = 3·col, y = 2·row, all at floor level: cost follows travel.
    by_travel = sorted(
        (bin_code(r, c) for r in range(1, 9) for c in range(1, 9)),
        key=lambda code: (int(code[5:]) * 3 + int(code[2:4]) * 2, code),
    )
    assert planned == {OTHER_GTIN: by_travel[0], GTIN: by_travel[1]}

    first = label_of(service.handle(stream.goods_received(1), topic=stream.topic))
    assert first.label.location == planned[GTIN]
    # The planned bin is promised to pallet 1 now: pallet 2 gets the cheapest bin no item is
    # planned for.
    second = label_of(service.handle(stream.goods_received(2), topic=stream.topic))
    assert second.label.location == by_travel[2]
    service.handle(stream.putaway(1, planned[GTIN]), topic=stream.topic)
    third = label_of(service.handle(stream.goods_received(3), topic=stream.topic))
    assert third.label.location == by_travel[3]


def test_without_a_plan_putaway_takes_the_nearest_free_bin(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    first = label_of(service.handle(stream.goods_received(1), topic=stream.topic))
    assert first.label.location == bin_code(1, 1)
    with Session(seeded) as session, pytest.raises(NoSlottingPlan):
        plan_view(session, site=stream.site)


# ----------------------------------------------------------------------------- re-slotting


def _receive_other_item(engine: Engine, site: str, serial: int) -> None:
    with Session(engine) as session:
        create_expected_receipt(
            session=session,
            receipt_in=ExpectedReceiptCreate(
                site=site,
                reference=f"ASN-{site}-other",
                lines=[
                    ExpectedReceiptLineCreate(
                        gtin=OTHER_GTIN,
                        sscc=sscc(serial),
                        quantity=PALLET_QTY,
                        expected_weight_kg=PALLET_KG,
                    )
                ],
            ),
        )
        session.commit()


def test_reslot_swap_is_proposed_accepted_and_done_by_scans_without_journal_entries(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    site = stream.site
    _receive_other_item(seeded, site, 51)
    # No plan yet: nearest free bins. GTIN goes to A-01-01 (5 m), the other item to A-02-01 (7 m).
    for serial, gtin in ((1, GTIN), (51, OTHER_GTIN)):
        raw = (
            stream.goods_received(serial)
            if gtin == GTIN
            else stream.goods_received(serial, gtin=OTHER_GTIN)
        )
        location = label_of(service.handle(raw, topic=stream.topic)).label.location
        assert location is not None
        service.handle(stream.putaway(serial, location), topic=stream.topic)
    overrides = {GTIN: Decimal(1), OTHER_GTIN: Decimal(100)}
    plan_id = plan(seeded, SlottingPlanCreate(site=site, demand_overrides=overrides))
    with Session(seeded) as session:
        view = plan_view(session, plan_id=plan_id)
    assert {r.gtin: r.current_bin for r in view.assignments} == {
        GTIN: "A-01-01",
        OTHER_GTIN: "A-02-01",
    }
    assert view.current_cost == 1 * 5 + 100 * 7
    assert view.planned_cost_same_items == 100 * 5 + 1 * 7

    with UnitOfWork(seeded, write_lock=True) as uow:
        too_small = propose_reslot(uow.session, ReslotListCreate(site=site, max_moves=2), now=NOW)
        swap = propose_reslot(uow.session, ReslotListCreate(site=site, max_moves=3), now=NOW)
        uow.commit()
    assert too_small.id is not None and swap.id is not None
    with Session(seeded) as session:
        assert reslot_view(session, too_small.id).moves == []  # a swap needs a parking bin
        proposed = reslot_view(session, swap.id)
    assert proposed.cost_before == 705 and proposed.cost_after == 507
    assert len(proposed.moves) == 3
    assert {m.group for m in proposed.moves} == {1}

    with UnitOfWork(seeded, write_lock=True) as uow:
        accept_reslot(uow.session, swap.id, now=NOW)
        uow.commit()
    with UnitOfWork(seeded, write_lock=True) as uow, pytest.raises(ReslotListNotProposed):
        accept_reslot(uow.session, swap.id, now=NOW)
    # Parking and the bin freed by the first move are promised: a new pallet goes elsewhere.
    promised = {m.to_bin for m in proposed.moves}
    label = label_of(service.handle(stream.goods_received(2), topic=stream.topic))
    assert label.label.location not in promised | {"A-01-01", "A-02-01"}

    serial_of = {sscc(1): 1, sscc(51): 51}
    move_events = []
    for move in proposed.moves:
        service.handle(stream.putaway(serial_of[move.sscc], move.to_bin), topic=stream.topic)
        move_events.append(stream.ids[stream.seq])

    with Session(seeded) as session:
        done = reslot_view(session, swap.id)
        assert done.status == "done"
        assert {m.status for m in done.moves} == {"done"}
        where = {
            hu.sscc: session.get(t.Location, hu.location_id).code  # type: ignore[union-attr]
            for hu in session.exec(
                select(t.HandlingUnit).where(col(t.HandlingUnit.sscc).in_(list(serial_of)))
            ).all()
        }
        assert where == {sscc(51): "A-01-01", sscc(1): "A-02-01"}
        moves = session.exec(
            select(t.StockMove).where(col(t.StockMove.cause_event_id).in_(move_events))
        ).all()
        assert len(moves) == 3
        assert all(m.from_location_id and m.to_location_id for m in moves)
        journal = session.exec(
            select(t.JournalEntryRow).where(col(t.JournalEntryRow.event_id).in_(move_events))
        ).all()
        assert journal == []
        after = plan_view(session, plan_id=plan_id)
    assert after.current_cost == after.planned_cost_same_items == 507
