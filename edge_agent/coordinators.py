"""One coordinator per device: bridges the blocking `devices` API into asyncio.

Each coordinator owns one worker thread, so calls on a device's port never interleave and a
slow device never starves another. It turns the device's health into `device.status` events,
one per change (Home Assistant's coordinator pattern: log and report transitions, not retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Literal, TypeVar

from contracts.events import CommandDone, DeviceError, DeviceState, DeviceStatus, EventType
from contracts.events import ScanRejected as ScanRejectedEvent
from devices.errors import (
    FrameError,
    PortUnavailable,
    PrinterNoReply,
    PrinterNotReady,
    ScaleError,
    ScanRejected,
    StableWeightTimeout,
)
from devices.printer import EscPosPrinter, PrinterStatus
from devices.scales import MtSicsCodec, ScaleCodec, ScaleReader, Toledo8217Codec, WeightReading
from devices.scanner import LocationLabel, PalletLabel, ScanFramer, ScannerSettings, decode_scan
from devices.transport import Transport
from edge_agent.loading import OverrideCode, override_reason
from edge_agent.outbox import Outbox

logger = logging.getLogger(__name__)

T = TypeVar("T")

_OFFLINE_RETRY_S = 0.5
Scan = PalletLabel | LocationLabel | OverrideCode


class DeviceHealth:
    """A device's last known state; a change becomes one `device.status` event."""

    def __init__(self, device: str, outbox: Outbox) -> None:
        self.device = device
        self._outbox = outbox
        self.state: DeviceState | None = None
        self.detail = ""

    @property
    def available(self) -> bool:
        """True unless the device is known to be offline."""
        return self.state is not DeviceState.OFFLINE

    def set(self, state: DeviceState, detail: str = "") -> None:
        """Record the device's state; report it if it changed."""
        if state == self.state:
            return
        if state is DeviceState.ONLINE:
            logger.info("%s online", self.device)
        else:
            logger.warning("%s %s: %s", self.device, state, detail)
        self.state = state
        self.detail = detail
        self._outbox.append(
            EventType.DEVICE_STATUS,
            self.device,
            DeviceStatus(device=self.device, state=state, detail=detail[:500]),
        )


def report_frame_error(outbox: Outbox, device: str, err: FrameError) -> None:
    """Keep unparseable device bytes as a device.error event (thread-safe)."""
    logger.warning("%s sent bytes that cannot be parsed: %s", device, err.reason)
    outbox.append(
        EventType.DEVICE_ERROR,
        device,
        DeviceError(device=device, reason=err.reason, raw_hex=err.raw.hex()),
    )


class _DeviceThread:
    """The single worker thread of one device."""

    def __init__(self, device: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=device)

    async def call(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self, transport: Transport) -> None:
        """Close the port after the call in progress, then end the thread."""
        self._executor.submit(transport.close)
        self._executor.shutdown(wait=True)


class ScannerCoordinator:
    """Reads a scanner's frames and yields decoded labels; bad reads become events."""

    def __init__(
        self,
        *,
        device: str,
        dock: str,
        transport: Transport,
        settings: ScannerSettings,
        outbox: Outbox,
        read_timeout_s: float = 0.2,
    ) -> None:
        self.device = device
        self.dock = dock
        self._transport = transport
        self._settings = settings
        self._framer = ScanFramer(settings)
        self._outbox = outbox
        self._read_timeout_s = read_timeout_s
        self._thread = _DeviceThread(device)
        self.health = DeviceHealth(device, outbox)

    async def scans(self) -> AsyncGenerator[Scan, None]:
        """Decoded scans as the worker makes them; runs until cancelled."""
        while True:
            try:
                data = await self._thread.call(self._transport.read, 4096, self._read_timeout_s)
            except PortUnavailable as err:
                self.health.set(DeviceState.OFFLINE, str(err))
                await asyncio.sleep(_OFFLINE_RETRY_S)
                continue
            self.health.set(DeviceState.ONLINE)
            for frame in self._frames(data):
                scan = self._decode(frame)
                if scan is not None:
                    yield scan

    def _frames(self, data: bytes) -> list[bytes]:
        try:
            return self._framer.feed(data)
        except FrameError as err:
            report_frame_error(self._outbox, self.device, err)
            return self._framer.feed(b"")

    def _decode(self, frame: bytes) -> Scan | None:
        reason = override_reason(frame)
        if reason is not None:
            return OverrideCode(reason)
        try:
            return decode_scan(frame, self._settings)
        except FrameError as err:
            report_frame_error(self._outbox, self.device, err)
        except ScanRejected as err:
            logger.info("%s: scan rejected: %s", self.device, err)
            self._outbox.append(
                EventType.SCAN_REJECTED,
                self.device,
                ScanRejectedEvent(
                    dock=self.dock, device=self.device, code=err.code, reason=err.reason
                ),
            )
        return None

    def close(self) -> None:
        """Close the port and the worker thread."""
        self._thread.close(self._transport)


class WeighingFailed(Exception):
    """No usable weight: `reason` is what the worker is told on the error slip."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScaleCoordinator:
    """Weighs on request (first stable weight) and checks the scale's health now and then."""

    def __init__(
        self,
        *,
        device: str,
        transport: Transport,
        codec: ScaleCodec,
        outbox: Outbox,
        stable_timeout_s: float,
        min_kg: Decimal,
        poll_interval_s: float = 0.2,
        probe_every_s: float = 30.0,
    ) -> None:
        self.device = device
        self._transport = transport
        self._outbox = outbox
        self._reader = ScaleReader(
            transport, codec, poll_interval_s=poll_interval_s, on_frame_error=self._frame_error
        )
        self._stable_timeout_s = stable_timeout_s
        self._min_kg = min_kg
        self._probe_every_s = probe_every_s
        self._thread = _DeviceThread(device)
        self.health = DeviceHealth(device, outbox)

    def _frame_error(self, err: FrameError) -> None:
        # Runs in the device thread; the outbox is thread-safe.
        report_frame_error(self._outbox, self.device, err)

    async def weigh(self) -> WeightReading:
        """The first stable weight of at least min_kg; WeighingFailed says why there is none."""
        try:
            reading = await self._thread.call(
                self._reader.wait_for_stable, timeout_s=self._stable_timeout_s, min_kg=self._min_kg
            )
        except PortUnavailable as err:
            self.health.set(DeviceState.OFFLINE, str(err))
            raise WeighingFailed("the scale is not connected: check its cable and power") from err
        except StableWeightTimeout as err:
            if err.last is None:
                self.health.set(DeviceState.OFFLINE, "the scale does not answer")
            else:
                self.health.set(DeviceState.ONLINE)
            raise WeighingFailed(str(err)) from err
        except ScaleError as err:
            self.health.set(DeviceState.ERROR, str(err))
            raise WeighingFailed(str(err)) from err
        self.health.set(DeviceState.ONLINE)
        return reading

    async def run(self) -> None:
        """Probe the scale every `probe_every_s` so its status is known before anyone weighs."""
        while True:
            try:
                await self._thread.call(self._reader.read_once, 1.0)
            except PortUnavailable as err:
                self.health.set(DeviceState.OFFLINE, str(err))
            except FrameError:
                self.health.set(DeviceState.ONLINE)
            except ScaleError as err:
                if self.health.state is None:
                    self.health.set(DeviceState.ONLINE, str(err))
            else:
                self.health.set(DeviceState.ONLINE)
            await asyncio.sleep(self._probe_every_s)

    def close(self) -> None:
        """Close the port and the worker thread."""
        self._thread.close(self._transport)


class PrinterCoordinator:
    """Polls a label printer and prints the dock's durable print queue in order when ready.

    A job is marked printed (and its command answered with command.done) only after
    `print_job` returned; a printer that is not ready keeps the job queued for later.
    """

    def __init__(
        self,
        *,
        device: str,
        dock: str,
        transport: Transport,
        outbox: Outbox,
        status_poll_s: float = 2.0,
        status_timeout_s: float = 1.0,
    ) -> None:
        self.device = device
        self.dock = dock
        self._transport = transport
        self._outbox = outbox
        self._printer = EscPosPrinter(transport, status_timeout_s=status_timeout_s)
        self._status_poll_s = status_poll_s
        self._thread = _DeviceThread(device)
        self._wake = asyncio.Event()
        self.health = DeviceHealth(device, outbox)
        self.printed = 0

    def wake(self) -> None:
        """A job was queued: try to print now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Poll and print until cancelled."""
        while True:
            self._wake.clear()
            status = await self._status()
            if status is not None and status.ready:
                await self._print_pending()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._status_poll_s)

    async def _status(self) -> PrinterStatus | None:
        try:
            status = await self._thread.call(self._printer.status)
        except (PrinterNoReply, PortUnavailable) as err:
            self.health.set(DeviceState.OFFLINE, str(err))
            return None
        except FrameError as err:
            report_frame_error(self._outbox, self.device, err)
            self.health.set(DeviceState.ERROR, err.reason)
            return None
        self.health.set(status.state, "" if status.ready else str(status))
        return status

    async def _print_pending(self) -> None:
        for job in self._outbox.pending_prints(self.dock):
            try:
                await self._thread.call(self._printer.print_job, job.data)
            except PrinterNotReady as err:
                self.health.set(err.status.state, str(err.status))
                logger.warning("%s: %s stays queued: %s", self.device, job.reason, err)
                return
            except (PrinterNoReply, PortUnavailable) as err:
                self.health.set(DeviceState.OFFLINE, str(err))
                return
            except FrameError as err:
                report_frame_error(self._outbox, self.device, err)
                return
            with self._outbox.transaction() as tx:
                printed = tx.mark_printed(job.job_id)
                if printed is not None and printed.command_id is not None:
                    tx.append(
                        EventType.COMMAND_DONE,
                        self.device,
                        CommandDone(
                            command_id=printed.command_id,
                            ok=True,
                            detail=f"printed at {self.dock}: {job.reason}",
                        ),
                    )
            self.printed += 1
            logger.info("%s printed %s", self.device, job.reason)

    def close(self) -> None:
        """Close the port and the worker thread."""
        self._thread.close(self._transport)


def scale_codec(protocol: Literal["mt-sics", "toledo-8217"], unit: str) -> ScaleCodec:
    """The codec for a configured scale."""
    if protocol == "toledo-8217":
        return Toledo8217Codec("lb" if unit == "lb" else "kg")
    return MtSicsCodec(unit_default=unit)
