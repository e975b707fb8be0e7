"""EscPosPrinter talking to SimEscPosPrinter through a real pty pair and over TCP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from contracts import DeviceState, PutawayLabel
from devices.errors import PrinterNotReady
from devices.printer import EscPosPrinter, putaway_label, text_job
from devices.transport import SerialTransport
from firmware_sim.links import Link, PtyLink, TcpLink
from firmware_sim.printer import SimEscPosPrinter

SSCC = "376130321109103420"
LABEL = PutawayLabel(
    sscc=SSCC,
    gtin="03761303211094",
    item_name="Gouda 5kg",
    batch="L2026-11",
    expiry=date(2027, 3, 31),
    quantity=Decimal("40"),
    weight_kg=Decimal("512.40"),
    location="B-07-01-2",
)
WAIT_S = 10.0


@dataclass
class Rig:
    sim: SimEscPosPrinter
    printer: EscPosPrinter
    transport: SerialTransport
    out_dir: Path


def _link(kind: str) -> Link:
    return PtyLink() if kind == "pty" else TcpLink()


@pytest.fixture(params=["pty", "tcp"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    link = _link(request.param)
    out_dir = tmp_path / "printed"
    sim = SimEscPosPrinter(link, out_dir=out_dir)
    transport = SerialTransport.open(link.device_url)
    try:
        yield Rig(sim, EscPosPrinter(transport, status_timeout_s=3.0), transport, out_dir)
    finally:
        transport.close()
        sim.stop()
        link.close()


def _label() -> bytes:
    return putaway_label(LABEL, site="WH1", dock="D3", printed_at=datetime.now(UTC))


def test_label_is_printed_and_rendered_to_text_and_png(rig: Rig) -> None:
    assert rig.printer.status().state is DeviceState.ONLINE
    rig.printer.print_job(_label())
    assert rig.sim.wait_for_jobs(1, WAIT_S)
    [job] = rig.sim.jobs
    assert "B-07-01-2" in job.lines
    assert [b.data for b in rig.sim.jobs[0].barcodes] == ["00" + SSCC]
    assert job.qr_payloads == [f"(00){SSCC} BIN B-07-01-2"]
    text = (rig.out_dir / "job-0001.txt").read_text(encoding="utf-8")
    assert "B-07-01-2" in text and "512.40 kg" in text
    with Image.open(rig.out_dir / "job-0001.png") as image:
        image.verify()
    with Image.open(rig.out_dir / "job-0001.png") as image:
        assert image.format == "PNG" and image.width == 512


def test_paper_end_refuses_the_job_and_recovery_prints_it(rig: Rig) -> None:
    rig.sim.paper_end()
    with pytest.raises(PrinterNotReady) as info:
        rig.printer.print_job(_label())
    assert info.value.status.state is DeviceState.PAPER_END
    assert rig.sim.jobs == []
    assert rig.sim.lost_jobs == 0  # refused before sending: nothing to lose

    rig.sim.recover()
    rig.printer.print_job(_label())
    assert rig.sim.wait_for_jobs(1, WAIT_S)
    assert len(rig.sim.jobs) == 1


def test_paper_running_out_during_the_job_is_reported_and_the_reprint_works(rig: Rig) -> None:
    rig.sim.paper_runs_out_after(120)
    with pytest.raises(PrinterNotReady) as info:
        rig.printer.print_job(_label())
    assert info.value.status.paper_end
    assert rig.sim.wait_for_lost(1, WAIT_S)
    assert rig.sim.jobs == []

    rig.sim.recover()
    rig.printer.print_job(_label())
    assert rig.sim.wait_for_jobs(1, WAIT_S)
    assert rig.sim.lost_jobs == 1


def test_cover_open_and_offline_are_reported(rig: Rig) -> None:
    rig.sim.cover_open()
    assert rig.printer.status().state is DeviceState.COVER_OPEN
    rig.sim.recover()
    rig.sim.go_offline()
    with pytest.raises(PrinterNotReady):
        rig.printer.print_job(text_job(["x"]))
    rig.sim.recover()
    rig.sim.paper_near_end()
    assert rig.printer.status().state is DeviceState.PAPER_NEAR_END
    rig.printer.print_job(text_job(["near end still prints"]))
    assert rig.sim.wait_for_jobs(1, WAIT_S)


def test_sim_survives_garbage_then_prints(rig: Rig) -> None:
    rig.transport.write(b"\x1b\x01\x1d\x02\xff\xfe\x00garbage\x07\x1b@")
    rig.printer.print_job(text_job(["after garbage"], title="Route 7", qr="R7"))
    assert rig.sim.wait_for_jobs(1, WAIT_S)
    job = rig.sim.jobs[-1]
    assert "after garbage" in job.lines and job.qr_payloads == ["R7"]
    assert rig.sim.unknown_commands >= 3
