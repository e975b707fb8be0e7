"""`wms ledger journal / trial-balance / valuation` on a database seeded through the ops
commands (the API's LedgerCommands), on SQLite and PostgreSQL: the reports show the accounts
and amounts worked out by hand below.

Site S: 10 @ 5.00 and 10 @ 7.00 of GTIN opened (moving average 6.00), 15 consumed (90.00);
4 @ 2.50 of OTHER_GTIN opened, 1 scrapped (2.50); 2 of GTIN sent to site O (12.00 in transit)
and received there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from central.domain.accounting import MovementType
from central.ledger import ledger_config
from central.ledger_commands import CommandAnswer, LedgerCommands
from central.ledger_schemas import (
    InitialStockCreate,
    StockIssueCreate,
    TransferDispatchCreate,
    TransferReceiptCreate,
)
from central.settings import CentralSettings
from central.store import tables as t
from central.store.db import UnitOfWork
from tests.integration.central.scenario import GTIN, OTHER_GTIN, seed_site
from wms.ledger_cli import ledger_app

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    """The seeded books: the database, the two sites, the consumption's event id."""

    url: str
    engine: Engine
    site: str
    other: str
    consumption: UUID

    def run(self, *args: str) -> Result:
        # Wide enough that rich never wraps or shortens a cell.
        return CliRunner().invoke(
            ledger_app, [*args, "--database-url", self.url], env={"COLUMNS": "250"}
        )


def row(output: str, *first: str) -> list[str]:
    """The cells of the one table row whose first cells are `first`."""
    found = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if cells[: len(first)] == list(first):
            found.append(cells)
    assert len(found) == 1, f"{len(found)} rows start with {first}:\n{output}"
    return found[0]


@pytest.fixture
def seeded(engine: Engine, database_url: str, site_code: str) -> Seeded:
    other = site_code[:-1] + ("Z" if site_code[-1] != "Z" else "Y")
    seed_site(engine, site_code, pallets=1, bins_rows=1, bins_cols=2)
    seed_site(engine, other, pallets=1, bins_rows=1, bins_cols=1)
    config = ledger_config(CentralSettings(database_url=database_url))

    def command(run: Callable[[LedgerCommands], CommandAnswer]) -> CommandAnswer:
        with UnitOfWork(engine, write_lock=True) as uow:
            answer = run(LedgerCommands(uow.session, config, clock=lambda: NOW))
            uow.commit()
        return answer

    def body(site: str, when: datetime, **fields: Any) -> dict[str, Any]:
        return {"idempotency_key": uuid4(), "site": site, "occurred_at": when} | fields

    bin1 = "A-01-01"
    for when, price in ((at(3, 2), "5.00"), (at(3, 3), "7.00")):
        load = InitialStockCreate(
            **body(site_code, when, gtin=GTIN, location=bin1, quantity=10, unit_price=price)
        )
        command(partial(LedgerCommands.initial_stock, request=load))
    consumption = StockIssueCreate(
        **body(site_code, at(3, 10), gtin=GTIN, location=bin1, quantity=15)
    )
    command(lambda c: c.issue("consumption", MovementType.CONSUMPTION, consumption))
    opening = InitialStockCreate(
        **body(site_code, at(4, 1), gtin=OTHER_GTIN, location=bin1, quantity=4, unit_price="2.50")
    )
    command(lambda c: c.initial_stock(opening))
    scrap = StockIssueCreate(
        **body(site_code, at(4, 2), gtin=OTHER_GTIN, location=bin1, quantity=1)
    )
    command(lambda c: c.issue("scrap", MovementType.SCRAP, scrap))
    dispatch = TransferDispatchCreate(
        **body(site_code, at(4, 5), gtin=GTIN, location=bin1, quantity=2, to_site=other)
    )
    command(lambda c: c.issue("transfer_dispatch", MovementType.TRANSFER_DISPATCH, dispatch))
    arrival = TransferReceiptCreate(
        **body(
            other,
            at(4, 6),
            dispatch_event_id=dispatch.idempotency_key,
            location=bin1,
            quantity=2,
        )
    )
    command(lambda c: c.transfer_receipt(arrival))
    return Seeded(database_url, engine, site_code, other, consumption.idempotency_key)


def test_journal_lists_the_entries_each_filter_selects(seeded: Seeded) -> None:
    everything = seeded.run("journal")
    assert everything.exit_code == 0, everything.output
    assert "Journal: 7 entries" in everything.output
    consumed = row(everything.output, "3")
    assert consumed[1:3] == ["2026-03-10", "consumption"]
    assert consumed[5:] == ["5100 Consumption", seeded.site, "", "", "90.00", "", "EUR", ""]
    stock_out = row(
        everything.output, "", "", "", "", "2", "1400 Inventory", seeded.site, GTIN, "-15"
    )
    assert stock_out[9:11] == ["", "90.00"]

    one = seeded.run("journal", "--event", str(seeded.consumption))
    assert "Journal: 1 entries" in one.output and str(seeded.consumption) in one.output

    scrap = seeded.run("journal", "--account", "5200")
    assert "Journal: 1 entries" in scrap.output
    assert row(scrap.output, "5")[1:3] == ["2026-04-02", "scrap"]
    assert "5200 Scrap expense" in scrap.output and "2.50" in scrap.output

    other_item = seeded.run("journal", "--item", OTHER_GTIN)
    assert "Journal: 2 entries" in other_item.output
    assert "initial_stock_load" in other_item.output and "consumption" not in other_item.output

    april = seeded.run("journal", "--from", "2026-04-01", "--to", "2026-04-05")
    assert "Journal: 3 entries" in april.output
    assert [row(april.output, str(seq))[2] for seq in (4, 5, 6)] == [
        "initial_stock_load",
        "scrap",
        "transfer_dispatch",
    ]

    arrived = seeded.run("journal", "--site", seeded.other)
    assert "Journal: 1 entries" in arrived.output
    assert row(arrived.output, "7")[2] == "transfer_receipt"
    assert row(arrived.output, "", "", "", "", "2", "1400 Inventory", seeded.other)[7:11] == [
        GTIN,
        "2",
        "12.00",
        "",
    ]
    first_two = seeded.run("journal", "--limit", "2")
    assert "Journal: 2 entries" in first_two.output
    assert "consumption" not in first_two.output

    assert "no journal entries match" in seeded.run("journal", "--account", "5400").output
    assert seeded.run("journal", "--from", "1 April").exit_code == 2


def test_trial_balance_totals_per_account_site_and_date(seeded: Seeded) -> None:
    whole = seeded.run("trial-balance")
    assert whole.exit_code == 0, whole.output
    assert row(whole.output, "1400")[1:] == [
        "Inventory",
        "Assets",
        "EUR",
        "142.00",
        "104.50",
        "37.50",
    ]
    assert row(whole.output, "1450")[4:] == ["12.00", "12.00", "0.00"]
    assert row(whole.output, "2990")[4:] == ["0.00", "130.00", "-130.00"]
    assert row(whole.output, "5100")[4:] == ["90.00", "0.00", "90.00"]
    assert row(whole.output, "5200")[4:] == ["2.50", "0.00", "2.50"]
    assert row(whole.output, "total")[3:] == ["EUR", "246.50", "246.50", "0.00"]
    assert "balanced" in whole.output

    # The transfer's receiving side is at the other site: this site alone is 12.00 short.
    one_site = seeded.run("trial-balance", "--site", seeded.site)
    assert one_site.exit_code == 0, one_site.output
    assert row(one_site.output, "1400")[4:] == ["130.00", "104.50", "25.50"]
    assert row(one_site.output, "total")[3:] == ["EUR", "234.50", "246.50", "-12.00"]
    assert f"site {seeded.site} alone does not balance" in one_site.output
    other = seeded.run("trial-balance", "--site", seeded.other)
    assert row(other.output, "1400")[4:] == ["12.00", "0.00", "12.00"]

    march = seeded.run("trial-balance", "--as-of", "2026-03-31")
    assert "up to 2026-03-31" in march.output
    assert row(march.output, "1400")[4:] == ["120.00", "90.00", "30.00"]
    assert row(march.output, "2990")[4:] == ["0.00", "120.00", "-120.00"]
    assert "5200" not in march.output and "1450" not in march.output
    assert row(march.output, "total")[3:] == ["EUR", "210.00", "210.00", "0.00"]


def test_valuation_reconciles_to_the_inventory_account_and_shows_a_difference(
    seeded: Seeded,
) -> None:
    report = seeded.run("valuation")
    assert report.exit_code == 0, report.output
    site, other = seeded.site, seeded.other
    assert row(report.output, site, GTIN)[2:] == [
        "Widget 10-pack",
        "moving_average",
        "3",
        "18.00",
        "6.00",
        "EUR",
        "",
    ]
    assert row(report.output, site, OTHER_GTIN)[4:7] == ["3", "7.50", "2.50"]
    assert row(report.output, other, GTIN)[4:7] == ["2", "12.00", "6.00"]
    assert row(report.output, site, "1400 Inventory")[2:] == [
        "EUR",
        "25.50",
        "25.50",
        "0.00",
        "reconciled",
    ]
    assert row(report.output, other, "1400 Inventory")[3:6] == ["12.00", "12.00", "0.00"]

    one_site = seeded.run("valuation", "--site", other)
    assert site not in one_site.output
    assert seeded.run("check").exit_code == 0

    # A layer changed behind the journal's back: the site no longer reconciles.
    with Session(seeded.engine) as session:
        layer = session.exec(
            select(t.LedgerValuationLayer).where(t.LedgerValuationLayer.site_code == other)
        ).one()
        layer.value = layer.value + Decimal(1)
        session.add(layer)
        session.commit()
    broken = seeded.run("valuation")
    assert broken.exit_code == 1, broken.output
    assert row(broken.output, other, "1400 Inventory")[2:] == [
        "EUR",
        "12.00",
        "13.00",
        "-1.00",
        "DIFFERENCE",
    ]
    assert f"sites {other} do not reconcile" in broken.output


def test_reports_say_when_the_database_cannot_be_read(tmp_path: Any) -> None:
    missing = f"sqlite:///{tmp_path / 'empty.db'}"
    for command in ("journal", "trial-balance", "valuation"):
        result = CliRunner().invoke(ledger_app, [command, "--database-url", missing])
        assert result.exit_code == 2, result.output
        assert "cannot read the books" in result.output
