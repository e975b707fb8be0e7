"""Route control as routes are driven: driver reports through the driver endpoints and page,
proof of delivery into the books, telematics (direct and over MQTT) and re-planning in place."""

from __future__ import annotations

import html
import re
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from starlette.exceptions import StarletteDeprecationWarning

from central import route_replan
from central.app import create_app
from central.domain.accounting import LedgerConfig
from central.domain.route_tracking import GeoPoint
from central.ingest import IngestService
from central.ingest_mqtt import BrokerAddress, MqttIngest, running_ingest
from central.ledger import check_books, ledger_config
from central.optimizers.routing import ReplanResult, check_routes, replan
from central.route_control import RouteControl
from central.route_service import stored_plan
from central.route_tokens import route_links
from central.settings import CentralSettings
from central.store import tables as t
from central.telematics_ingest import TelematicsIngest
from contracts import Command, PrintRouteSheet, command_payload
from contracts.telematics import VehiclePosition, position_topic
from tests.integration.central.route_fixtures import (
    DAY,
    DEPOT,
    LINE,
    ORDER_A,
    ORDER_B,
    ORDER_C,
    OrderSpec,
    RouteApi,
    at,
    balance,
    drive,
    instant,
    moved,
    parse_time,
    receive_into_stock,
    sample,
)
from tests.integration.central.scenario import PALLET_QTY, EdgeStream, sscc
from wms.mqtt_admin import clear_session

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

UNIT_PRICE = Decimal("12.50")  # the seeded ASN's price
PALLET_VALUE = PALLET_QTY * UNIT_PRICE
STOCK_IN_TRANSIT = "1450"
COGS = "5000"


@pytest.fixture
def settings(database_url: str) -> CentralSettings:
    return CentralSettings(database_url=database_url)


@pytest.fixture
def client(seeded: Engine, settings: CentralSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, site_code: str) -> RouteApi:
    return RouteApi(client, site_code)


@pytest.fixture
def control(seeded: Engine) -> RouteControl:
    """Route control with the app's default rules, next to the app on the same database."""
    return RouteControl(seeded, ledger_config=LedgerConfig())


def _route_events(engine: Engine, route_id: int) -> list[t.RouteEvent]:
    with Session(engine) as session:
        return list(
            session.exec(select(t.RouteEvent).where(t.RouteEvent.route_id == route_id)).all()
        )


def _stop(status: dict[str, Any], sequence: int) -> dict[str, Any]:
    stops: list[dict[str, Any]] = [s for s in status["stops"] if s["sequence"] == sequence]
    (stop,) = stops
    return stop


def _eta(status: dict[str, Any], sequence: int) -> datetime | None:
    return parse_time(_stop(status, sequence)["predicted_eta"])


def _chain(leave: datetime, point: GeoPoint, specs: list[OrderSpec]) -> list[datetime]:
    """Starts of unloading driving `specs` in order from `point`, leaving at `leave`."""
    starts = []
    for spec in specs:
        start = max(leave + timedelta(seconds=drive(point, spec.point)), at(spec.earliest))
        starts.append(start)
        leave, point = start + timedelta(seconds=spec.service_s), spec.point
    return starts


# ----------------------------------------------------------------------------- driver reports


def test_a_driver_reports_a_route_through_the_driver_endpoints_each_report_once(
    api: RouteApi, seeded: Engine, settings: CentralSettings
) -> None:
    route = api.line_route()
    rid = route["id"]
    token = api.token(rid)

    departed = api.driver_report(rid, token, "departed", clock="07:50")
    assert departed.status_code == 201, departed.text
    status = departed.json()
    assert status["state"] == "under_way" and parse_time(status["departed_at"]) == at("07:50")
    assert [s["state"] for s in status["stops"]] == ["pending"] * 3
    assert [_eta(status, n) for n in (1, 2, 3)] == _chain(at("07:50"), DEPOT, list(LINE))

    arrived = api.driver_report(rid, token, "arrived", stop=1, clock="08:05").json()
    first = _stop(arrived, 1)
    assert first["state"] == "arrived" and parse_time(first["arrived_at"]) == at("08:05")
    assert _eta(arrived, 1) == at("08:05")  # unloading starts on arrival: the window is open
    # The van leaves A once unloaded (service 600 s), then drives on.
    assert [_eta(arrived, 2), _eta(arrived, 3)] == _chain(
        at("08:15"), ORDER_A.point, [ORDER_B, ORDER_C]
    )

    pod_id = uuid4()
    delivered = api.driver_report(
        rid, token, "delivered", stop=1, clock="08:14", report_id=pod_id, received_by=" Anna Baker "
    )
    assert delivered.status_code == 201, delivered.text
    first = _stop(delivered.json(), 1)
    assert first["state"] == "delivered" and first["received_by"] == "Anna Baker"
    assert parse_time(first["done_at"]) == at("08:14") and first["predicted_eta"] is None
    assert parse_time(first["arrived_at"]) == at("08:05")
    assert [_eta(delivered.json(), 2), _eta(delivered.json(), 3)] == _chain(
        at("08:14"), ORDER_A.point, [ORDER_B, ORDER_C]
    )

    # The phone lost the answer and sends the same report again: it counts once.
    retried = api.driver_report(
        rid, token, "delivered", stop=1, clock="08:14", report_id=pod_id, received_by="Anna Baker"
    )
    assert retried.status_code == 201 and retried.json() == delivered.json()
    assert [e.id for e in _route_events(seeded, rid)].count(pod_id) == 1
    reused = api.driver_report(rid, token, "arrived", stop=2, clock="08:20", report_id=pod_id)
    assert reused.status_code == 409
    assert str(pod_id) in reused.json()["detail"] and "new id" in reused.json()["detail"]
    twice = api.driver_report(rid, token, "delivered", stop=1, received_by="Someone else")
    assert twice.status_code == 422
    assert twice.json()["detail"] == "stop 1 (SO-A, Bakery Nord) is already delivered"
    assert api.driver_report(rid, token, "failed", stop=1, reason="closed").status_code == 422
    no_name = api.driver_report(rid, token, "delivered", stop=2, received_by="  ")
    assert no_name.status_code == 422 and "who received" in no_name.text
    assert api.driver_report(rid, token, "arrived", stop=9).status_code == 422

    assert api.driver_report(rid, token, "arrived", stop=2, clock="08:20").status_code == 201
    failed = api.driver_report(rid, token, "failed", stop=2, clock="08:25", reason="Shop closed")
    assert failed.status_code == 201, failed.text
    second = _stop(failed.json(), 2)
    assert second["state"] == "failed" and second["failed_reason"] == "Shop closed"
    assert second["predicted_eta"] is None
    assert [a["kind"] for a in failed.json()["alerts"]] == ["route_delivery_failed"]
    assert "Shop closed" in failed.json()["alerts"][0]["message"]

    # Delivered without reporting the arrival first: arrival is the delivery's time.
    third = api.driver_report(
        rid, token, "delivered", stop=3, clock="09:05", received_by="C. Kiosk"
    ).json()
    assert _stop(third, 3)["arrived_at"] == _stop(third, 3)["done_at"]
    assert parse_time(_stop(third, 3)["done_at"]) == at("09:05")

    returned = api.driver_report(rid, token, "returned", clock="09:40")
    assert returned.status_code == 201, returned.text
    done = api.status(rid)
    assert returned.json() == done
    assert done["state"] == "completed" and parse_time(done["completed_at"]) == at("09:40")
    assert [s["state"] for s in done["stops"]] == ["delivered", "failed", "delivered"]
    assert [s["predicted_eta"] for s in done["stops"]] == [None] * 3
    over = api.driver_report(rid, token, "returned")
    assert over.status_code == 422 and "is over" in over.json()["detail"]

    # Only this route's token opens it.
    other_route = route_links(settings).token(rid + 1)
    for wrong in (None, "", "x" * 22, other_route):
        refused = api.driver_report(rid, wrong, "arrived", stop=3)
        assert refused.status_code == 403, (wrong, refused.text)
        assert "does not open route" in refused.json()["detail"]
        read = api.client.get(f"/driver/routes/{rid}/status", params={"token": wrong or ""})
        assert read.status_code == 403
    by_header = api.client.get(
        f"/driver/routes/{rid}/status", headers={"Authorization": f"Bearer {token}"}
    )
    assert by_header.status_code == 200 and by_header.json() == done

    events = _route_events(seeded, rid)
    assert sorted(e.type for e in events) == sorted(
        ["departed", "arrived", "delivered", "arrived", "failed", "delivered", "returned"]
    )
    assert {e.source for e in events} == {"driver"}
    with Session(seeded) as session:
        orders = {
            o.reference: o.status
            for o in session.exec(
                select(t.DeliveryOrder).where(t.DeliveryOrder.site_code == api.site)
            ).all()
        }
    assert orders == {"SO-A": "delivered", "SO-B": "failed", "SO-C": "delivered"}


def test_ops_reports_out_of_order_late_and_incomplete_routes_raise_alerts(
    api: RouteApi, control: RouteControl, seeded: Engine, site_code: str
) -> None:
    rid = api.line_route()["id"]

    def ops(event: str, clock: str, **fields: object) -> dict[str, Any]:
        body = {"type": event, "at": at(clock).isoformat(), **fields}
        answer = api.client.post(f"/routes/{rid}/events", json=body)
        assert answer.status_code == 201, answer.text
        status: dict[str, Any] = answer.json()
        return status

    ops("departed", "07:50")
    b_first = ops("delivered", "08:10", stop=2, received_by="Cafe staff")
    assert [a["kind"] for a in b_first["alerts"]] == ["route_out_of_sequence"]
    assert (
        "stop 2 (SO-B) was served before earlier planned stop(s) 1 (SO-A)"
        in (b_first["alerts"][0]["message"])
    )
    a_late = ops("arrived", "08:40", stop=1)
    assert _stop(a_late, 1)["late_by_s"] == 600  # the window closed at 08:30
    assert "route_late" in {a["kind"] for a in a_late["alerts"]}
    ops("delivered", "08:45", stop=1, received_by="Baker")
    back = ops("returned", "09:30")
    assert back["state"] == "completed"
    alerts = {a["kind"]: a["message"] for a in back["alerts"]}
    assert set(alerts) == {"route_out_of_sequence", "route_late", "route_skipped_stop"}
    assert alerts["route_skipped_stop"].startswith("stop 3 (SO-C) left unserved")
    assert {e.source for e in _route_events(seeded, rid)} == {"ops"}

    # A vehicle back at the site has no open route: its positions go nowhere.
    after = control.apply_position(sample(site_code, "VAN-1", "09:35", DEPOT, 0))
    assert (after.applied, after.route_id) == (False, None)
    assert api.status(rid)["position"] is None


def _form(page: str, event: str, stop: int | None = None) -> tuple[str, dict[str, str]]:
    """The action URL and hidden fields of one of the driver page's forms."""
    forms = re.findall(
        r'<form method="post" action="([^"]*)" class="action action-(\w+)">(.*?)</form>', page, re.S
    )
    for action, kind, body in forms:
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', body))
        if kind == event and (stop is None or fields.get("stop") == str(stop)):
            return html.unescape(action), fields
    raise AssertionError(f"the page has no '{event}' form for stop {stop}")


def test_the_driver_page_reports_through_its_forms_and_sheets_come_as_pdf(
    api: RouteApi, seeded: Engine
) -> None:
    route = api.line_route()
    rid = route["id"]
    token = api.token(rid)
    page = api.client.get(f"/driver/routes/{rid}", params={"token": token})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert all(spec.customer in page.text for spec in LINE)

    action, fields = _form(page.text, "departed")
    assert urlsplit(action).path == f"/driver/routes/{rid}/actions"
    posted = api.client.post(action, data=fields, follow_redirects=False)
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert urlsplit(location).path == f"/driver/routes/{rid}"
    shown = api.client.get(location)
    assert shown.status_code == 200 and "Recorded: departed" in shown.text
    assert api.status(rid)["state"] == "under_way"
    # A double tap sends the same form (same id) twice: one report.
    assert api.client.post(action, data=fields, follow_redirects=False).status_code == 303
    assert [e.type for e in _route_events(seeded, rid)] == ["departed"]

    action, fields = _form(shown.text, "delivered", stop=1)
    missing = api.client.post(action, data=fields, follow_redirects=False)
    assert missing.status_code == 303
    not_recorded = api.client.get(missing.headers["location"])
    assert "Not recorded" in not_recorded.text and "who received the goods" in not_recorded.text
    assert _stop(api.status(rid), 1)["state"] == "pending"
    assert len(_route_events(seeded, rid)) == 1

    recorded = api.client.post(action, data={**fields, "received_by": "Jürgen Müller"})
    assert recorded.status_code == 200  # followed back to the page
    assert "Recorded: delivered at stop 1" in recorded.text
    first = _stop(api.status(rid), 1)
    assert first["state"] == "delivered" and first["received_by"] == "Jürgen Müller"

    action, fields = _form(recorded.text, "failed", stop=2)
    refused = api.client.post(
        action.replace(token, "not-the-token"),
        data={**fields, "reason": "closed"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "does not open route" in refused.text
    assert _stop(api.status(rid), 2)["state"] == "pending"
    assert api.client.get(f"/driver/routes/{rid}").status_code == 403

    for url, params in (
        (f"/routes/{rid}/sheet.pdf", {}),
        (f"/driver/routes/{rid}/sheet.pdf", {"token": token}),
    ):
        pdf = api.client.get(url, params=params)
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
    assert api.client.get(f"/driver/routes/{rid}/sheet.pdf").status_code == 403
    assert api.client.get("/routes/999999/sheet.pdf").status_code == 404


# ----------------------------------------------------------------------------- proof of delivery


def test_dispatch_queues_the_route_sheet_and_proof_of_delivery_clears_stock_in_transit_once(
    api: RouteApi, seeded: Engine, settings: CentralSettings, site_code: str
) -> None:
    books = ledger_config(settings)
    service = IngestService(seeded, ledger_config=books, route_links=route_links(settings))
    stream = EdgeStream(site_code)
    receive_into_stock(service, stream, [1, 2, 3, 4, 5])
    route = api.line_route()
    rid = route["id"]
    orders = {1: ORDER_A, 2: ORDER_A, 3: ORDER_B, 4: ORDER_C, 5: ORDER_A}
    shipped = [1, 2, 3, 4]  # pallet 5 is left behind at the dock
    created = api.client.post(
        "/loads",
        json={
            "site": site_code,
            "reference": "SH-R1",
            "dock": "dock-1",
            "route_id": rid,
            "pallets": [{"sscc": sscc(s), "order": o.reference} for s, o in orders.items()],
            "time_limit_s": 1,
        },
    )
    assert created.status_code == 201, created.text
    load = created.json()
    assert load["vehicle_ref"] == "VAN-1" and load["route_ref"] == str(rid)
    stop_of = {p["sscc"]: p["stop_index"] for p in load["pallets"]}
    assert stop_of == {sscc(1): 1, sscc(2): 1, sscc(3): 2, sscc(4): 3, sscc(5): 1}
    before = api.status(rid)
    assert [s["pallets"] for s in before["stops"]] == [
        [sscc(1), sscc(2), sscc(5)],
        [sscc(3)],
        [sscc(4)],
    ]

    dispatched = stream.event(
        "shipment.dispatched",
        {"dock": "dock-1", "shipment_id": "SH-R1", "pallets": [sscc(s) for s in shipped]},
        source="dock-1/control",
    )
    outcome = service.handle(dispatched, topic=stream.topic)
    assert outcome.ack_upto == stream.seq
    (command,) = [c for c in outcome.commands if c.type == "print.route_sheet"]
    sheet = command_payload(Command.from_json(command.to_json()))
    assert isinstance(sheet, PrintRouteSheet)
    driver_url = api.client.get(f"/routes/{rid}/driver-link").json()["url"]
    assert sheet.dock == "dock-1" and sheet.route_id == str(rid) and sheet.qr == driver_url
    # The sheet lists what is on the truck, not the pallet that stayed at the dock.
    assert [line for line in sheet.lines if "SSCC" in line] == [
        f"   SSCC {sscc(s)}" for s in shipped
    ]
    assert [s["pallets"] for s in api.status(rid)["stops"]] == [
        [sscc(1), sscc(2)],
        [sscc(3)],
        [sscc(4)],
    ]
    assert len(api.alerts("pallets_left_behind")) == 1
    pending = api.client.get("/commands", params={"site": site_code, "pending": True}).json()
    assert [c["command_id"] for c in pending if c["type"] == "print.route_sheet"] == [
        str(command.id)
    ]
    assert balance(api.client, STOCK_IN_TRANSIT, site_code) == 4 * PALLET_VALUE

    token = api.token(rid)
    assert api.driver_report(rid, token, "departed").status_code == 201
    pod_id = uuid4()
    for _ in range(2):  # the second is a retry: nothing is posted twice
        answer = api.driver_report(
            rid, token, "delivered", stop=1, report_id=pod_id, received_by="Anna Baker"
        )
        assert answer.status_code == 201, answer.text
        assert balance(api.client, STOCK_IN_TRANSIT, site_code) == 2 * PALLET_VALUE
    entries = _pods(api.client, site_code)
    assert len(entries) == 2
    for entry in entries:
        lines = {
            (ln["account"], Decimal(ln["debit"]), Decimal(ln["credit"])) for ln in entry["lines"]
        }
        assert lines == {
            (COGS, PALLET_VALUE, Decimal(0)),
            (STOCK_IN_TRANSIT, Decimal(0), PALLET_VALUE),
        }

    # A failed delivery leaves its pallet in transit (it comes back); a delivery clears it.
    failed = api.driver_report(rid, token, "failed", stop=2, reason="Shop closed")
    assert failed.status_code == 201
    assert api.driver_report(rid, token, "delivered", stop=3, received_by="C").status_code == 201
    assert len(_pods(api.client, site_code)) == 3
    assert balance(api.client, STOCK_IN_TRANSIT, site_code) == PALLET_VALUE
    assert api.alerts("delivery_not_posted") == []
    with Session(seeded) as session:
        assert check_books(session, books) == []


def _pods(client: TestClient, site: str) -> list[dict[str, Any]]:
    journal = client.get("/journal", params={"site": site}).json()
    return [e for e in journal if e["movement_type"] == "proof_of_delivery"]


# ----------------------------------------------------------------------------- telematics


def test_positions_depart_the_route_and_move_it_and_an_older_sample_changes_nothing(
    api: RouteApi, control: RouteControl, seeded: Engine, site_code: str
) -> None:
    rid = api.line_route()["id"]
    near_depot = moved(DEPOT, north_m=100)
    first = control.apply_position(sample(site_code, "VAN-1", "07:40", near_depot, 0))
    assert (first.applied, first.route_id) == (True, rid)
    status = api.status(rid)
    assert status["state"] == "planned" and status["departed_at"] is None
    assert status["position"] == {
        "at": status["position"]["at"],
        "lat": near_depot.lat,
        "lon": near_depot.lon,
        "speed_kmh": 0.0,
    }
    assert parse_time(status["position"]["at"]) == at("07:40")

    assert control.apply_position(
        sample(site_code, "VAN-1", "07:45", moved(DEPOT, north_m=1000))
    ).applied
    status = api.status(rid)
    assert status["state"] == "under_way" and parse_time(status["departed_at"]) == at("07:45")

    south_of_a = moved(ORDER_A.point, north_m=-500)
    assert control.apply_position(sample(site_code, "VAN-1", "08:10", south_of_a)).applied
    status = api.status(rid)
    assert parse_time(status["position"]["at"]) == at("08:10")
    assert [_eta(status, n) for n in (1, 2, 3)] == _chain(at("08:10"), south_of_a, list(LINE))

    older = control.apply_position(sample(site_code, "VAN-1", "08:05", moved(DEPOT, east_m=9000)))
    again = control.apply_position(sample(site_code, "VAN-1", "08:10", south_of_a))
    assert not older.applied and not again.applied and older.route_id == rid
    assert "older" in older.detail
    assert api.status(rid) == status
    no_route = control.apply_position(sample(site_code, "VAN-9", "08:10", south_of_a))
    assert (no_route.applied, no_route.route_id) == (False, None)
    next_day = VehiclePosition(
        site=site_code, vehicle="VAN-1", at=at("08:20") + timedelta(days=1), lat=52.5, lon=13.4
    )
    assert not control.apply_position(next_day).applied
    with Session(seeded) as session:
        track = session.exec(
            select(t.VehiclePositionRow.at)
            .where(t.VehiclePositionRow.route_id == rid)
            .order_by(col(t.VehiclePositionRow.at))
        ).all()
    assert list(track) == [at("07:40"), at("07:45"), at("08:10")]
    assert api.alerts("route_off_route") == [] and api.alerts("route_vehicle_idle") == []


# Standing 1.5 km south of the depot the van cannot reach A (window closes 08:30) from 08:24:14
# on; from 600 m short of A at 08:28:30 it can again.
BEHIND = moved(DEPOT, north_m=-1500)
CAUGHT_UP = moved(ORDER_A.point, north_m=-600)
LATE_SAMPLES = ["08:25:00", "08:25:20", "08:25:40", "08:26:00", "08:26:20", "08:26:40", "08:27:00"]


def test_a_late_vehicle_raises_one_predicted_late_alert_cleared_when_it_catches_up(
    api: RouteApi, control: RouteControl, site_code: str
) -> None:
    rid = api.line_route()["id"]
    closes = at(ORDER_A.latest or "")
    assert at("08:24") + timedelta(seconds=drive(BEHIND, ORDER_A.point)) <= closes
    assert at("08:28:30") + timedelta(seconds=drive(CAUGHT_UP, ORDER_A.point)) <= closes

    control.apply_position(sample(site_code, "VAN-1", "08:24", BEHIND, 0))
    assert api.status(rid)["state"] == "under_way"
    assert api.alerts("route_predicted_late") == []
    for clock in LATE_SAMPLES:
        assert control.apply_position(sample(site_code, "VAN-1", clock, BEHIND, 0)).applied
    (alert,) = api.alerts("route_predicted_late")
    assert alert["status"] == "open" and "stop 1 (SO-A)" in alert["message"]
    status = api.status(rid)
    eta = at(LATE_SAMPLES[-1]) + timedelta(seconds=drive(BEHIND, ORDER_A.point))
    assert _eta(status, 1) == eta
    assert _stop(status, 1)["late_by_s"] == (eta - closes).total_seconds() > 0
    assert [a["kind"] for a in status["alerts"]] == ["route_predicted_late"]

    control.apply_position(sample(site_code, "VAN-1", "08:28:30", CAUGHT_UP, 60))
    (cleared,) = api.alerts("route_predicted_late")
    assert cleared["id"] == alert["id"] and cleared["status"] == "cleared"
    status = api.status(rid)
    assert status["alerts"] == [] and _stop(status, 1)["late_by_s"] == 0


def test_a_vehicle_standing_still_away_from_its_stops_raises_an_idle_alert(
    api: RouteApi, control: RouteControl, site_code: str
) -> None:
    rid = api.line_route()["id"]
    lay_by = moved(DEPOT, east_m=1000)  # 1 km off the path: near it, but no stop and no depot
    for clock, jitter in (("07:40", 0), ("07:45", 20), ("07:50", -30)):
        control.apply_position(sample(site_code, "VAN-1", clock, moved(lay_by, north_m=jitter), 0))
    assert api.alerts("route_vehicle_idle") == []  # ten minutes: not yet
    control.apply_position(sample(site_code, "VAN-1", "07:55", moved(lay_by, east_m=25), 0))
    (idle,) = api.alerts("route_vehicle_idle")
    assert idle["status"] == "open"
    assert "VAN-1 has stood still for 15 min since 07:40 UTC" in idle["message"]
    # Still standing, long past twice the threshold: the same alert, not one per sample.
    for clock in ("07:56", "08:00", "08:05", "08:10", "08:15", "08:20"):
        control.apply_position(sample(site_code, "VAN-1", clock, lay_by, 0))
    assert [a["id"] for a in api.alerts("route_vehicle_idle")] == [idle["id"]]
    assert [a["kind"] for a in api.status(rid)["alerts"]] == ["route_vehicle_idle"]

    control.apply_position(sample(site_code, "VAN-1", "08:25", moved(ORDER_A.point, north_m=-400)))
    (cleared,) = api.alerts("route_vehicle_idle")
    assert cleared["status"] == "cleared" and api.status(rid)["alerts"] == []
    assert api.alerts("route_off_route") == [] and api.alerts("route_predicted_late") == []


def test_a_detour_raises_an_off_route_alert_cleared_back_on_the_path(
    api: RouteApi, control: RouteControl, site_code: str
) -> None:
    rid = api.line_route()["id"]
    control.apply_position(sample(site_code, "VAN-1", "07:50", moved(DEPOT, north_m=500)))
    assert api.alerts("route_off_route") == []
    control.apply_position(
        sample(site_code, "VAN-1", "07:55", moved(DEPOT, north_m=1500, east_m=5000))
    )
    control.apply_position(
        sample(site_code, "VAN-1", "07:56", moved(DEPOT, north_m=1600, east_m=5200))
    )
    (detour,) = api.alerts("route_off_route")
    assert (
        detour["status"] == "open" and "VAN-1 is 5.0 km from its planned path" in detour["message"]
    )
    assert "depot → stop 1" in detour["message"]
    control.apply_position(sample(site_code, "VAN-1", "08:00", moved(ORDER_A.point, east_m=100)))
    (cleared,) = api.alerts("route_off_route")
    assert cleared["status"] == "cleared" and api.status(rid)["alerts"] == []


class Vehicle:
    """A van's telematics unit on the broker."""

    def __init__(self, url: str, site: str, ref: str) -> None:
        parts = urlsplit(url)
        self.topic = position_topic(site, ref)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-van-{site}")
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()

    def publish(self, payload: bytes) -> None:
        self.client.publish(self.topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def telematics(mqtt_url: str, seeded: Engine, site_code: str) -> Iterator[MqttIngest]:
    """Central's ingest with telematics, wired like wms.central_runner.build_mqtt_ingest."""
    service = IngestService(seeded)
    control = RouteControl(seeded, ledger_config=service.ledger_config)
    client_id = f"central-{site_code}"
    adapter = MqttIngest(
        service,
        BrokerAddress.from_url(mqtt_url),
        client_id=client_id,
        telematics=TelematicsIngest(control, service),
    )
    with running_ingest(adapter, wait_s=10):
        assert adapter.connected
        yield adapter
    clear_session(mqtt_url, client_id)


def _wait_for(what: str, check: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.05)


def test_positions_over_mqtt_track_the_route_and_bad_samples_become_dead_letters(
    api: RouteApi, telematics: MqttIngest, mqtt_url: str, seeded: Engine, site_code: str
) -> None:
    rid = api.line_route()["id"]
    van = Vehicle(mqtt_url, site_code, "VAN-1")

    def dead_letters() -> list[dict[str, Any]]:
        letters = api.client.get("/dead-letters", params={"site": site_code}).json()
        return list(letters)

    def position_at(clock: str) -> bool:
        position = api.status(rid)["position"]
        return position is not None and parse_time(position["at"]) == at(clock)

    # Until the ingest's subscription is live a sample may be lost: send a malformed one until
    # it comes back as a dead letter (one, however often it comes), then the stream starts.
    def malformed_is_back() -> bool:
        van.publish(b'{"site": "not a sample"')
        return bool(dead_letters())

    try:
        _wait_for("a dead letter of the malformed sample", malformed_is_back)
        (malformed,) = dead_letters()
        assert malformed["topic"] == van.topic
        assert malformed["reason"].startswith("invalid vehicle position")

        for clock in ["08:24", *LATE_SAMPLES]:
            van.publish(sample(site_code, "VAN-1", clock, BEHIND, 0).to_json())
        _wait_for("the last late sample", lambda: position_at(LATE_SAMPLES[-1]))
        status = api.status(rid)
        assert status["state"] == "under_way" and parse_time(status["departed_at"]) == at("08:24")
        assert [a["status"] for a in api.alerts("route_predicted_late")] == ["open"]

        van.publish(sample(site_code, "VAN-1", "08:10", moved(DEPOT, east_m=9000)).to_json())
        van.publish(sample(site_code, "VAN-2", "08:28", CAUGHT_UP).to_json())
        van.publish(sample(site_code, "VAN-1", "08:28:30", CAUGHT_UP, 60).to_json())
        _wait_for("the catching-up sample", lambda: position_at("08:28:30"))
        _wait_for("the second dead letter", lambda: len(dead_letters()) == 2)
    finally:
        van.close()

    wrong_vehicle = dead_letters()[0]
    assert wrong_vehicle["topic"] == van.topic
    assert (
        f"sample of {site_code} vehicle VAN-2 published on the topic of {site_code} vehicle VAN-1"
        in wrong_vehicle["reason"]
    )
    assert [a["status"] for a in api.alerts("route_predicted_late")] == ["cleared"]
    with Session(seeded) as session:
        track = session.exec(
            select(t.VehiclePositionRow.at)
            .where(t.VehiclePositionRow.route_id == rid)
            .order_by(col(t.VehiclePositionRow.at))
        ).all()
    assert list(track) == [at(c) for c in ["08:24", *LATE_SAMPLES, "08:28:30"]]  # not 08:10


# ----------------------------------------------------------------------------- re-planning

SOUTH = (
    OrderSpec("SO-D", "Deli Sued", 52.500, 13.405, "08:00", "16:00"),
    OrderSpec("SO-E", "Eatery West", 52.490, 13.395, "08:00", "16:00"),
    OrderSpec("SO-F", "Florist Ost", 52.480, 13.410, "08:00", "16:00"),
)
NEW_ORDER = OrderSpec("SO-N", "New Customer", 52.515, 13.430, "08:00", "17:00", pallets=1)


def _references(route: dict[str, Any]) -> list[str]:
    return [s["reference"] for s in route["stops"]]


def test_a_plan_under_way_is_replanned_keeping_what_was_driven_and_the_next_stop(
    api: RouteApi, seeded: Engine
) -> None:
    # Two vans of 7 pallets for six 2-pallet orders: both run, each with three stops.
    api.vehicle("VAN-1", capacity_pallets=7)
    api.vehicle("VAN-2", capacity_pallets=7)
    for spec in (*LINE, *SOUTH):
        api.order(spec)
    plan = api.plan()
    assert plan["status"] == "feasible" and plan["dropped"] == [], plan
    assert len(plan["routes"]) == 2
    (driven,) = [r for r in plan["routes"] if "SO-A" in _references(r)]
    rid = driven["id"]
    token = api.token(rid)
    first, second, heading = driven["stops"][:3]
    assert api.driver_report(rid, token, "departed", clock="07:45").status_code == 201
    delivered_at = {}
    for stop in (first, second):
        done = instant(stop["eta"]) + timedelta(minutes=5)
        delivered_at[stop["sequence"]] = done
        answer = api.client.post(
            f"/driver/routes/{rid}/events",
            params={"token": token},
            json={
                "type": "delivered",
                "stop": stop["sequence"],
                "at": done.isoformat(),
                "received_by": f"Receiver {stop['sequence']}",
            },
        )
        assert answer.status_code == 201, answer.text
    api.order(NEW_ORDER)

    replanned = api.client.post(f"/routes/plans/{plan['id']}/replan", json={"time_limit_s": 1})
    assert replanned.status_code == 200, replanned.text
    outcome = replanned.json()
    assert parse_time(outcome["as_of"]) == delivered_at[second["sequence"]]  # the newest fact
    new_plan = outcome["plan"]
    assert new_plan["id"] == plan["id"] and new_plan["dropped"] == []
    assert {r["id"] for r in new_plan["routes"]} == {r["id"] for r in plan["routes"]}
    (same,) = [r for r in new_plan["routes"] if r["id"] == rid]
    kept = [first["reference"], second["reference"], heading["reference"]]
    assert _references(same)[:3] == kept
    assert [s["sequence"] for s in same["stops"]][:3] == [1, 2, 3]
    planned = [ref for r in new_plan["routes"] for ref in _references(r)]
    assert sorted(planned) == sorted(o.reference for o in (*LINE, *SOUTH, NEW_ORDER))
    added = [c for c in outcome["changes"] if c["order"] == NEW_ORDER.reference]
    assert [(c["kind"], c["vehicle_before"]) for c in added] == [("added", None)]
    assert added[0]["vehicle_after"] in ("VAN-1", "VAN-2")
    assert all(c["order"] not in kept[:2] for c in outcome["changes"])

    status = api.status(rid)
    assert status["state"] == "under_way"
    assert [s["state"] for s in status["stops"][:3]] == ["delivered", "delivered", "pending"]
    assert [s["received_by"] for s in status["stops"][:2]] == ["Receiver 1", "Receiver 2"]
    heading_eta = _eta(status, 3)
    assert heading_eta is not None and heading_eta >= instant(outcome["as_of"])
    new = [
        o
        for o in api.client.get("/orders", params={"site": api.site}).json()
        if o["reference"] == "SO-N"
    ]
    assert [o["status"] for o in new] == ["planned"]
    # The driver's link still opens the route, and it goes on from where it was.
    after = api.driver_report(rid, token, "arrived", stop=3, clock="09:30")
    assert after.status_code == 201, after.text
    assert _stop(after.json(), 3)["reference"] == heading["reference"]


def test_a_plan_with_no_route_under_way_is_replanned_fully_with_the_new_orders(
    api: RouteApi, seeded: Engine
) -> None:
    route = api.line_route()
    plan_id = route["plan_id"]
    api.order(NEW_ORDER)
    before = datetime.now(UTC)
    replanned = api.client.post(f"/routes/plans/{plan_id}/replan", json={"time_limit_s": 1})
    after = datetime.now(UTC)
    assert replanned.status_code == 200, replanned.text
    outcome = replanned.json()
    assert before <= instant(outcome["as_of"]) <= after  # no fact yet: now
    (same,) = outcome["plan"]["routes"]
    assert same["id"] == route["id"]
    assert sorted(_references(same)) == sorted(o.reference for o in (*LINE, NEW_ORDER))
    assert [s["sequence"] for s in same["stops"]] == [1, 2, 3, 4]
    assert [(c["order"], c["kind"]) for c in outcome["changes"] if c["kind"] == "added"] == [
        ("SO-N", "added")
    ]
    status = api.status(route["id"])
    assert status["state"] == "planned" and {s["state"] for s in status["stops"]} == {"pending"}
    assert all(s["predicted_eta"] is not None for s in status["stops"])
    with Session(seeded) as session:
        stored = stored_plan(session, plan_id)
        assert check_routes(stored.problem, stored.result) == []
        statuses = session.exec(
            select(t.DeliveryOrder.status, func.count())
            .where(t.DeliveryOrder.site_code == api.site)
            .group_by(col(t.DeliveryOrder.status))
        ).all()
    assert dict(statuses) == {"planned": 4}
    # "Now" is days before the plan's day: nothing is pushed off the day or its windows.
    assert {instant(s["eta"]).date() for s in same["stops"]} == {DAY}


def test_a_report_that_comes_in_while_the_optimizer_runs_is_not_lost(
    api: RouteApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = api.line_route()
    rid = route["id"]
    token = api.token(rid)
    assert api.driver_report(rid, token, "departed", clock="07:50").status_code == 201
    first = api.driver_report(rid, token, "delivered", stop=1, clock="08:05", received_by="A")
    assert first.status_code == 201, first.text

    def the_driver_reports_meanwhile(*args: Any, **kwargs: Any) -> ReplanResult:
        # The real optimizer; the report lands between its snapshot and storing its result.
        outcome = replan(*args, **kwargs)
        meanwhile = api.driver_report(
            rid, token, "delivered", stop=2, clock="08:20", received_by="B"
        )
        assert meanwhile.status_code == 201, meanwhile.text
        return outcome

    with monkeypatch.context() as patch:
        patch.setattr(route_replan, "replan", the_driver_reports_meanwhile)
        clash = api.client.post(
            f"/routes/plans/{route['plan_id']}/replan", json={"time_limit_s": 1}
        )
    assert clash.status_code == 409 and "re-plan again" in clash.json()["detail"]
    assert [(s["state"], s["received_by"]) for s in api.status(rid)["stops"]] == [
        ("delivered", "A"),
        ("delivered", "B"),
        ("pending", None),
    ]
    again = api.client.post(f"/routes/plans/{route['plan_id']}/replan", json={"time_limit_s": 1})
    assert again.status_code == 200, again.text
    assert parse_time(again.json()["as_of"]) == at("08:20")
    assert [s["state"] for s in api.status(rid)["stops"]] == ["delivered", "delivered", "pending"]
