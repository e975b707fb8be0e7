"""A dock end to end: simulated scanner, MT-SICS scale and ESC/POS printer on real ptys, the
edge agent, a real broker and a small stand-in for central."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from contracts import (
    Command,
    CommandDone,
    Envelope,
    EventType,
    GoodsReceived,
    PrintLabel,
    PutawayConfirmed,
    PutawayLabel,
    ScanRejected,
    event_payload,
)
from contracts.envelope import utc_now
from edge_agent.agent import EdgeAgent
from edge_agent.config import (
    BrokerConfig,
    DockConfig,
    EdgeConfig,
    PrinterDeviceConfig,
    ScaleDeviceConfig,
    ScannerDeviceConfig,
)
from edge_agent.receiving import DockState
from firmware_sim import gs1
from firmware_sim.links import PtyLink
from firmware_sim.printer import SimEscPosPrinter
from firmware_sim.scales import SimMtSicsScale
from firmware_sim.scanner import SimScanner
from tests.integration.edge_agent.fake_central import FakeCentral
from tests.support.mosquitto import MosquittoProcess

SSCC = gs1.sscc("7613032", 4711)
GTIN = gs1.gtin14("7613032", 12345)
BIN = "A-01-02"


async def eventually(check: Callable[[], bool], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class Sims:
    scanner: SimScanner
    scale: SimMtSicsScale
    printer: SimEscPosPrinter
    urls: tuple[str, str, str]

    def printed_text(self) -> list[str]:
        return [job.text for job in self.printer.jobs]


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[Sims]:
    links = [PtyLink(), PtyLink(), PtyLink()]
    scale = SimMtSicsScale(links[1], seed=1)
    printer = SimEscPosPrinter(links[2], out_dir=tmp_path / "printed", render_png=False)
    try:
        yield Sims(
            scanner=SimScanner(links[0]),
            scale=scale,
            printer=printer,
            urls=(links[0].device_url, links[1].device_url, links[2].device_url),
        )
    finally:
        scale.stop()
        printer.stop()
        for link in links:
            link.close()


def edge_config(
    url: str, site: str, data_dir: Path, sims: Sims, *, stable_timeout_s: float = 5.0, **kw
) -> EdgeConfig:
    scanner_url, scale_url, printer_url = sims.urls
    return EdgeConfig(
        site=site,
        broker=BrokerConfig(url=url),
        data_dir=data_dir,
        docks=[
            DockConfig(
                id="dock-1",
                scanner=ScannerDeviceConfig(url=scanner_url),
                scale=ScaleDeviceConfig(
                    url=scale_url, protocol="mt-sics", stable_timeout_s=stable_timeout_s
                ),
                printer=PrinterDeviceConfig(url=printer_url, status_poll_s=0.3),
            )
        ],
        **kw,
    )


def print_label_for(envelope: Envelope, location: str | None = BIN) -> Command:
    received = event_payload(envelope)
    assert isinstance(received, GoodsReceived)
    label = PutawayLabel(
        sscc=received.sscc,
        gtin=received.gtin,
        item_name="Widget 40x",
        batch=received.batch,
        expiry=received.expiry,
        quantity=received.quantity,
        weight_kg=received.weight_kg,
        location=location,
    )
    cmd = PrintLabel(dock=received.dock, in_reply_to=envelope.id, label=label)
    return Command(
        id=uuid4(),
        site=envelope.site,
        type="print.label",
        at=utc_now(),
        data=cmd.model_dump(mode="json"),
    )


def pallet_code() -> str:
    return gs1.pallet_label(sscc=SSCC, gtin=GTIN, batch="L42", expiry=date(2027, 3, 1), count=40)


def done_ids(central: FakeCentral) -> list[UUID]:
    out = []
    for env in central.applied_of(EventType.COMMAND_DONE):
        done = event_payload(env)
        assert isinstance(done, CommandDone) and done.ok
        out.append(done.command_id)
    return out


async def test_a_pallet_is_weighed_labelled_with_its_bin_and_put_away(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims
) -> None:
    sent: list[Command] = []

    def answer(central: FakeCentral, envelope: Envelope) -> None:
        if envelope.type == EventType.GOODS_RECEIVED:
            command = print_label_for(envelope)
            sent.append(command)
            central.send_command(command, wait=False)

    central = FakeCentral(mqtt_url, site_code, on_event=answer)
    try:
        config = edge_config(mqtt_url, site_code, tmp_path / "edge", sims, reply_timeout_s=20)
        async with EdgeAgent(config) as agent:
            await eventually(lambda: agent.uplink.connected)
            sims.scale.place(Decimal("612.4"), settle_after_s=0.3)
            sims.scanner.scan(pallet_code())
            await eventually(lambda: any(BIN in text for text in sims.printed_text()))
            assert agent.docks["dock-1"].dock_state is DockState.AWAITING_PUTAWAY
            sims.scanner.scan(BIN, symbology=None)
            await eventually(lambda: bool(central.applied_of(EventType.PUTAWAY_CONFIRMED)))
            await eventually(lambda: len(done_ids(central)) == 1)
            await eventually(lambda: agent.outbox.depth() == 0)

        (received,) = [event_payload(e) for e in central.applied_of(EventType.GOODS_RECEIVED)]
        assert isinstance(received, GoodsReceived)
        assert (received.sscc, received.gtin, received.batch) == (SSCC, GTIN, "L42")
        assert received.quantity == Decimal(40)
        assert received.weight_kg == Decimal("612.4")
        (confirmed,) = [event_payload(e) for e in central.applied_of(EventType.PUTAWAY_CONFIRMED)]
        assert confirmed == PutawayConfirmed(dock="dock-1", sscc=SSCC, location=BIN)
        assert done_ids(central) == [sent[0].id]
        assert not any("PENDING" in text for text in sims.printed_text())
    finally:
        central.close()


async def test_without_an_answer_a_pending_label_prints_and_the_bin_label_follows(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims
) -> None:
    central = FakeCentral(mqtt_url, site_code)
    try:
        config = edge_config(mqtt_url, site_code, tmp_path / "edge", sims, reply_timeout_s=0.5)
        async with EdgeAgent(config) as agent:
            await eventually(lambda: agent.uplink.connected)
            sims.scale.place(Decimal("300"), settle_after_s=0.2)
            sims.scanner.scan(pallet_code())
            await eventually(lambda: any("PENDING" in t for t in sims.printed_text()))
            assert agent.docks["dock-1"].dock_state is DockState.AWAITING_PUTAWAY
            await eventually(lambda: bool(central.applied_of(EventType.GOODS_RECEIVED)))
            (envelope,) = central.applied_of(EventType.GOODS_RECEIVED)
            command = print_label_for(envelope)
            jobs_before = len(sims.printer.jobs)
            # Delivered twice (central retried): printed once, answered once.
            await asyncio.to_thread(central.send_command, command)
            await asyncio.to_thread(central.send_command, command)
            await eventually(lambda: done_ids(central) == [command.id])
            await asyncio.sleep(1.0)
            assert len(sims.printer.jobs) == jobs_before + 1
            assert BIN in sims.printer.jobs[-1].text
            assert done_ids(central) == [command.id]
    finally:
        central.close()


async def test_a_label_waits_for_paper_and_is_printed_once_it_is_back(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims
) -> None:
    central = FakeCentral(mqtt_url, site_code)
    try:
        config = edge_config(mqtt_url, site_code, tmp_path / "edge", sims, reply_timeout_s=30)
        async with EdgeAgent(config) as agent:
            await eventually(lambda: agent.uplink.connected)
            sims.printer.paper_end()
            sims.scale.place(Decimal("300"), settle_after_s=0.2)
            sims.scanner.scan(pallet_code())
            await eventually(lambda: bool(central.applied_of(EventType.GOODS_RECEIVED)))
            (envelope,) = central.applied_of(EventType.GOODS_RECEIVED)
            command = print_label_for(envelope)
            await asyncio.to_thread(central.send_command, command)
            await eventually(lambda: len(agent.outbox.pending_prints("dock-1")) == 1)
            await asyncio.sleep(1.0)
            assert sims.printer.jobs == []
            assert done_ids(central) == []
            assert agent.health().devices[2].state == "paper_end"
            sims.printer.recover()
            await eventually(lambda: any(BIN in t for t in sims.printed_text()))
            await eventually(lambda: done_ids(central) == [command.id])
            assert len(sims.printer.jobs) == 1
    finally:
        central.close()


async def test_the_dock_keeps_receiving_while_the_broker_is_down_and_catches_up(
    private_mosquitto: MosquittoProcess, site_code: str, tmp_path: Path, sims: Sims
) -> None:
    private_mosquitto.stop()
    config = edge_config(
        private_mosquitto.url,
        site_code,
        tmp_path / "edge",
        sims,
        reply_timeout_s=0.5,
        resend_after_s=0.5,
    )
    async with EdgeAgent(config) as agent:
        sims.scale.place(Decimal("300"), settle_after_s=0.2)
        sims.scanner.scan(pallet_code())
        await eventually(lambda: any("PENDING" in t for t in sims.printed_text()))
        sims.scanner.scan(BIN, symbology=None)
        await eventually(lambda: agent.docks["dock-1"].dock_state is DockState.IDLE)
        assert not agent.uplink.connected
        depth = agent.outbox.depth()
        assert depth >= 2  # goods.received, putaway.confirmed (+ device statuses)
        private_mosquitto.start()
        central = FakeCentral(private_mosquitto.url, site_code)
        try:
            await eventually(lambda: agent.outbox.depth() == 0, within_s=60)
            assert central.applied_seqs() == list(range(1, depth + 1))
            assert len(central.applied_of(EventType.GOODS_RECEIVED)) == 1
            assert len(central.applied_of(EventType.PUTAWAY_CONFIRMED)) == 1
            assert agent.health().oldest_event_age_s is None
        finally:
            central.close()


async def test_a_pallet_that_never_weighs_stable_is_not_booked(
    mqtt_url: str, site_code: str, tmp_path: Path, sims: Sims
) -> None:
    central = FakeCentral(mqtt_url, site_code)
    try:
        config = edge_config(mqtt_url, site_code, tmp_path / "edge", sims, stable_timeout_s=1.0)
        async with EdgeAgent(config) as agent:
            sims.scale.place(Decimal("300"))
            sims.scale.unstable_forever()
            sims.scanner.scan(pallet_code())
            await eventually(lambda: any("NOT BOOKED" in t for t in sims.printed_text()))
            assert agent.docks["dock-1"].dock_state is DockState.IDLE
            await eventually(lambda: bool(central.applied_of(EventType.SCAN_REJECTED)))
            await eventually(lambda: agent.outbox.depth() == 0)
        assert central.applied_of(EventType.GOODS_RECEIVED) == []
        (rejected,) = [event_payload(e) for e in central.applied_of(EventType.SCAN_REJECTED)]
        assert isinstance(rejected, ScanRejected)
        assert "not booked" in rejected.reason and "moving" in rejected.reason
    finally:
        central.close()
