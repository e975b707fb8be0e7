"""The `wms` command line: central, edge, simulated devices and the demo."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from wms.demo import DemoResult, OutboundResult
from wms.demo_routes import DeliveryResult
from wms.ledger_cli import ledger_app
from wms.loads_cli import docks_app, loads_app
from wms.logs import configure_logging
from wms.routes_cli import routes_app
from wms.slotting_cli import slotting_app

app = typer.Typer(help="wms-edge: warehouse edge agents and central WMS.", no_args_is_help=True)
sim_app = typer.Typer(help="Simulated devices that speak the real protocols.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(ledger_app, name="ledger")
app.add_typer(slotting_app, name="slotting")
app.add_typer(loads_app, name="loads")
app.add_typer(docks_app, name="docks")
app.add_typer(routes_app, name="routes")
console = Console()
logger = logging.getLogger("wms")

LogFormat = Annotated[str, typer.Option("--log-format", help="json or text")]


def _logging(level: str, fmt: str, process: str) -> None:
    style: Literal["json", "text"] = "text" if fmt == "text" else "json"
    configure_logging(level, style=style, process=process)


@app.command()
def central(
    ingest_only: Annotated[bool, typer.Option("--ingest-only", help="MQTT ingest, no API")] = False,
    no_ingest: Annotated[bool, typer.Option("--no-ingest", help="API only, no MQTT")] = False,
    host: Annotated[str | None, typer.Option(help="API bind address")] = None,
    port: Annotated[int | None, typer.Option(help="API port")] = None,
    log_level: str = "INFO",
    log_format: LogFormat = "json",
) -> None:
    """Run central: API and MQTT ingest (settings from env: DATABASE_URL, MQTT_URL...)."""
    from central.settings import CentralSettings
    from wms.central_runner import CentralServer

    if ingest_only and no_ingest:
        raise typer.BadParameter("--ingest-only and --no-ingest exclude each other")
    _logging(log_level, log_format, "central")
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["api_host"] = host
    if port is not None:
        overrides["api_port"] = port
    settings = CentralSettings(**overrides)  # type: ignore[arg-type]
    server = CentralServer(settings, api=not ingest_only, ingest=not no_ingest)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def edge(
    config: Annotated[Path, typer.Option("--config", "-c", help="the site's YAML config")],
    log_level: str = "INFO",
    log_format: LogFormat = "json",
) -> None:
    """Run one site's edge agent."""
    from edge_agent.agent import run_edge
    from edge_agent.config import load_config
    from edge_agent.errors import EdgeConfigError

    _logging(log_level, log_format, "edge")
    try:
        cfg = load_config(config)
    except EdgeConfigError as err:
        console.print(f"[red]config error:[/red] {err}")
        raise typer.Exit(2) from err

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_edge(cfg, stop=stop)

    asyncio.run(main())


@sim_app.command("dock")
def sim_dock(
    out_dir: Annotated[Path, typer.Option(help="where printed labels go")] = Path("var/sim/labels"),
    scale: Annotated[str, typer.Option(help="mt-sics or toledo-8217")] = "mt-sics",
    printer_link: Annotated[str, typer.Option(help="pty or tcp")] = "pty",
    truck: Annotated[int, typer.Option(help="receive a truck of N pallets (0: just serve)")] = 0,
    central_url: Annotated[str, typer.Option(help="central API, to load the truck's ASN")] = (
        "http://127.0.0.1:8000"
    ),
    site: str = "WH1",
    dock: str = "dock-1",
    seed: int = 1,
    log_level: str = "INFO",
    log_format: LogFormat = "text",
) -> None:
    """Start a simulated dock and print the device URLs for the edge config.

    With --truck N, also load the truck's items and ASN into central and receive it as a dock
    worker would, once the edge is connected.
    """
    import httpx

    from firmware_sim.scenario import DockWorker, SimulatedDock, inbound_truck
    from wms.seed import Layout, seed_site, seed_truck

    if scale not in ("mt-sics", "toledo-8217") or printer_link not in ("pty", "tcp"):
        raise typer.BadParameter("--scale is mt-sics|toledo-8217, --printer-link pty|tcp")
    _logging(log_level, log_format, "sim")
    with SimulatedDock(
        out_dir=out_dir,
        scale_protocol=scale,  # type: ignore[arg-type]
        printer_link=printer_link,  # type: ignore[arg-type]
        seed=seed,
    ) as sim:
        urls = sim.urls
        # Plain stdout lines, so scripts (and tests) can read the URLs.
        typer.echo(f"scanner: {urls.scanner}")
        typer.echo(f"scale: {urls.scale} ({scale})")
        typer.echo(f"printer: {urls.printer}")
        typer.echo(f"labels: {out_dir}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            if truck:
                manifest = inbound_truck(site=site, dock=dock, pallets=truck, seed=seed)
                with httpx.Client(base_url=central_url, timeout=30) as client:
                    seed_site(client, site=site, docks=[dock], layout=Layout())
                    seed_truck(client, manifest)
                typer.echo("truck: ready")
                report = DockWorker(sim, stop=stop).receive(manifest)
                typer.echo(f"truck: done, {report.put_away}/{len(manifest.pallets)} put away")
            stop.wait()
        except KeyboardInterrupt:
            pass


@sim_app.command("drive")
def sim_drive(
    links: Annotated[
        list[str], typer.Argument(help="driver page links (the QR codes on the route sheets)")
    ],
    broker: Annotated[str, typer.Option(help="MQTT broker of the vehicles' telematics")] = (
        "mqtt://127.0.0.1:1883"
    ),
    speedup: Annotated[
        float, typer.Option(help="simulated time per real time (0: as fast as possible)")
    ] = 60,
    delay: Annotated[
        list[str] | None, typer.Option(help="ROUTE:LEG:MINUTES stand in traffic on a leg")
    ] = None,
    detour: Annotated[
        list[str] | None, typer.Option(help="ROUTE:LEG:KM bend a leg sideways")
    ] = None,
    sample_every: Annotated[float, typer.Option(help="seconds between positions")] = 60,
    log_level: str = "INFO",
    log_format: LogFormat = "text",
) -> None:
    """Drive routes as their vehicles and drivers would: positions over MQTT, arrivals and
    proofs of delivery through each route's driver page, with optional delays and detours."""
    from firmware_sim.driver import DriverClient, DriverLinkError
    from firmware_sim.telematics import (
        Delay,
        Detour,
        DriveInput,
        MqttPositionPublisher,
        plan_drive,
        play,
    )

    _logging(log_level, log_format, "sim-drive")
    disturbances: dict[int, list[Delay | Detour]] = {}
    asked = [(d, Delay) for d in delay or []] + [(d, Detour) for d in detour or []]
    for text, kind in asked:
        try:
            route, leg, amount = text.split(":")
            made = (
                Delay(int(leg), float(amount)) if kind is Delay else Detour(int(leg), float(amount))
            )
        except ValueError as err:
            raise typer.BadParameter(f"{text!r} is not ROUTE:LEG:AMOUNT ({err})") from err
        disturbances.setdefault(int(route), []).append(made)
    with ExitStack() as stack:
        try:
            drivers = {c.route_id: c for c in (DriverClient.from_qr(link) for link in links)}
        except DriverLinkError as err:
            raise typer.BadParameter(str(err)) from err
        for client in drivers.values():
            stack.enter_context(client)
        timelines = [
            plan_drive(
                DriveInput.from_status(client.status()),
                sample_every_s=sample_every,
                disturbances=disturbances.get(route_id, ()),
            )
            for route_id, client in drivers.items()
        ]
        publisher = stack.enter_context(MqttPositionPublisher(broker))
        stats = play(timelines, publisher=publisher, drivers=drivers, speedup=speedup or None)
    console.print(
        f"drove {len(timelines)} routes: {stats.positions} positions, {stats.reports} reports"
    )


@app.command()
def demo(
    port: int = 8000,
    host: str = "127.0.0.1",
    pallets: int = 40,
    serve: Annotated[bool, typer.Option(help="keep serving the API afterwards")] = True,
    workdir: Path = Path("var/demo"),
    log_level: str = "WARNING",
    speedup: Annotated[
        float, typer.Option(help="how much faster than real time the delivery day runs")
    ] = 600,
) -> None:
    """Run a simulated warehouse day on the embedded default and serve central."""
    import os

    from wms.demo import DemoOptions, run_demo

    configure_logging(log_level, style="text", process="demo")
    console.print(f"[bold]wms-edge demo[/bold]: receiving a {pallets}-pallet truck at WH1 dock-1")
    options = DemoOptions(
        workdir=workdir,
        host=host,
        port=port,
        pallets=pallets,
        serve=serve,
        mqtt_url=os.environ.get("MQTT_URL") or None,
        delivery_speedup=speedup,
    )
    run_demo(options, on_done=_print_demo_summary)
    if serve:
        console.print("Stopped.")


def _print_outbound(outbound: OutboundResult) -> None:
    plan = Table(
        title=f"Outbound {outbound.reference}: load plan ({outbound.solver_status}), "
        f"loading order front to doors"
    )
    for column in ("seq", "row", "col", "stop", "SSCC"):
        plan.add_column(column)
    for p in outbound.placements:
        plan.add_row(
            str(p["sequence"]),
            str(int(p["row"]) + 1),
            str(int(p["column"]) + 1),
            str(p["stop_index"]),
            str(p["sscc"]),
        )
    console.print(plan)
    for axle in outbound.axle_loads:
        console.print(
            f"  {axle['support']}: {axle['load_kg']} kg (limit {axle['max_kg']} kg)"
            f"{'' if axle['within_limits'] else '  OVER LIMIT'}"
        )
    for slip in outbound.loading.alarms:
        console.print(f"  alarm at the dock: {' / '.join(ln for ln in slip.lines if ln.strip())}")
    console.print(
        f"  loaded {len(outbound.loading.loaded)} pallets by the printed sheet; "
        f"shipment {outbound.status}; trailer floor: {outbound.floor_svg.resolve()}"
    )


def _print_deliveries(day: DeliveryResult, api_url: str) -> None:
    plan = day.plan
    console.print(
        f"[bold]Delivery day[/bold]: route plan {plan['id']} ({plan['engine']}, "
        f"{plan['status']}), {len(plan['routes'])} routes, cost {plan['cost']}"
        + (f", not planned: {', '.join(plan['dropped'])}" if plan["dropped"] else "")
    )
    sheets = {s.route_id: s for s in day.sheets}
    table = Table(title="Routes as driven (GET /routes/plans/{id}/status)")
    for column in ("route", "vehicle", "stops", "delivered", "failed", "late", "sheet", "state"):
        table.add_column(column)
    for route in day.routes:
        stops = route["stops"]
        sheet = sheets.get(int(route["route_id"]))
        table.add_row(
            str(route["route_id"]),
            str(route["vehicle_ref"])
            + (" (loaded at the dock)" if route["route_id"] == day.shipped_route else ""),
            str(len(stops)),
            str(sum(s["state"] == "delivered" for s in stops)),
            str(sum(s["state"] == "failed" for s in stops)),
            str(sum(int(s["late_by_s"]) > 0 for s in stops)),
            "" if sheet is None else f"job-{sheet.job:04d}",
            str(route["state"]),
        )
    console.print(table)
    drive = day.drive
    console.print(
        f"  {drive.positions} positions over MQTT, {drive.reports} driver reports through the "
        f"route pages; {drive.late_vehicle} held up {drive.delay_min} min in traffic"
        + (f"; {drive.failed}: customer closed" if drive.failed else "")
    )
    for alert in day.alerts:
        console.print(f"  alert [red]{alert['kind']}[/red] ({alert['status']}): {alert['message']}")
    first = day.sheets[0] if day.sheets else None
    if first is not None:
        console.print(f"  driver page of route {first.route_id}: {first.qr}")
        console.print(f"  route sheet PDF: {api_url}/routes/{first.route_id}/sheet.pdf")


def _print_demo_summary(result: DemoResult) -> None:
    table = Table(title=f"Truck {result.manifest.reference}: pallets received")
    for column in ("SSCC", "item", "qty", "weight kg", "bin", "labels"):
        table.add_column(column)
    by_sscc = {p.sscc: p for p in result.manifest.pallets}
    for outcome in result.report.pallets:
        spec = by_sscc[outcome.sscc]
        table.add_row(
            outcome.sscc,
            spec.item.name,
            str(spec.count),
            str(spec.weight_kg),
            outcome.location or f"HOLD: {outcome.hold_reason}",
            ", ".join(f"job-{job.number:04d}" for job in outcome.labels),
        )
    console.print(table)
    console.print(
        f"{result.report.put_away}/{len(result.manifest.pallets)} pallets put away; "
        f"{result.stock_rows} stock rows in central."
    )
    books = Table(title="Trial balance (GET /trial-balance?site=WH1)")
    for column in ("account", "name", "debit", "credit"):
        books.add_column(column, justify="right" if column in ("debit", "credit") else "left")
    for row in result.trial_balance:
        books.add_row(row["account"], row["name"], row["debit"], row["credit"])
    console.print(books)
    if result.outbound is not None:
        _print_outbound(result.outbound)
    if result.deliveries is not None:
        _print_deliveries(result.deliveries, result.api_url)
    console.print(f"Printed labels (text + PNG): {result.labels_dir.resolve()}")
    console.print(f"Edge config used: {result.edge_config.resolve()}")
    console.print(
        f"API: {result.api_url}/docs (try GET /stock?site=WH1, /alerts, /events, /journal)"
    )
