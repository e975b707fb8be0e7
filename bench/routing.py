"""Routing benchmark: our solver ("auto") vs PyVRP's default solver alone, same time limit.

Run: ``python -m bench.routing`` (``--limits 10 30``, ``--instances X-n101-k25 C101``) prints a
table and writes ``bench/results/routing.json``.

Instances: every ``.vrp`` under ../shared/benchmarks/vrp/ beside the repository (X-set CVRP,
Solomon VRPTW in the
DIMACS convention; see its README). For each instance and time limit: our plan's cost and gap
to the best-known solution, PyVRP alone (read by ``pyvrp.read`` with the set's rounding rule,
``MaxRuntime`` at the same limit, seed 0) and the ratio ours / PyVRP. Our plans are re-checked
by ``check_routes``. Targets (issue "Route control"): ratio ≤ 1.00 on every instance at 10 s;
mean gap ≤ 1 % at 30 s. Absolute figures depend on the machine and on its load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyvrp
from pyvrp.stop import MaxRuntime

from central.optimizers.routing import check_routes, solve
from central.optimizers.vrp_instances import read_best_known, read_instance

logger = logging.getLogger("bench.routing")

RESULTS_DIR = Path(__file__).parent / "results"
# shared/ lies beside the repository; WMS_VRP_BENCHMARKS points elsewhere if needed.
INSTANCES_DIR = Path(
    os.environ.get(
        "WMS_VRP_BENCHMARKS", Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "vrp"
    )
)
LIMITS_S = (10.0, 30.0)


@dataclass(frozen=True)
class Row:
    """One instance at one time limit."""

    instance: str
    kind: str
    limit_s: float
    best_known: float
    ours: float | None
    ours_engine: str
    ours_gap_pct: float | None
    ours_violations: int
    engine_costs: dict[str, float | None]
    pyvrp: float | None
    pyvrp_gap_pct: float | None
    ratio: float | None
    seconds: float


def _gap(cost: float | None, best: float) -> float | None:
    return None if cost is None else round(100 * (cost - best) / best, 3)


def run_instance(path: Path, limit_s: float, seed: int = 0) -> Row:
    """Our solver and PyVRP alone on one instance at one limit."""
    instance = read_instance(path)
    best = float(read_best_known(path.with_suffix(".sol")).cost)
    started = time.perf_counter()
    result = solve(instance.problem, time_limit_s=limit_s, seed=seed)
    ours_seconds = time.perf_counter() - started
    violations = check_routes(instance.problem, result)
    ours = float(result.cost) if result.routes and not violations else None

    rounding = "dimacs" if instance.kind == "cvrptw" else "round"
    unit = 10 if instance.kind == "cvrptw" else 1
    data = pyvrp.read(path, round_func=rounding)
    alone = pyvrp.solve(data, MaxRuntime(limit_s), seed=seed, collect_stats=False)
    baseline = alone.cost() / unit if alone.is_feasible() else None
    ratio = None if ours is None or baseline is None else round(ours / baseline, 4)
    costs = {k: (None if v is None else float(v)) for k, v in result.engine_costs.items()}
    return Row(
        instance=instance.name,
        kind=instance.kind,
        limit_s=limit_s,
        best_known=best,
        ours=ours,
        ours_engine=result.engine,
        ours_gap_pct=_gap(ours, best),
        ours_violations=len(violations),
        engine_costs=costs,
        pyvrp=baseline,
        pyvrp_gap_pct=_gap(baseline, best),
        ratio=ratio,
        seconds=round(ours_seconds, 2),
    )


def summarise(rows: list[Row]) -> dict[str, object]:
    """Per limit: mean gaps, worst ratio, instances over ratio 1.00 and the targets."""
    out: dict[str, object] = {}
    for limit in sorted({r.limit_s for r in rows}):
        at = [r for r in rows if r.limit_s == limit]
        gaps = [r.ours_gap_pct for r in at if r.ours_gap_pct is not None]
        base = [r.pyvrp_gap_pct for r in at if r.pyvrp_gap_pct is not None]
        ratios = [r.ratio for r in at if r.ratio is not None]
        out[f"{limit:g}s"] = {
            "instances": len(at),
            "ours_mean_gap_pct": round(sum(gaps) / len(gaps), 3) if gaps else None,
            "pyvrp_mean_gap_pct": round(sum(base) / len(base), 3) if base else None,
            "worst_ratio": max(ratios) if ratios else None,
            "over_ratio_1": [r.instance for r in at if r.ratio is None or r.ratio > 1.0],
            "ortools_wins": [r.instance for r in at if r.ours_engine == "ortools"],
        }
    return out


def table(rows: list[Row]) -> str:
    """A plain-text table of the rows."""
    head = f"{'instance':<12}{'limit':>6}{'BKS':>10}{'ours':>10}{'gap%':>8}{'pyvrp':>10}"
    head += f"{'gap%':>8}{'ratio':>8}  engine  ortools"
    lines = [head]
    for r in rows:
        ortools = r.engine_costs.get("ortools")
        lines.append(
            f"{r.instance:<12}{r.limit_s:>6g}{r.best_known:>10.1f}{_fmt(r.ours, 10, 1)}"
            f"{_fmt(r.ours_gap_pct, 8, 2)}{_fmt(r.pyvrp, 10, 1)}{_fmt(r.pyvrp_gap_pct, 8, 2)}"
            f"{_fmt(r.ratio, 8, 4)}  {r.ours_engine:<7}{_fmt(ortools, 9, 1)}"
        )
    return "\n".join(lines)


def _fmt(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def main(
    results_dir: Path = RESULTS_DIR,
    *,
    limits: tuple[float, ...] = LIMITS_S,
    names: tuple[str, ...] = (),
) -> dict[str, object]:
    """Runs the benchmark, writes routing.json, prints the table and returns the summary."""
    paths = sorted(INSTANCES_DIR.glob("*/*.vrp"))
    if names:
        paths = [p for p in paths if p.stem in names]
    rows: list[Row] = []
    results_dir.mkdir(parents=True, exist_ok=True)
    for limit in limits:
        for path in paths:
            row = run_instance(path, limit)
            logger.info("%s at %gs: ours %s, pyvrp %s", row.instance, limit, row.ours, row.pyvrp)
            rows.append(row)
            summary = summarise(rows)
            # Written after every instance so a long run leaves partial results behind.
            (results_dir / "routing.json").write_text(
                json.dumps(
                    {"summary": summary, "rows": [asdict(r) for r in rows]},
                    indent=2,
                    default=str,
                )
            )
    sys.stdout.write(table(rows) + "\n")
    sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _cli() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing")
    parser.add_argument("--limits", nargs="*", type=float, default=list(LIMITS_S))
    parser.add_argument("--instances", nargs="*", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main(RESULTS_DIR, limits=tuple(args.limits), names=tuple(args.instances))
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
