"""The dock's receiving state machine, step by step (pure: no devices, no clock)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import EventType, GoodsReceived, PutawayConfirmed, ScanRejected
from devices.scanner import PalletLabel
from edge_agent.receiving import (
    BinAnswered,
    Dock,
    DockInput,
    DockState,
    Emit,
    LocationScanned,
    PalletScanned,
    PrintNotice,
    PrintPending,
    ReplyTimedOut,
    StartReplyTimer,
    StartWeighing,
    WeighFailed,
    WeightStable,
    step,
)

SSCC_A = "376130321109103420"
SSCC_B = "376130321109103437"
GTIN = "07612345678900"


def pallet(sscc: str | None = SSCC_A, *, gtin: str | None = GTIN, count: int | None = 40):
    return PalletLabel(
        sscc=sscc,
        gtin=gtin,
        batch="L42",
        expiry=date(2027, 3, 1),
        count=count,
        net_weight_kg=None,
        hri=f"(00){sscc}" if sscc else f"(02){gtin}",
        symbology="]C1",
    )


def ids():
    counter = itertools.count(1)
    return lambda: UUID(int=next(counter))


def run(dock: Dock, *events: DockInput, new_id=None):
    new_id = new_id or ids()
    effects = []
    for event in events:
        dock, out = step(dock, event, new_id=new_id)
        effects.extend(out)
    return dock, effects


def emitted(effects, type_: EventType):
    return [e.payload for e in effects if isinstance(e, Emit) and e.type == type_]


def test_a_pallet_scan_starts_weighing():
    dock, effects = run(Dock("dock-1"), PalletScanned(pallet()))
    assert dock.state is DockState.WEIGHING
    assert effects == [StartWeighing(1)]


def test_the_first_stable_weight_books_the_pallet_and_starts_the_reply_timer():
    dock, effects = run(Dock("dock-1"), PalletScanned(pallet()), WeightStable(1, Decimal("612.4")))
    assert dock.state is DockState.AWAITING_BIN
    (received,) = emitted(effects, EventType.GOODS_RECEIVED)
    assert received == GoodsReceived(
        dock="dock-1",
        sscc=SSCC_A,
        gtin=GTIN,
        batch="L42",
        expiry=date(2027, 3, 1),
        quantity=Decimal(40),
        weight_kg=Decimal("612.4"),
        barcode=f"(00){SSCC_A}",
    )
    emit = next(e for e in effects if isinstance(e, Emit))
    assert emit.source == "dock-1/scale"
    assert emit.event_id == UUID(int=1)
    assert StartReplyTimer(UUID(int=1)) in effects


def test_quantity_is_one_without_an_ai37_count():
    _, effects = run(
        Dock("dock-1"), PalletScanned(pallet(count=None)), WeightStable(1, Decimal("80"))
    )
    (received,) = emitted(effects, EventType.GOODS_RECEIVED)
    assert received.quantity == Decimal(1)


def test_centrals_answer_moves_to_putaway_and_a_bin_scan_confirms_it():
    dock, effects = run(
        Dock("dock-1"),
        PalletScanned(pallet()),
        WeightStable(1, Decimal("500")),
        BinAnswered(UUID(int=1)),
    )
    assert dock.state is DockState.AWAITING_PUTAWAY
    assert not any(isinstance(e, PrintPending) for e in effects)
    dock, effects = run(dock, LocationScanned("A-01-02"))
    assert dock.state is DockState.IDLE
    assert emitted(effects, EventType.PUTAWAY_CONFIRMED) == [
        PutawayConfirmed(dock="dock-1", sscc=SSCC_A, location="A-01-02")
    ]


def test_no_answer_in_time_prints_putaway_pending_once_and_allows_putaway():
    dock, effects = run(
        Dock("dock-1"),
        PalletScanned(pallet()),
        WeightStable(1, Decimal("500")),
        ReplyTimedOut(UUID(int=1)),
        ReplyTimedOut(UUID(int=1)),
    )
    assert dock.state is DockState.AWAITING_PUTAWAY
    pending = [e for e in effects if isinstance(e, PrintPending)]
    assert len(pending) == 1
    assert pending[0].label.location is None
    assert pending[0].label.sscc == SSCC_A
    # Central's late answer still changes nothing in the state (its label just prints).
    later, effects = run(dock, BinAnswered(UUID(int=1)))
    assert later.state is DockState.AWAITING_PUTAWAY
    assert effects == []


def test_a_reply_timeout_after_the_answer_prints_nothing():
    _, effects = run(
        Dock("dock-1"),
        PalletScanned(pallet()),
        WeightStable(1, Decimal("500")),
        BinAnswered(UUID(int=1)),
        ReplyTimedOut(UUID(int=1)),
    )
    assert not any(isinstance(e, PrintPending) for e in effects)


def test_a_scale_timeout_does_not_book_the_pallet():
    dock, effects = run(
        Dock("dock-1"), PalletScanned(pallet()), WeighFailed(1, "no stable weight within 15 s")
    )
    assert dock.state is DockState.IDLE
    assert emitted(effects, EventType.GOODS_RECEIVED) == []
    (rejected,) = emitted(effects, EventType.SCAN_REJECTED)
    assert isinstance(rejected, ScanRejected)
    assert "not booked" in rejected.reason and "15 s" in rejected.reason
    assert any(isinstance(e, PrintNotice) for e in effects)


def test_a_location_scan_before_a_pallet_is_rejected():
    dock, effects = run(Dock("dock-1"), LocationScanned("A-01-02"))
    assert dock.state is DockState.IDLE
    (rejected,) = emitted(effects, EventType.SCAN_REJECTED)
    assert "scan the pallet first" in rejected.reason


def test_rescanning_a_received_pallet_goes_to_putaway_without_reweighing():
    dock, _ = run(
        Dock("dock-1"),
        PalletScanned(pallet(SSCC_A)),
        WeightStable(1, Decimal("500")),
        BinAnswered(UUID(int=1)),
        PalletScanned(pallet(SSCC_B)),
    )
    assert dock.state is DockState.WEIGHING
    dock, effects = run(dock, PalletScanned(pallet(SSCC_A)))
    assert dock.state is DockState.AWAITING_PUTAWAY
    assert not any(isinstance(e, StartWeighing) for e in effects)
    dock, effects = run(dock, LocationScanned("B-02-01"))
    assert emitted(effects, EventType.PUTAWAY_CONFIRMED)[0].sscc == SSCC_A


def test_a_new_pallet_while_awaiting_putaway_starts_the_next_one():
    dock, _ = run(
        Dock("dock-1"),
        PalletScanned(pallet(SSCC_A)),
        WeightStable(1, Decimal("500")),
        BinAnswered(UUID(int=1)),
    )
    dock, effects = run(dock, PalletScanned(pallet(SSCC_B)))
    assert dock.state is DockState.WEIGHING
    assert effects == [StartWeighing(2)]
    assert dock.pallet_by_sscc(SSCC_A) is not None


def test_a_weight_for_an_abandoned_weighing_is_ignored():
    dock, effects = run(
        Dock("dock-1"),
        PalletScanned(pallet(SSCC_A)),
        PalletScanned(pallet(SSCC_B)),
        WeightStable(1, Decimal("500")),
    )
    assert dock.state is DockState.WEIGHING
    assert emitted(effects, EventType.GOODS_RECEIVED) == []
    dock, effects = run(dock, WeightStable(2, Decimal("501")))
    assert emitted(effects, EventType.GOODS_RECEIVED)[0].sscc == SSCC_B


def test_a_label_without_gtin_is_rejected():
    dock, effects = run(Dock("dock-1"), PalletScanned(pallet(gtin=None)))
    assert dock.state is DockState.IDLE
    assert "GTIN" in emitted(effects, EventType.SCAN_REJECTED)[0].reason


def test_a_pallet_without_sscc_is_done_once_labelled():
    dock, _ = run(
        Dock("dock-1"),
        PalletScanned(pallet(None)),
        WeightStable(1, Decimal("20")),
        BinAnswered(UUID(int=1)),
    )
    assert dock.state is DockState.IDLE


inputs = st.one_of(
    st.builds(PalletScanned, st.sampled_from([pallet(SSCC_A), pallet(SSCC_B), pallet(None)])),
    st.builds(LocationScanned, st.sampled_from(["A-01-02", "B-1"])),
    st.builds(WeightStable, st.integers(0, 4), st.decimals("0.5", "2000", places=1)),
    st.builds(WeighFailed, st.integers(0, 4), st.just("timeout")),
    st.builds(BinAnswered, st.integers(1, 4).map(lambda n: UUID(int=n))),
    st.builds(ReplyTimedOut, st.integers(1, 4).map(lambda n: UUID(int=n))),
)


@settings(max_examples=200)
@given(st.lists(inputs, max_size=30))
def test_any_input_sequence_keeps_the_machine_consistent(events):
    """Whatever the worker and central do: each pallet is booked once per weighing, a putaway
    names a booked SSCC, and each pallet gets at most one PUTAWAY PENDING label."""
    dock, effects = run(Dock("dock-1"), *events)
    booked = emitted(effects, EventType.GOODS_RECEIVED)
    weighings = [e for e in effects if isinstance(e, StartWeighing)]
    assert len(booked) <= len(weighings)
    booked_ssccs = {g.sscc for g in booked}
    for confirmed in emitted(effects, EventType.PUTAWAY_CONFIRMED):
        assert confirmed.sscc in booked_ssccs
    pending = [e.event_id for e in effects if isinstance(e, PrintPending)]
    assert len(pending) == len(set(pending))
    if dock.state is DockState.WEIGHING:
        assert dock.weighing is not None
    if dock.state in (DockState.AWAITING_BIN, DockState.AWAITING_PUTAWAY):
        assert dock.pallet(dock.current) is not None
