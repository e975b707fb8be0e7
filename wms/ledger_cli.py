"""`wms ledger ...`: the books from the command line.

Reports read the database through the same functions as the API (central.ledger): `journal`,
`trial-balance`, `valuation`; `check` verifies every invariant over the whole database and
`export` writes the journal for an accounting system. Settings (DATABASE_URL,
LEDGER_CURRENCY, ...) come from central.settings.CentralSettings.

Exit codes: 0 fine; 1 the books are not sound (`check` found a difference, `valuation` does
not reconcile, the whole trial balance does not balance); 2 the database cannot be read.
Register with: `app.add_typer(ledger_app, name="ledger")`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from central.domain.accounting import ChartOfAccountsError, LedgerConfig
from central.ledger import (
    JournalFilter,
    check_books,
    export_journal,
    journal,
    ledger_config,
    trial_balance,
    valuation_report,
)
from central.settings import CentralSettings
from central.store import tables as t
from central.store.db import make_engine

ledger_app = typer.Typer(
    help="The books: journal, trial balance, stock valuation, invariant check, export.",
    no_args_is_help=True,
)
logger = logging.getLogger(__name__)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="default: DATABASE_URL from the environment / .env"),
]
Site = Annotated[str | None, typer.Option("--site", help="only this site")]
_DATE_FORMATS = ["%Y-%m-%d"]


def _settings(database_url: str | None) -> CentralSettings:
    if database_url is None:
        return CentralSettings()
    return CentralSettings(database_url=database_url)


@contextmanager
def _books(database_url: str | None, console: Console) -> Iterator[tuple[Session, LedgerConfig]]:
    """A read session on the books and their posting configuration; exit 2 if unreadable."""
    settings = _settings(database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            yield session, ledger_config(settings)
    except SQLAlchemyError as err:
        console.print(f"[red]cannot read the books:[/red] {err}")
        raise typer.Exit(2) from err
    finally:
        engine.dispose()


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _amount(value: Decimal) -> str:
    """An amount for a table: blank when zero, so debits and credits stand out."""
    return f"{value:,.2f}" if value else ""


def _number(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _price(value: Decimal) -> str:
    """A unit cost: two decimals, more only where the cost has them (0.001250)."""
    return f"{value:,.2f}" if value == round(value, 2) else f"{value.normalize():f}"


@ledger_app.command()
def check(database_url: DatabaseUrl = None) -> None:
    """Verify every invariant of the books; exit 1 and list the differences if any fails.

    Each entry balanced per currency; each site's inventory account equal to the valuation
    layers per item; goods in transit equal to open shipments; no journal row changed since
    it was posted (hash chain); stock on hand equal to valued plus waiting quantity.
    """
    console = Console()
    with _books(database_url, console) as (session, config):
        violations = check_books(session, config)
        entries = session.exec(select(func.count()).select_from(t.JournalEntryRow)).one()
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


@ledger_app.command("journal")
def show_journal(
    site: Annotated[str | None, typer.Option("--site", help="entries with a line here")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="entries touching this account code")
    ] = None,
    date_from: Annotated[
        datetime | None,
        typer.Option("--from", formats=_DATE_FORMATS, help="posting date from (incl.)"),
    ] = None,
    date_to: Annotated[
        datetime | None,
        typer.Option("--to", formats=_DATE_FORMATS, help="posting date to (incl.)"),
    ] = None,
    event: Annotated[UUID | None, typer.Option("--event", help="the entry of one event")] = None,
    item: Annotated[str | None, typer.Option("--item", help="entries moving this GTIN")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many entries")] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """Journal entries in posting sequence, one row per debit or credit line."""
    console = Console()
    where = JournalFilter(site, account, item, event, _day(date_from), _day(date_to))
    with _books(database_url, console) as (session, config):
        entries = journal(session, where, limit=limit)
    if not entries:
        console.print("no journal entries match")
        return
    table = Table(title=f"Journal: {len(entries)} entries")
    for name in ("seq", "date", "movement", "event", "line", "account", "site", "item", "qty"):
        table.add_column(name, justify="right" if name in ("seq", "line", "qty") else "left")
    table.add_column("debit", justify="right")
    table.add_column("credit", justify="right")
    table.add_column("cur")
    table.add_column("memo")
    chart = config.chart
    for entry in entries:
        what = entry.movement_type.value + (" (late)" if entry.late else "")
        if entry.reverses is not None:
            what += f" of {entry.reverses}"
        for n, line in enumerate(entry.lines):
            first = n == 0
            table.add_row(
                str(entry.sequence) if first else "",
                entry.posting_date.isoformat() if first else "",
                what if first else "",
                str(entry.event_id) if first else "",
                str(line.line_no),
                f"{line.account} {chart.by_code(line.account).name}",
                line.site,
                line.item or "",
                _number(line.quantity),
                _amount(line.debit),
                _amount(line.credit),
                line.currency,
                line.memo,
                end_section=n == len(entry.lines) - 1,
            )
    console.print(table)


@ledger_app.command("trial-balance")
def show_trial_balance(
    site: Site = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=_DATE_FORMATS, help="entries posted up to this date"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Debit and credit totals per account and currency; debits must equal credits.

    With --site only that site's lines count; a transfer's two sides sit at two sites, so one
    site alone need not balance (exit 1 only when the whole books do not).
    """
    console = Console()
    with _books(database_url, console) as (session, config):
        rows = trial_balance(session, config.chart, site=site, as_of=_day(as_of))
    scope = f"site {site}" if site else "all sites"
    if as_of is not None:
        scope += f", up to {as_of.date().isoformat()}"
    table = Table(title=f"Trial balance ({scope})")
    for name in ("account", "name", "type", "cur", "debit", "credit", "balance"):
        table.add_column(
            name, justify="right" if name in ("debit", "credit", "balance") else "left"
        )
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        totals[row.currency][0] += row.debit
        totals[row.currency][1] += row.credit
        table.add_row(
            row.account.code,
            row.account.name,
            row.account.type.value,
            row.currency,
            f"{row.debit:,.2f}",
            f"{row.credit:,.2f}",
            f"{row.balance:,.2f}",
        )
    unbalanced = []
    for n, (currency, (debit, credit)) in enumerate(sorted(totals.items())):
        if debit != credit:
            unbalanced.append(currency)
        table.add_row(
            "total",
            "",
            "",
            currency,
            f"{debit:,.2f}",
            f"{credit:,.2f}",
            f"{debit - credit:,.2f}",
            style="bold",
            end_section=n == 0,
        )
    console.print(table)
    if not rows:
        console.print("no entries posted")
    elif not unbalanced:
        console.print("[green]balanced[/green]: debits equal credits in every currency")
    elif site is not None:
        console.print(
            f"site {site} alone does not balance in {', '.join(unbalanced)}: transfers to or "
            "from other sites post their other side there"
        )
    else:
        console.print(f"[red]NOT balanced[/red] in {', '.join(unbalanced)}; run `wms ledger check`")
        raise typer.Exit(1)


@ledger_app.command("valuation")
def show_valuation(
    site: Site = None,
    item: Annotated[str | None, typer.Option("--item", help="only this GTIN")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Stock valuation per item and site (quantity, value, unit cost, quantity still waiting
    for a price), and each site's inventory account reconciled to its valuation layers;
    exit 1 if a site does not reconcile."""
    console = Console()
    with _books(database_url, console) as (session, config):
        rows, reconciliation = valuation_report(session, config, site=site, item=item)
        names = dict(
            session.exec(
                select(t.Item.gtin, t.Item.name).where(col(t.Item.gtin).in_({r.item for r in rows}))
            ).all()
        )
    table = Table(title="Stock valuation" + (f" (site {site})" if site else ""))
    for name in ("site", "item", "name", "method", "quantity", "value", "unit cost", "cur"):
        right = name in ("quantity", "value", "unit cost")
        table.add_column(name, justify="right" if right else "left")
    table.add_column("waiting for a price", justify="right")
    for row in rows:
        table.add_row(
            row.site,
            row.item,
            names.get(row.item, ""),
            row.method,
            _number(row.quantity),
            f"{row.value:,.2f}",
            _price(row.unit_cost),
            row.currency,
            _number(row.unvalued_quantity) if row.unvalued_quantity else "",
        )
    console.print(table)
    recon = Table(title="Inventory account against valuation layers")
    for name in ("site", "account", "cur", "account balance", "layers", "difference", ""):
        right = name in ("account balance", "layers", "difference")
        recon.add_column(name, justify="right" if right else "left")
    off = []
    for r in reconciliation:
        try:
            account = f"{r.account} {config.chart.by_code(r.account).name}"
        except ChartOfAccountsError:
            account = r.account
        if r.difference:
            off.append(r.site)
        recon.add_row(
            r.site,
            account,
            r.currency,
            f"{r.account_balance:,.2f}",
            f"{r.layers_value:,.2f}",
            f"{r.difference:,.2f}",
            "[red]DIFFERENCE[/red]" if r.difference else "[green]reconciled[/green]",
        )
    console.print(recon)
    if off:
        console.print(
            f"[red]sites {', '.join(off)} do not reconcile[/red]; run `wms ledger check` for "
            "the item-level differences"
        )
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
    with _books(database_url, console) as (session, config):
        text = export_journal(session, config.chart, fmt)
    out.write_text(text, encoding="utf-8")
    console.print(f"journal written to {out} ({fmt})")
