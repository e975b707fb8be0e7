"""Slotting through the HTTP API (TestClient with the app's lifespan) and the `wms slotting` CLI."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from central.app import create_app
from central.ingest import IngestService
from central.settings import CentralSettings
from tests.integration.central.scenario import GTIN, OTHER_GTIN, EdgeStream, sscc
from tests.integration.central.test_ingest import label_of
from wms.slotting_cli import slotting_app

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(CentralSettings(database_url=database_url))
    with TestClient(app) as test_client:
        yield test_client


def _seed(client: TestClient, site: str) -> None:
    response = client.post(
        "/sites",
        json={
            "code": site,
            "name": "Main warehouse",
            "docks": [{"code": "dock-1", "receiving_location": "RCV-1", "x": "0", "y": "0"}],
        },
    )
    assert response.status_code == 201, response.text
    for bay in (1, 2, 3):
        for level, z in ((1, "0"), (2, "1.5")):
            response = client.post(
                "/locations",
                json={
                    "site": site,
                    "code": f"A-0{bay}-{level}",
                    "aisle": "A",
                    "bay": f"0{bay}",
                    "level": str(level),
                    "x": "4",
                    "y": str(bay * 2),
                    "z": z,
                    "max_weight_kg": "1000",
                    "max_pallets": 1,
                    "temperature_class": "chilled" if bay == 3 else None,
                    "hazard_classes": ["8"] if bay == 2 else [],
                },
            )
            assert response.status_code == 201, response.text
    assert response.json()["temperature_class"] == "chilled"
    for gtin, picks, temperature in ((GTIN, "5", None), (OTHER_GTIN, "80", "chilled")):
        response = client.post(
            "/items",
            json={
                "gtin": gtin,
                "name": f"item {gtin}",
                "unit_weight_kg": "50",
                "pick_frequency_override": picks,
                "temperature_class": temperature,
            },
        )
        assert response.status_code in (201, 409), response.text
    response = client.post(
        "/expected-receipts",
        json={
            "site": site,
            "reference": f"ASN-{site}",
            "lines": [
                {"gtin": GTIN, "sscc": sscc(serial), "quantity": "10", "expected_weight_kg": "500"}
                for serial in (1, 2)
            ],
        },
    )
    assert response.status_code == 201, response.text


def test_plan_view_putaway_and_reslot_through_the_api(client: TestClient, site_code: str) -> None:
    _seed(client, site_code)
    assert client.get("/slotting/plans/current", params={"site": site_code}).status_code == 404

    response = client.post(
        "/slotting/plans",
        json={"site": site_code, "demand_overrides": {OTHER_GTIN: "60"}},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["solver_status"] == "optimal" and Decimal(created["gap"]) == 0
    planned = {row["gtin"]: row for row in created["assignments"]}
    # The chilled item fits only the chilled bay; the request's demand beats the item's own.
    assert planned[OTHER_GTIN]["bin"].startswith("A-03-")
    assert Decimal(planned[OTHER_GTIN]["picks_per_period"]) == 60
    # The heavy pallet (500 kg) stays below the waist, nearest the dock.
    assert planned[GTIN]["bin"] == "A-01-1"

    current = client.get("/slotting/plans/current", params={"site": site_code}).json()
    assert current["id"] == created["id"]
    assert current["items_placed_now"] == 0
    assert (
        client.get(f"/slotting/plans/{created['id']}").json()["objective"] == (created["objective"])
    )

    ingest: IngestService = client.app.state.ingest  # type: ignore[attr-defined]
    stream = EdgeStream(site_code)
    label = label_of(ingest.handle(stream.goods_received(1), topic=stream.topic))
    assert label.label.location == planned[GTIN]["bin"]
    ingest.handle(stream.putaway(1, "A-02-1"), topic=stream.topic)  # put away elsewhere

    view = client.get("/slotting/plans/current", params={"site": site_code}).json()
    assert view["items_placed_now"] == 1
    assert {r["gtin"]: r["current_bin"] for r in view["assignments"]}[GTIN] == "A-02-1"

    response = client.post("/slotting/reslot-lists", json={"site": site_code, "max_moves": 5})
    assert response.status_code == 201, response.text
    proposed = response.json()
    assert proposed["status"] == "proposed"
    assert [(m["sscc"], m["from_bin"], m["to_bin"]) for m in proposed["moves"]] == [
        (sscc(1), "A-02-1", "A-01-1")
    ]
    assert float(proposed["saving"]) > 0

    accepted = client.post(f"/slotting/reslot-lists/{proposed['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert client.post(f"/slotting/reslot-lists/{proposed['id']}/accept").status_code == 409
    ingest.handle(stream.putaway(1, "A-01-1"), topic=stream.topic)
    done = client.get(f"/slotting/reslot-lists/{proposed['id']}").json()
    assert done["status"] == "done"
    assert [m["status"] for m in done["moves"]] == ["done"]
    assert client.get("/slotting/reslot-lists/999999").status_code == 404


def test_cli_plans_shows_and_reslots(seeded: Engine, database_url: str, site_code: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    url = ["--database-url", database_url]
    result = runner.invoke(slotting_app, ["show", "--site", site_code, *url])
    assert result.exit_code == 1
    assert "no slotting plan" in result.output

    result = runner.invoke(
        slotting_app, ["plan", "--site", site_code, "--demand", f"{GTIN}=10", *url]
    )
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output
    assert GTIN in result.output

    result = runner.invoke(slotting_app, ["show", "--site", site_code, *url])
    assert result.exit_code == 0, result.output
    assert "A-01-01" in result.output  # the one item's planned bin, nearest the dock

    result = runner.invoke(slotting_app, ["reslot", "--site", site_code, "--max-moves", "3", *url])
    assert result.exit_code == 0, result.output
    assert "0 moves" in result.output
    list_id = result.output.rsplit("wms slotting accept ", 1)[1].split()[0]
    result = runner.invoke(slotting_app, ["accept", list_id, *url])
    assert result.exit_code == 0, result.output
    assert "(done)" in result.output
