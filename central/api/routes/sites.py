"""Sites and their docks."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session, col, select

from central.api.deps import SessionDep, WriteSessionDep
from central.domain.errors import UnknownSite
from central.master_data import create_site
from central.schemas import DockPublic, SiteCreate, SitePublic
from central.store import tables as t

router = APIRouter(prefix="/sites", tags=["sites"])


def _public(session: Session, site: t.Site) -> SitePublic:
    rows = session.exec(
        select(t.Dock, t.Location)
        .join(t.Location, col(t.Location.id) == t.Dock.receiving_location_id)
        .where(t.Dock.site_code == site.code)
        .order_by(col(t.Dock.code))
    ).all()
    docks = [
        DockPublic(code=dock.code, receiving_location=location.code, x=dock.x, y=dock.y)
        for dock, location in rows
    ]
    return SitePublic(code=site.code, name=site.name, last_seq=site.last_seq, docks=docks)


@router.post("", response_model=SitePublic, status_code=201)
def post_site(session: WriteSessionDep, site_in: SiteCreate) -> SitePublic:
    """Create a site with its docks (each dock gets its receiving location)."""
    site = create_site(session=session, site_in=site_in)
    session.commit()
    return _public(session, site)


@router.get("", response_model=list[SitePublic])
def list_sites(session: SessionDep) -> list[SitePublic]:
    """All sites with their docks."""
    sites = session.exec(select(t.Site).order_by(col(t.Site.code))).all()
    return [_public(session, site) for site in sites]


@router.get("/{code}", response_model=SitePublic)
def get_site(session: SessionDep, code: str) -> SitePublic:
    """One site with its docks."""
    site = session.get(t.Site, code)
    if site is None:
        raise UnknownSite(f"site {code} does not exist")
    return _public(session, site)
