"""The books through the HTTP API: ops commands post the right entries exactly once, the
reports reconcile, the export passes bean-check, and `wms ledger check` finds tampering."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from central.app import create_app
from central.ingest import IngestService
from central.settings import CentralSettings, SiteBooks
from central.store.db import make_engine
from tests.integration.central.scenario import GTIN, OTHER_GTIN, EdgeStream
from wms.ledger_cli import ledger_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BEAN_CHECK = Path(sys.executable).parent / "bean-check"
D = Decimal


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(CentralSettings(database_url=database_url))
    with TestClient(app) as test_client:
        yield test_client


def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def net(posted: dict[str, Any]) -> dict[str, Decimal]:
    """Debit-minus-credit per account of a command's journal entry."""
    out: dict[str, Decimal] = {}
    for line in posted["entry"]["lines"]:
        out[line["account"]] = out.get(line["account"], D(0)) + D(line["debit"]) - D(line["credit"])
    return {k: v for k, v in out.items() if v}


def seed(client: TestClient, site: str, *, prices: tuple[str, ...]) -> None:
    """A site with dock-1 (RCV-1), bins A-01-01..02, two items, an ASN of GTIN lines."""
    ok(
        client.post(
            "/sites",
            json={
                "code": site,
                "name": site,
                "docks": [{"code": "dock-1", "receiving_location": "RCV-1"}],
            },
        )
    )
    for col in (1, 2):
        ok(client.post("/locations", json={"site": site, "code": f"A-01-0{col}", "kind": "bin"}))
    known = {item["gtin"] for item in client.get("/items").json()}
    for gtin in {GTIN, OTHER_GTIN} - known:
        ok(
            client.post(
                "/items", json={"gtin": gtin, "name": f"item {gtin}", "unit_weight_kg": "50"}
            )
        )
    if prices:
        lines = [
            {"gtin": GTIN, "quantity": "10", "unit_price": p, "currency": "EUR"} for p in prices
        ]
        ok(
            client.post(
                "/expected-receipts", json={"site": site, "reference": "PO-1", "lines": lines}
            )
        )


def receive(client: TestClient, stream: EdgeStream, pallets: int) -> None:
    ingest = client.app.state.ingest  # type: ignore[attr-defined]
    assert isinstance(ingest, IngestService)
    for _ in range(pallets):
        ingest.handle(stream.goods_received(None), topic=stream.topic)


def command(
    client: TestClient, path: str, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    return ok(client.post(f"/ledger/{path}", json=body), status)


def test_moving_average_issue_posts_hand_computed_values_once(
    client: TestClient, site_code: str
) -> None:
    seed(client, site_code, prices=("5.00", "7.00"))
    stream = EdgeStream(site_code)
    receive(client, stream, 2)  # 10 @ 5.00, then 10 @ 7.00 (ASN line prices)

    body = {
        "idempotency_key": str(uuid4()),
        "site": site_code,
        "gtin": GTIN,
        "location": "RCV-1",
        "quantity": "15",
    }
    posted = command(client, "consumption", body)
    # Moving average 6.00 x 15 = 90.00: Dr Consumption / Cr Inventory.
    assert net(posted) == {"5100": D("90.00"), "1400": D("-90.00")}
    assert command(client, "consumption", body, 200) == posted  # a retry posts nothing new
    conflict = client.post("/ledger/consumption", json=body | {"quantity": "1"})
    assert conflict.status_code == 409, conflict.text
    too_much = client.post(
        "/ledger/scrap", json=body | {"idempotency_key": str(uuid4()), "quantity": "6"}
    )
    assert too_much.status_code == 422 and "holds 5" in too_much.json()["detail"]

    journal = client.get("/journal", params={"site": site_code}).json()
    assert [e["movement_type"] for e in journal] == [
        "goods_receipt",
        "goods_receipt",
        "consumption",
    ]
    assert (
        client.get("/journal", params={"account": "5100"}).json()[0]["event_id"]
        == body["idempotency_key"]
    )
    valuation = client.get("/valuation", params={"site": site_code}).json()
    row = valuation["rows"][0]
    assert (D(row["quantity"]), D(row["value"]), D(row["unit_cost"])) == (D(5), D(30), D(6))
    assert [(r["reconciled"], D(r["account_balance"])) for r in valuation["reconciliation"]] == [
        (True, D("30.00"))
    ]
    trial = client.get("/trial-balance", params={"site": site_code}).json()
    assert trial["balanced"]
    assert {r["account"]: D(r["balance"]) for r in trial["rows"]} == {
        "1400": D("30.00"),
        "2150": D("-120.00"),
        "5100": D("90.00"),
    }
    ledger = client.get("/accounts/1400/ledger", params={"site": site_code}).json()
    assert [D(line["balance"]) for line in ledger["lines"]] == [D(50), D(120), D(30)]
    assert client.get("/accounts/9999/ledger").status_code == 404
    stock = client.get("/stock", params={"site": site_code}).json()
    assert [D(s["quantity"]) for s in stock] == [D(5)]


def test_every_ops_command_posts_its_rule_and_the_books_stay_sound(
    client: TestClient, site_code: str, tmp_path: Path, database_url: str
) -> None:
    other = site_code[:-1] + ("Z" if site_code[-1] != "Z" else "Y")
    seed(client, site_code, prices=("5.00", "5.00"))
    seed(client, other, prices=())
    stream = EdgeStream(site_code)
    receive(client, stream, 2)
    receipt_id = str(stream.ids[1])

    def run(path: str, status: int = 201, **fields: Any) -> dict[str, Any]:
        body = {"idempotency_key": str(uuid4()), "site": site_code} | fields
        return command(client, path, body, status)

    at: dict[str, Any] = {"gtin": GTIN, "location": "RCV-1"}
    assert net(run("scrap", quantity="1", **at)) == {"5200": D("5.00"), "1400": D("-5.00")}
    shortage = run("count-results", counted_quantity="17", **at)  # book 19: 2 short
    assert shortage["movement_type"] == "count_shortage"
    assert net(shortage) == {"5300": D("10.00"), "1400": D("-10.00")}
    surplus = run("count-results", counted_quantity="18", **at)
    assert surplus["movement_type"] == "count_surplus"
    assert net(surplus) == {"1400": D("5.00"), "4300": D("-5.00")}
    assert run("count-results", counted_quantity="18", **at)["entry"] is None
    dispatch = run("transfer-dispatches", quantity="3", to_site=other, **at)
    assert net(dispatch) == {"1450": D("15.00"), "1400": D("-15.00")}
    arrived = command(
        client,
        "transfer-receipts",
        {
            "idempotency_key": str(uuid4()),
            "site": other,
            "dispatch_event_id": dispatch["idempotency_key"],
            "location": "A-01-01",
            "quantity": "3",
        },
    )
    assert net(arrived) == {"1400": D("15.00"), "1450": D("-15.00")}
    invoice = run("vendor-invoices", receipt_event_id=receipt_id, quantity="10", unit_price="5.00")
    assert net(invoice) == {"2150": D("50.00"), "2000": D("-50.00")}
    back = run(
        "returns-to-vendor", receipt_event_id=str(stream.ids[2]), quantity="2", location="RCV-1"
    )
    assert net(back) == {"2150": D("10.00"), "1400": D("-10.00")}
    delivery = run("delivery-dispatches", quantity="4", **at)
    assert net(delivery) == {"1450": D("20.00"), "1400": D("-20.00")}
    pod = run("proofs-of-delivery", dispatch_event_id=delivery["idempotency_key"], quantity="4")
    assert net(pod) == {"5000": D("20.00"), "1450": D("-20.00")}
    returned = run(
        "customer-returns",
        dispatch_event_id=delivery["idempotency_key"],
        quantity="1",
        location="A-01-02",
    )
    assert net(returned) == {"1400": D("5.00"), "5000": D("-5.00")}
    on_hand = D(client.get("/valuation", params={"site": site_code}).json()["rows"][0]["quantity"])
    reval = run("revaluations", gtin=GTIN, unit_cost="6.00", quantity_on_hand=str(on_hand))
    assert on_hand == 10  # 20 received - 1 - 2 + 1 - 3 - 2 - 4 + 1
    assert net(reval) == {"1400": D("10.00"), "4400": D("-10.00")}  # 10 x (6.00 - 5.00)
    stale = run("revaluations", 409, gtin=GTIN, unit_cost="7.00", quantity_on_hand="999")
    assert "re-check" in stale["detail"]
    reversal = run("receipt-reversals", 409, receipt_event_id=receipt_id)
    assert "invoices" in reversal["detail"]  # invoiced receipts are not reversed: return them
    missing = run(
        "returns-to-vendor", 404, receipt_event_id=str(uuid4()), quantity="1", location="RCV-1"
    )
    assert "no goods receipt" in missing["detail"]

    # A fresh receipt reversed as a whole: storno at its own values, stock out of RCV-1.
    ok(
        client.post(
            "/expected-receipts",
            json={
                "site": site_code,
                "reference": "PO-2",
                "lines": [{"gtin": GTIN, "quantity": "10", "unit_price": "8.00"}],
            },
        )
    )
    receive(client, stream, 1)
    storno = run("receipt-reversals", receipt_event_id=str(stream.ids[3]))
    assert storno["entry"]["reverses"] == str(stream.ids[3])
    assert net(storno)["2150"] == D("80.00")

    valuation = client.get("/valuation").json()
    assert all(r["reconciled"] for r in valuation["reconciliation"])
    assert client.get("/trial-balance").json()["balanced"]

    # The whole journal as beancount passes the real bean-check; CSV has a row per line.
    exported = client.get("/journal/export", params={"format": "beancount"})
    assert exported.status_code == 200
    ledger_file = tmp_path / "books.beancount"
    ledger_file.write_text(exported.text, encoding="utf-8")
    checked = subprocess.run(
        [str(BEAN_CHECK), str(ledger_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    csv_lines = client.get("/journal/export", params={"format": "csv"}).text.strip().splitlines()
    assert len(csv_lines) - 1 == sum(len(e["lines"]) for e in client.get("/journal").json())

    # `wms ledger check`: clean books pass; a line changed by raw SQL is found.
    runner = CliRunner()
    clean = runner.invoke(ledger_app, ["check", "--database-url", database_url])
    assert clean.exit_code == 0, clean.output
    out = tmp_path / "cli.beancount"
    exported_cli = runner.invoke(
        ledger_app,
        ["export", "--format", "beancount", "--out", str(out), "--database-url", database_url],
    )
    assert exported_cli.exit_code == 0, exported_cli.output
    assert out.read_text(encoding="utf-8") == exported.text
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE journal_line SET debit_minor = debit_minor + 1 "
                    "WHERE id = (SELECT MIN(id) FROM journal_line WHERE debit_minor > 0)"
                )
            )
    finally:
        engine.dispose()
    tampered = runner.invoke(ledger_app, ["check", "--database-url", database_url])
    assert tampered.exit_code == 1, tampered.output
    assert "unchanged" in tampered.output and "balanced" in tampered.output


def test_a_site_configured_for_fifo_values_its_issues_from_the_oldest_layers(
    database_url: str, site_code: str
) -> None:
    """LEDGER_SITES gives one site its own method; the others keep the default."""
    settings = CentralSettings(
        database_url=database_url,
        ledger_sites={site_code: SiteBooks(valuation_method="fifo")},
    )
    with TestClient(create_app(settings)) as client:
        seed(client, site_code, prices=("5.00", "7.00"))
        receive(client, EdgeStream(site_code), 2)  # 10 @ 5.00, then 10 @ 7.00
        body = {
            "idempotency_key": str(uuid4()),
            "site": site_code,
            "gtin": GTIN,
            "location": "RCV-1",
            "quantity": "15",
        }
        posted = command(client, "consumption", body)
    # FIFO: 10 x 5.00 + 5 x 7.00 = 85.00 (moving average would give 90.00).
    assert net(posted) == {"5100": D("85.00"), "1400": D("-85.00")}
