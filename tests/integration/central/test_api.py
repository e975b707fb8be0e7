"""The HTTP API through FastAPI's TestClient, with the app's own lifespan and migrations."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from central.app import create_app
from central.ingest import IngestService
from central.settings import CentralSettings
from tests.integration.central.scenario import GTIN, UNKNOWN_GTIN, EdgeStream, sscc

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package and warns once, at import, when it falls back to
    # httpx (which pyproject pins); the client works the same with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(CentralSettings(database_url=database_url))
    with TestClient(app) as test_client:
        yield test_client


def seed(client: TestClient, site: str) -> None:
    response = client.post(
        "/sites",
        json={
            "code": site,
            "name": "Main warehouse",
            "docks": [{"code": "dock-1", "receiving_location": "RCV-1", "x": "0", "y": "0"}],
        },
    )
    assert response.status_code == 201, response.text
    for col in (1, 2, 3):
        response = client.post(
            "/locations",
            json={
                "site": site,
                "code": f"A-01-0{col}",
                "kind": "bin",
                "zone": "A",
                "aisle": "01",
                "bay": f"0{col}",
                "level": "0",
                "x": str(col * 3),
                "y": "2",
                "max_weight_kg": "1000",
                "max_pallets": 1,
            },
        )
        assert response.status_code == 201, response.text
    response = client.post(
        "/items", json={"gtin": GTIN, "name": "Widget 10-pack", "unit_weight_kg": "50"}
    )
    assert response.status_code == 201, response.text
    response = client.post(
        "/expected-receipts",
        json={
            "site": site,
            "reference": "ASN-1",
            "supplier": "ACME",
            "lines": [
                {
                    "gtin": GTIN,
                    "sscc": sscc(i),
                    "quantity": "10",
                    "expected_weight_kg": "500",
                    "weight_tolerance_pct": "2",
                    "unit_price": "12.50",
                    "currency": "EUR",
                }
                for i in (1, 2)
            ],
        },
    )
    assert response.status_code == 201, response.text


def ingest_of(client: TestClient) -> IngestService:
    service = client.app.state.ingest  # type: ignore[attr-defined]
    assert isinstance(service, IngestService)
    return service


def test_master_data_can_be_created_and_listed(client: TestClient, site_code: str) -> None:
    seed(client, site_code)

    sites = client.get("/sites").json()
    assert [s["code"] for s in sites] == [site_code]
    assert (
        sites[0]["docks"] == [{"code": "dock-1", "receiving_location": "RCV-1", "x": "0", "y": "0"}]
        or sites[0]["docks"][0]["receiving_location"] == "RCV-1"
    )
    assert [i["gtin"] for i in client.get("/items").json()] == [GTIN]
    bins = client.get("/locations", params={"site": site_code, "kind": "bin"}).json()
    assert [b["code"] for b in bins] == ["A-01-01", "A-01-02", "A-01-03"]
    receipts = client.get("/expected-receipts", params={"site": site_code}).json()
    assert [line["sscc"] for line in receipts[0]["lines"]] == [sscc(1), sscc(2)]
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/docs").status_code == 200


def test_duplicates_and_unknown_references_get_clear_4xx_answers(
    client: TestClient, site_code: str
) -> None:
    seed(client, site_code)

    again = client.post("/items", json={"gtin": GTIN, "name": "Widget"})
    assert again.status_code == 409
    assert GTIN in again.json()["detail"]
    no_site = client.post("/locations", json={"site": "NOPE", "code": "A-09-09"})
    assert no_site.status_code == 404
    assert "POST /sites" in no_site.json()["detail"]
    no_item = client.post(
        "/expected-receipts",
        json={
            "site": site_code,
            "reference": "X",
            "lines": [{"gtin": UNKNOWN_GTIN, "quantity": 1}],
        },
    )
    assert no_item.status_code == 404
    assert client.post("/items", json={"gtin": "123", "name": "short"}).status_code == 422
    assert client.get("/handling-units/000000000000000000").status_code == 404


def test_received_and_put_away_pallets_show_in_stock(client: TestClient, site_code: str) -> None:
    seed(client, site_code)
    service, stream = ingest_of(client), EdgeStream(site_code)

    received = service.handle(stream.goods_received(1), topic=stream.topic)
    service.handle(stream.goods_received(2), topic=stream.topic)
    location = received.commands[0].data["label"]["location"]
    assert location == "A-01-01"
    service.handle(stream.putaway(1, location), topic=stream.topic)

    stock = client.get("/stock", params={"site": site_code}).json()
    assert {(row["location"], row["sscc"], row["quantity"]) for row in stock} == {
        ("A-01-01", sscc(1), "10"),
        ("RCV-1", sscc(2), "10"),
    }
    by_sscc = client.get("/stock", params={"sscc": sscc(2)}).json()
    assert [row["location"] for row in by_sscc] == ["RCV-1"]
    assert (
        client.get("/stock", params={"gtin": GTIN, "location": "A-01-01"}).json()[0]["quantity"]
        == "10"
    )
    pallet = client.get(f"/handling-units/{sscc(2)}").json()
    assert (pallet["location"], pallet["status"], pallet["putaway_location"]) == (
        "RCV-1",
        "received",
        "A-01-02",
    )
    events = client.get("/events", params={"site": site_code}).json()
    assert [(e["seq"], e["outcome"]) for e in events] == [
        (1, "applied"),
        (2, "applied"),
        (3, "applied"),
    ]
    commands = client.get("/commands", params={"site": site_code, "pending": True}).json()
    assert len(commands) == 2
    receipts = client.get("/expected-receipts", params={"site": site_code}).json()
    assert [line["received_quantity"] for line in receipts[0]["lines"]] == ["10", "10"]


def test_dead_letters_are_visible_and_can_be_reapplied_after_the_fix(
    client: TestClient, site_code: str
) -> None:
    seed(client, site_code)
    service, stream = ingest_of(client), EdgeStream(site_code)
    service.handle(b"{garbage", topic=stream.topic)
    outcome = service.handle(stream.goods_received(None, gtin=UNKNOWN_GTIN), topic=stream.topic)
    assert outcome.ack_upto == 1

    letters = client.get("/dead-letters", params={"status": "open"}).json()
    by_seq = {letter["seq"]: letter for letter in letters if letter["site"] == site_code}
    assert set(by_seq) == {None, 1}
    assert by_seq[None]["raw"] == "{garbage"
    blocked = client.post(f"/dead-letters/{by_seq[1]['id']}/reapply")
    assert blocked.status_code == 409
    assert "unknown item" in blocked.json()["detail"]
    assert client.post(f"/dead-letters/{by_seq[None]['id']}/reapply").status_code == 409

    client.post("/items", json={"gtin": UNKNOWN_GTIN, "name": "New thing"})
    fixed = client.post(f"/dead-letters/{by_seq[1]['id']}/reapply")

    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "reapplied"
    stock = client.get("/stock", params={"gtin": UNKNOWN_GTIN}).json()
    assert [(row["location"], row["quantity"]) for row in stock] == [("RCV-1", "10")]
    alerts = client.get("/alerts", params={"site": site_code, "kind": "rejected_event"}).json()
    assert len(alerts) == 2
    assert client.post("/dead-letters/999999/reapply").status_code == 404


def test_device_health_is_listed(client: TestClient, site_code: str) -> None:
    seed(client, site_code)
    service, stream = ingest_of(client), EdgeStream(site_code)
    service.handle(
        stream.event("device.status", {"device": "dock-1/printer", "state": "online"}),
        topic=stream.topic,
    )

    devices = client.get("/devices", params={"site": site_code}).json()
    assert [(d["device"], d["state"]) for d in devices] == [("dock-1/printer", "online")]


def test_background_runs_for_the_apps_lifetime(database_url: str) -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def background(service: IngestService) -> AsyncIterator[None]:
        seen.append("start")
        yield
        seen.append("stop")

    app = create_app(CentralSettings(database_url=database_url), background=background)
    with TestClient(app) as test_client:
        assert test_client.get("/healthz").status_code == 200
        assert seen == ["start"]
    assert seen == ["start", "stop"]


def test_production_refuses_a_default_broker_password() -> None:
    with pytest.raises(ValueError, match="default"):
        CentralSettings(environment="production", mqtt_password="changethis")
