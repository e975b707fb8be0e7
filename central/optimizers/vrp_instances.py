"""Readers for the VRP benchmark files (VRPLIB/TSPLIB text) into `RoutingProblem`s.

Two sets (see /work/shared/benchmarks/vrp/README.md):

* X set CVRP: EUC_2D distances rounded to the nearest integer (TSPLIB `nint`); node 1 is the
  depot; fleet size free. Read with one unit of distance = 1 "metre" and a cost of 1 per unit.
* Solomon VRPTW, DIMACS convention: distances and travel times are Euclidean truncated to one
  decimal; objective = total distance, at most `VEHICLES` routes. Read in tenths (distance,
  times, windows and service all × 10) with a cost of 0.1 per tenth, so plan costs are in the
  file's units.

Demands become kg, capacity the vehicle's kg; there are no pallets, breaks or shifts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from central.optimizers.routing_model import (
    Depot,
    RoutingProblem,
    Stop,
    TravelMatrix,
    VehicleType,
)


@dataclass(frozen=True)
class Instance:
    """A benchmark instance: its name, the routing problem and how it was read."""

    name: str
    problem: RoutingProblem
    kind: str  # "cvrp" or "cvrptw" (the file's TYPE, lower case)


@dataclass(frozen=True)
class BestKnown:
    """A best-known solution: its routes (stop ids, in order) and cost in the file's units."""

    routes: tuple[tuple[str, ...], ...]
    cost: Decimal


def _parse(path: Path) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    specs: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = line
            sections[current] = []
        elif ":" in line and current is None:
            key, value = line.split(":", 1)
            specs[key.strip()] = value.strip()
        elif current is not None:
            if ":" in line:
                current = None
                key, value = line.split(":", 1)
                specs[key.strip()] = value.strip()
            else:
                sections[current].append(line.split())
    return specs, sections


def read_instance(path: Path) -> Instance:
    """Reads an X-set CVRP (TYPE CVRP) or Solomon VRPTW (TYPE CVRPTW) `.vrp` file."""
    specs, sections = _parse(path)
    kind = specs.get("TYPE", "")
    if specs.get("EDGE_WEIGHT_TYPE") != "EUC_2D" or kind not in ("CVRP", "CVRPTW"):
        raise ValueError(f"{path.name}: only EUC_2D CVRP / CVRPTW files are supported")
    coords = [(float(row[1]), float(row[2])) for row in sections["NODE_COORD_SECTION"]]
    demand = [int(row[1]) for row in sections["DEMAND_SECTION"]]
    depot_ids = [int(row[0]) for row in sections["DEPOT_SECTION"] if row[0] != "-1"]
    if depot_ids != [1]:
        raise ValueError(f"{path.name}: expected node 1 as the only depot")
    capacity = Decimal(specs["CAPACITY"])
    n = len(coords) - 1
    timed = kind == "CVRPTW"
    scale = 10 if timed else 1

    def dist(a: tuple[float, float], b: tuple[float, float]) -> int:
        exact = math.hypot(a[0] - b[0], a[1] - b[1])
        # DIMACS: truncate to one decimal (in tenths); X set: nearest integer.
        return math.floor(exact * 10) if timed else round(exact)

    matrix = tuple(tuple(dist(a, b) for b in coords) for a in coords)
    if timed:
        windows = [(int(r[1]) * scale, int(r[2]) * scale) for r in sections["TIME_WINDOW_SECTION"]]
        service = int(specs.get("SERVICE_TIME", "0")) * scale
        vehicles = int(specs["VEHICLES"])
    else:
        windows = []
        service = 0
        vehicles = n
    opens, closes = windows[0] if timed else (0, 0)
    # CVRP has no time: travel takes no time, so no schedule can be infeasible.
    durations = matrix if timed else tuple(tuple(0 for _ in row) for row in matrix)
    stops = tuple(
        Stop(
            id=str(i),
            demand_kg=Decimal(demand[i]),
            earliest_s=windows[i][0] if timed else 0,
            latest_s=windows[i][1] if timed else None,
            service_s=service,
        )
        for i in range(1, len(coords))
    )
    # One distance unit costs 1 (X set) or 0.1 (Solomon tenths): cost_per_km is per 1000.
    per_km = Decimal(1000) / scale
    problem = RoutingProblem(
        depots=(Depot("depot", opens_s=opens, closes_s=closes),),
        vehicle_types=(
            VehicleType("vehicle", capacity_kg=capacity, count=vehicles, cost_per_km=per_km),
        ),
        stops=stops,
        travel=TravelMatrix(distance_m=matrix, duration_s=durations),
    )
    return Instance(name=specs.get("NAME", path.stem), problem=problem, kind=kind.lower())


def read_best_known(path: Path) -> BestKnown:
    """Reads a `.sol` file: "Route #k: ids..." lines and "Cost X"."""
    routes: list[tuple[str, ...]] = []
    cost: Decimal | None = None
    for line in path.read_text().splitlines():
        if match := re.match(r"Route #\d+:(.*)", line.strip()):
            routes.append(tuple(match.group(1).split()))
        elif line.strip().lower().startswith("cost"):
            cost = Decimal(line.split()[1])
    if cost is None:
        raise ValueError(f"{path.name}: no Cost line")
    return BestKnown(routes=tuple(routes), cost=cost)
