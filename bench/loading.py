"""Load plans: the CP-SAT optimizer against the naive plan, in the same run on the same shipments.

Two vehicles: the 13.6 m semi-trailer (33 EUR positions) and the 13.6 m double-deck semi-trailer
(66 EUR positions on two decks, each unloaded at the rear on its own). For each, 20 random
shipments with a fixed seed: 1-6 stops, 100-1000 kg pallets, between a third of the positions
and all of them. Per shipment: status and time of our plan, its kingpin / rear-axle loads,
centre of gravity and lateral imbalance, and the same for the naive plan (last stop first, front
to back, row by row). The figure that matters: how often the naive plan breaks an axle limit
that ours keeps. Our plans are re-checked with `check_plan` (LIFO, payload, axles, lateral).

Run: ``python -m bench.loading`` (or ``python -m bench loading``); writes results/loading.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from central.optimizers.loading import (
    LoadPlan,
    LoadProblem,
    LoadStatus,
    Pallet,
    ReasonCode,
    TrailerType,
    check_plan,
    naive_plan,
    solve,
)

SHIPMENTS = 20
TIME_LIMIT_S = 30.0
SEED = 2026


@dataclass(frozen=True)
class ShipmentFigures:
    """One shipment: our plan and the naive plan side by side."""

    vehicle: str
    shipment: int
    pallets: int
    stops: int
    total_kg: float
    status: str
    solve_time_s: float
    objective: int | None
    bound: int | None
    loaded: int
    left_out: int
    reasons: list[str]
    kingpin_kg: float
    rear_kg: float
    cog_m: float | None
    lateral_kg: float
    naive_loaded: int
    naive_kingpin_kg: float
    naive_rear_kg: float
    naive_cog_m: float | None
    naive_lateral_kg: float
    naive_breaks_axle: bool
    naive_breaks_lateral: bool
    naive_over_payload: bool


@dataclass(frozen=True)
class VehicleSummary:
    """Totals over one vehicle's shipments."""

    vehicle: str
    positions: int
    ideal_cog_m: float
    shipments: int
    optimal: int
    feasible: int
    infeasible: int
    unknown: int
    median_time_to_optimal_s: float | None
    max_time_to_optimal_s: float | None
    naive_breaks_axle: int
    naive_breaks_axle_of_fitting: int
    naive_breaks_lateral: int
    mean_cog_offset_ours_m: float
    mean_cog_offset_naive_m: float


def _shipment(trailer: TrailerType, rng: random.Random, number: int) -> LoadProblem:
    stops = rng.randint(1, 6)
    count = rng.randint(trailer.floor_positions // 3, trailer.floor_positions)
    pallets = tuple(
        Pallet(f"S{number:02d}-{n:03d}", Decimal(rng.randint(100, 1000)), rng.randint(1, stops))
        for n in range(count)
    )
    return LoadProblem(trailer, pallets)


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _figures(number: int, problem: LoadProblem, ours: LoadPlan, naive: LoadPlan) -> ShipmentFigures:
    if check_plan(problem, ours.placements):
        raise RuntimeError(f"shipment {number}: the optimizer returned a plan that breaks a rule")
    naive_codes = naive.reason_codes
    return ShipmentFigures(
        vehicle=problem.trailer.name,
        shipment=number,
        pallets=len(problem.pallets),
        stops=len({p.stop_index for p in problem.pallets}),
        total_kg=float(sum(p.weight_kg for p in problem.pallets)),
        status=ours.status.value,
        solve_time_s=round(ours.solve_time_s, 3),
        objective=ours.objective,
        bound=ours.bound,
        loaded=len(ours.placements),
        left_out=len(ours.left_out),
        reasons=sorted(code.value for code in ours.reason_codes),
        kingpin_kg=float(ours.kingpin_kg),
        rear_kg=float(ours.rear_kg),
        cog_m=_f(ours.cog_m),
        lateral_kg=float(ours.lateral_imbalance_kg),
        naive_loaded=len(naive.placements),
        naive_kingpin_kg=float(naive.kingpin_kg),
        naive_rear_kg=float(naive.rear_kg),
        naive_cog_m=_f(naive.cog_m),
        naive_lateral_kg=float(naive.lateral_imbalance_kg),
        naive_breaks_axle=ReasonCode.OVER_AXLE_LIMIT in naive_codes,
        naive_breaks_lateral=ReasonCode.LATERAL_IMBALANCE in naive_codes,
        naive_over_payload=ReasonCode.OVER_PAYLOAD in naive_codes,
    )


def _summary(trailer: TrailerType, rows: list[ShipmentFigures]) -> VehicleSummary:
    ideal = float(trailer.ideal_cog_m)
    optimal_times = [r.solve_time_s for r in rows if r.status == LoadStatus.OPTIMAL.value]
    fitting = [r for r in rows if r.status != LoadStatus.INFEASIBLE.value]
    return VehicleSummary(
        vehicle=trailer.name,
        positions=trailer.floor_positions,
        ideal_cog_m=round(ideal, 3),
        shipments=len(rows),
        optimal=sum(r.status == LoadStatus.OPTIMAL.value for r in rows),
        feasible=sum(r.status == LoadStatus.FEASIBLE.value for r in rows),
        infeasible=sum(r.status == LoadStatus.INFEASIBLE.value for r in rows),
        unknown=sum(r.status == LoadStatus.UNKNOWN.value for r in rows),
        median_time_to_optimal_s=round(statistics.median(optimal_times), 3)
        if optimal_times
        else None,
        max_time_to_optimal_s=max(optimal_times) if optimal_times else None,
        naive_breaks_axle=sum(r.naive_breaks_axle for r in rows),
        naive_breaks_axle_of_fitting=sum(r.naive_breaks_axle for r in fitting),
        naive_breaks_lateral=sum(r.naive_breaks_lateral for r in rows),
        mean_cog_offset_ours_m=round(
            statistics.fmean(abs(r.cog_m - ideal) for r in rows if r.cog_m is not None), 3
        ),
        mean_cog_offset_naive_m=round(
            statistics.fmean(abs(r.naive_cog_m - ideal) for r in rows if r.naive_cog_m is not None),
            3,
        ),
    )


def run(
    *, shipments: int = SHIPMENTS, time_limit_s: float = TIME_LIMIT_S, num_workers: int = 1
) -> tuple[list[VehicleSummary], list[ShipmentFigures]]:
    """Solve every shipment on both vehicles with both planners."""
    summaries: list[VehicleSummary] = []
    rows: list[ShipmentFigures] = []
    for trailer in (TrailerType.semi_trailer_33_eur(), TrailerType.double_deck_66_eur()):
        rng = random.Random(SEED)
        mine: list[ShipmentFigures] = []
        for number in range(1, shipments + 1):
            problem = _shipment(trailer, rng, number)
            ours = solve(problem, time_limit_s=time_limit_s, seed=0, num_workers=num_workers)
            mine.append(_figures(number, problem, ours, naive_plan(problem)))
        summaries.append(_summary(trailer, mine))
        rows.extend(mine)
    return summaries, rows


def _table(summaries: list[VehicleSummary], rows: list[ShipmentFigures]) -> str:
    lines = [
        f"{'vehicle':<42} {'#':>2} {'plt':>3} {'kg':>7} {'status':<10} {'time s':>7} "
        f"{'out':>3} {'kingpin':>8} {'rear':>8} {'CoG m':>6} {'lat':>5} | "
        f"{'naive kp':>8} {'rear':>8} {'CoG m':>6} {'lat':>5} axle?"
    ]
    for r in rows:
        lines.append(
            f"{r.vehicle:<42} {r.shipment:>2} {r.pallets:>3} {r.total_kg:>7.0f} {r.status:<10} "
            f"{r.solve_time_s:>7.2f} {r.left_out:>3} {r.kingpin_kg:>8.0f} {r.rear_kg:>8.0f} "
            f"{r.cog_m or 0:>6.3f} {r.lateral_kg:>5.0f} | {r.naive_kingpin_kg:>8.0f} "
            f"{r.naive_rear_kg:>8.0f} {r.naive_cog_m or 0:>6.3f} {r.naive_lateral_kg:>5.0f} "
            f"{'BROKEN' if r.naive_breaks_axle else 'ok'}"
        )
    lines.append("")
    for s in summaries:
        lines.append(
            f"{s.vehicle}: {s.optimal} optimal, {s.feasible} feasible, {s.infeasible} do not fit "
            f"(partial plan), {s.unknown} unknown; time to optimal median "
            f"{s.median_time_to_optimal_s} s, max {s.max_time_to_optimal_s} s; naive breaks an "
            f"axle limit in {s.naive_breaks_axle}/{s.shipments} shipments "
            f"({s.naive_breaks_axle_of_fitting} of those ours loads completely), lateral limit in "
            f"{s.naive_breaks_lateral}; mean |CoG - ideal {s.ideal_cog_m} m|: ours "
            f"{s.mean_cog_offset_ours_m} m, naive {s.mean_cog_offset_naive_m} m"
        )
    return "\n".join(lines)


def main(results_dir: Path, *, num_workers: int = 1) -> list[VehicleSummary]:
    """Run, write results/loading.json and return the per-vehicle summaries."""
    summaries, rows = run(num_workers=num_workers)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "loading.json").write_text(
        json.dumps(
            {
                "time_limit_s": TIME_LIMIT_S,
                "num_workers": num_workers,
                "seed": SEED,
                "summaries": [asdict(s) for s in summaries],
                "shipments": [asdict(r) for r in rows],
            },
            indent=2,
        )
    )
    sys.stdout.write(_table(summaries, rows) + "\n")
    return summaries


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.loading")
    parser.add_argument("--workers", type=int, default=1, help="CP-SAT search workers")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    main(Path(__file__).with_name("results"), num_workers=args.workers)
