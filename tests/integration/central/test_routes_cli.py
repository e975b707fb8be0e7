"""`wms routes plan / show` on central's database (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner, Result

from central.master_data import create_site
from central.route_service import create_order, create_vehicle
from central.routes_schemas import OrderCreate, VehicleCreate
from central.schemas import DockCreate, SiteCreate
from wms.cli import app

DAY = date(2026, 12, 2)


def _run(database_url: str, *args: str) -> Result:
    # Wide enough that rich never wraps or shortens a cell.
    return CliRunner().invoke(app, [*args, "--database-url", database_url], env={"COLUMNS": "250"})


def _seed(engine: Engine, site: str) -> None:
    with Session(engine) as session:
        create_site(
            session=session,
            site_in=SiteCreate(
                code=site,
                name="CLI routes",
                docks=[DockCreate(code="dock-1", receiving_location="RCV-1")],
            ),
        )
        create_vehicle(session, VehicleCreate(site=site, ref="VAN-7", capacity_kg=Decimal(1500)))
        for n, (lat, lon) in enumerate(
            [("52.53", "13.41"), ("52.51", "13.38"), ("52.50", "13.43")]
        ):
            create_order(
                session,
                OrderCreate(
                    site=site,
                    reference=f"CO-{n}",
                    customer=f"Customer {n}",
                    lat=Decimal(lat),
                    lon=Decimal(lon),
                    demand_kg=Decimal(100),
                    demand_pallets=1,
                    window_earliest=time(8),
                    window_latest=time(12),
                    delivery_date=DAY,
                ),
            )
        session.commit()


def test_a_day_is_planned_and_shown_from_the_command_line(
    engine: Engine, site_code: str, database_url: str
) -> None:
    _seed(engine, site_code)
    planned = _run(
        database_url,
        "routes", "plan", "--site", site_code, "--date", DAY.isoformat(),
        "--depot", "52.52,13.405", "--time-limit", "1",
    )  # fmt: skip
    assert planned.exit_code == 0, planned.output
    assert "feasible" in planned.output and "VAN-7" in planned.output
    for n in range(3):
        assert f"Customer {n}" in planned.output
    plan_id = planned.output.split("Route plan ")[1].split(" ")[0]

    shown = _run(database_url, "routes", "show", plan_id)
    assert shown.exit_code == 0, shown.output
    assert "CO-0" in shown.output and "08:00-12:00" in shown.output

    missing = _run(database_url, "routes", "show", "999999")
    assert missing.exit_code == 1 and "no route plan 999999" in missing.output
    bad = _run(
        database_url, "routes", "plan", "--site", site_code, "--date", DAY.isoformat(),
        "--depot", "north",
    )  # fmt: skip
    assert bad.exit_code == 2
