"""`wms routes` on central's database (SQLite, PostgreSQL), from planning to re-planning."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

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


def test_a_route_is_followed_reported_and_replanned_from_the_command_line(
    engine: Engine, site_code: str, database_url: str, tmp_path: Path
) -> None:
    _seed(engine, site_code)
    planned = _run(
        database_url,
        "routes", "plan", "--site", site_code, "--date", DAY.isoformat(),
        "--depot", "52.52,13.405", "--time-limit", "1",
    )  # fmt: skip
    assert planned.exit_code == 0, planned.output
    plan_id = planned.output.split("Route plan ")[1].split(" ")[0]
    route_id = planned.output.split("Route ")[2].split(":")[0]

    printed = _run(database_url, "routes", "dispatch", plan_id, "--dock", "dock-1")
    assert printed.exit_code == 0, printed.output
    assert f"route {route_id}: queued for dock-1" in printed.output
    pdf = tmp_path / "sheet.pdf"
    sheet = _run(database_url, "routes", "sheet", route_id, "--out", str(pdf))
    assert sheet.exit_code == 0, sheet.output
    assert pdf.read_bytes().startswith(b"%PDF")
    assert f"/driver/routes/{route_id}?token=" in sheet.output

    no_signature = _run(database_url, "routes", "report", route_id, "delivered", "--stop", "1")
    assert no_signature.exit_code == 2 and "received the goods" in no_signature.output
    delivered = _run(
        database_url, "routes", "report", route_id, "delivered", "--stop", "1",
        "--received-by", "J. Doe",
    )  # fmt: skip
    assert delivered.exit_code == 0, delivered.output
    assert "under_way" in delivered.output and "delivered" in delivered.output
    twice = _run(
        database_url, "routes", "report", route_id, "delivered", "--stop", "1",
        "--received-by", "J. Doe",
    )  # fmt: skip
    assert twice.exit_code == 1 and "already delivered" in twice.output

    status = _run(database_url, "routes", "status", plan_id)
    assert status.exit_code == 0, status.output
    assert f"Route {route_id}: VAN-7 under_way" in status.output
    assert status.output.count("pending") == 2

    replanned = _run(database_url, "routes", "replan", plan_id, "--time-limit", "1")
    assert replanned.exit_code == 0, replanned.output
    assert "change(s) as of" in replanned.output
    after = _run(database_url, "routes", "status", plan_id)
    assert after.output.count("delivered") == 1 and after.output.count("pending") == 2
