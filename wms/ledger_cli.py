"""`wms ledger ...`: check the books' invariants over the whole database, export the journal.

Settings (DATABASE_URL, LEDGER_CURRENCY, ...) come from central.settings.CentralSettings.
Register with: `app.add_typer(ledger_app, name="ledger")`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, func, select

from central.ledger import check_books, export_journal, ledger_config
from central.settings import CentralSettings
from central.store import tables as t
from central.store.db import make_engine

ledger_app = typer.Typer(
    help="The books: check invariants, export the journal.", no_args_is_help=True
)
logger = logging.getLogger(__name__)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="default: DATABASE_URL from the environment / .env"),
]


def _settings(database_url: str | None) -> CentralSettings:
    if database_url is None:
        return CentralSettings()
    return CentralSettings(database_url=database_url)


@ledger_app.command()
def check(database_url: DatabaseUrl = None) -> None:
    """Verify every invariant of the books; exit 1 and list the differences if any fails.

    Each entry balanced per currency; each site's inventory account equal to the valuation
    layers per item; goods in transit equal to open shipments; no journal row changed since
    it was posted (hash chain); stock on hand equal to valued plus waiting quantity.
    """
    console = Console()
    settings = _settings(database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            violations = check_books(session, ledger_config(settings))
            entries = session.exec(select(func.count()).select_from(t.JournalEntryRow)).one()
    except SQLAlchemyError as err:
        console.print(f"[red]cannot read the books:[/red] {err}")
        raise typer.Exit(2) from err
    finally:
        engine.dispose()
    if not violations:
        console.print(f"[green]books OK[/green]: {entries} journal entries, every invariant holds")
        return
    table = Table(title=f"{len(violations)} difference(s) in the books")
    table.add_column("invariant", style="bold red")
    table.add_column("detail")
    for violation in violations:
        table.add_row(violation.invariant, violation.detail)
    console.print(table)
    raise typer.Exit(1)


@ledger_app.command()
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write")],
    fmt: Annotated[
        Literal["beancount", "csv"], typer.Option("--format", "-f", help="beancount or csv")
    ] = "beancount",
    database_url: DatabaseUrl = None,
) -> None:
    """Write the whole journal as a beancount ledger (check it with bean-check) or CSV."""
    console = Console()
    settings = _settings(database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            text = export_journal(session, ledger_config(settings).chart, fmt)
    except SQLAlchemyError as err:
        console.print(f"[red]cannot read the books:[/red] {err}")
        raise typer.Exit(2) from err
    finally:
        engine.dispose()
    out.write_text(text, encoding="utf-8")
    console.print(f"journal written to {out} ({fmt})")
