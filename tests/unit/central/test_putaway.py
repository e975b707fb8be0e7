"""Putaway bin choice: nearest free bin with room, never over capacity."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from central.domain.putaway import (
    BinState,
    PalletLoad,
    Point,
    choose_putaway_bin,
    rectilinear_distance,
)

ORIGIN = Point(Decimal(0), Decimal(0))


def test_nearest_free_bin_by_rectilinear_distance_wins() -> None:
    bins = [
        BinState("FAR", Point(Decimal(10), Decimal(10))),
        BinState("DIAGONAL", Point(Decimal(3), Decimal(3))),
        BinState("STRAIGHT", Point(Decimal(5), Decimal(0))),
    ]
    chosen = choose_putaway_bin(PalletLoad(Decimal(100)), bins, origin=ORIGIN)
    assert chosen is not None and chosen.code == "STRAIGHT"


def test_occupied_reserved_and_too_weak_bins_are_skipped() -> None:
    bins = [
        BinState("STOCKED", Point(Decimal(1), Decimal(0)), has_stock=True),
        BinState("RESERVED", Point(Decimal(2), Decimal(0)), reserved=True),
        BinState("WEAK", Point(Decimal(3), Decimal(0)), max_weight_kg=Decimal(400)),
        BinState("SMALL", Point(Decimal(4), Decimal(0)), max_volume_m3=Decimal(1)),
        BinState("OK", Point(Decimal(9), Decimal(0)), max_weight_kg=Decimal(1000)),
    ]
    load = PalletLoad(Decimal(500), Decimal("1.5"))
    chosen = choose_putaway_bin(load, bins, origin=ORIGIN)
    assert chosen is not None and chosen.code == "OK"


def test_no_bin_when_nothing_fits() -> None:
    bins = [BinState("WEAK", Point(Decimal(3), Decimal(0)), max_weight_kg=Decimal(100))]
    assert choose_putaway_bin(PalletLoad(Decimal(500)), bins, origin=ORIGIN) is None


def test_unknown_volume_fits_only_an_empty_volume_limited_bin() -> None:
    empty = BinState("E", ORIGIN, max_volume_m3=Decimal(2), max_pallets=2)
    partly = BinState("P", ORIGIN, max_volume_m3=Decimal(2), max_pallets=2, volume_m3=Decimal(1))
    assert empty.fits(PalletLoad(Decimal(1)))
    assert not partly.fits(PalletLoad(Decimal(1)))


def test_zero_pallet_bin_takes_nothing() -> None:
    assert not BinState("Z", ORIGIN, max_pallets=0).fits(PalletLoad(Decimal(1)))


coords = st.decimals(min_value=Decimal(-50), max_value=Decimal(50), places=1)
limits = st.none() | st.decimals(min_value=Decimal(0), max_value=Decimal(1500), places=1)
volumes = st.none() | st.decimals(min_value=Decimal(0), max_value=Decimal(3), places=2)


@st.composite
def bin_states(draw: st.DrawFn, index: int) -> BinState:
    pallets = draw(st.integers(0, 2))
    return BinState(
        code=f"B{index:03d}",
        position=Point(draw(coords), draw(coords)),
        max_weight_kg=draw(limits),
        max_volume_m3=draw(volumes),
        max_pallets=draw(st.none() | st.integers(0, 3)),
        pallets=pallets,
        weight_kg=Decimal(pallets * 400),
        volume_m3=Decimal(pallets),
        has_stock=pallets > 0,
        reserved=draw(st.booleans()),
    )


@st.composite
def warehouses(draw: st.DrawFn) -> list[BinState]:
    size = draw(st.integers(0, 25))
    return [draw(bin_states(i)) for i in range(size)]


@settings(max_examples=200)
@given(
    bins=warehouses(),
    weight=st.decimals(min_value=Decimal(0), max_value=Decimal(1500), places=1),
    volume=volumes,
    origin=st.builds(Point, coords, coords),
)
def test_chosen_bin_is_free_has_room_and_is_nearest(
    bins: list[BinState], weight: Decimal, volume: Decimal | None, origin: Point
) -> None:
    load = PalletLoad(weight, volume)
    chosen = choose_putaway_bin(load, bins, origin=origin)
    candidates = [b for b in bins if b.free and b.fits(load)]
    if chosen is None:
        assert candidates == []
        return
    assert chosen.free and not chosen.reserved and not chosen.has_stock
    if chosen.max_weight_kg is not None:
        assert chosen.weight_kg + weight <= chosen.max_weight_kg
    if chosen.max_pallets is not None:
        assert chosen.pallets + 1 <= chosen.max_pallets
    if chosen.max_volume_m3 is not None and volume is not None:
        assert chosen.volume_m3 + volume <= chosen.max_volume_m3
    distance = rectilinear_distance(origin, chosen.position)
    assert all(distance <= rectilinear_distance(origin, b.position) for b in candidates)
