"""Receiving at the dock, end to end: simulated devices → edge process → broker → central → DB."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from firmware_sim.gs1 import gtin14, sscc
from firmware_sim.scenario import (
    COMPANY_PREFIX,
    DockWorker,
    ItemSpec,
    PalletSpec,
    ReceivingReport,
    TruckManifest,
)
from tests.e2e.conftest import Stack, start_stack
from tests.support.mosquitto import MosquittoProcess
from tests.support.processes import wait_healthy, wait_until

pytestmark = pytest.mark.slow


def _assert_all_put_away(stack: Stack, report: ReceivingReport, manifest_pallets: int) -> None:
    assert report.put_away == manifest_pallets, stack.logs()
    expected = {p.sscc: p.location for p in report.pallets}
    ok = wait_until(
        lambda: {s: loc for s, (loc, _) in stack.stock_by_sscc().items()} == expected,
        timeout_s=30,
    )
    assert ok, f"stock per bin differs from the labels:\n{stack.logs()}"


def test_a_truck_of_40_pallets_is_received_labelled_and_put_away(stack: Stack) -> None:
    manifest = stack.truck(40)
    report = DockWorker(stack.dock, label_timeout_s=30).receive(manifest)

    _assert_all_put_away(stack, report, 40)
    stock = stack.stock_by_sscc()
    for pallet in manifest.pallets:
        assert Decimal(stock[pallet.sscc][1]) == pallet.count
    # Every pallet got a label naming its bin, and bins are not shared.
    assert all(o.labels for o in report.pallets)
    assert len({o.location for o in report.pallets}) == 40
    assert (stack.tmp / "labels" / "job-0001.png").exists()
    with stack.client() as client:
        assert client.get("/dead-letters", params={"site": stack.site}).json() == []
        events = client.get("/events", params={"site": stack.site}).json()
    # 40 receipts + 40 putaways + command confirmations + device status changes, each once.
    seqs = [e["seq"] for e in events]
    assert len(seqs) == len(set(seqs))
    types = [e["type"] for e in events]
    assert types.count("goods.received") == 40
    assert types.count("putaway.confirmed") == 40


def test_bad_input_is_flagged_at_the_dock_and_kept_for_ops(stack: Stack) -> None:
    manifest = stack.truck(2)
    good, heavy = manifest.pallets
    # Not on the ASN, but a known item: booked into receiving, held, alerted.
    stranger = PalletSpec(
        sscc=sscc(COMPANY_PREFIX, 99_000_001),
        item=good.item,
        batch=good.batch,
        expiry=good.expiry,
        count=good.count,
        weight_kg=good.weight_kg,
    )
    # An item central has never heard of: cannot be booked, so it is a dead letter.
    unknown_item = ItemSpec(gtin14(COMPANY_PREFIX, 990), "Mystery", Decimal(1), Decimal(1))
    alien = PalletSpec(
        sscc=sscc(COMPANY_PREFIX, 99_000_002),
        item=unknown_item,
        batch="X1",
        expiry=good.expiry,
        count=10,
        weight_kg=Decimal("35"),
    )
    worker = DockWorker(stack.dock, label_timeout_s=30)

    first = worker.receive_pallet(good)
    stack.dock.scanner.send_raw(b"\xff\xfe\x00\x81garbled\r")
    heavy_on_scale = PalletSpec(
        sscc=heavy.sscc,
        item=heavy.item,
        batch=heavy.batch,
        expiry=heavy.expiry,
        count=heavy.count,
        weight_kg=heavy.weight_kg * Decimal("1.2"),
    )
    held = worker.receive_pallet(heavy_on_scale)
    unexpected = worker.receive_pallet(stranger)
    rejected = worker.receive_pallet(alien)

    assert first.location is not None, stack.logs()
    assert held.location is None and held.hold_reason, stack.logs()
    assert "weight" in held.hold_reason.lower()
    assert unexpected.location is None and unexpected.hold_reason
    assert rejected.location is None and rejected.hold_reason

    with stack.client() as client:

        def alert_kinds() -> list[str]:
            return [a["kind"] for a in client.get("/alerts", params={"site": stack.site}).json()]

        assert wait_until(lambda: len(alert_kinds()) >= 4, timeout_s=15), alert_kinds()
        kinds = " ".join(alert_kinds()).lower()
        assert "weight" in kinds and "device" in kinds, kinds
        dead = client.get("/dead-letters", params={"site": stack.site}).json()
        assert any(unknown_item.gtin in (d.get("raw") or "") for d in dead), dead
        stock = stack.stock_by_sscc()
    # Held pallets are booked (into receiving), never dropped; the alien one is not stock.
    assert held.sscc in stock and stranger.sscc in stock
    assert alien.sscc not in stock


@pytest.fixture
def pg_mosquitto_stack(
    tmp_path: Path, site_code: str, mosquitto_url: str, postgres_url: str
) -> Iterator[Stack]:
    yield from start_stack(
        site=site_code, database_url=postgres_url, mqtt_url=mosquitto_url, tmp=tmp_path
    )


def _receive_in_background(
    stack: Stack, pallets: int, *, label_timeout_s: float
) -> tuple[threading.Thread, list[ReceivingReport], DockWorker, TruckManifest]:
    manifest = stack.truck(pallets)
    worker = DockWorker(stack.dock, label_timeout_s=label_timeout_s)
    reports: list[ReceivingReport] = []
    thread = threading.Thread(
        target=lambda: reports.append(worker.receive(manifest, wait_for_bin=False)), daemon=True
    )
    thread.start()
    return thread, reports, worker, manifest


def test_central_killed_mid_truck_loses_nothing_and_applies_nothing_twice(
    pg_mosquitto_stack: Stack,
) -> None:
    stack = pg_mosquitto_stack
    thread, reports, _, manifest = _receive_in_background(stack, 16, label_timeout_s=60)
    assert wait_until(lambda: len(stack.stock_by_sscc()) >= 4, timeout_s=60), stack.logs()

    stack.central.kill()
    time.sleep(3)  # the worker goes on scanning and weighing meanwhile
    stack.central.start()
    wait_healthy(stack.api, stack.central)

    thread.join(timeout=180)
    assert not thread.is_alive() and reports, stack.logs()
    _assert_all_put_away(stack, reports[0], 16)
    with stack.client() as client:
        events = client.get("/events", params={"site": stack.site}).json()
        site = client.get(f"/sites/{stack.site}").json()
    seqs = sorted(e["seq"] for e in events)
    assert seqs == list(range(1, site["last_seq"] + 1)), "an event is missing or doubled"
    stock = stack.stock_by_sscc()
    for pallet in manifest.pallets:
        assert Decimal(stock[pallet.sscc][1]) == pallet.count


@pytest.fixture
def private_broker_stack(
    tmp_path: Path, site_code: str, private_mosquitto: MosquittoProcess, sqlite_url: str
) -> Iterator[Stack]:
    yield from start_stack(
        site=site_code, database_url=sqlite_url, mqtt_url=private_mosquitto.url, tmp=tmp_path
    )


def test_broker_down_for_30_s_mid_truck_the_edge_queues_and_catches_up(
    private_broker_stack: Stack, private_mosquitto: MosquittoProcess
) -> None:
    stack, broker = private_broker_stack, private_mosquitto
    thread, reports, _, manifest = _receive_in_background(stack, 12, label_timeout_s=90)
    assert wait_until(lambda: len(stack.stock_by_sscc()) >= 3, timeout_s=60), stack.logs()

    broker.stop()
    time.sleep(30)
    broker.start()

    thread.join(timeout=180)
    assert not thread.is_alive() and reports, stack.logs()
    report = reports[0]
    # During the outage the dock kept working: labels said PUTAWAY PENDING at once.
    pending_labels = [
        job for p in report.pallets for job in p.labels if "PUTAWAY PENDING" in job.text
    ]
    assert pending_labels, "no pallet was received while the broker was down"
    _assert_all_put_away(stack, report, len(manifest.pallets))
