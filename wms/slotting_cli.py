"""`wms slotting ...`: compute and view a site's slotting plan, propose and accept re-slot lists.

Works on central's database directly (DATABASE_URL from the environment / .env, or
--database-url), like `wms ledger`. Register with: `app.add_typer(slotting_app, name="slotting")`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from central.domain.errors import CentralError
from central.settings import CentralSettings
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
from central.store.db import UnitOfWork, make_engine
from contracts.envelope import utc_now

slotting_app = typer.Typer(
    help="Slotting: optimal bins for every item, putaway by plan, re-slot lists.",
    no_args_is_help=True,
)
logger = logging.getLogger(__name__)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="default: DATABASE_URL from the environment / .env"),
]
Site = Annotated[str, typer.Option("--site", help="site code, e.g. WH1")]


@contextmanager
def _engine(database_url: str | None, console: Console) -> Iterator[Engine]:
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


def _money(value: Decimal) -> str:
    return f"{value:,.1f}"


def _show_plan(console: Console, view: SlottingPlanPublic) -> None:
    table = Table(title=f"Slotting plan {view.id} of {view.site} ({view.status})")
    for column in ("GTIN", "item", "picks", "planned bin", "travel m", "cost", "now", "cost now"):
        table.add_column(column, justify="right" if column in ("picks", "travel m") else "left")
    for row in view.assignments:
        table.add_row(
            row.gtin,
            row.item_name,
            str(row.picks_per_period),
            row.bin,
            str(row.travel_m),
            _money(row.cost),
            row.current_bin or "-",
            "-" if row.current_cost is None else _money(row.current_cost),
        )
    console.print(table)
    console.print(
        f"{view.solver_status} ({view.engine}, gap {view.gap}, {view.solve_time_ms} ms): "
        f"{view.items} items, cost {_money(view.objective)} pick-m/period, "
        f"travel {_money(view.expected_travel_m)} m/period"
    )
    if view.items_placed_now:
        saving = view.current_cost - view.planned_cost_same_items
        console.print(
            f"today's layout ({view.items_placed_now} items with a pick face): cost "
            f"{_money(view.current_cost)}, travel {_money(view.current_travel_m)} m; the plan "
            f"for them: cost {_money(view.planned_cost_same_items)}, travel "
            f"{_money(view.planned_travel_m_same_items)} m (saves {_money(saving)} pick-m)"
        )


def _show_reslot(console: Console, view: ReslotListPublic) -> None:
    table = Table(title=f"Re-slot list {view.id} of {view.site} ({view.status})")
    for column in ("#", "group", "GTIN", "SSCC", "from", "to", "saving", "status"):
        table.add_column(column)
    for move in view.moves:
        table.add_row(
            str(move.position),
            str(move.group),
            move.gtin,
            move.sscc,
            move.from_bin,
            move.to_bin,
            _money(move.saving),
            move.status,
        )
    console.print(table)
    console.print(
        f"{len(view.moves)} moves save {_money(view.saving)} pick-m per period "
        f"({_money(view.cost_before)} -> {_money(view.cost_after)})"
    )


@slotting_app.command()
def plan(
    site: Site,
    period_days: Annotated[int, typer.Option(help="demand: issues in the last N days")] = 7,
    time_limit_s: Annotated[float, typer.Option(help="solver limit (side constraints)")] = 10.0,
    demand: Annotated[
        list[str] | None,
        typer.Option(help="GTIN=PICKS: picks per period instead of the history (repeatable)"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Compute the site's optimal slotting plan; putaway follows it from now on."""
    console = Console()
    overrides: dict[str, str] = {}
    for pair in demand or []:
        gtin, sep, picks = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--demand {pair!r}: write GTIN=PICKS, e.g. 04012345000016=40")
        overrides[gtin.strip()] = picks.strip()
    try:
        request = SlottingPlanCreate.model_validate(
            {
                "site": site,
                "period_days": period_days,
                "time_limit_s": time_limit_s,
                "demand_overrides": overrides,
            }
        )
    except ValidationError as err:
        raise typer.BadParameter(str(err)) from err
    with _engine(database_url, console) as engine:
        with (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress,
            UnitOfWork(engine, write_lock=True) as uow,
        ):
            task = progress.add_task(f"slotting {site}", total=None)

            def stage(name: str) -> None:
                progress.update(task, description=f"slotting {site}: {name}")

            row = compute_plan(uow.session, request, now=utc_now(), on_stage=stage)
            uow.commit()
        assert row.id is not None
        with UnitOfWork(engine) as uow:
            _show_plan(console, plan_view(uow.session, plan_id=row.id))


@slotting_app.command()
def show(
    site: Site,
    plan_id: Annotated[int | None, typer.Option(help="default: the current plan")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a plan with its expected travel next to today's layout's."""
    console = Console()
    with _engine(database_url, console) as engine, UnitOfWork(engine) as uow:
        _show_plan(console, plan_view(uow.session, plan_id=plan_id, site=site))


@slotting_app.command()
def reslot(
    site: Site,
    max_moves: Annotated[int, typer.Option(min=1, help="move budget")],
    database_url: DatabaseUrl = None,
) -> None:
    """Propose the pallet moves (at most --max-moves) that save the most expected travel."""
    console = Console()
    with _engine(database_url, console) as engine:
        with UnitOfWork(engine, write_lock=True) as uow:
            row = propose_reslot(
                uow.session, ReslotListCreate(site=site, max_moves=max_moves), now=utc_now()
            )
            uow.commit()
        assert row.id is not None
        with UnitOfWork(engine) as uow:
            _show_reslot(console, reslot_view(uow.session, row.id))
        console.print(f"accept it with: wms slotting accept {row.id}")


@slotting_app.command()
def accept(
    list_id: Annotated[int, typer.Argument(help="the re-slot list's id")],
    database_url: DatabaseUrl = None,
) -> None:
    """Accept a re-slot list: each move becomes a task, done by scanning pallet, then bin."""
    console = Console()
    with _engine(database_url, console) as engine:
        with UnitOfWork(engine, write_lock=True) as uow:
            accept_reslot(uow.session, list_id, now=utc_now())
            uow.commit()
        with UnitOfWork(engine) as uow:
            _show_reslot(console, reslot_view(uow.session, list_id))
