"""Scenarios: an inbound truck's manifest, a simulated dock, and the dock worker who receives it.

The worker behaves like a person at the dock: scan the pallet's label, put the pallet on the
scale, wait for the putaway label to come out of the printer, read the bin from it, drive
there and scan the bin label. Nothing is told to the worker through a back channel: the bin
comes from the printed label, so a wrong or missing label fails the scenario.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from devices.scanner import ScannerSettings
from firmware_sim.dock_sensors import SimDockSensors
from firmware_sim.gs1 import gtin14, pallet_label, sscc
from firmware_sim.links import Link, PtyLink, TcpLink
from firmware_sim.printer import PrintedJob, SimEscPosPrinter
from firmware_sim.scales import SimMtSicsScale, SimToledo8217Scale
from firmware_sim.scanner import SimScanner

logger = logging.getLogger(__name__)

COMPANY_PREFIX = "7061234"
_PRODUCTS = (
    ("Oat drink 1 L", Decimal("1.05"), Decimal("0.89")),
    ("Tomato passata 500 g", Decimal("0.56"), Decimal("0.62")),
    ("Dish soap 750 ml", Decimal("0.81"), Decimal("1.35")),
    ("Coffee beans 1 kg", Decimal("1.02"), Decimal("8.90")),
    ("Basmati rice 2 kg", Decimal("2.03"), Decimal("2.75")),
    ("Sparkling water 6x1.5 L", Decimal("9.30"), Decimal("2.40")),
)
PALLET_TARE_KG = Decimal("25")


@dataclass(frozen=True)
class ItemSpec:
    """A product on the truck, as the supplier's master data describes it."""

    gtin: str
    name: str
    unit_weight_kg: Decimal
    unit_price: Decimal
    currency: str = "EUR"


@dataclass(frozen=True)
class PalletSpec:
    """One pallet on the truck: its label's content and its true weight."""

    sscc: str
    item: ItemSpec
    batch: str
    expiry: date
    count: int
    weight_kg: Decimal

    @property
    def label(self) -> str:
        """The GS1-128 element string printed on the pallet (GS as FNC1)."""
        return pallet_label(
            self.sscc, self.item.gtin, self.batch, self.expiry, self.count, gtin_ai="02"
        )


@dataclass(frozen=True)
class TruckManifest:
    """What the supplier's ASN says is on the truck."""

    site: str
    dock: str
    reference: str
    pallets: tuple[PalletSpec, ...]

    @property
    def items(self) -> list[ItemSpec]:
        """The distinct products on the truck."""
        seen: dict[str, ItemSpec] = {}
        for pallet in self.pallets:
            seen.setdefault(pallet.item.gtin, pallet.item)
        return list(seen.values())


def inbound_truck(
    *, site: str, dock: str, pallets: int = 40, seed: int = 1, today: date | None = None
) -> TruckManifest:
    """A plausible inbound truck: a few products, one batch each, full pallets."""
    rng = random.Random(seed)
    today = today or date.today()
    items = [
        ItemSpec(gtin14(COMPANY_PREFIX, 100 + i, indicator=0), name, unit_kg, price)
        for i, (name, unit_kg, price) in enumerate(_PRODUCTS)
    ]
    specs = []
    serial_base = rng.randrange(10**6, 10**8)
    for n in range(pallets):
        item = items[n % len(items)]
        count = rng.choice((40, 48, 60, 72, 80))
        weight = (item.unit_weight_kg * count + PALLET_TARE_KG).quantize(Decimal("0.1"))
        specs.append(
            PalletSpec(
                sscc=sscc(COMPANY_PREFIX, serial_base + n),
                item=item,
                batch=f"L{today:%y%m}{(n % len(items)) + 1:02d}",
                expiry=today + timedelta(days=180 + 30 * (n % len(items))),
                count=count,
                weight_kg=weight,
            )
        )
    return TruckManifest(site=site, dock=dock, reference=f"ASN-{seed:06d}", pallets=tuple(specs))


@dataclass(frozen=True)
class DockDeviceUrls:
    """Where the edge finds the simulated dock's devices."""

    scanner: str
    scale: str
    printer: str


class SimulatedDock:
    """A scanner, a scale and a label printer at one dock, on pty pairs (or TCP for the printer).

    Use as a context manager; `urls` go into the edge agent's config.
    """

    def __init__(
        self,
        *,
        out_dir: Path,
        scale_protocol: Literal["mt-sics", "toledo-8217"] = "mt-sics",
        printer_link: Literal["pty", "tcp"] = "pty",
        scanner_settings: ScannerSettings | None = None,
        render_png: bool = True,
        seed: int | None = None,
    ) -> None:
        self.scanner_link: Link = PtyLink()
        self.scale_link: Link = PtyLink()
        self.printer_link: Link = PtyLink() if printer_link == "pty" else TcpLink()
        self.scanner = SimScanner(self.scanner_link, scanner_settings)
        scale_cls = SimMtSicsScale if scale_protocol == "mt-sics" else SimToledo8217Scale
        self.scale = scale_cls(self.scale_link, seed=seed)
        self.printer = SimEscPosPrinter(self.printer_link, out_dir=out_dir, render_png=render_png)
        self.scale_protocol = scale_protocol

    @property
    def urls(self) -> DockDeviceUrls:
        """The device URLs to put in the edge config."""
        return DockDeviceUrls(
            scanner=self.scanner_link.device_url,
            scale=self.scale_link.device_url,
            printer=self.printer_link.device_url,
        )

    def close(self) -> None:
        """Stop the simulated devices and release their links."""
        self.scale.stop()
        self.printer.stop()
        for link in (self.scanner_link, self.scale_link, self.printer_link):
            link.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LabelNotPrinted(TimeoutError):
    """The putaway label for a pallet did not come out of the printer in time."""


@dataclass
class PalletOutcome:
    """What happened to one pallet at the dock."""

    sscc: str
    location: str | None
    hold_reason: str | None
    labels: list[PrintedJob] = field(default_factory=list)
    scanned_at: float = 0.0
    """time.monotonic() when the pallet label was scanned."""
    label_seen_at: list[float] = field(default_factory=list)
    """time.monotonic() when each label was seen coming out of the printer."""


@dataclass
class ReceivingReport:
    """The worker's account of a truck."""

    pallets: list[PalletOutcome] = field(default_factory=list)

    @property
    def put_away(self) -> int:
        """Pallets that got a bin and were put away."""
        return sum(1 for p in self.pallets if p.location is not None)


def _label_for(job: PrintedJob, sscc_code: str) -> bool:
    return any(sscc_code in line for line in job.lines)


def read_label(job: PrintedJob) -> tuple[str | None, str | None]:
    """The bin (or hold reason) printed on a putaway label, as a worker reads it."""
    lines = [line.strip() for line in job.lines]
    for i, line in enumerate(lines):
        if line == "PUT AWAY TO" and i + 1 < len(lines):
            return lines[i + 1], None
        if line.startswith("HOLD:"):
            return None, line.removeprefix("HOLD:").strip()
    return None, None


class DockWorker:
    """Receives a truck at a simulated dock, reading every instruction off the printed labels."""

    def __init__(
        self,
        dock: SimulatedDock,
        *,
        label_timeout_s: float = 30.0,
        settle_after_s: float = 0.4,
        stop: threading.Event | None = None,
    ) -> None:
        self.dock = dock
        self.label_timeout_s = label_timeout_s
        self.settle_after_s = settle_after_s
        self._stop = stop or threading.Event()
        self._read_jobs: set[int] = set()

    def receive(self, manifest: TruckManifest, *, wait_for_bin: bool = True) -> ReceivingReport:
        """Receive every pallet of the truck.

        With `wait_for_bin`, the worker waits at the dock for each pallet's bin. Without it, a
        pallet whose label says PUTAWAY PENDING is left in receiving and the worker goes on with
        the next one; once the truck is empty they put the waiting pallets away as their bin
        labels come out (scan the pallet, then the bin). Raises LabelNotPrinted if a label
        never comes.
        """
        report = ReceivingReport()
        waiting: list[tuple[PalletSpec, PalletOutcome]] = []
        for pallet in manifest.pallets:
            if self._stop.is_set():
                break
            outcome = self.receive_pallet(pallet, wait_for_bin=wait_for_bin)
            report.pallets.append(outcome)
            if outcome.location is None and outcome.hold_reason is None:
                waiting.append((pallet, outcome))
        for pallet, outcome in waiting:
            self._await_bin(pallet.sscc, outcome)
            if outcome.location is not None:
                self.dock.scanner.scan(pallet.label)
                self.dock.scanner.scan(outcome.location, symbology="]C0")
        return report

    def receive_pallet(self, pallet: PalletSpec, *, wait_for_bin: bool = True) -> PalletOutcome:
        """Scan, weigh, wait for the label, put away by scanning the bin printed on it."""
        scanned_at = time.monotonic()
        self.dock.scanner.scan(pallet.label)
        self.dock.scale.place(pallet.weight_kg, settle_after_s=self.settle_after_s)
        outcome = PalletOutcome(
            sscc=pallet.sscc, location=None, hold_reason=None, scanned_at=scanned_at
        )
        self._await_bin(pallet.sscc, outcome, first_label_only=not wait_for_bin)
        self.dock.scale.remove()
        if outcome.location is not None:
            self.dock.scanner.scan(outcome.location, symbology="]C0")
        logger.info(
            "pallet %s -> %s",
            pallet.sscc,
            outcome.location
            or (
                f"HOLD ({outcome.hold_reason})"
                if outcome.hold_reason
                else "left in receiving, bin pending"
            ),
        )
        return outcome

    def _await_bin(
        self, sscc_code: str, outcome: PalletOutcome, *, first_label_only: bool = False
    ) -> None:
        for job in self._labels_for(sscc_code):
            outcome.labels.append(job)
            outcome.label_seen_at.append(time.monotonic())
            outcome.location, outcome.hold_reason = read_label(job)
            if outcome.location or outcome.hold_reason or first_label_only:
                return
            logger.info("pallet %s: label says PUTAWAY PENDING, waiting for the bin", sscc_code)

    def _labels_for(self, sscc_code: str) -> Iterator[PrintedJob]:
        """Labels for this pallet not yet read, as they come out of the printer."""
        deadline = time.monotonic() + self.label_timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            jobs = self.dock.printer.jobs
            for job in jobs:
                if job.number not in self._read_jobs and _label_for(job, sscc_code):
                    self._read_jobs.add(job.number)
                    yield job
                    deadline = time.monotonic() + self.label_timeout_s
            self.dock.printer.wait_for_jobs(len(jobs) + 1, timeout=0.2)
        raise LabelNotPrinted(
            f"no putaway label for pallet {sscc_code} within {self.label_timeout_s} s"
        )


class SheetNotPrinted(TimeoutError):
    """The loading sheet (or an expected alarm slip) did not come out of the printer in time."""


_SHEET_LINE = re.compile(r"^#(\d+)\s+col \d+ stop (\d+)\s+(\d{18})$")


@dataclass(frozen=True)
class LoadingSheet:
    """What the worker reads off a printed loading sheet."""

    shipment_id: str
    ssccs: tuple[str, ...]
    """In loading order."""


def read_loading_sheet(job: PrintedJob) -> LoadingSheet | None:
    """The shipment and the pallets in loading order, if `job` is a loading sheet."""
    lines = [line.strip() for line in job.lines]
    shipment = next(
        (ln.removeprefix("Shipment ").strip() for ln in lines if ln.startswith("Shipment ")), None
    )
    if shipment is None:
        return None
    order = []
    for line in lines:
        match = _SHEET_LINE.match(line)
        if match:
            order.append((int(match.group(1)), match.group(3)))
    return LoadingSheet(shipment, tuple(sscc for _, sscc in sorted(order)))


@dataclass
class LoadingReport:
    """The worker's account of an outbound truck."""

    shipment_id: str
    loaded: list[str] = field(default_factory=list)
    alarms: list[PrintedJob] = field(default_factory=list)


class LoadingWorker:
    """Loads a truck at a simulated dock by the printed loading sheet.

    The truck docks and the door opens (dock sensors), the worker waits for the loading
    sheet, and scans each pallet as it goes on. With `one_out_of_order`, the worker first
    grabs the last pallet on the sheet (a mistake the edge must alarm at once), reads the
    alarm slip, and then loads by the sheet. Door closed, truck gone.
    """

    def __init__(
        self, dock: SimulatedDock, sensors: SimDockSensors, *, timeout_s: float = 30.0
    ) -> None:
        self.dock = dock
        self.sensors = sensors
        self.timeout_s = timeout_s

    def dock_truck(self) -> None:
        """The trailer backs on and the dock door opens."""
        self.sensors.vehicle_arrives()
        self.sensors.open_door()

    def load(self, shipment_id: str, *, one_out_of_order: bool = False) -> LoadingReport:
        """Load the shipment by its sheet; close the door when done."""
        sheet = self._wait_for(
            lambda job: (s := read_loading_sheet(job)) is not None and s.shipment_id == shipment_id,
            f"loading sheet for {shipment_id}",
        )
        order = read_loading_sheet(sheet)
        assert order is not None
        report = LoadingReport(shipment_id)
        if one_out_of_order and len(order.ssccs) > 1:
            wrong = order.ssccs[-1]
            seen = len(self.dock.printer.jobs)
            self.dock.scanner.scan(f"00{wrong}")
            report.alarms.append(
                self._wait_for(
                    lambda job: job.number > seen and any(wrong in ln for ln in job.lines),
                    f"alarm slip for {wrong}",
                )
            )
        for sscc_code in order.ssccs:
            self.dock.scanner.scan(f"00{sscc_code}")
            report.loaded.append(sscc_code)
            time.sleep(0.05)  # a pallet takes longer than a scan to go on
        self.sensors.close_door()
        return report

    def truck_leaves(self) -> None:
        """The trailer pulls away from the dock."""
        self.sensors.vehicle_leaves()

    def _wait_for(self, wanted: Callable[[PrintedJob], bool], what: str) -> PrintedJob:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            jobs = self.dock.printer.jobs
            for job in jobs:
                if wanted(job):
                    return job
            self.dock.printer.wait_for_jobs(len(jobs) + 1, timeout=0.2)
        raise SheetNotPrinted(f"no {what} within {self.timeout_s} s")
