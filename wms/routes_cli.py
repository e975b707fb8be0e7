"""`wms routes ...`: plan a site's deliveries of a day and show route plans.

Works on central's database directly (DATABASE_URL from the environment / .env, or
--database-url), like `wms loads`. Vehicles and orders come in through the API
(POST /vehicles, POST /orders).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from central.route_service import plan_routes, plan_view
from central.routes_schemas import PlanRequest, RoutePlanPublic
from contracts.envelope import utc_now
from wms.loads_cli import DatabaseUrl, Site, cli_engine

routes_app = typer.Typer(
    help="Route control: plan a day's deliveries over the site's vehicles, show plans.",
    no_args_is_help=True,
)
logger = logging.getLogger(__name__)


def _depot(text: str) -> tuple[Decimal, Decimal]:
    lat, _, lon = text.partition(",")
    try:
        return Decimal(lat.strip()), Decimal(lon.strip())
    except InvalidOperation as err:
        raise typer.BadParameter(
            f"{text!r} is not LAT,LON in degrees, e.g. 52.52,13.405", param_hint="--depot"
        ) from err


def _hhmm(when: datetime) -> str:
    return f"{when:%H:%M}"


def _show(console: Console, plan: RoutePlanPublic) -> None:
    console.print(
        f"[bold]Route plan {plan.id}[/bold] of {plan.site} on {plan.date}: {plan.status}, "
        f"{len(plan.routes)} routes, cost {plan.cost} ({plan.engine})"
    )
    for note in plan.notes:
        console.print(f"  note: {note}")
    for route in plan.routes:
        table = Table(
            title=f"Route {route.id}: {route.vehicle_ref}, {_hhmm(route.start_at)}-"
            f"{_hhmm(route.end_at)} UTC, {route.km} km, {route.hours} h, "
            f"{route.load_pallets} pal / {route.load_kg} kg"
        )
        for column in ("#", "order", "customer", "address", "window", "ETA", "pal", "kg"):
            table.add_column(column, justify="right" if column in ("#", "pal", "kg") else "left")
        for stop in route.stops:
            latest = "end" if stop.window_latest is None else f"{stop.window_latest:%H:%M}"
            table.add_row(
                str(stop.sequence),
                stop.reference,
                stop.customer,
                stop.address,
                f"{stop.window_earliest:%H:%M}-{latest}",
                _hhmm(stop.eta),
                str(stop.demand_pallets),
                str(stop.demand_kg),
            )
        console.print(table)
    if plan.dropped:
        console.print(f"[yellow]not planned:[/yellow] {', '.join(plan.dropped)}")


@routes_app.command("plan")
def plan(
    site: Site,
    day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="YYYY-MM-DD")],
    depot: Annotated[str, typer.Option("--depot", help="the site's position: LAT,LON")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds")] = 10,
    database_url: DatabaseUrl = None,
) -> None:
    """Plan the site's open orders of a day over its available vehicles and store the plan."""
    console = Console()
    lat, lon = _depot(depot)
    try:
        request = PlanRequest(
            site=site,
            date=date(day.year, day.month, day.day),
            depot_lat=lat,
            depot_lon=lon,
            time_limit_s=time_limit,
        )
    except ValidationError as err:
        raise typer.BadParameter(str(err)) from err
    with cli_engine(database_url, console) as engine:
        with console.status(f"planning routes of {site} on {request.date} ({time_limit:g} s)..."):
            plan_id = plan_routes(engine, request, now=utc_now())
        with Session(engine) as session:
            _show(console, plan_view(session, plan_id))


@routes_app.command("show")
def show(
    plan_id: Annotated[int, typer.Argument(help="route plan id")],
    database_url: DatabaseUrl = None,
) -> None:
    """Show a route plan: each route's stops in delivery order with windows and ETAs."""
    console = Console()
    with cli_engine(database_url, console) as engine, Session(engine) as session:
        _show(console, plan_view(session, plan_id))
