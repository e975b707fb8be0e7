"""Loading order: where each pallet stands on the vehicle and in which order it goes on.

``solve(problem, *, time_limit_s, seed)`` builds a CP-SAT model:

- each pallet on one position (``x[pallet, slot]``), each position holds at most one pallet; with
  ``max_stack = 2`` a stackable pallet may stand on a stackable, non-fragile one (an industrial
  pallet never on a EUR one);
- **LIFO by stop, hard.** The doors are at the rear (the highest row). For pallets ``p``, ``q`` on
  the same deck with ``stop(p) < stop(q)``: ``row(p) >= row(q)``. Equal rows are allowed, so a row
  can hold pallets of two stops side by side: at ``p``'s stop everything behind ``p``'s row has
  already come off and the pallets beside it do not block the forklift. Modelled per deck and
  stop with a row interval ``[lo_s, hi_s]`` holding every pallet of stop ``s`` and
  ``hi_{s+1} <= lo_s`` (with ``lo_s <= hi_s``, which chains the rule over stops that have no
  pallet on the deck). A stacked pallet's stop is <= the stop of the pallet under it;
- payload, both axle limits (two-support beam, see `loading_model`) and the lateral limit, hard
  and exact (integer grams × half-millimetres);
- objective: the load's longitudinal moment about the trailer's ideal centre of gravity
  (`TrailerType.ideal_cog_m`, which loads both supports to the same fraction of their limits)
  plus its lateral moment about the centre line, in kg·m, each beyond a tolerance of the load's
  weight × 1 cm (`COG_TOLERANCE_MM`). The limits stay exact; only the objective is coarse: a
  pallet's own centre of gravity is uncertain by centimetres, and a finer objective made CP-SAT
  spend seconds proving millimetre differences (measured: 5.8 s against 0.06 s on one case).

When not everything fits, the plan says why (`ReasonCode`: quick arithmetic checks first, then the
limits CP-SAT finds in conflict) and loads the most it can: every pallet of stop 1 counts more
than all pallets of later stops together, then stop 2 likewise, and so on; among such loads the
best balanced. The pallets left over are listed.

The loading sequence follows from the positions: front rows first (the last stop's pallets), on a
double deck the lower deck of a row before the upper, a bottom pallet before the one on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ortools.sat.python import cp_model

from central.optimizers.loading_model import (
    ZERO,
    Footprint,
    LoadMeasures,
    LoadPlan,
    LoadProblem,
    LoadStatus,
    Pallet,
    Placement,
    Reason,
    ReasonCode,
    TrailerType,
    check_plan,
    grams,
    measure,
    millimetres,
)
from central.optimizers.loading_svg import trailer_svg

__all__ = [
    "Footprint",
    "LoadMeasures",
    "LoadPlan",
    "LoadProblem",
    "LoadStatus",
    "Pallet",
    "Placement",
    "Reason",
    "ReasonCode",
    "TrailerType",
    "check_plan",
    "measure",
    "naive_plan",
    "solve",
    "trailer_svg",
]

logger = logging.getLogger(__name__)

_MAX_COEFFICIENT = 2**60
# Objective unit (kg·m) and the centre-of-gravity offset that costs nothing: a pallet's own centre
# of gravity is not known to better than a few centimetres, so chasing millimetres only keeps
# CP-SAT from proving a plan optimal.
OBJECTIVE_UNIT_KG_MM = 1_000
COG_TOLERANCE_MM = 10


@dataclass(frozen=True)
class _Slot:
    deck: int
    row: int
    column: int
    level: int


def _slots(trailer: TrailerType) -> list[_Slot]:
    return [
        _Slot(deck, row, column, level)
        for deck in range(trailer.decks)
        for row in range(trailer.rows)
        for column in range(trailer.columns)
        for level in range(trailer.max_stack)
    ]


class _Model:
    """The CP-SAT model over the pallets that could go on at all.

    Pallets alike in everything the model sees (weight, stop, stacking flags, base) form one
    class with a count, so CP-SAT does not waste its time swapping identical pallets.
    """

    def __init__(
        self,
        trailer: TrailerType,
        pallets: Sequence[Pallet],
        *,
        all_loaded: bool,
        groups: bool,
    ) -> None:
        self.trailer = trailer
        classes: dict[tuple[Decimal, int, bool, bool, Footprint], list[Pallet]] = {}
        for p in pallets:
            key = (p.weight_kg, p.stop_index, p.stackable, p.fragile, p.footprint)
            classes.setdefault(key, []).append(p)
        self.members = list(classes.values())
        self.pallets = [alike[0] for alike in self.members]
        self.slots = _slots(trailer)
        self.model = cp_model.CpModel()
        m = self.model
        # Assumption literals per constraint group, so an infeasible model can name what clashes.
        self.group: dict[str, cp_model.IntVar] = {}
        for name in ("payload", "kingpin", "lift", "rear", "lateral", "lifo"):
            lit = m.new_bool_var(name)
            self.group[name] = lit
            if not groups:
                m.add(lit == 1)

        self.x: dict[tuple[int, int], cp_model.IntVar] = {}
        for i, p in enumerate(self.pallets):
            for j, s in enumerate(self.slots):
                if s.level == 1 and not p.stackable:
                    continue
                self.x[i, j] = m.new_bool_var(f"x{i}_{j}")
        self.loaded: list[cp_model.IntVar | int] = []
        for i, alike in enumerate(self.members):
            on = [v for (pi, _), v in self.x.items() if pi == i]
            if all_loaded:
                m.add(sum(on) == len(alike))
                self.loaded.append(len(alike))
            else:
                count = m.new_int_var(0, len(alike), f"loaded{i}")
                m.add(sum(on) == count)
                self.loaded.append(count)
        for j in range(len(self.slots)):
            m.add_at_most_one(self._at(j))
        self._stacking()
        self._lifo()
        self._limits()
        self._balance()

    def _at(self, j: int, pallets: Iterable[int] | None = None) -> list[cp_model.IntVar]:
        chosen = range(len(self.pallets)) if pallets is None else pallets
        return [self.x[i, j] for i in chosen if (i, j) in self.x]

    def _slot_index(self, deck: int, row: int, column: int, level: int) -> int:
        t = self.trailer
        return ((deck * t.rows + row) * t.columns + column) * t.max_stack + level

    def _stacking(self) -> None:
        if self.trailer.max_stack == 1:
            return
        m = self.model
        supports = [i for i, p in enumerate(self.pallets) if p.supports]
        industrial = [i for i, p in enumerate(self.pallets) if p.footprint is Footprint.INDUSTRIAL]
        industrial_supports = [i for i in supports if i in industrial]
        stops = [p.stop_index for p in self.pallets]
        for j, s in enumerate(self.slots):
            if s.level != 1:
                continue
            below = self._slot_index(s.deck, s.row, s.column, 0)
            m.add(sum(self._at(j)) <= sum(self._at(below, supports)))
            m.add(sum(self._at(j, industrial)) <= sum(self._at(below, industrial_supports)))
            top_stop = sum(stops[i] * self.x[i, j] for i in range(len(stops)) if (i, j) in self.x)
            bottom_stop = sum(
                stops[i] * self.x[i, below] for i in range(len(stops)) if (i, below) in self.x
            )
            m.add(top_stop <= bottom_stop).only_enforce_if(self.group["lifo"])

    def _lifo(self) -> None:
        m = self.model
        t = self.trailer
        stops = sorted({p.stop_index for p in self.pallets})
        lifo = self.group["lifo"]
        for deck in range(t.decks):
            # occupied[s, r]: some pallet of stop s stands in row r of this deck.
            occupied = {
                (s, r): m.new_bool_var(f"occ{deck}_{s}_{r}") for s in stops for r in range(t.rows)
            }
            for (i, j), v in self.x.items():
                slot = self.slots[j]
                if slot.deck == deck:
                    m.add_implication(v, occupied[self.pallets[i].stop_index, slot.row])
            for a, earlier in enumerate(stops):
                for later in stops[a + 1 :]:
                    for row in range(t.rows):
                        for nearer_doors in range(row + 1, t.rows):
                            m.add_bool_or(
                                [
                                    ~occupied[earlier, row],
                                    ~occupied[later, nearer_doors],
                                ]
                            ).only_enforce_if(lifo)

    def _terms(self, coefficient: dict[int, int]) -> cp_model.LinearExprT:
        """Σ grams × coefficient[slot] × x over every pallet and slot."""
        return sum(
            grams(self.pallets[i].weight_kg) * coefficient[j] * v for (i, j), v in self.x.items()
        )

    def _limits(self) -> None:
        m = self.model
        t = self.trailer
        # Half-millimetres keep row centres (odd half lengths) integral.
        x2 = {
            j: (2 * s.row + 1) * millimetres(t.position_length_m) for j, s in enumerate(self.slots)
        }
        k2 = 2 * millimetres(t.kingpin_m)
        a2 = 2 * millimetres(t.rear_axle_m)
        span2 = a2 - k2
        kingpin = self._terms({j: a2 - x for j, x in x2.items()})
        rear = self._terms({j: x - k2 for j, x in x2.items()})
        load = self._terms(dict.fromkeys(x2, 1))
        side = self._terms({j: t.side(s.column) for j, s in enumerate(self.slots)})
        lateral = grams(t.max_lateral_imbalance_kg)
        g = self.group
        m.add(load <= grams(t.payload_kg)).only_enforce_if(g["payload"])
        m.add(kingpin <= grams(t.max_kingpin_kg) * span2).only_enforce_if(g["kingpin"])
        m.add(kingpin >= grams(t.min_kingpin_kg) * span2).only_enforce_if(g["lift"])
        m.add(rear <= grams(t.max_rear_kg) * span2).only_enforce_if(g["rear"])
        m.add(side <= lateral).only_enforce_if(g["lateral"])
        m.add(side >= -lateral).only_enforce_if(g["lateral"])

    def _balance(self) -> None:
        m = self.model
        t = self.trailer
        ideal = t.ideal_cog_m
        longitudinal: list[tuple[int, cp_model.IntVar]] = []
        lateral: list[tuple[int, cp_model.IntVar]] = []
        tolerance: list[tuple[int, cp_model.IntVar]] = []
        for (i, j), v in self.x.items():
            s = self.slots[j]
            w = self.pallets[i].weight_kg
            longitudinal.append((round(w * (t.row_centre_m(s.row) - ideal) * 1000), v))
            lateral.append((round(w * t.column_offset_m(s.column) * 1000), v))
            tolerance.append((round(w * COG_TOLERANCE_MM), v))
        slack = sum(c * v for c, v in tolerance)
        deviations: list[cp_model.IntVar] = []
        for name, terms in (("longitudinal", longitudinal), ("lateral", lateral)):
            moment = sum(c * v for c, v in terms)
            worst = sum(abs(c) for c, _ in terms) // OBJECTIVE_UNIT_KG_MM + 1
            deviation = m.new_int_var(0, worst, name)
            m.add(OBJECTIVE_UNIT_KG_MM * deviation >= moment - slack)
            m.add(OBJECTIVE_UNIT_KG_MM * deviation >= -moment - slack)
            deviations.append(deviation)
        self.balance: cp_model.LinearExprT = sum(deviations)

    def priority(self) -> cp_model.LinearExprT:
        """Loaded pallets scored so one pallet of a stop outweighs all of the later stops."""
        counts: dict[int, int] = {}
        for alike in self.members:
            stop = alike[0].stop_index
            counts[stop] = counts.get(stop, 0) + len(alike)
        weight: dict[int, int] = {}
        later = 0
        for stop in sorted(counts, reverse=True):
            weight[stop] = later + 1
            later += counts[stop] * weight[stop]
        if later > _MAX_COEFFICIENT:
            raise ValueError(
                "too many stops with too many pallets to rank leftovers by stop; "
                "split the shipment over two load plans"
            )
        return sum(weight[p.stop_index] * self.loaded[i] for i, p in enumerate(self.pallets))

    def placements(self, solver: cp_model.CpSolver) -> tuple[Placement, ...]:
        """The solver's positions, numbered in loading order."""
        chosen = [(i, self.slots[j]) for (i, j), v in self.x.items() if solver.value(v)]
        chosen.sort(key=lambda cs: _loading_order(self.pallets[cs[0]], cs[1]))
        unused = [list(alike) for alike in self.members]
        return _sequenced((unused[i].pop(0), slot) for i, slot in chosen)


def _loading_order(pallet: Pallet, slot: _Slot) -> tuple[int, int, int, int, int]:
    # Front rows first; within a row shared by two stops, the later stop first.
    return slot.row, slot.deck, slot.level, -pallet.stop_index, slot.column


def _sequenced(chosen: Iterable[tuple[Pallet, _Slot]]) -> tuple[Placement, ...]:
    ordered = sorted(chosen, key=lambda ps: _loading_order(*ps))
    return tuple(
        Placement(
            pallet_id=p.id,
            row=s.row,
            column=s.column,
            sequence=n,
            stop_index=p.stop_index,
            weight_kg=p.weight_kg,
            deck=s.deck,
            level=s.level,
        )
        for n, (p, s) in enumerate(ordered, start=1)
    )


def _solver(time_limit_s: float, seed: int, num_workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = num_workers
    return solver


def _precheck(problem: LoadProblem) -> tuple[list[Pallet], list[Reason]]:
    """Pallets that could go on at all, and reasons visible without a solver."""
    t = problem.trailer
    reasons: list[Reason] = []
    misfits = [p.id for p in problem.pallets if not p.footprint.fits_on(t.footprint)]
    if misfits:
        reasons.append(
            Reason(
                ReasonCode.FOOTPRINT_MISMATCH,
                f"{len(misfits)} pallet(s) too big for the {t.footprint.value} positions of "
                f"{t.name}",
                tuple(misfits),
            )
        )
    heavy = [
        p.id
        for p in problem.pallets
        if p.id not in misfits and p.weight_kg > min(t.payload_kg, t.max_kingpin_kg + t.max_rear_kg)
    ]
    if heavy:
        reasons.append(
            Reason(
                ReasonCode.PALLET_TOO_HEAVY,
                f"{len(heavy)} pallet(s) heavier than {t.name} may carry on its own",
                tuple(heavy),
            )
        )
    candidates = [p for p in problem.pallets if p.id not in misfits and p.id not in heavy]
    tops = sum(p.stackable for p in candidates) if t.max_stack == 2 else 0
    capacity = t.floor_positions + min(tops, sum(p.supports for p in candidates), t.floor_positions)
    if len(candidates) > capacity:
        reasons.append(
            Reason(
                ReasonCode.TOO_MANY_PALLETS,
                f"{len(candidates)} pallets for at most {capacity} positions on {t.name}",
            )
        )
    total = sum((p.weight_kg for p in candidates), ZERO)
    if total > t.payload_kg:
        reasons.append(
            Reason(
                ReasonCode.OVER_PAYLOAD,
                f"{total} kg of pallets for a payload of {t.payload_kg} kg: "
                f"{total - t.payload_kg} kg too much",
            )
        )
    return candidates, reasons


_GROUP_REASONS = {
    "payload": (ReasonCode.OVER_PAYLOAD, "the pallets are heavier than the payload"),
    "kingpin": (ReasonCode.OVER_AXLE_LIMIT, "the kingpin (front) limit cannot be kept"),
    "lift": (ReasonCode.OVER_AXLE_LIMIT, "the load cannot stay far enough forward"),
    "rear": (ReasonCode.OVER_AXLE_LIMIT, "the rear axle group limit cannot be kept"),
    "lateral": (ReasonCode.LATERAL_IMBALANCE, "left and right cannot be balanced"),
    "lifo": (ReasonCode.LIFO_CONFLICT, "with the pallets in stop order (LIFO)"),
}


def _diagnose(
    trailer: TrailerType, pallets: Sequence[Pallet], time_limit_s: float, seed: int
) -> list[Reason]:
    """Name the constraint groups that together make loading every pallet impossible."""
    model = _Model(trailer, pallets, all_loaded=True, groups=True)
    model.model.add_assumptions(list(model.group.values()))
    solver = _solver(time_limit_s, seed, 1)
    status = solver.solve(model.model)
    if status != cp_model.INFEASIBLE:
        return [
            Reason(
                ReasonCode.CONFLICTING_LIMITS,
                "payload, axle, balance and stop-order limits cannot all be kept with every "
                "pallet on board; no single cause found within the time limit",
            )
        ]
    core = set(solver.sufficient_assumptions_for_infeasibility())
    names = [name for name, lit in model.group.items() if lit.index in core]
    if not names:
        return [
            Reason(
                ReasonCode.TOO_MANY_PALLETS,
                f"the pallets do not fit the positions of {trailer.name} (stacking rules)",
            )
        ]
    detail = "; ".join(_GROUP_REASONS[n][1] for n in names if n != "lifo")
    if "lifo" in names:
        detail = f"{detail or 'the positions run out'} {_GROUP_REASONS['lifo'][1]}"
    return [Reason(code, detail) for code in dict.fromkeys(_GROUP_REASONS[n][0] for n in names)]


def _plan(
    problem: LoadProblem,
    status: LoadStatus,
    placements: tuple[Placement, ...],
    reasons: Sequence[Reason],
    objective: int | None,
    bound: int | None,
    started: float,
) -> LoadPlan:
    on = {pl.pallet_id for pl in placements}
    return LoadPlan(
        status=status,
        placements=placements,
        left_out=tuple(p.id for p in problem.pallets if p.id not in on),
        reasons=tuple(reasons),
        objective=objective,
        bound=bound,
        solve_time_s=time.perf_counter() - started,
        measures=measure(problem.trailer, placements),
    )


def _objective(solver: cp_model.CpSolver) -> tuple[int, int]:
    return round(solver.objective_value), round(solver.best_objective_bound)


def solve(
    problem: LoadProblem, *, time_limit_s: float, seed: int = 0, num_workers: int = 1
) -> LoadPlan:
    """The best balanced plan that loads every pallet, or why not and the most that fits.

    Args:
        problem: Vehicle and pallets.
        time_limit_s: Wall-clock budget for the whole call (all solver phases share it).
        seed: CP-SAT random seed; with ``num_workers=1`` a run is reproducible.
        num_workers: CP-SAT search workers.

    Raises:
        ValueError: So many stops with so many pallets that ranking leftovers by stop would
            overflow CP-SAT's 64-bit objective (only when not everything fits).
    """
    started = time.perf_counter()
    deadline = started + time_limit_s

    def left() -> float:
        return deadline - time.perf_counter()

    trailer = problem.trailer
    candidates, reasons = _precheck(problem)
    if not reasons:
        full = _Model(trailer, candidates, all_loaded=True, groups=False)
        full.model.minimize(full.balance)
        solver = _solver(left(), seed, num_workers)
        status = solver.solve(full.model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            result = LoadStatus.OPTIMAL if status == cp_model.OPTIMAL else LoadStatus.FEASIBLE
            logger.info("load plan %s for %d pallets", result.value, len(candidates))
            return _plan(problem, result, full.placements(solver), (), *_objective(solver), started)
        if status != cp_model.INFEASIBLE:
            return _plan(
                problem,
                LoadStatus.UNKNOWN,
                (),
                [
                    Reason(
                        ReasonCode.TIME_LIMIT,
                        f"no load plan found within {time_limit_s} s; allow more time",
                    )
                ],
                None,
                None,
                started,
            )
        reasons = _diagnose(trailer, candidates, max(left() / 4, 0.01), seed)

    # Most that fits: phase 1 ranks what goes on, phase 2 balances that much.
    partial = _Model(trailer, candidates, all_loaded=False, groups=False)
    priority = partial.priority()
    partial.model.maximize(priority)
    solver = _solver(left() / 2, seed, num_workers)
    status = solver.solve(partial.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # The empty load is always a solution; not reaching it means no time was left.
        reasons.append(Reason(ReasonCode.TIME_LIMIT, f"no partial plan within {time_limit_s} s"))
        return _plan(problem, LoadStatus.INFEASIBLE, (), reasons, None, None, started)
    first = partial.placements(solver)
    best = round(solver.objective_value)
    for var in partial.x.values():
        partial.model.add_hint(var, solver.value(var))
    partial.model.add(priority >= best)
    partial.model.minimize(partial.balance)
    solver = _solver(left(), seed, num_workers)
    status = solver.solve(partial.model)
    objective: int | None = None
    bound: int | None = None
    placements = first
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        objective, bound = _objective(solver)
        placements = partial.placements(solver)
    logger.info(
        "load does not fit (%s): %d of %d pallets loaded",
        ", ".join(r.code.value for r in reasons),
        len(placements),
        len(problem.pallets),
    )
    return _plan(problem, LoadStatus.INFEASIBLE, placements, reasons, objective, bound, started)


def naive_plan(problem: LoadProblem) -> LoadPlan:
    """Baseline: last stop first, filled front to back, row by row, left to right, floor only.

    Keeps LIFO by construction but looks at no weight; ``reasons`` lists the limits it breaks.
    """
    started = time.perf_counter()
    t = problem.trailer
    fitting = [p for p in problem.pallets if p.footprint.fits_on(t.footprint)]
    ordered = sorted(fitting, key=lambda p: -p.stop_index)
    floor = [s for s in _slots(t) if s.level == 0]
    chosen = list(zip(ordered, floor, strict=False))
    placements = _sequenced(chosen)
    reasons = list(check_plan(problem, placements))
    if len(placements) < len(problem.pallets):
        reasons.append(
            Reason(
                ReasonCode.TOO_MANY_PALLETS,
                f"{len(problem.pallets) - len(placements)} pallet(s) found no position",
            )
        )
    status = LoadStatus.INFEASIBLE if reasons else LoadStatus.FEASIBLE
    return _plan(problem, status, placements, reasons, None, None, started)
