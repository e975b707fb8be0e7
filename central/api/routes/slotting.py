"""Slotting: compute and view plans (putaway follows the current one), re-slot lists."""

from __future__ import annotations

from fastapi import APIRouter

from central.api.deps import SessionDep, WriteSessionDep
from central.slotting_schemas import (
    ReslotListCreate,
    ReslotListPublic,
    SlottingPlanCreate,
    SlottingPlanPublic,
)
from central.slotting_service import (
    accept_reslot,
    compute_plan,
    plan_view,
    propose_reslot,
    reslot_view,
)
from contracts.envelope import utc_now

router = APIRouter(prefix="/slotting", tags=["slotting"])


@router.post("/plans", response_model=SlottingPlanPublic, status_code=201)
def post_plan(session: WriteSessionDep, plan_in: SlottingPlanCreate) -> SlottingPlanPublic:
    """Compute the site's optimal slotting; it becomes the plan putaway follows."""
    plan = compute_plan(session, plan_in, now=utc_now())
    session.commit()
    session.expire_all()  # read back as stored, as GET shows it
    assert plan.id is not None
    return plan_view(session, plan_id=plan.id)


@router.get("/plans/current", response_model=SlottingPlanPublic)
def get_current_plan(session: SessionDep, site: str) -> SlottingPlanPublic:
    """The site's current plan, with its expected travel next to today's layout's."""
    return plan_view(session, site=site)


@router.get("/plans/{plan_id}", response_model=SlottingPlanPublic)
def get_plan(session: SessionDep, plan_id: int) -> SlottingPlanPublic:
    """A plan by id, with its expected travel next to today's layout's."""
    return plan_view(session, plan_id=plan_id)


@router.post("/reslot-lists", response_model=ReslotListPublic, status_code=201)
def post_reslot_list(session: WriteSessionDep, list_in: ReslotListCreate) -> ReslotListPublic:
    """Propose up to `max_moves` pallet moves that save the most expected travel."""
    reslot = propose_reslot(session, list_in, now=utc_now())
    session.commit()
    session.expire_all()
    assert reslot.id is not None
    return reslot_view(session, reslot.id)


@router.get("/reslot-lists/{list_id}", response_model=ReslotListPublic)
def get_reslot_list(session: SessionDep, list_id: int) -> ReslotListPublic:
    """A re-slot list with its moves and their status."""
    return reslot_view(session, list_id)


@router.post("/reslot-lists/{list_id}/accept", response_model=ReslotListPublic)
def post_accept(session: WriteSessionDep, list_id: int) -> ReslotListPublic:
    """Accept a proposed list: its moves become open tasks, done by scanning pallet then bin."""
    accept_reslot(session, list_id, now=utc_now())
    session.commit()
    session.expire_all()
    return reslot_view(session, list_id)
