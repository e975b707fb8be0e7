"""Outbound loads through the API and the ingest: plan, send, load at the dock, dispatch, books."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.exceptions import StarletteDeprecationWarning

from central.app import create_app
from central.domain.accounting import JournalEntry, LedgerConfig, MovementType
from central.ingest import IngestService
from central.ledger import JournalFilter, check_books, journal
from central.optimizers.loading import (
    LoadProblem,
    Pallet,
    Placement,
    ReasonCode,
    TrailerType,
    check_plan,
)
from central.settings import CentralSettings
from central.store import tables as t
from contracts import Command, LoadPlan, command_payload
from tests.integration.central.scenario import PALLET_QTY, EdgeStream, sscc

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# Six pallets, two per stop, a little heavier towards stop 3 (all within the ASN's 2 %).
WEIGHTS = {1: "495.5", 2: "498.0", 3: "500.0", 4: "503.2", 5: "506.0", 6: "509.9"}
STOPS = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3}
UNIT_PRICE = Decimal("12.50")


@pytest.fixture
def client(seeded: Engine, database_url: str) -> Iterator[TestClient]:
    app = create_app(CentralSettings(database_url=database_url))
    with TestClient(app) as test_client:
        yield test_client


def _receive_and_store(service: IngestService, stream: EdgeStream, serials: list[int]) -> None:
    """Receive pallets at dock-1 and put each away into the bin its label named."""
    for serial in serials:
        outcome = service.handle(
            stream.goods_received(serial, weight_kg=Decimal(WEIGHTS.get(serial, "500"))),
            topic=stream.topic,
        )
        location = outcome.commands[0].data["label"]["location"]
        assert location is not None
        service.handle(stream.putaway(serial, location), topic=stream.topic)


def _load_request(site: str, reference: str, trailer: str, serials: list[int]) -> dict[str, object]:
    return {
        "site": site,
        "reference": reference,
        "dock": "dock-1",
        "trailer": trailer,
        "route_ref": "R-7",
        "pallets": [{"sscc": sscc(s), "stop_index": STOPS.get(s, 1)} for s in serials],
        "time_limit_s": 10,
    }


def _net(entry: JournalEntry) -> dict[str, Decimal]:
    net: dict[str, Decimal] = {}
    for line in entry.lines:
        net[line.account] = net.get(line.account, Decimal(0)) + line.amount
    return {account: amount for account, amount in net.items() if amount}


def test_a_load_is_planned_sent_loaded_and_dispatched_into_the_books(
    client: TestClient, seeded: Engine, service: IngestService, stream: EdgeStream, site_code: str
) -> None:
    serials = [1, 2, 3, 4, 5, 6]
    _receive_and_store(service, stream, serials)
    with Session(seeded) as session:
        bins_before = {hu.sscc: hu.location_id for hu in session.exec(select(t.HandlingUnit)).all()}

    created = client.post(
        "/loads", json=_load_request(site_code, "SH-1", "semi_trailer_33_eur", serials)
    )
    assert created.status_code == 201, created.text
    load = created.json()
    plan = load["plan"]
    assert plan["solver_status"] in ("OPTIMAL", "FEASIBLE") and plan["loadable"], plan
    assert plan["left_out"] == [] and plan["reasons"] == []
    assert Decimal(plan["load_kg"]) == sum(Decimal(w) for w in WEIGHTS.values())
    assert all(axle["within_limits"] for axle in plan["axle_loads"])
    # LIFO, checked afresh: a pallet of an earlier stop is never nearer the doors than one of a
    # later stop, and the optimizer's own checker finds nothing wrong with the stored plan.
    placements = plan["placements"]
    assert sorted(p["sscc"] for p in placements) == sorted(sscc(s) for s in serials)
    for p in placements:
        for q in placements:
            if p["stop_index"] < q["stop_index"]:
                assert p["row"] >= q["row"], (p, q)
    trailer = TrailerType.semi_trailer_33_eur()
    problem = LoadProblem(
        trailer,
        tuple(Pallet(sscc(s), Decimal(WEIGHTS[s]), STOPS[s]) for s in serials),
    )
    stored = tuple(
        Placement(
            p["sscc"],
            p["row"],
            p["column"],
            p["sequence"],
            p["stop_index"],
            Decimal(p["weight_kg"]),
            p["deck"],
            p["level"],
        )
        for p in placements
    )
    assert check_plan(problem, stored) == ()
    assert [p["sequence"] for p in placements] == list(range(1, 7))
    # Loaded front to back: the sequence never goes back towards the front wall.
    assert all(a["row"] <= b["row"] for a, b in pairwise(placements))

    svg = client.get(f"/loads/{load['id']}/floor.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg") and sscc(1)[-6:] in svg.text

    sent = client.post(f"/loads/{load['id']}/send")
    assert sent.status_code == 202, sent.text
    assert sent.json()["already_sent"] is False
    again = client.post(f"/loads/{load['id']}/send").json()
    assert again["already_sent"] is True and again["command_id"] == sent.json()["command_id"]
    pending = client.get("/commands", params={"site": site_code, "pending": True}).json()
    assert [c["type"] for c in pending if c["type"] == "load.plan"] == ["load.plan"]
    # The resend loop of the MQTT adapter picks it up like any other command.
    commands = service.pending_commands(older_than_s=0.0, site=site_code)
    load_commands = [c for c in commands if c.type == "load.plan"]
    assert [str(c.id) for c in load_commands] == [sent.json()["command_id"]]
    command = load_commands[0]
    payload = command_payload(Command.from_json(command.to_json()))
    assert isinstance(payload, LoadPlan)
    assert payload.shipment_id == "SH-1" and payload.dock == "dock-1"
    assert payload.route_ref == "R-7" and payload.trailer == trailer.name
    assert {(p.sscc, p.row, p.column, p.sequence, p.stop_index) for p in payload.placements} == {
        (p["sscc"], p["row"], p["column"], p["sequence"], p["stop_index"]) for p in placements
    }

    # At the dock: the pallets go on in plan order, then the door closes.
    for p in placements:
        stream_event = stream.event(
            "pallet.loaded",
            {
                "dock": "dock-1",
                "shipment_id": "SH-1",
                "sscc": p["sscc"],
                "position": {"row": p["row"], "column": p["column"]},
                "sequence": p["sequence"],
            },
            source="dock-1/scanner",
        )
        service.handle(stream_event, topic=stream.topic)
    service.handle(
        stream.event(
            "command.done",
            {"command_id": str(command.id), "ok": True, "detail": "loading sheet printed"},
            source="dock-1/printer",
        ),
        topic=stream.topic,
    )
    loading = client.get(f"/loads/{load['id']}").json()
    assert loading["status"] == "loading"
    assert {p["location"] for p in loading["pallets"]} == {"TRUCK-dock-1"}
    assert {p["status"] for p in loading["pallets"]} == {"loaded"}
    stock = client.get("/stock", params={"site": site_code}).json()
    assert {row["location"] for row in stock if row["sscc"] in {sscc(s) for s in serials}} == {
        "TRUCK-dock-1"
    }
    with Session(seeded) as session:
        for row in session.exec(select(t.StockBalance)).all():
            if row.location_id in bins_before.values():
                assert row.quantity == 0  # the bins are empty again
    pending = client.get("/commands", params={"site": site_code, "pending": True}).json()
    assert "load.plan" not in {c["type"] for c in pending}

    dispatched_raw = stream.event(
        "shipment.dispatched",
        {"dock": "dock-1", "shipment_id": "SH-1", "pallets": [p["sscc"] for p in placements]},
        source="dock-1/control",
    )
    service.handle(dispatched_raw, topic=stream.topic)
    service.handle(dispatched_raw, topic=stream.topic)  # the edge resends: nothing twice

    done = client.get(f"/loads/{load['id']}").json()
    assert done["status"] == "dispatched" and done["dispatched_at"] is not None
    assert {p["status"] for p in done["pallets"]} == {"dispatched"}
    stock = client.get("/stock", params={"site": site_code}).json()
    assert [row for row in stock if row["sscc"] in {sscc(s) for s in serials}] == []
    for s in serials:
        assert client.get(f"/handling-units/{sscc(s)}").json()["status"] == "dispatched"
    with Session(seeded) as session:
        entries = journal(session, JournalFilter())
        issues = [e for e in entries if e.movement_type == MovementType.DELIVERY_DISPATCH]
        assert len(issues) == 6
        for entry in issues:
            assert _net(entry) == {
                "1450": PALLET_QTY * UNIT_PRICE,
                "1400": -PALLET_QTY * UNIT_PRICE,
            }
        assert check_books(session, LedgerConfig()) == []
    assert client.get("/dead-letters", params={"site": site_code}).json() == []
    events = client.get("/events", params={"site": site_code}).json()
    assert {e["outcome"] for e in events} == {"applied"}


def test_a_load_too_heavy_for_the_vehicle_is_kept_with_reasons_and_cannot_be_sent(
    client: TestClient, service: IngestService, stream: EdgeStream, site_code: str
) -> None:
    serials = [1, 2, 3, 4, 5, 6]
    _receive_and_store(service, stream, serials)

    # 6 × ~500 kg on a 7.5 t truck with a payload of 2790 kg.
    created = client.post(
        "/loads", json=_load_request(site_code, "SH-2", "rigid_7_5t_18_eur", serials)
    )
    assert created.status_code == 201, created.text
    plan = created.json()["plan"]
    assert plan["solver_status"] == "INFEASIBLE" and not plan["loadable"]
    assert ReasonCode.OVER_PAYLOAD.value in {r["code"] for r in plan["reasons"]}
    assert plan["left_out"], plan
    assert len(plan["placements"]) + len(plan["left_out"]) == 6
    assert Decimal(plan["load_kg"]) <= Decimal(2790)
    # What fits goes in stop order: a pallet of stop 1 is never left out for a later stop's.
    left_stops = {STOPS[s] for s in serials if sscc(s) in plan["left_out"]}
    on_stops = {p["stop_index"] for p in plan["placements"]}
    assert min(left_stops) >= max(on_stops) or min(left_stops) > 1

    refused = client.post(f"/loads/{created.json()['id']}/send")
    assert refused.status_code == 422
    assert "left out" in refused.json()["detail"]
    pending = client.get("/commands", params={"site": site_code, "pending": True}).json()
    assert "load.plan" not in {c["type"] for c in pending}

    # The pallets are taken until the shipment is cancelled; then a bigger truck takes them.
    busy = client.post(
        "/loads", json=_load_request(site_code, "SH-3", "semi_trailer_33_eur", serials)
    )
    assert busy.status_code == 409 and "SH-2" in busy.json()["detail"]
    assert client.post(f"/loads/{created.json()['id']}/cancel").json()["status"] == "cancelled"
    bigger = client.post(
        "/loads", json=_load_request(site_code, "SH-3", "semi_trailer_33_eur", serials)
    )
    assert bigger.status_code == 201 and bigger.json()["plan"]["loadable"]


def test_load_requests_with_wrong_pallets_or_references_get_clear_answers(
    client: TestClient, service: IngestService, stream: EdgeStream, site_code: str
) -> None:
    _receive_and_store(service, stream, [1, 2])
    request = _load_request(site_code, "SH-4", "semi_trailer_33_eur", [1, 2])

    not_received = client.post(
        "/loads", json=_load_request(site_code, "SH-4", "semi_trailer_33_eur", [1, 9])
    )
    assert not_received.status_code == 409
    assert f"{sscc(9)} was not received" in not_received.json()["detail"]
    assert client.post("/loads", json={**request, "dock": "dock-9"}).status_code == 404
    assert client.post("/loads", json={**request, "trailer": "bicycle"}).status_code == 422
    twice = {**request, "pallets": [{"sscc": sscc(1)}, {"sscc": sscc(1)}]}
    assert client.post("/loads", json=twice).status_code == 422
    assert client.post("/loads", json=request).status_code == 201
    assert client.post("/loads", json=request).status_code == 409  # same reference
    assert client.get("/loads/999999").status_code == 404
    assert [
        load["reference"] for load in client.get("/loads", params={"site": site_code}).json()
    ] == ["SH-4"]


def test_loading_events_for_an_unknown_shipment_are_dead_lettered_and_reapplicable(
    client: TestClient, service: IngestService, stream: EdgeStream, site_code: str
) -> None:
    _receive_and_store(service, stream, [1])
    raw = stream.event(
        "pallet.loaded",
        {
            "dock": "dock-1",
            "shipment_id": "SH-LATE",
            "sscc": sscc(1),
            "position": {"row": 0, "column": 0},
            "sequence": 1,
        },
    )
    outcome = service.handle(raw, topic=stream.topic)
    assert outcome.ack_upto == stream.seq  # acknowledged: the stream goes on
    dead = client.get("/dead-letters", params={"site": site_code}).json()
    assert len(dead) == 1 and "SH-LATE" in dead[0]["reason"]

    request = _load_request(site_code, "SH-LATE", "semi_trailer_33_eur", [1])
    assert client.post("/loads", json=request).status_code == 201
    again = client.post(f"/dead-letters/{dead[0]['id']}/reapply")
    assert again.status_code == 200, again.text
    assert client.get(f"/handling-units/{sscc(1)}").json()["location"] == "TRUCK-dock-1"
