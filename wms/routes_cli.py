"""`wms routes ...`: plan a site's deliveries of a day, follow the routes as they are
driven, report for a driver, re-plan, print route sheets.

Works on central's database directly (DATABASE_URL from the environment / .env, or
--database-url), like `wms loads`. Vehicles and orders come in through the API
(POST /vehicles, POST /orders); positions from the vehicles over MQTT.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from central.ledger import ledger_config
from central.route_control import RouteControl, route_status, routes_of_plan
from central.route_replan import replan_plan
from central.route_service import plan_routes, plan_view, print_route_sheet
from central.route_tokens import route_links
from central.routes_schemas import (
    DriverEventIn,
    DriverEventType,
    PlanRequest,
    ReplanPublic,
    ReplanRequest,
    RoutePlanPublic,
    RouteStatusPublic,
)
from central.settings import CentralSettings
from central.store.db import UnitOfWork
from central.web.route_sheet_pdf import render_route_sheet_pdf
from contracts.envelope import utc_now
from wms.loads_cli import DatabaseUrl, Site, cli_engine

T = TypeVar("T")

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
        plan_id = _with_progress(
            console,
            f"planning routes of {site} on {request.date}",
            time_limit,
            lambda: plan_routes(engine, request, now=utc_now()),
        )
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


def _with_progress(console: Console, what: str, time_limit: float, work: Callable[[], T]) -> T:
    """Run `work` (an optimizer run bounded by `time_limit`) with a progress bar over time."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as err:  # handed to the caller's thread below
            failure.append(err)

    worker = threading.Thread(target=run, name="cli-solve", daemon=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(what, total=time_limit)
        started = time.monotonic()
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
            progress.update(task, completed=min(time_limit, time.monotonic() - started))
    if failure:
        raise failure[0]
    return outcome[0]


def _settings(database_url: str | None) -> CentralSettings:
    return CentralSettings() if database_url is None else CentralSettings(database_url=database_url)


def _show_status(console: Console, route: RouteStatusPublic) -> None:
    position = "no position yet"
    if route.position is not None:
        position = (
            f"at {route.position.lat:.5f},{route.position.lon:.5f} "
            f"{route.position.speed_kmh:.0f} km/h ({_hhmm(route.position.at)} UTC)"
        )
    table = Table(title=f"Route {route.route_id}: {route.vehicle_ref} {route.state}, {position}")
    for column in ("#", "order", "customer", "window", "planned", "ETA now", "late", "state"):
        table.add_column(column, justify="right" if column in ("#", "late") else "left")
    for stop in route.stops:
        latest = "end" if stop.window_latest is None else f"{stop.window_latest:%H:%M}"
        done = stop.done_at or stop.arrived_at
        table.add_row(
            str(stop.sequence),
            stop.reference,
            stop.customer,
            f"{stop.window_earliest:%H:%M}-{latest}",
            _hhmm(stop.eta),
            _hhmm(stop.predicted_eta) if stop.predicted_eta else (_hhmm(done) if done else ""),
            f"{stop.late_by_s // 60} min" if stop.late_by_s > 0 else "",
            stop.state + (f": {stop.failed_reason}" if stop.failed_reason else ""),
        )
    console.print(table)
    for alert in route.alerts:
        console.print(f"  [red]{alert.kind}[/red] {alert.message}")


@routes_app.command("status")
def status(
    plan_id: Annotated[int, typer.Argument(help="route plan id")],
    database_url: DatabaseUrl = None,
) -> None:
    """Routes of a plan as they are driven: stop states, ETAs, lateness, positions, alerts."""
    console = Console()
    with cli_engine(database_url, console) as engine, Session(engine) as session:
        plan_view(session, plan_id)
        for route in routes_of_plan(session, plan_id):
            _show_status(console, route)


@routes_app.command("report")
def report(
    route_id: Annotated[int, typer.Argument(help="route id")],
    what: Annotated[DriverEventType, typer.Argument(help="what happened")],
    stop: Annotated[int | None, typer.Option("--stop", help="stop number on the route")] = None,
    received_by: Annotated[str | None, typer.Option("--received-by")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why delivery failed")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Report for a driver (e.g. on the phone): departed, arrived, delivered, failed, returned."""
    console = Console()
    try:
        event = DriverEventIn(type=what, stop=stop, received_by=received_by, reason=reason)
    except ValidationError as err:
        raise typer.BadParameter(str(err.errors()[0]["msg"])) from err
    settings = _settings(database_url)
    with cli_engine(database_url, console) as engine:
        control = RouteControl(engine, ledger_config=ledger_config(settings))
        _show_status(console, control.report(route_id, event, source="ops"))


@routes_app.command("replan")
def replan(
    plan_id: Annotated[int, typer.Argument(help="route plan id")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds")] = 5,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="UTC time to re-plan from (default: newest fact)"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-plan the stops not reached yet; routes keep their ids, the driven part stays."""
    console = Console()
    request = ReplanRequest(
        time_limit_s=time_limit, as_of=None if as_of is None else as_of.replace(tzinfo=UTC)
    )
    settings = _settings(database_url)
    with cli_engine(database_url, console) as engine:
        outcome: ReplanPublic = _with_progress(
            console,
            f"re-planning plan {plan_id}",
            time_limit,
            lambda: replan_plan(engine, plan_id, request),
        )
        control = RouteControl(engine, ledger_config=ledger_config(settings))
        for route in outcome.plan.routes:
            control.refresh(route.id, outcome.as_of)
        _show(console, outcome.plan)
        console.print(f"[bold]{len(outcome.changes)} change(s)[/bold] as of {outcome.as_of:%H:%M}")
        for change in outcome.changes:
            before = _hhmm(change.eta_before) if change.eta_before else "-"
            after = _hhmm(change.eta_after) if change.eta_after else "-"
            console.print(
                f"  {change.order}: {change.kind} {change.vehicle_before or '-'} -> "
                f"{change.vehicle_after or '-'}, ETA {before} -> {after}"
            )


@routes_app.command("dispatch")
def dispatch(
    plan_id: Annotated[int, typer.Argument(help="route plan id")],
    dock: Annotated[str, typer.Option("--dock", help="the dispatch dock's printer")],
    database_url: DatabaseUrl = None,
) -> None:
    """Dispatch a plan: every route sheet prints at the dock, with its driver page QR code."""
    console = Console()
    links = route_links(_settings(database_url))
    with cli_engine(database_url, console) as engine, UnitOfWork(engine, write_lock=True) as uow:
        queued = [
            print_route_sheet(uow.session, r.id, dock, links=links, now=utc_now())
            for r in plan_view(uow.session, plan_id).routes
        ]
        uow.commit()
    for sheet in queued:
        console.print(
            f"route {sheet.route_id}: queued for {sheet.dock} (command {sheet.command_id})"
        )


@routes_app.command("sheet")
def sheet(
    route_id: Annotated[int, typer.Argument(help="route id")],
    out: Annotated[Path, typer.Option("--out", help="PDF file to write")],
    database_url: DatabaseUrl = None,
) -> None:
    """Write a route sheet as a PDF, with the QR code to the driver page."""
    console = Console()
    links = route_links(_settings(database_url))
    with cli_engine(database_url, console) as engine, Session(engine) as session:
        route = route_status(session, route_id)
    out.write_bytes(render_route_sheet_pdf(route, driver_url=links.driver_url(route_id)))
    console.print(f"route {route_id}: {out} ({len(route.stops)} stops)")
    console.print(f"driver page: {links.driver_url(route_id)}")
