"""IngestService against SQLite and PostgreSQL: receiving, putaway, exactly once, in order."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from central.domain.putaway import Point, rectilinear_distance
from central.ingest import IngestOutcome, IngestService
from central.store import tables as t
from contracts import Command, CommandType, PrintLabel, command_payload
from tests.integration.central.scenario import (
    OTHER_GTIN,
    PALLET_KG,
    PALLET_QTY,
    UNKNOWN_GTIN,
    EdgeStream,
    sscc,
)


def stock_by_location(engine: Engine, site: str) -> dict[tuple[str, str | None], Decimal]:
    """Non-zero balances as {(location code, sscc): quantity}."""
    with Session(engine) as session:
        rows = session.exec(
            select(t.StockBalance, t.Location)
            .join(t.Location, col(t.Location.id) == t.StockBalance.location_id)
            .where(t.StockBalance.site_code == site)
        ).all()
        ssccs = {hu.id: hu.sscc for hu in session.exec(select(t.HandlingUnit)).all()}
        return {
            (location.code, ssccs.get(balance.handling_unit_id)): balance.quantity
            for balance, location in rows
            if balance.quantity != 0
        }


def count(engine: Engine, table: type, **where: object) -> int:
    with Session(engine) as session:
        statement = select(func.count()).select_from(table)
        for name, value in where.items():
            statement = statement.where(getattr(table, name) == value)
        return int(session.exec(statement).one())


def label_of(outcome: IngestOutcome) -> PrintLabel:
    assert len(outcome.commands) == 1
    payload = command_payload(outcome.commands[0])
    assert isinstance(payload, PrintLabel)
    return payload


def receive_and_put_away(service: IngestService, stream: EdgeStream, pallets: int) -> list[bytes]:
    """Run the inbound flow for `pallets` pallets; return every message sent, in order."""
    sent = []
    for serial in range(1, pallets + 1):
        raw = stream.goods_received(serial)
        sent.append(raw)
        outcome = service.handle(raw, topic=stream.topic)
        assert outcome.ack_upto == stream.seq
        label = label_of(outcome)
        assert label.label.hold_reason is None
        assert label.label.location is not None
        raw = stream.putaway(serial, label.label.location)
        sent.append(raw)
        assert service.handle(raw, topic=stream.topic).ack_upto == stream.seq
    return sent


def test_forty_pallets_are_received_and_put_away_into_the_nearest_free_bins(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    receive_and_put_away(service, stream, 40)

    stock = stock_by_location(seeded, stream.site)
    assert len(stock) == 40
    assert all(qty == PALLET_QTY for qty in stock.values())
    assert {key[1] for key in stock} == {sscc(i) for i in range(1, 41)}
    assert not any(location == "RCV-1" for location, _ in stock)
    with Session(seeded) as session:
        bins = session.exec(
            select(t.Location).where(t.Location.site_code == stream.site, t.Location.kind == "bin")
        ).all()
        used = {location for location, _ in stock}
        dock = Point(Decimal(0), Decimal(0))
        farthest_used = max(
            rectilinear_distance(dock, Point(b.x, b.y)) for b in bins if b.code in used
        )
        nearest_unused = min(
            rectilinear_distance(dock, Point(b.x, b.y)) for b in bins if b.code not in used
        )
        assert farthest_used <= nearest_unused
        lines = session.exec(select(t.ExpectedReceiptLine)).all()
        assert all(line.received_quantity == line.quantity for line in lines)
        units = session.exec(select(t.HandlingUnit)).all()
        assert {u.status for u in units} == {"stored"}
    assert count(seeded, t.PutawayTask, status="done") == 40
    assert count(seeded, t.AppliedEvent, site_code=stream.site) == 80
    assert count(seeded, t.Alert, site_code=stream.site) == 0


def test_every_event_handled_twice_changes_nothing_the_second_time(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    for serial in range(1, 6):
        raw = stream.goods_received(serial)
        first = service.handle(raw, topic=stream.topic)
        again = service.handle(raw, topic=stream.topic)
        assert again.ack_upto == first.ack_upto == stream.seq
        # The unconfirmed label command is handed back with its original id, not a new one.
        assert [c.id for c in again.commands] == [c.id for c in first.commands]
        raw = stream.putaway(serial, label_of(first).label.location or "")
        assert service.handle(raw, topic=stream.topic).ack_upto == stream.seq
        assert service.handle(raw, topic=stream.topic) == IngestOutcome(stream.site, stream.seq)

    assert len(stock_by_location(seeded, stream.site)) == 5
    assert count(seeded, t.StockMove, site_code=stream.site) == 10
    assert count(seeded, t.CommandOutbox, site_code=stream.site) == 5
    assert count(seeded, t.AppliedEvent, site_code=stream.site) == 10


def test_events_after_a_gap_wait_and_are_applied_in_order_once_it_is_filled(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    first, second, third = (stream.goods_received(i) for i in (1, 2, 3))

    assert service.handle(third, topic=stream.topic) == IngestOutcome(stream.site, 0)
    assert service.handle(second, topic=stream.topic) == IngestOutcome(stream.site, 0)
    assert service.buffered(stream.site) == [2, 3]
    assert count(seeded, t.AppliedEvent, site_code=stream.site) == 0

    outcome = service.handle(first, topic=stream.topic)

    assert outcome.ack_upto == 3
    assert len(outcome.commands) == 3
    assert service.buffered(stream.site) == []
    with Session(seeded) as session:
        applied = session.exec(
            select(t.AppliedEvent).order_by(col(t.AppliedEvent.applied_at))
        ).all()
        assert [a.seq for a in applied] == [1, 2, 3]
        assert [a.event_id for a in applied] == [stream.ids[1], stream.ids[2], stream.ids[3]]


def test_unreadable_message_is_dead_lettered_and_cannot_be_acked(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    outcome = service.handle(b"\x00\xffnot json", topic=stream.topic)
    again = service.handle(b"\x00\xffnot json", topic=stream.topic)

    assert outcome == again == IngestOutcome(None, None)
    with Session(seeded) as session:
        letters = session.exec(select(t.RejectedEvent)).all()
        assert len(letters) == 1
        assert letters[0].occurrences == 2
        assert "unreadable event" in letters[0].reason
        assert letters[0].raw.startswith("\\x00\\xff")
    assert count(seeded, t.Alert, kind="rejected_event") == 1


def test_bad_payload_with_readable_site_and_seq_is_dead_lettered_applied_and_acked(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    bad = stream.event("goods.received", {"dock": "dock-1", "gtin": "not-a-gtin"})
    good = stream.goods_received(1)

    assert service.handle(bad, topic=stream.topic).ack_upto == 1
    assert service.handle(good, topic=stream.topic).ack_upto == 2
    with Session(seeded) as session:
        letter = session.exec(select(t.RejectedEvent)).one()
        assert (letter.site_code, letter.seq, letter.event_id) == (stream.site, 1, stream.ids[1])
        assert letter.counted_as_applied
        assert "gtin" in letter.reason
        applied = session.get(t.AppliedEvent, (stream.site, 1))
        assert applied is not None and applied.outcome == "rejected"


def test_event_on_another_sites_topic_is_dead_lettered_and_not_acked(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    raw = stream.goods_received(1)

    assert service.handle(raw, topic="wms/OTHER/up/events") == IngestOutcome(None, None)
    assert count(seeded, t.AppliedEvent) == 0
    assert count(seeded, t.RejectedEvent) == 1


def test_unknown_sscc_is_booked_on_hold_with_an_alert_and_a_hold_label(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    outcome = service.handle(stream.goods_received(999), topic=stream.topic)

    label = label_of(outcome).label
    assert label.location is None
    assert label.hold_reason is not None and "not on any open expected receipt" in label.hold_reason
    assert stock_by_location(seeded, stream.site) == {("RCV-1", sscc(999)): PALLET_QTY}
    assert count(seeded, t.Alert, kind="unexpected_pallet") == 1
    assert count(seeded, t.PutawayTask) == 0
    assert count(seeded, t.HandlingUnit, status="hold") == 1


def test_weight_out_of_tolerance_is_booked_on_hold_with_an_alert(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    heavy = PALLET_KG * Decimal("1.03")
    outcome = service.handle(stream.goods_received(1, weight_kg=heavy), topic=stream.topic)

    label = label_of(outcome).label
    assert label.location is None
    assert label.hold_reason is not None and "weight" in label.hold_reason
    assert stock_by_location(seeded, stream.site) == {("RCV-1", sscc(1)): PALLET_QTY}
    assert count(seeded, t.Alert, kind="weight_out_of_tolerance") == 1
    with Session(seeded) as session:
        applied = session.get(t.AppliedEvent, (stream.site, 1))
        assert applied is not None and applied.outcome == "discrepancy"


def test_same_sscc_twice_is_a_duplicate_discrepancy(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    service.handle(stream.goods_received(1), topic=stream.topic)
    outcome = service.handle(stream.goods_received(1), topic=stream.topic)

    assert "already received" in (label_of(outcome).label.hold_reason or "")
    assert count(seeded, t.Alert, kind="duplicate_sscc") == 1
    assert count(seeded, t.HandlingUnit) == 1


def test_unknown_item_is_dead_lettered_with_a_hold_label_and_can_be_reapplied(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    from central.master_data import create_item
    from central.schemas import ItemCreate

    outcome = service.handle(stream.goods_received(None, gtin=UNKNOWN_GTIN), topic=stream.topic)

    assert outcome.ack_upto == 1
    assert "unknown item" in (label_of(outcome).label.hold_reason or "")
    assert stock_by_location(seeded, stream.site) == {}
    with Session(seeded) as session:
        letter_id = session.exec(select(t.RejectedEvent.id)).one()
        create_item(session=session, item_in=ItemCreate(gtin=UNKNOWN_GTIN, name="New thing"))
        session.commit()
    assert letter_id is not None

    reapplied = service.reapply_dead_letter(letter_id)

    assert stock_by_location(seeded, stream.site) == {("RCV-1", None): PALLET_QTY}
    assert len(reapplied.commands) == 1
    assert [c.id for c in service.pending_commands(older_than_s=60)] == [reapplied.commands[0].id]
    with Session(seeded) as session:
        row = session.get(t.RejectedEvent, letter_id)
        assert row is not None and row.status == "reapplied"


def test_putaway_of_an_unknown_pallet_is_dead_lettered_and_acked(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    outcome = service.handle(stream.putaway(77, "A-01-01"), topic=stream.topic)

    assert outcome.ack_upto == 1
    assert count(seeded, t.RejectedEvent, counted_as_applied=True) == 1
    assert count(seeded, t.StockMove) == 0


def test_same_seq_with_another_event_id_is_a_conflicting_replay(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    service.handle(stream.goods_received(1), topic=stream.topic)
    stream.seq = 0
    impostor = stream.goods_received(2)

    assert service.handle(impostor, topic=stream.topic).ack_upto == 1
    assert count(seeded, t.HandlingUnit) == 1
    with Session(seeded) as session:
        letter_reasons = list(session.exec(select(t.RejectedEvent.reason)).all())
    assert len(letter_reasons) == 1 and "conflicting replay" in letter_reasons[0]


def test_label_commands_are_resent_until_the_edge_reports_them_done(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    command = service.handle(stream.goods_received(1), topic=stream.topic).commands[0]

    assert service.pending_commands(older_than_s=60) == []
    resent = service.pending_commands(older_than_s=0)
    assert [c.id for c in resent] == [command.id]
    assert resent[0] == command

    done = stream.event("command.done", {"command_id": str(command.id), "ok": True})
    service.handle(done, topic=stream.topic)

    assert service.pending_commands(older_than_s=0) == []


def test_device_events_update_device_health_and_raise_alerts(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    events = [
        stream.event("device.status", {"device": "dock-1/printer", "state": "paper_end"}),
        stream.event(
            "device.error", {"device": "dock-1/scale", "reason": "bad frame", "raw_hex": "ff00"}
        ),
        stream.event(
            "scan.rejected",
            {
                "dock": "dock-1",
                "device": "dock-1/scanner",
                "code": "123",
                "reason": "bad check digit",
            },
        ),
    ]
    for raw in events:
        service.handle(raw, topic=stream.topic)

    with Session(seeded) as session:
        devices = {d.device: d.state for d in session.exec(select(t.DeviceStatus)).all()}
    assert devices == {"dock-1/printer": "paper_end", "dock-1/scale": "error"}
    assert count(seeded, t.Alert, kind="device_error") == 1
    assert count(seeded, t.Alert, kind="scan_rejected") == 1


def test_two_workers_on_one_database_apply_each_event_exactly_once(
    seeded: Engine, database_url: str, stream: EdgeStream
) -> None:
    from central.store.db import make_engine

    messages = []
    for serial in range(1, 21):
        messages.append(stream.goods_received(serial))
        messages.append(
            stream.event("device.status", {"device": f"dock-1/d{serial}", "state": "online"})
        )
    total = stream.seq
    other_engine = make_engine(database_url)
    workers = [IngestService(seeded), IngestService(other_engine)]
    labels: list[list[Command]] = [[], []]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        service, rng = workers[index], random.Random(index)
        order = list(range(total))
        rng.shuffle(order)
        try:
            acked = 0
            for i in order:
                outcome = service.handle(messages[i], topic=stream.topic)
                labels[index].extend(outcome.commands)
                acked = max(acked, outcome.ack_upto or 0)
            # Like the edge: resend everything above the ack until all is acknowledged.
            while acked < total:
                outcome = service.handle(messages[acked], topic=stream.topic)
                labels[index].extend(outcome.commands)
                acked = max(acked, outcome.ack_upto or 0)
        except BaseException as err:
            errors.append(err)

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors
        assert not any(thread.is_alive() for thread in threads)
    finally:
        other_engine.dispose()

    assert count(seeded, t.AppliedEvent, site_code=stream.site) == total
    assert count(seeded, t.HandlingUnit) == 20
    assert count(seeded, t.StockMove) == 20
    assert count(seeded, t.CommandOutbox) == 20
    assert count(seeded, t.PutawayTask, status="open") == 20
    with Session(seeded) as session:
        site = session.get(t.Site, stream.site)
        assert site is not None and site.last_seq == total
        suggested = session.exec(select(t.PutawayTask.suggested_location_id)).all()
        assert len(set(suggested)) == 20
    sent = {c.id for batch in labels for c in batch if c.type == CommandType.PRINT_LABEL}
    assert len(sent) == 20
    assert stock_by_location(seeded, stream.site) == {
        ("RCV-1", sscc(i)): PALLET_QTY for i in range(1, 21)
    }


def test_pallet_too_heavy_for_every_bin_waits_in_receiving_with_an_alert(
    service: IngestService, stream: EdgeStream, seeded: Engine
) -> None:
    from central.master_data import create_expected_receipt
    from central.schemas import ExpectedReceiptCreate, ExpectedReceiptLineCreate

    with Session(seeded) as session:
        create_expected_receipt(
            session=session,
            receipt_in=ExpectedReceiptCreate(
                site=stream.site,
                reference="PO-HEAVY",
                lines=[
                    ExpectedReceiptLineCreate(
                        gtin=OTHER_GTIN, quantity=Decimal(24), expected_weight_kg=Decimal(1200)
                    )
                ],
            ),
        )
        session.commit()

    outcome = service.handle(
        stream.goods_received(500, gtin=OTHER_GTIN, quantity=Decimal(24), weight_kg=Decimal(1200)),
        topic=stream.topic,
    )

    label = label_of(outcome).label
    assert (label.location, label.hold_reason) == (None, None)
    assert count(seeded, t.Alert, kind="no_free_bin") == 1
    assert stock_by_location(seeded, stream.site) == {("RCV-1", sscc(500)): Decimal(24)}


def test_events_of_a_site_central_does_not_know_wait_unacknowledged(
    service: IngestService, seeded: Engine
) -> None:
    stranger = EdgeStream("NOSUCHSITE")
    raw = stranger.goods_received(1)

    assert service.handle(raw, topic=stranger.topic) == IngestOutcome("NOSUCHSITE", None)
    assert service.handle(raw, topic=stranger.topic) == IngestOutcome("NOSUCHSITE", None)
    with Session(seeded) as session:
        letter = session.exec(select(t.RejectedEvent)).one()
    assert letter.occurrences == 2 and "not known to central" in letter.reason
    assert count(seeded, t.AppliedEvent) == 0


def test_an_early_event_is_applied_once_another_worker_fills_the_gap(
    seeded: Engine, stream: EdgeStream
) -> None:
    """With a shared subscription the gap-filling event often goes to the other worker."""
    here, there = IngestService(seeded), IngestService(seeded)
    first, second, third = (stream.goods_received(i) for i in (1, 2, 3))

    assert here.handle(second, topic=stream.topic).ack_upto == 0
    assert here.handle(third, topic=stream.topic).ack_upto == 0
    assert here.drain_buffered() == []  # nothing to do while the gap is open
    assert there.handle(first, topic=stream.topic).ack_upto == 1

    [outcome] = here.drain_buffered()
    assert outcome.ack_upto == 3
    assert len(outcome.commands) == 2  # the labels of pallets 2 and 3
    assert here.buffered(stream.site) == []
    assert count(seeded, t.AppliedEvent, site_code=stream.site) == 3
