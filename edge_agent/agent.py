"""The edge agent of one warehouse: devices, dock workflows, outbox, uplink, commands.

`EdgeAgent` is the composition root: an async context manager that builds everything from the
config and runs it in one `asyncio.TaskGroup` of named tasks until the block exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from devices.dock_sensors import SensorReading
from devices.scales import SCALE_SERIAL_SETTINGS
from devices.scanner import ScannerSettings
from devices.transport import ReconnectingTransport, SerialSettings, Transport
from edge_agent.commands import CommandExecutor
from edge_agent.config import DockConfig, EdgeConfig, SerialConfig
from edge_agent.coordinators import (
    PrinterCoordinator,
    ScaleCoordinator,
    ScannerCoordinator,
    scale_codec,
)
from edge_agent.dock import DockWorkflow
from edge_agent.dock_control import DockControl, LoadRegistry
from edge_agent.dock_state import DockTimers
from edge_agent.outbox import Outbox
from edge_agent.sensors import DockSensorBus, SensorBinding
from edge_agent.uplink import Uplink

logger = logging.getLogger(__name__)

TransportFactory = Callable[[str, SerialSettings], Transport]


def _serial(config: SerialConfig) -> SerialSettings:
    return SerialSettings(
        baudrate=config.baudrate,
        bytesize=config.bytesize,
        parity=config.parity,
        stopbits=config.stopbits,
    )


def _reconnecting(url: str, settings: SerialSettings) -> Transport:
    return ReconnectingTransport(url, settings)


@dataclass(frozen=True)
class DeviceHealthReport:
    """One device's last known state."""

    device: str
    state: str
    detail: str


@dataclass(frozen=True)
class EdgeHealth:
    """What ops need to see of an edge: is it connected, and how far behind is it."""

    site: str
    broker_connected: bool
    outbox_depth: int
    oldest_event_age_s: float | None
    last_acked_seq: int
    last_seq: int
    devices: tuple[DeviceHealthReport, ...]


class EdgeAgent:
    """One warehouse's edge agent; `async with EdgeAgent(config) as agent:` runs it."""

    def __init__(
        self, config: EdgeConfig, *, transport_factory: TransportFactory = _reconnecting
    ) -> None:
        """Args:
        config: The validated edge config.
        transport_factory: Opens a device port (url, serial settings); by default a
            ReconnectingTransport, so a device unplugged at start-up is picked up later.
        """
        self.config = config
        self._transport_factory = transport_factory
        self._task: asyncio.Task[None] | None = None
        self.docks: dict[str, DockWorkflow] = {}
        self.sensors: DockSensorBus | None = None

    async def __aenter__(self) -> Self:
        config = self.config
        self.outbox = Outbox(config.outbox_path, config.site)
        try:
            for dock in config.docks:
                self.docks[dock.id] = self._build_dock(dock)
            if config.docks:
                self._build_dock_control()
            self.uplink = Uplink(
                broker=config.broker,
                client_id=config.client_id,
                outbox=self.outbox,
                resend_after_s=config.resend_after_s,
                max_inflight=config.max_inflight,
            )
            self.commands = CommandExecutor(site=config.site, outbox=self.outbox, docks=self.docks)
        except BaseException:
            self._close()
            raise
        self._task = asyncio.create_task(self._run(), name=f"edge[{config.site}]")
        logger.info(
            "edge agent for site %s started: %d dock(s), outbox %s (depth %d)",
            config.site,
            len(self.docks),
            config.outbox_path,
            self.outbox.depth(),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()
        logger.info("edge agent for site %s stopped", self.config.site)

    def _build_dock(self, dock: DockConfig) -> DockWorkflow:
        open_port = self._transport_factory
        scanner = ScannerCoordinator(
            device=f"{dock.id}/scanner",
            dock=dock.id,
            transport=open_port(dock.scanner.url, _serial(dock.scanner.serial)),
            settings=ScannerSettings(
                suffix=dock.scanner.suffix,
                aim_prefix=dock.scanner.aim_prefix,
                separators=dock.scanner.separators,
                location_pattern=dock.scanner.location_pattern,
            ),
            outbox=self.outbox,
        )
        scale_cfg = dock.scale
        scale_serial = (
            _serial(scale_cfg.serial)
            if scale_cfg.serial
            else SCALE_SERIAL_SETTINGS[scale_cfg.protocol]
        )
        scale = ScaleCoordinator(
            device=f"{dock.id}/scale",
            transport=open_port(scale_cfg.url, scale_serial),
            codec=scale_codec(scale_cfg.protocol, scale_cfg.unit),
            outbox=self.outbox,
            stable_timeout_s=scale_cfg.stable_timeout_s,
            min_kg=scale_cfg.min_kg,
            poll_interval_s=scale_cfg.poll_interval_s,
        )
        printer = PrinterCoordinator(
            device=f"{dock.id}/printer",
            dock=dock.id,
            transport=open_port(dock.printer.url, _serial(dock.printer.serial)),
            outbox=self.outbox,
            status_poll_s=dock.printer.status_poll_s,
        )
        return DockWorkflow(
            dock=dock.id,
            site=self.config.site,
            outbox=self.outbox,
            scanner=scanner,
            scale=scale,
            printer=printer,
            reply_timeout_s=self.config.reply_timeout_s,
        )

    def _build_dock_control(self) -> None:
        """Sensors, signal lights and loading checks of every dock, on one sensor bus."""
        config = self.config
        bus = DockSensorBus(
            broker=config.sensor_broker or config.broker,
            client_id=f"{config.client_id}-docks",
            site=config.site,
            outbox=self.outbox,
            deliver=self._sensor_reading,
        )
        registry = LoadRegistry.from_outbox(self.outbox)
        for dock in config.docks:
            workflow = self.docks[dock.id]
            workflow.control = DockControl(
                dock=dock.id,
                site=config.site,
                outbox=self.outbox,
                printer=workflow.printer,
                registry=registry,
                timers=DockTimers(
                    max_docked_s=dock.max_docked_s, door_open_max_s=dock.door_open_max_s
                ),
                signal=bus.publish_signal,
            )
            for sensor in dock.sensors:
                bus.add(dock.id, sensor)
        self.sensors = bus

    def _sensor_reading(self, binding: SensorBinding, reading: SensorReading) -> None:
        control = self.docks[binding.dock].control
        if control is not None:
            control.sensor_reading(binding.role, binding.device, reading)

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.uplink.run(), name="uplink")
            tg.create_task(self.commands.run(self.uplink.commands()), name="commands")
            tg.create_task(self._log_health(), name="health")
            if self.sensors is not None:
                tg.create_task(self.sensors.run(), name="sensors")
            for dock_id, workflow in self.docks.items():
                tg.create_task(workflow.run(), name=f"{dock_id}.workflow")
                if workflow.control is not None:
                    tg.create_task(workflow.control.run(), name=f"{dock_id}.control")
                tg.create_task(workflow.scale.run(), name=f"{dock_id}.scale")
                tg.create_task(workflow.printer.run(), name=f"{dock_id}.printer")

    async def wait(self) -> None:
        """Wait until the agent stops on its own (only if one of its tasks failed)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def _close(self) -> None:
        for workflow in self.docks.values():
            workflow.scanner.close()
            workflow.scale.close()
            workflow.printer.close()
        self.outbox.close()

    def health(self) -> EdgeHealth:
        """The edge's health: broker connection, outbox depth and age, device states."""
        devices = []
        for workflow in self.docks.values():
            for coordinator in (workflow.scanner, workflow.scale, workflow.printer):
                h = coordinator.health
                devices.append(
                    DeviceHealthReport(
                        device=h.device, state=str(h.state or "unknown"), detail=h.detail
                    )
                )
        for binding in self.sensors.bindings if self.sensors is not None else []:
            h = binding.health
            devices.append(
                DeviceHealthReport(
                    device=h.device, state=str(h.state or "unknown"), detail=h.detail
                )
            )
        return EdgeHealth(
            site=self.config.site,
            broker_connected=self.uplink.connected,
            outbox_depth=self.outbox.depth(),
            oldest_event_age_s=self.outbox.oldest_age_s(),
            last_acked_seq=self.outbox.last_acked(),
            last_seq=self.outbox.last_seq(),
            devices=tuple(devices),
        )

    async def _log_health(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_log_s)
            h = self.health()
            age = "-" if h.oldest_event_age_s is None else f"{h.oldest_event_age_s:.0f} s"
            offline = [d.device for d in h.devices if d.state != "online"]
            logger.info(
                "health %s: broker %s, outbox depth %d, oldest event %s, acked up to %d of %d%s",
                h.site,
                "connected" if h.broker_connected else "DOWN",
                h.outbox_depth,
                age,
                h.last_acked_seq,
                h.last_seq,
                f", not online: {', '.join(offline)}" if offline else "",
            )


async def run_edge(config: EdgeConfig, *, stop: asyncio.Event | None = None) -> None:
    """Run an edge agent until `stop` is set (forever if None) or one of its tasks fails."""
    async with EdgeAgent(config) as agent:
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(agent.wait(), name="edge.wait")]
        if stop is not None:
            waiters.append(asyncio.create_task(stop.wait(), name="edge.stop"))
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        for finished in done:
            finished.result()
