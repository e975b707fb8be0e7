"""Ingest throughput: events/s from an edge through the broker into central's database.

Measured in the same run, on the same broker:
- baseline: the same messages, publisher → broker → a subscriber that only counts them;
- ingest: publisher → broker → central's MQTT ingest → IngestService (one DB transaction per
  event: order check, stock move, balances, command outbox) → ack back to the publisher.
The figure that matters is the ratio ingest / baseline; absolute rates vary by machine.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central.settings import CentralSettings
from contracts import Ack, Envelope, GoodsReceived, PutawayConfirmed, Topics, new_event_id
from contracts.envelope import utc_now
from contracts.events import EventType, payload_data
from firmware_sim.scenario import inbound_truck
from wms.central_runner import CentralServer
from wms.embedded_broker import EmbeddedBroker, free_port
from wms.mqtt_admin import clear_session
from wms.seed import Layout, seed_site, seed_truck

SITE = "BENCH"
DOCK = "dock-1"


@dataclass(frozen=True)
class IngestFigures:
    """One broker's figures."""

    broker: str
    events: int
    baseline_msgs_per_s: float
    ingest_events_per_s: float
    ratio: float


def _client(url: str, client_id: str) -> mqtt.Client:
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.max_inflight_messages_set(200)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    return client


def _envelopes(pallets: int) -> list[Envelope]:
    manifest = inbound_truck(site=SITE, dock=DOCK, pallets=pallets, seed=11)
    layout = Layout(aisles="ABCDEFGHIJKL", bays=30, levels=4)
    bins = [str(b["code"]) for b in layout.bins(SITE)]
    out: list[Envelope] = []
    seq = 0
    for pallet, bin_code in zip(manifest.pallets, bins, strict=False):
        for kind, payload in (
            (
                EventType.GOODS_RECEIVED,
                GoodsReceived(
                    dock=DOCK,
                    sscc=pallet.sscc,
                    gtin=pallet.item.gtin,
                    batch=pallet.batch,
                    expiry=pallet.expiry,
                    quantity=Decimal(pallet.count),
                    weight_kg=pallet.weight_kg,
                    barcode=pallet.label,
                ),
            ),
            (
                EventType.PUTAWAY_CONFIRMED,
                PutawayConfirmed(dock=DOCK, sscc=pallet.sscc, location=bin_code),
            ),
        ):
            seq += 1
            out.append(
                Envelope(
                    id=new_event_id(),
                    site=SITE,
                    seq=seq,
                    source=f"{DOCK}/bench",
                    type=kind,
                    at=utc_now(),
                    data=payload_data(payload),
                )
            )
    return out


def _baseline(url: str, messages: list[bytes]) -> float:
    topic = f"bench/{new_event_id()}"
    done = threading.Event()
    received = 0

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == len(messages):
            done.set()

    sub = _client(url, f"bench-sub-{new_event_id()}")
    sub.on_message = on_message
    sub.subscribe(topic, qos=1)
    time.sleep(0.5)
    pub = _client(url, f"bench-pub-{new_event_id()}")
    start = time.perf_counter()
    for payload in messages:
        pub.publish(topic, payload, qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - start
    for client in (sub, pub):
        client.disconnect()
        client.loop_stop()
    return len(messages) / elapsed


def _ingest(url: str, envelopes: list[Envelope], workdir: Path) -> float:
    port = free_port()
    settings = CentralSettings(
        database_url=f"sqlite:///{workdir / 'bench.db'}",
        mqtt_url=url,
        api_port=port,
        mqtt_client_id="bench-central",
    )
    central = CentralServer(settings)
    central.start()
    try:
        pallets = len(envelopes) // 2
        with httpx.Client(base_url=central.url, timeout=60) as client:
            seed_site(
                client,
                site=SITE,
                docks=[DOCK],
                layout=Layout(aisles="ABCDEFGHIJKL", bays=30, levels=4),
            )
            seed_truck(client, inbound_truck(site=SITE, dock=DOCK, pallets=pallets, seed=11))
        topics = Topics(SITE)
        acked = threading.Event()
        last = envelopes[-1].seq

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            if msg.topic == topics.down_ack and Ack.from_json(msg.payload).upto >= last:
                acked.set()

        edge = _client(url, f"bench-edge-{new_event_id()}")
        edge.on_message = on_message
        edge.subscribe(topics.down_ack, qos=1)
        time.sleep(0.5)
        start = time.perf_counter()
        for envelope in envelopes:
            edge.publish(topics.up_events, envelope.to_json(), qos=1)
        if not acked.wait(600):
            raise RuntimeError("central did not ack every event within 10 minutes")
        elapsed = time.perf_counter() - start
        edge.disconnect()
        edge.loop_stop()
        return len(envelopes) / elapsed
    finally:
        central.stop()
        clear_session(url, "bench-central")


def run(
    *, pallets: int = 500, mosquitto_url: str | None = "mqtt://127.0.0.1:1883"
) -> list[IngestFigures]:
    """Measure both brokers (Mosquitto only if reachable)."""
    envelopes = _envelopes(pallets)
    figures = []
    brokers: list[tuple[str, str | None]] = [("amqtt (embedded)", None)]
    if mosquitto_url:
        brokers.append(("mosquitto", mosquitto_url))
    for name, url in brokers:
        with TemporaryDirectory() as tmp:
            if url is None:
                with EmbeddedBroker() as broker:
                    base = _baseline(broker.url, [e.to_json() for e in envelopes])
                    rate = _ingest(broker.url, envelopes, Path(tmp))
            else:
                try:
                    base = _baseline(url, [e.to_json() for e in envelopes])
                except OSError:
                    continue
                rate = _ingest(url, envelopes, Path(tmp))
        figures.append(IngestFigures(name, len(envelopes), base, rate, rate / base))
    return figures


def main(results_dir: Path) -> list[IngestFigures]:
    """Run and write results/ingest.json; return the figures."""
    figures = run()
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "ingest.json").write_text(json.dumps([asdict(f) for f in figures], indent=2))
    return figures
