"""The driver's side of route control: the mobile page, its actions, the sheet as a PDF.

Every endpoint needs the route's token (from the QR code on the route sheet, as `?token=` or
`Authorization: Bearer`), and the token opens that route only. The page works without
JavaScript: its forms post here and come back to the page with a message.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, quote
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from central.api.deps import RouteControlDep, RouteLinksDep, SessionDep
from central.domain.errors import CentralError
from central.route_control import route_status
from central.route_tokens import InvalidRouteToken, RouteLinks
from central.routes_schemas import DriverEventIn, RouteStatusPublic
from central.web.driver_page import render_driver_error, render_driver_page
from central.web.route_sheet_pdf import render_route_sheet_pdf

router = APIRouter(prefix="/driver/routes", tags=["driver"])

TokenQuery = Annotated[str | None, Query(description="The route's token from its QR code")]
AuthHeader = Annotated[str | None, Header()]


def _token(token: str | None, authorization: str | None) -> str | None:
    if token:
        return token
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def pdf_response(route: RouteStatusPublic, links: RouteLinks) -> Response:
    """The route sheet PDF as a download."""
    body = render_route_sheet_pdf(route, driver_url=links.driver_url(route.route_id))
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="route-{route.route_id}.pdf"'},
    )


@router.get("/{route_id}", response_class=HTMLResponse)
def driver_page(
    session: SessionDep,
    links: RouteLinksDep,
    route_id: int,
    token: TokenQuery = None,
    message: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    """The driver's route page (mobile): stops, ETAs, and buttons to report."""
    try:
        links.check(route_id, token)
    except InvalidRouteToken as err:
        return HTMLResponse(render_driver_error(str(err), 403), status_code=403)
    assert token is not None
    route = route_status(session, route_id)
    return HTMLResponse(render_driver_page(route, token=token, message=message))


@router.get("/{route_id}/status", response_model=RouteStatusPublic)
def driver_status(
    session: SessionDep,
    links: RouteLinksDep,
    route_id: int,
    token: TokenQuery = None,
    authorization: AuthHeader = None,
) -> RouteStatusPublic:
    """The route as JSON (for a driver app)."""
    links.check(route_id, _token(token, authorization))
    return route_status(session, route_id)


@router.post("/{route_id}/events", response_model=RouteStatusPublic, status_code=201)
def driver_event(
    control: RouteControlDep,
    links: RouteLinksDep,
    route_id: int,
    event: DriverEventIn,
    token: TokenQuery = None,
    authorization: AuthHeader = None,
) -> RouteStatusPublic:
    """Report departed, arrived, delivered (proof of delivery), failed or returned. Send each
    report with its own `id` and the same `id` again on retry: it counts once."""
    links.check(route_id, _token(token, authorization))
    return control.report(route_id, event, source="driver")


@router.post("/{route_id}/actions", response_class=RedirectResponse, status_code=303)
async def driver_action(
    request: Request,
    control: RouteControlDep,
    links: RouteLinksDep,
    route_id: int,
    token: TokenQuery = None,
) -> Response:
    """The driver page's forms (url-encoded): apply the report, go back to the page."""
    try:
        links.check(route_id, token)
    except InvalidRouteToken as err:
        return HTMLResponse(render_driver_error(str(err), 403), status_code=403)
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = {k: v[0] for k, v in parse_qs(body).items() if v}
    try:
        event = DriverEventIn.model_validate(
            {
                "id": UUID(fields["id"]) if fields.get("id") else None,
                "type": fields.get("type"),
                "stop": int(fields["stop"]) if fields.get("stop") else None,
                "received_by": fields.get("received_by"),
                "reason": fields.get("reason"),
                "note": fields.get("note", ""),
            }
        )
        # The page's forms need an async handler (the raw body); the report itself blocks on
        # the database (and SQLite's write lock), so it runs off the event loop.
        await run_in_threadpool(control.report, route_id, event, source="driver")
        stop = f" at stop {event.stop}" if event.stop is not None else ""
        message = f"Recorded: {event.type.value}{stop}"
    except ValidationError as err:
        # The driver needs the rule, not the field path: "proof of delivery needs ...".
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in err.errors())
        message = f"Not recorded: {reasons}"
    except (ValueError, CentralError) as err:
        message = f"Not recorded: {err}"
    page = f"/driver/routes/{route_id}?token={quote(token or '')}&message={quote(message)}"
    return RedirectResponse(page, status_code=303)


@router.get("/{route_id}/sheet.pdf", response_class=Response)
def driver_sheet_pdf(
    session: SessionDep,
    links: RouteLinksDep,
    route_id: int,
    token: TokenQuery = None,
    authorization: AuthHeader = None,
) -> Response:
    """The route sheet as a PDF, for the driver."""
    links.check(route_id, _token(token, authorization))
    return pdf_response(route_status(session, route_id), links)
