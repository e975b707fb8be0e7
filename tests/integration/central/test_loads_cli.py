"""`wms loads plan / show / send` and `wms docks` on central's database (SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from central.ingest import IngestService
from tests.integration.central.scenario import EdgeStream, sscc
from wms.cli import app


def _run(database_url: str, *args: str) -> Result:
    # Wide enough that rich never wraps or shortens a cell.
    return CliRunner().invoke(app, [*args, "--database-url", database_url], env={"COLUMNS": "250"})


def _receive(service: IngestService, stream: EdgeStream, serials: range) -> None:
    for serial in serials:
        outcome = service.handle(stream.goods_received(serial), topic=stream.topic)
        location = outcome.commands[0].data["label"]["location"]
        service.handle(stream.putaway(serial, location), topic=stream.topic)


def test_a_load_is_planned_from_stock_shown_and_sent_from_the_command_line(
    seeded: Engine,
    service: IngestService,
    stream: EdgeStream,
    site_code: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    _receive(service, stream, range(1, 7))
    svg = tmp_path / "sh-10.svg"

    planned = _run(
        database_url,
        "loads", "plan", "--site", site_code, "--shipment", "SH-10", "--from-stock", "6",
        "--stops", "3", "--svg", str(svg), "--time-limit", "2",
    )  # fmt: skip
    assert planned.exit_code == 0, planned.output
    assert "Shipment SH-10" in planned.output
    assert "OPTIMAL" in planned.output or "FEASIBLE" in planned.output
    for serial in range(1, 7):
        assert sscc(serial) in planned.output
    assert "kingpin" in planned.output and "rear_axles" in planned.output
    assert svg.read_text().lstrip().startswith("<svg")
    shipment_id = planned.output.split("(id ")[1].split(")")[0]

    sent = _run(database_url, "loads", "send", shipment_id)
    assert sent.exit_code == 0, sent.output
    assert "queued" in sent.output and site_code in sent.output
    shown = _run(database_url, "loads", "show", shipment_id)
    assert shown.exit_code == 0 and "sent to the edge" in shown.output

    service.handle(
        stream.event(
            "dock.state_changed",
            {"dock": "dock-1", "state": "loading", "previous": "door_open", "shipment_id": "SH-10"},
        ),
        topic=stream.topic,
    )
    board = _run(database_url, "docks", "--site", site_code)
    assert board.exit_code == 0, board.output
    assert "loading" in board.output and "SH-10 (planned)" in board.output
    assert "0/6" in board.output


def test_an_overweight_load_exits_non_zero_and_says_why(
    seeded: Engine, service: IngestService, stream: EdgeStream, site_code: str, database_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    _receive(service, stream, range(1, 7))
    pallets = ",".join(f"{sscc(s)}:{1 + s % 2}" for s in range(1, 7))

    result = _run(
        database_url,
        "loads", "plan", "--site", site_code, "--shipment", "SH-11", "--pallets", pallets,
        "--trailer", "rigid_7_5t_18_eur", "--svg", str(tmp_path / "x.svg"), "--time-limit", "2",
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "INFEASIBLE" in result.output and "OVER_PAYLOAD" in result.output
    assert "left out" in result.output
    bad = _run(
        database_url, "loads", "plan", "--site", site_code, "--shipment", "X", "--pallets", "12:1"
    )
    assert bad.exit_code == 2 and "SSCC:STOP" in bad.output
