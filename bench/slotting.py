"""Slotting benchmark: optimal plan vs random, ABC and COI baselines on generated warehouses.

Run: ``python -m bench.slotting`` (``--sizes 1000 10000`` to choose sizes) prints a table and
writes ``bench/results/slotting.json``; ``python -m bench slotting`` runs it with the others.

Generated warehouse: single-pallet bins (>= 1.1 × items) on 5 levels, two rack faces per aisle,
1 m per pallet position, aisles 4 m apart, one front cross aisle, the dock at the origin. The
farthest aisles are frozen and chilled; ambient aisles take hazard class 3, some also class 8.
Ground positions are bigger and stronger. Picks per period follow a Pareto law (alpha 1.16, the
80/20 rule), rounded to whole picks. The "irregular" cases use 2-decimal pick forecasts and
0.97 m / 3.73 m pitches, so few items or bins share a cost class: the hard case for the solver
(``--irregular-sizes 10000 50000``; 10k by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from central.optimizers.slotting import (
    AisleLayout,
    Bin,
    CostModel,
    HazardAisleLimit,
    Item,
    SlottingProblem,
    SlottingResult,
    assignment_violations,
    expected_travel,
    plan_cost,
    rectilinear_travel,
    solve,
)
from central.optimizers.slotting_baselines import abc_placement, coi_placement, random_placement

logger = logging.getLogger("bench.slotting")

RESULTS_DIR = Path(__file__).parent / "results"
LEVELS = 5
LEVEL_HEIGHT_M = Decimal("1.4")
COST_MODEL = CostModel(
    golden_zone_m=(Decimal("0.0"), Decimal("1.5")),
    waist_height_m=Decimal("1.0"),
    heavy_item_kg=Decimal("600"),
    fast_mover_picks=Decimal("20"),
    heavy_above_waist_m_per_pick=Decimal("8"),
    fast_outside_golden_m_per_pick=Decimal("4"),
)


def generate_warehouse(
    n_items: int, *, seed: int, spread_flammables: bool = False, irregular: bool = False
) -> SlottingProblem:
    """A reproducible warehouse with `n_items` items and at least 1.1 × as many bins.

    With `spread_flammables`, no ambient aisle may hold more than its even share of hazard
    class 3 items (a side constraint: the problem is then solved by CP-SAT). With `irregular`,
    picks are forecasts with two decimals and pitches are not whole metres: few ties, so few
    items or bins share a class (the hard case for the class network).
    """
    rng = random.Random(seed)
    aisles = max(4, round(math.sqrt(n_items / 50)))
    positions = math.ceil(1.1 * n_items / (aisles * 2 * LEVELS))
    frozen = max(1, round(0.10 * aisles))
    chilled = max(1, round(0.15 * aisles))
    ambient = aisles - frozen - chilled
    hazard_aisles = set(range(ambient - max(1, round(0.1 * aisles)), ambient))
    # Irregular pitches (cm) make far fewer bins share a travel distance than a metre grid does.
    aisle_pitch = Decimal("3.73") if irregular else Decimal(4)
    bay_pitch = Decimal("0.97") if irregular else Decimal(1)
    centres = {f"A{a:02d}": aisle_pitch * (a + 1) for a in range(aisles)}
    layout = AisleLayout(aisle_centres=tuple(centres.items()))

    bins: list[Bin] = []
    for a in range(aisles):
        aisle = f"A{a:02d}"
        temperature = "ambient" if a < ambient else "chilled" if a < ambient + chilled else "frozen"
        # Flammables (3) may go in any ambient aisle, corrosives (8) only in the hazard aisles.
        hazards = frozenset({"3", "8"}) if a in hazard_aisles else frozenset({"3"})
        if temperature != "ambient":
            hazards = frozenset()
        for side in (-1, 1):
            x = centres[aisle] + Decimal(side) * Decimal("1.5")
            for bay in range(positions):
                y = bay_pitch * (bay + 1)
                travel = rectilinear_travel(x, y, aisle=aisle, layout=layout)
                for level in range(LEVELS):
                    ground = level == 0
                    bins.append(
                        Bin(
                            code=f"{aisle}-{'L' if side < 0 else 'R'}{bay + 1:03d}-{level}",
                            aisle=aisle,
                            bay=bay + 1,
                            level=level,
                            x=x,
                            y=y,
                            z=LEVEL_HEIGHT_M * level,
                            travel_m=travel,
                            max_volume_m3=Decimal("2.2") if ground else Decimal("1.6"),
                            max_weight_kg=Decimal("1500") if ground else Decimal("1000"),
                            temperature_class=temperature,
                            hazard_classes=hazards,
                        )
                    )
    share = {
        "ambient": ambient / aisles,
        "chilled": chilled / aisles,
        "frozen": frozen / aisles,
    }
    hazard_share = len(hazard_aisles) / aisles * 0.4
    items: list[Item] = []
    for k in range(n_items):
        temperature = rng.choices(list(share), weights=list(share.values()))[0]
        hazard = None
        if temperature == "ambient" and rng.random() < hazard_share / share["ambient"]:
            hazard = rng.choice(("3", "8"))
        oversize = rng.random() < 0.08
        raw_picks = min(rng.paretovariate(1.16), 5000.0)
        # Whole picks, or a forecast with two decimals (almost every item a class of its own).
        picks = Decimal(round(raw_picks * 100)) / 100 if irregular else Decimal(round(raw_picks))
        items.append(
            Item(
                sku=f"0400000{k:07d}",
                picks_per_period=picks,
                volume_m3=Decimal(rng.randint(180, 220) if oversize else rng.randint(40, 160))
                / 100,
                weight_kg=Decimal(rng.randint(1000, 1400) if oversize else rng.randint(50, 950)),
                temperature_class=temperature,
                hazard_class=hazard,
            )
        )
    limits: tuple[HazardAisleLimit, ...] = ()
    if spread_flammables:
        flammables = sum(1 for item in items if item.hazard_class == "3")
        limits = (HazardAisleLimit("3", math.ceil(flammables / ambient)),)
    return SlottingProblem(
        tuple(items), tuple(bins), cost_model=COST_MODEL, hazard_aisle_limits=limits
    )


@dataclass(frozen=True)
class Row:
    """One benchmark line."""

    name: str
    items: int
    bins: int
    status: str
    engine: str
    solve_time_s: float
    gap: float | None
    arcs: int
    travel_ratio_random: float
    travel_ratio_abc: float
    travel_ratio_coi: float
    cost_ratio_random: float
    cost_ratio_abc: float
    cost_ratio_coi: float
    unplaced_random: int
    unplaced_abc: int
    unplaced_coi: int


def run_case(name: str, problem: SlottingProblem, *, time_limit_s: float, seed: int) -> Row:
    """Solve one instance and its baselines, check the plan, compare travel and cost.

    A baseline that could not place some items is compared on the items it placed, which flatters
    it; the unplaced counts are in the row.
    """
    result: SlottingResult = solve(problem, time_limit_s=time_limit_s, seed=seed)
    violations = assignment_violations(problem, result.assignment)
    if violations or len(result.assignment) != len(problem.items):
        raise RuntimeError(
            f"{name}: optimizer plan is not valid ({result.status.value}): {violations[:3]}"
        )
    baselines = {
        "random": random_placement(problem, seed=seed),
        "abc": abc_placement(problem, seed=seed),
        "coi": coi_placement(problem),
    }
    travel = expected_travel(problem, result.assignment)
    cost = plan_cost(problem, result.assignment)

    def ratio(value: Decimal, baseline: Decimal) -> float:
        return float(value / baseline) if baseline else float("nan")

    return Row(
        name=name,
        items=len(problem.items),
        bins=len(problem.bins),
        status=result.status.value,
        engine=result.engine,
        solve_time_s=round(result.solve_time_s, 3),
        gap=None if result.gap is None else float(result.gap),
        arcs=result.stats.arcs,
        travel_ratio_random=ratio(travel, expected_travel(problem, baselines["random"].assignment)),
        travel_ratio_abc=ratio(travel, expected_travel(problem, baselines["abc"].assignment)),
        travel_ratio_coi=ratio(travel, expected_travel(problem, baselines["coi"].assignment)),
        cost_ratio_random=ratio(cost, plan_cost(problem, baselines["random"].assignment)),
        cost_ratio_abc=ratio(cost, plan_cost(problem, baselines["abc"].assignment)),
        cost_ratio_coi=ratio(cost, plan_cost(problem, baselines["coi"].assignment)),
        unplaced_random=len(baselines["random"].unplaced),
        unplaced_abc=len(baselines["abc"].unplaced),
        unplaced_coi=len(baselines["coi"].unplaced),
    )


def run(
    sizes: list[int],
    *,
    irregular_sizes: list[int] | None = None,
    seed: int = 7,
    time_limit_s: float = 60.0,
) -> list[Row]:
    """Benchmark each size, the irregular sizes, and 1k/10k with the flammables-per-aisle limit."""
    cases = [(f"{n // 1000}k", n, False, False) for n in sizes]
    cases += [(f"{n // 1000}k-irregular", n, False, True) for n in irregular_sizes or []]
    cases.append(("1k+flammable/aisle", 1000, True, False))
    cases.append(("10k+flammable/aisle", 10000, True, False))
    rows: list[Row] = []
    for name, n, spread, irregular in cases:
        started = time.perf_counter()
        problem = generate_warehouse(n, seed=seed, spread_flammables=spread, irregular=irregular)
        logger.info(
            "%s: generated %d bins in %.1f s",
            name,
            len(problem.bins),
            time.perf_counter() - started,
        )
        rows.append(run_case(name, problem, time_limit_s=time_limit_s, seed=seed))
        logger.info("%s: %s in %.2f s", name, rows[-1].status, rows[-1].solve_time_s)
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table."""
    lines = [
        f"{'case':<20}{'items':>7}{'bins':>7}  {'status':<9}{'engine':<22}{'time s':>8}"
        f"{'gap':>10}{'arcs':>9}  {'travel/rand':>11} {'travel/ABC':>10} {'travel/COI':>10}"
        f" {'cost/rand':>9} {'cost/ABC':>8} {'cost/COI':>8}  unplaced r/a/c"
    ]
    for r in rows:
        gap = "n/a" if r.gap is None else f"{r.gap:.2e}"
        lines.append(
            f"{r.name:<20}{r.items:>7}{r.bins:>7}  {r.status:<9}{r.engine:<22}"
            f"{r.solve_time_s:>8.2f}{gap:>10}{r.arcs:>9}  {r.travel_ratio_random:>11.3f}"
            f" {r.travel_ratio_abc:>10.3f} {r.travel_ratio_coi:>10.3f}"
            f" {r.cost_ratio_random:>9.3f} {r.cost_ratio_abc:>8.3f} {r.cost_ratio_coi:>8.3f}"
            f"  {r.unplaced_random}/{r.unplaced_abc}/{r.unplaced_coi}"
        )
    return "\n".join(lines)


def main(
    results_dir: Path = RESULTS_DIR,
    *,
    sizes: list[int] | None = None,
    irregular_sizes: list[int] | None = None,
    seed: int = 7,
    time_limit_s: float = 60.0,
) -> list[Row]:
    """Run the benchmark and write results_dir/slotting.json (the `python -m bench` entry)."""
    rows = run(
        sizes or [1000, 10000, 50000],
        irregular_sizes=[10000] if irregular_sizes is None else irregular_sizes,
        seed=seed,
        time_limit_s=time_limit_s,
    )
    results_dir.mkdir(parents=True, exist_ok=True)
    payload = {"seed": seed, "rows": [asdict(r) for r in rows]}
    (results_dir / "slotting.json").write_text(json.dumps(payload, indent=2) + "\n")
    return rows


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--irregular-sizes", type=int, nargs="*", default=[10000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=60.0, help="CP-SAT cases only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("central").setLevel(logging.WARNING)
    rows = main(
        sizes=args.sizes,
        irregular_sizes=args.irregular_sizes,
        seed=args.seed,
        time_limit_s=args.time_limit,
    )
    logger.info("%s", table(rows))
    logger.info("wrote %s", RESULTS_DIR / "slotting.json")


if __name__ == "__main__":
    _cli()
