"""Load-plan optimizer: model data, LIFO, axle limits, leftovers, the naive baseline and the SVG."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.optimizers.loading import (
    Footprint,
    LoadPlan,
    LoadProblem,
    LoadStatus,
    Pallet,
    Placement,
    ReasonCode,
    TrailerType,
    check_plan,
    naive_plan,
    solve,
    trailer_svg,
)

SEMI = TrailerType.semi_trailer_33_eur()
# A guard only: every assertion below holds for whatever plan comes back within it.
GUARD_S = 20.0


def axle_loads(
    trailer: TrailerType, placements: tuple[Placement, ...]
) -> tuple[Fraction, Fraction]:
    """Kingpin and rear-axle cargo shares, recomputed exactly from the beam model."""
    k, a = Fraction(trailer.kingpin_m), Fraction(trailer.rear_axle_m)
    kingpin = rear = Fraction(0)
    for pl in placements:
        w = Fraction(pl.weight_kg)
        x = Fraction(trailer.position_length_m) * (pl.row + Fraction(1, 2))
        kingpin += w * (a - x) / (a - k)
        rear += w * (x - k) / (a - k)
    return kingpin, rear


def assert_lifo(plan: LoadPlan) -> None:
    """No pallet of a later stop stands nearer the doors than one of an earlier stop."""
    for earlier in plan.placements:
        for later in plan.placements:
            if earlier.deck == later.deck and earlier.stop_index < later.stop_index:
                assert earlier.row >= later.row, (earlier, later)
                if (earlier.row, earlier.column) == (later.row, later.column):
                    assert earlier.level > later.level, (earlier, later)


def assert_within_limits(problem: LoadProblem, plan: LoadPlan) -> None:
    """Payload, both supports and lateral balance of the returned plan are within the limits."""
    t = problem.trailer
    kingpin, rear = axle_loads(t, plan.placements)
    assert sum(Fraction(pl.weight_kg) for pl in plan.placements) <= t.payload_kg
    assert Fraction(t.min_kingpin_kg) <= kingpin <= Fraction(t.max_kingpin_kg)
    assert rear <= Fraction(t.max_rear_kg)
    lateral = sum((pl.weight_kg * t.side(pl.column) for pl in plan.placements), Decimal(0))
    assert abs(lateral) <= t.max_lateral_imbalance_kg
    assert plan.kingpin_kg <= t.max_kingpin_kg and plan.rear_kg <= t.max_rear_kg


def assert_accounts_for_every_pallet(problem: LoadProblem, plan: LoadPlan) -> None:
    """Each pallet is placed once or left out, each position holds one pallet."""
    placed = [pl.pallet_id for pl in plan.placements]
    assert len(placed) == len(set(placed))
    assert sorted(placed + list(plan.left_out)) == sorted(p.id for p in problem.pallets)
    positions = [(pl.deck, pl.row, pl.column, pl.level) for pl in plan.placements]
    assert len(positions) == len(set(positions))
    assert [pl.sequence for pl in plan.placements] == list(range(1, len(placed) + 1))


def pallets(*specs: tuple[int, int], prefix: str = "P") -> tuple[Pallet, ...]:
    """Pallets from (weight kg, stop) pairs."""
    return tuple(
        Pallet(f"{prefix}{n}", Decimal(w), stop) for n, (w, stop) in enumerate(specs, start=1)
    )


def test_presets_have_the_documented_grids() -> None:
    """33 EUR, 26 industrial, 18 EUR on the rigid truck, 66 EUR on the double deck."""
    assert SEMI.floor_positions == 33
    assert TrailerType.semi_trailer_26_industrial().floor_positions == 26
    assert TrailerType.rigid_7_5t_18_eur().floor_positions == 18
    assert TrailerType.double_deck_66_eur().floor_positions == 66
    for trailer in (SEMI, TrailerType.rigid_7_5t_18_eur()):
        assert trailer.kingpin_m < trailer.ideal_cog_m < trailer.rear_axle_m


def test_ideal_centre_of_gravity_loads_both_supports_to_the_same_fraction() -> None:
    """At the ideal CoG kingpin/limit equals rear/limit."""
    x = Fraction(SEMI.ideal_cog_m)
    k, a = Fraction(SEMI.kingpin_m), Fraction(SEMI.rear_axle_m)
    kingpin_share, rear_share = (a - x) / (a - k), (x - k) / (a - k)
    difference = kingpin_share / Fraction(SEMI.max_kingpin_kg) - rear_share / Fraction(
        SEMI.max_rear_kg
    )
    assert abs(difference) < Fraction(1, 10**15)


def test_invalid_data_is_refused_eagerly() -> None:
    """Builders raise ValueError rather than producing a model that lies."""
    with pytest.raises(ValueError, match="rear axle"):
        dataclasses.replace(SEMI, rear_axle_m=Decimal("1.0"))
    with pytest.raises(ValueError, match="rows do not fit"):
        dataclasses.replace(SEMI, rows=12)
    with pytest.raises(ValueError, match=r"multiple of 0\.001"):
        Pallet("P1", Decimal("500.0001"), 1)
    with pytest.raises(ValueError, match="stop_index"):
        Pallet("P1", Decimal(500), 0)
    with pytest.raises(ValueError, match="unique"):
        LoadProblem(SEMI, pallets((500, 1)) + pallets((600, 2)))


def test_a_single_pallet_over_the_kingpin_rests_on_the_kingpin_alone() -> None:
    """The beam model: weight exactly at the kingpin puts nothing on the rear axles."""
    trailer = dataclasses.replace(SEMI, kingpin_m=Decimal("0.6"))
    problem = LoadProblem(trailer, pallets((800, 1)))
    placement = Placement("P1", row=0, column=0, sequence=1, stop_index=1, weight_kg=Decimal(800))
    plan = naive_plan(problem)
    assert plan.placements == (placement,)
    assert (plan.kingpin_kg, plan.rear_kg, plan.cog_m) == (Decimal(800), Decimal(0), Decimal("0.6"))


def test_naive_plan_keeps_lifo_but_breaks_the_kingpin_limit_the_optimizer_keeps() -> None:
    """Nine 1 t pallets for the last stop go to the front rows: kingpin overloaded."""
    problem = LoadProblem(SEMI, pallets(*[(1000, 2)] * 9, *[(100, 1)] * 3))
    naive = naive_plan(problem)
    assert_lifo(naive)
    kingpin, _ = axle_loads(SEMI, naive.placements)
    assert kingpin > SEMI.max_kingpin_kg
    assert naive.status is LoadStatus.INFEASIBLE
    assert ReasonCode.OVER_AXLE_LIMIT in naive.reason_codes

    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status in (LoadStatus.OPTIMAL, LoadStatus.FEASIBLE)
    assert plan.left_out == ()
    assert_lifo(plan)
    assert_within_limits(problem, plan)
    assert check_plan(problem, plan.placements) == ()


def test_optimizer_centres_the_load_on_the_ideal_point() -> None:
    """A load that can be balanced exactly ends with its CoG within 1 cm of the ideal."""
    problem = LoadProblem(SEMI, pallets(*[(500, 1)] * 6, *[(500, 2)] * 6))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status is LoadStatus.OPTIMAL
    assert plan.cog_m is not None
    assert abs(plan.cog_m - SEMI.ideal_cog_m) <= Decimal("0.01")
    assert plan.lateral_imbalance_kg == 0


def test_loading_sequence_puts_the_last_stop_on_first() -> None:
    """Sequence runs front rows first, so the last stop's pallets go on first."""
    problem = LoadProblem(SEMI, pallets(*[(400, 1)] * 4, *[(400, 2)] * 4, *[(400, 3)] * 4))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    by_sequence = sorted(plan.placements, key=lambda pl: pl.sequence)
    stops = [pl.stop_index for pl in by_sequence]
    assert stops == sorted(stops, reverse=True)
    rows = [pl.row for pl in by_sequence]
    assert rows == sorted(rows)


def test_too_heavy_a_load_is_over_payload_and_leaves_the_last_stop_behind() -> None:
    """30 × 1 t on a 24 t trailer: 24 go on, stops 1 and 2 whole, six of stop 3 left out."""
    problem = LoadProblem(
        SEMI, tuple(Pallet(f"A{i}", Decimal(1000), 1 + i // 10) for i in range(30))
    )
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status is LoadStatus.INFEASIBLE
    assert ReasonCode.OVER_PAYLOAD in plan.reason_codes
    assert len(plan.left_out) == 6
    assert {problem.pallet(pid).stop_index for pid in plan.left_out} == {3}
    assert plan.load_kg == Decimal(24000)
    assert_lifo(plan)
    assert_within_limits(problem, plan)
    assert_accounts_for_every_pallet(problem, plan)


def test_heavy_last_stop_forced_to_the_front_is_an_axle_and_lifo_conflict() -> None:
    """A full trailer whose last stop is heavy: LIFO puts it over the kingpin; it cannot all go."""
    problem = LoadProblem(SEMI, pallets(*[(100, 1)] * 24, *[(1000, 2)] * 9))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status is LoadStatus.INFEASIBLE
    assert {ReasonCode.OVER_AXLE_LIMIT, ReasonCode.LIFO_CONFLICT} <= plan.reason_codes
    assert plan.left_out
    assert {problem.pallet(pid).stop_index for pid in plan.left_out} == {2}
    assert_lifo(plan)
    assert_within_limits(problem, plan)


def test_more_pallets_than_positions_is_too_many_pallets() -> None:
    """35 light pallets on 33 floor positions: two left out, from the last stop."""
    problem = LoadProblem(SEMI, pallets(*[(200, 1)] * 20, *[(200, 2)] * 15))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status is LoadStatus.INFEASIBLE
    assert ReasonCode.TOO_MANY_PALLETS in plan.reason_codes
    assert len(plan.left_out) == 2
    assert {problem.pallet(pid).stop_index for pid in plan.left_out} == {2}


def test_pallet_that_fits_no_position_is_left_out_with_its_reason() -> None:
    """An industrial pallet does not fit a EUR grid; a 30 t pallet fits no vehicle."""
    wide = Pallet("WIDE", Decimal(300), 1, footprint=Footprint.INDUSTRIAL)
    huge = Pallet("HUGE", Decimal(30000), 1)
    problem = LoadProblem(SEMI, (wide, huge, *pallets((300, 1), (300, 2))))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status is LoadStatus.INFEASIBLE
    reasons = {r.code: r.pallet_ids for r in plan.reasons}
    assert reasons[ReasonCode.FOOTPRINT_MISMATCH] == ("WIDE",)
    assert reasons[ReasonCode.PALLET_TOO_HEAVY] == ("HUGE",)
    assert set(plan.left_out) == {"WIDE", "HUGE"}


def test_stacking_only_on_stackable_non_fragile_pallets_and_in_stop_order() -> None:
    """40 pallets on 33 positions fit when stackable; tops never stand on fragile pallets."""
    trailer = dataclasses.replace(SEMI, max_stack=2)
    stackable = [Pallet(f"S{i}", Decimal(300), 1 + i % 3, stackable=True) for i in range(30)]
    fragile = [
        Pallet(f"F{i}", Decimal(200), 1 + i % 3, stackable=True, fragile=True) for i in range(6)
    ]
    plain = [Pallet(f"N{i}", Decimal(250), 2) for i in range(4)]
    problem = LoadProblem(trailer, (*stackable, *fragile, *plain))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status in (LoadStatus.OPTIMAL, LoadStatus.FEASIBLE)
    assert check_plan(problem, plan.placements) == ()
    at = {(pl.row, pl.column, pl.level): pl for pl in plan.placements}
    tops = [pl for pl in plan.placements if pl.level == 1]
    assert len(tops) >= 7
    for top in tops:
        bottom = problem.pallet(at[top.row, top.column, 0].pallet_id)
        assert bottom.stackable and not bottom.fragile
        assert problem.pallet(top.pallet_id).stackable
        assert top.stop_index <= bottom.stop_index
    assert_lifo(plan)
    assert_within_limits(problem, plan)


def test_double_deck_keeps_lifo_on_each_deck() -> None:
    """40 pallets over two decks: each deck in stop order on its own."""
    trailer = TrailerType.double_deck_66_eur()
    problem = LoadProblem(
        trailer, tuple(Pallet(f"D{i}", Decimal(400 + 100 * (i % 2)), 1 + i % 4) for i in range(40))
    )
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    assert plan.status in (LoadStatus.OPTIMAL, LoadStatus.FEASIBLE)
    assert {pl.deck for pl in plan.placements} == {0, 1}
    assert_lifo(plan)
    assert_within_limits(problem, plan)


def test_check_plan_reports_a_lifo_violation() -> None:
    """A stop-2 pallet nearer the doors than a stop-1 pallet is named."""
    problem = LoadProblem(SEMI, pallets((500, 1), (500, 2)))
    blocked = (
        Placement("P1", row=3, column=1, sequence=1, stop_index=1, weight_kg=Decimal(500)),
        Placement("P2", row=4, column=1, sequence=2, stop_index=2, weight_kg=Decimal(500)),
    )
    reasons = check_plan(problem, blocked)
    assert [r.code for r in reasons] == [ReasonCode.LIFO_CONFLICT]
    assert reasons[0].pallet_ids == ("P1", "P2")


def test_svg_shows_every_pallet_its_stop_and_the_doors() -> None:
    """The drawing parses as XML and names each pallet, its stop and the doors."""
    problem = LoadProblem(SEMI, pallets((700, 1), (500, 2), (300, 3)))
    plan = solve(problem, time_limit_s=GUARD_S, seed=0, num_workers=1)
    svg = trailer_svg(plan, SEMI)
    root = ET.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "DOORS" in texts
    for pl in plan.placements:
        assert f"{pl.pallet_id} S{pl.stop_index}" in texts


TRAILERS = (
    SEMI,
    TrailerType.semi_trailer_26_industrial(),
    TrailerType.rigid_7_5t_18_eur(),
    dataclasses.replace(SEMI, max_stack=2),
)


@st.composite
def shipments(draw: st.DrawFn) -> LoadProblem:
    """Up to 33 pallets of 100-1000 kg for 1-6 stops on one of the preset vehicles."""
    trailer = draw(st.sampled_from(TRAILERS))
    stops = draw(st.integers(1, 6))
    specs = draw(
        st.lists(st.tuples(st.integers(100, 1000), st.integers(1, stops)), min_size=1, max_size=33)
    )
    stackable = draw(st.lists(st.booleans(), min_size=len(specs), max_size=len(specs)))
    fragile = draw(st.lists(st.booleans(), min_size=len(specs), max_size=len(specs)))
    return LoadProblem(
        trailer,
        tuple(
            Pallet(f"P{n}", Decimal(w), stop, stackable=up, fragile=frail)
            for n, ((w, stop), up, frail) in enumerate(zip(specs, stackable, fragile, strict=True))
        ),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=shipments())
def test_any_returned_plan_keeps_lifo_and_every_limit(problem: LoadProblem) -> None:
    """Random shipments (≤ 33 pallets, 100-1000 kg, 1-6 stops): never a broken rule."""
    plan = solve(problem, time_limit_s=1.0, seed=0, num_workers=1)
    if plan.status is LoadStatus.UNKNOWN:
        assert plan.placements == ()
        return
    assert_lifo(plan)
    assert_within_limits(problem, plan)
    assert_accounts_for_every_pallet(problem, plan)
    assert check_plan(problem, plan.placements) == ()
    if plan.status is LoadStatus.INFEASIBLE:
        assert plan.reasons and plan.left_out
    else:
        assert plan.left_out == () and plan.reasons == ()


@settings(max_examples=100, deadline=None)
@given(problem=shipments())
def test_naive_plan_always_keeps_lifo(problem: LoadProblem) -> None:
    """The baseline is right about LIFO whatever the weights (it only ignores the axles)."""
    plan = naive_plan(problem)
    assert_lifo(plan)
    assert_accounts_for_every_pallet(problem, plan)
    t = problem.trailer
    kingpin, rear = axle_loads(t, plan.placements)
    broken = not (t.min_kingpin_kg <= kingpin <= t.max_kingpin_kg) or rear > t.max_rear_kg
    assert broken == any(r.code is ReasonCode.OVER_AXLE_LIMIT for r in plan.reasons)


def test_svg_draws_both_decks_of_a_double_deck() -> None:
    """Each deck gets its own floor in the drawing."""
    trailer = TrailerType.double_deck_66_eur()
    problem = LoadProblem(trailer, pallets(*[(300, 1)] * 34))
    plan = naive_plan(problem)
    root = ET.fromstring(trailer_svg(plan, trailer))
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.startswith("deck 1") for t in texts)
    assert any(t.startswith("deck 2") for t in texts)
    assert sum("S1" in t for t in texts) == 34
