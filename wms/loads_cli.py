"""`wms loads ...` and `wms docks`: plan, show and send outbound loads; the dock board.

Works on central's database directly (DATABASE_URL from the environment / .env, or
--database-url), like `wms ledger`. The MQTT ingest of a running central sends a queued
load.plan command to the edge (and resends it until the edge confirms it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from central.dock_service import dock_board
from central.domain.errors import CentralError
from central.loading_schemas import LoadCreate, LoadPalletIn, LoadPublic
from central.loading_service import (
    TRAILERS,
    create_load,
    free_pallets,
    load_svg,
    load_view,
    send_load,
)
from central.settings import CentralSettings
from central.store.db import UnitOfWork, make_engine
from contracts.envelope import utc_now

loads_app = typer.Typer(
    help="Outbound loads: plan a shipment's load (LIFO by stop, axle limits), show, send.",
    no_args_is_help=True,
)
docks_app = typer.Typer(help="The dock board: the state of every dock of a site.")
logger = logging.getLogger(__name__)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="default: DATABASE_URL from the environment / .env"),
]
Site = Annotated[str, typer.Option("--site", help="site code, e.g. WH1")]
SvgPath = Annotated[
    Path | None, typer.Option("--svg", help="write the floor plan here (default: <shipment>.svg)")
]


@contextmanager
def cli_engine(database_url: str | None, console: Console) -> Iterator[Engine]:
    """Central's database for a CLI command; domain and database errors become exit codes."""
    settings = (
        CentralSettings() if database_url is None else CentralSettings(database_url=database_url)
    )
    engine = make_engine(settings.database_url)
    try:
        yield engine
    except CentralError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from err
    except SQLAlchemyError as err:
        console.print(f"[red]cannot use central's database:[/red] {err}")
        raise typer.Exit(2) from err
    finally:
        engine.dispose()


def _parse_pallets(text: str) -> list[LoadPalletIn]:
    pallets = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        sscc, _, stop = part.partition(":")
        try:
            pallets.append(LoadPalletIn(sscc=sscc.strip(), stop_index=int(stop or 1)))
        except (ValueError, ValidationError) as err:
            raise typer.BadParameter(
                f"{part!r} is not SSCC:STOP (18-digit SSCC, stop 1, 2...)", param_hint="--pallets"
            ) from err
    if not pallets:
        raise typer.BadParameter("name at least one pallet", param_hint="--pallets")
    return pallets


def _show(console: Console, view: LoadPublic) -> None:
    plan = view.plan
    console.print(
        f"[bold]Shipment {view.reference}[/bold] (id {view.id}) at {view.site} {view.dock}: "
        f"{view.status}, {len(view.pallets)} pallets on {view.trailer_name}"
        + (f", route {view.route_ref}" if view.route_ref else "")
    )
    if plan is None:
        console.print("no load plan")
        return
    where = {p.sscc: p for p in view.pallets}
    table = Table(title=f"Load plan {plan.id}: {plan.solver_status} ({plan.solve_time_ms} ms)")
    for column in ("seq", "SSCC", "stop", "row", "col", "deck", "level", "kg", "status"):
        table.add_column(column, justify="left" if column in ("SSCC", "status") else "right")
    for p in plan.placements:
        pallet = where.get(p.sscc)
        table.add_row(
            str(p.sequence),
            p.sscc,
            str(p.stop_index),
            str(p.row + 1),
            str(p.column + 1),
            str(p.deck + 1),
            "top" if p.level else "floor",
            str(p.weight_kg),
            pallet.status if pallet else "-",
        )
    console.print(table)
    console.print("Rows counted from the front wall (row 1); the doors are behind the last row.")
    limits = Table(title="Weights against the vehicle's limits (cargo share, kg)")
    for column in ("", "load", "limit", "ok"):
        limits.add_column(column, justify="left" if column == "" else "right")
    limits.add_row(
        "payload", str(plan.load_kg), str(plan.payload_kg), _ok(plan.load_kg <= plan.payload_kg)
    )
    for axle in plan.axle_loads:
        bounds = f"{axle.min_kg} .. {axle.max_kg}" if axle.min_kg else str(axle.max_kg)
        limits.add_row(axle.support, str(axle.load_kg), bounds, _ok(axle.within_limits))
    limits.add_row(
        "left/right",
        str(plan.lateral_imbalance_kg),
        str(plan.max_lateral_imbalance_kg),
        _ok(plan.lateral_imbalance_kg <= plan.max_lateral_imbalance_kg),
    )
    console.print(limits)
    console.print(
        f"centre of gravity {plan.cog_m} m from the front wall (ideal {plan.ideal_cog_m} m)"
    )
    for reason in plan.reasons:
        console.print(f"[red]{reason.code}[/red]: {reason.detail}")
    if plan.left_out:
        console.print(f"[red]left out ({len(plan.left_out)}):[/red] {', '.join(plan.left_out)}")
    if plan.command_id is not None:
        console.print(
            f"sent to the edge at {plan.sent_at:%Y-%m-%d %H:%M:%S} UTC (command {plan.command_id})"
        )


def _ok(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]NO[/red]"


def _write_svg(console: Console, session: Session, shipment_id: int, path: Path) -> None:
    path.write_text(load_svg(session, shipment_id), encoding="utf-8")
    console.print(f"floor plan: {path}")


@loads_app.command("plan")
def plan(
    site: Site,
    shipment: Annotated[str, typer.Option("--shipment", help="the shipment's reference")],
    dock: Annotated[str, typer.Option("--dock", help="the dock it is loaded at")] = "dock-1",
    trailer: Annotated[
        str, typer.Option("--trailer", help=f"one of: {', '.join(TRAILERS)}")
    ] = "semi_trailer_33_eur",
    pallets: Annotated[
        str | None, typer.Option("--pallets", help="SSCC:STOP,SSCC:STOP,... (stop 1 first)")
    ] = None,
    from_stock: Annotated[
        int | None, typer.Option("--from-stock", help="take N free pallets from stock", min=1)
    ] = None,
    stops: Annotated[
        int, typer.Option("--stops", help="with --from-stock: split them over this many stops")
    ] = 1,
    route: Annotated[str | None, typer.Option("--route", help="route reference")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="solver seconds")] = 10.0,
    svg: SvgPath = None,
    send: Annotated[bool, typer.Option("--send", help="send the plan to the dock at once")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a shipment and plan its load; print the positions and write the floor plan."""
    console = Console()
    if (pallets is None) == (from_stock is None):
        raise typer.BadParameter("give either --pallets or --from-stock")
    if trailer not in TRAILERS:
        raise typer.BadParameter(f"one of: {', '.join(TRAILERS)}", param_hint="--trailer")
    with cli_engine(database_url, console) as engine:
        if pallets is not None:
            chosen = _parse_pallets(pallets)
        else:
            assert from_stock is not None
            with Session(engine) as session:
                ssccs = free_pallets(session, site, from_stock)
            per_stop = -(-len(ssccs) // max(stops, 1))
            chosen = [
                LoadPalletIn(sscc=s, stop_index=1 + i // per_stop) for i, s in enumerate(ssccs)
            ]
        try:
            request = LoadCreate(
                site=site,
                reference=shipment,
                dock=dock,
                trailer=trailer,
                route_ref=route,
                pallets=chosen,
                time_limit_s=time_limit,
            )
        except ValidationError as err:
            console.print(f"[red]invalid load:[/red] {err}")
            raise typer.Exit(2) from err
        with console.status(f"planning {len(chosen)} pallets on {trailer}..."):
            shipment_id = create_load(engine, request, now=utc_now())
        if send:
            with UnitOfWork(engine, write_lock=True) as uow:
                queued = send_load(uow.session, shipment_id, now=utc_now())
                uow.commit()
            console.print(f"queued load.plan command {queued.command_id} for {queued.dock}")
        with Session(engine) as session:
            view = load_view(session, shipment_id)
            _show(console, view)
            _write_svg(console, session, shipment_id, svg or Path(f"{shipment}.svg"))
        if view.plan is None or not view.plan.loadable:
            raise typer.Exit(3)


@loads_app.command("show")
def show(
    shipment_id: Annotated[int, typer.Argument(help="the shipment's id")],
    svg: Annotated[
        Path | None, typer.Option("--svg", help="also write the floor plan here")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a shipment: its plan, each pallet's position and status, weights against limits."""
    console = Console()
    with cli_engine(database_url, console) as engine, Session(engine) as session:
        _show(console, load_view(session, shipment_id))
        if svg is not None:
            _write_svg(console, session, shipment_id, svg)


@loads_app.command("send")
def send_command(
    shipment_id: Annotated[int, typer.Argument(help="the shipment's id")],
    database_url: DatabaseUrl = None,
) -> None:
    """Queue the shipment's plan for its dock (the ingest sends it until the edge confirms)."""
    console = Console()
    with cli_engine(database_url, console) as engine, UnitOfWork(engine, write_lock=True) as uow:
        queued = send_load(uow.session, shipment_id, now=utc_now())
        uow.commit()
    state = "was already queued" if queued.already_sent else "queued"
    console.print(f"load.plan command {queued.command_id} {state} for {queued.site} {queued.dock}")


@docks_app.callback(invoke_without_command=True)
def docks(site: Site, database_url: DatabaseUrl = None) -> None:
    """The dock board: phase, door, vehicle, shipment progress and last alert of every dock."""
    console = Console()
    with cli_engine(database_url, console) as engine, Session(engine) as session:
        board = dock_board(session, site)
    table = Table(title=f"Docks of {site}")
    for column in ("dock", "phase", "door", "vehicle", "shipment", "loaded", "since", "alert"):
        table.add_column(column)
    for row in board:
        vehicle = {None: "?", True: "docked", False: "none"}[row.vehicle_present]
        loaded = (
            f"{row.pallets_loaded}/{row.pallets_planned}" if row.pallets_planned is not None else ""
        )
        table.add_row(
            row.dock,
            row.phase or "unknown",
            row.door or "?",
            vehicle,
            f"{row.shipment} ({row.shipment_status})"
            if row.shipment_status
            else row.shipment or "",
            loaded,
            f"{row.since:%Y-%m-%d %H:%M:%S}" if row.since else "",
            f"[red]{row.alert}[/red]" if row.alert else "",
        )
    console.print(table)
