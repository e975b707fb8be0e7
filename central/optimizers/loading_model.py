"""Load-plan data: trailer types, pallets, the problem and the plan (frozen, validated eagerly).

Geometry. ``x`` runs along the load space from its front wall (bulkhead, ``x = 0``) towards the
doors at the rear; row 0 stands against the front wall, row ``rows - 1`` at the doors. ``y`` runs
across, 0 on the centre line, negative to the left (seen from the doors looking forward, column 0
is the left one). Pallets are unloaded through the rear doors only.

Axle model. A two-support beam: the cargo (weight ``W``, centre of gravity ``x_cg``) rests on the
kingpin at ``x_k`` (for a rigid truck: its front axle) and on the rear axle group's centre at
``x_a``::

    kingpin = W · (x_a − x_cg) / (x_a − x_k)        rear = W · (x_cg − x_k) / (x_a − x_k)

Every limit is on the *cargo's share*: the axle's legal / technical limit minus what the empty
vehicle already puts on it (the presets show the arithmetic). ``min_kingpin_kg`` (≤ 0) says how far
a load behind the rear axle may relieve the front support.

Units: metres and kilograms as ``Decimal``. Weights must be whole grams and lengths whole
millimetres so that the solver's integer model (grams, half-millimetres) is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum

ZERO = Decimal(0)
_GRAM = Decimal("0.001")
_MM = Decimal("0.001")
_REPORT_KG = Decimal("0.1")
_REPORT_M = Decimal("0.001")


def _exact(
    owner: str, name: str, value: Decimal, step: Decimal, *, minimum: Decimal | None
) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{owner}: {name} must be a finite Decimal, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    if value % step != 0:
        raise ValueError(f"{owner}: {name} must be a multiple of {step}, got {value}")


def grams(kg: Decimal) -> int:
    """Whole grams of a weight validated to gram resolution."""
    return int(kg * 1000)


def millimetres(m: Decimal) -> int:
    """Whole millimetres of a length validated to millimetre resolution."""
    return int(m * 1000)


class Footprint(Enum):
    """Pallet base: EUR (EPAL 1, 1200 × 800 mm) or industrial (ISO / EPAL 2, 1200 × 1000 mm)."""

    EUR = "EUR"
    INDUSTRIAL = "INDUSTRIAL"

    def fits_on(self, grid: Footprint) -> bool:
        """Whether a pallet of this base fits a position laid out for ``grid`` pallets."""
        return self is Footprint.EUR or grid is Footprint.INDUSTRIAL


@dataclass(frozen=True)
class TrailerType:
    """A load space as a grid of pallet positions with its axle geometry and limits.

    Args:
        name: What the dispatcher calls it.
        rows: Positions along the load space (row 0 at the front wall).
        columns: Positions across.
        footprint: The pallet base the grid is laid out for; smaller bases fit too.
        position_length_m: Length of one position along the load space.
        position_width_m: Width of one position across.
        length_m: Inner length of the load space (>= rows × position_length_m).
        payload_kg: Most cargo the vehicle may carry.
        kingpin_m: x of the front support (kingpin; a rigid truck's front axle; may be < 0).
        rear_axle_m: x of the rear axle group's centre.
        max_kingpin_kg: Most cargo share on the front support.
        max_rear_kg: Most cargo share on the rear axle group.
        max_lateral_imbalance_kg: Most |left − right| cargo weight (the middle column counts for
            neither side).
        min_kingpin_kg: Least cargo share on the front support (<= 0: a load behind the rear
            axle lifts the front by at most this much).
        decks: 1, or 2 for a double-deck trailer (each deck its own grid, unloaded at the rear).
        max_stack: 1 (floor only) or 2 (a stackable pallet on a stackable, non-fragile one).
    """

    name: str
    rows: int
    columns: int
    footprint: Footprint
    position_length_m: Decimal
    position_width_m: Decimal
    length_m: Decimal
    payload_kg: Decimal
    kingpin_m: Decimal
    rear_axle_m: Decimal
    max_kingpin_kg: Decimal
    max_rear_kg: Decimal
    max_lateral_imbalance_kg: Decimal
    min_kingpin_kg: Decimal = ZERO
    decks: int = 1
    max_stack: int = 1

    def __post_init__(self) -> None:
        owner = f"TrailerType {self.name!r}"
        if self.rows < 1 or self.columns < 1:
            raise ValueError(f"{owner}: rows and columns must be >= 1")
        if self.decks not in (1, 2) or self.max_stack not in (1, 2):
            raise ValueError(f"{owner}: decks and max_stack must each be 1 or 2")
        for name in ("position_length_m", "position_width_m", "length_m"):
            _exact(owner, name, getattr(self, name), _MM, minimum=_MM)
        _exact(owner, "kingpin_m", self.kingpin_m, _MM, minimum=None)
        _exact(owner, "rear_axle_m", self.rear_axle_m, _MM, minimum=None)
        for name in ("payload_kg", "max_kingpin_kg", "max_rear_kg", "max_lateral_imbalance_kg"):
            _exact(owner, name, getattr(self, name), _GRAM, minimum=ZERO)
        _exact(owner, "min_kingpin_kg", self.min_kingpin_kg, _GRAM, minimum=None)
        if self.min_kingpin_kg > 0:
            raise ValueError(f"{owner}: min_kingpin_kg must be <= 0 so an empty load is legal")
        if self.rear_axle_m <= self.kingpin_m:
            raise ValueError(f"{owner}: the rear axle must be behind the kingpin")
        if self.rows * self.position_length_m > self.length_m:
            raise ValueError(f"{owner}: {self.rows} rows do not fit in {self.length_m} m")

    @property
    def floor_positions(self) -> int:
        """Floor positions over all decks."""
        return self.rows * self.columns * self.decks

    @property
    def ideal_cog_m(self) -> Decimal:
        """Centre of gravity that loads both supports to the same fraction of their limits.

        It maximises the smaller of the two margins, so it is where a load is best placed.
        """
        total = self.max_kingpin_kg + self.max_rear_kg
        if total == 0:
            return (self.kingpin_m + self.rear_axle_m) / 2
        return (self.max_kingpin_kg * self.kingpin_m + self.max_rear_kg * self.rear_axle_m) / total

    def row_centre_m(self, row: int) -> Decimal:
        """x of a row's centre."""
        return self.position_length_m * row + self.position_length_m / 2

    def column_offset_m(self, column: int) -> Decimal:
        """y of a column's centre (negative = left)."""
        return self.position_width_m * (Decimal(column) - Decimal(self.columns - 1) / 2)

    def side(self, column: int) -> int:
        """-1 for a left column, +1 for a right one, 0 for the middle column."""
        twice = 2 * column - (self.columns - 1)
        return (twice > 0) - (twice < 0)

    @classmethod
    def semi_trailer_33_eur(cls) -> TrailerType:
        """13.6 m curtain-sider semi-trailer, 33 EUR pallets (3 across × 11 rows of 1.2 m).

        Tri-axle group 24 t (EU 96/53), trailer tare 6.8 t of which 4.5 t on the axles:
        cargo share ≤ 19.5 t. 4×2 tractor, drive axle 11.5 t, tare 2.3 t on it, fifth wheel
        0.45 m ahead of it on a 3.7 m wheelbase (88 % of the kingpin load goes to the drive
        axle): kingpin ≤ 10.4 t, of which the trailer's own 2.3 t leaves ≈ 8 t for cargo.
        Kingpin 1.2 m behind the front wall, axle group centre 7.75 m behind the kingpin.
        Payload 24 t (40 t train: 7.3 t tractor + 6.8 t trailer + 24 t + margin).
        """
        return cls(
            name="semi-trailer 13.6 m, 33 EUR",
            rows=11,
            columns=3,
            footprint=Footprint.EUR,
            position_length_m=Decimal("1.2"),
            position_width_m=Decimal("0.8"),
            length_m=Decimal("13.6"),
            payload_kg=Decimal(24000),
            kingpin_m=Decimal("1.2"),
            rear_axle_m=Decimal("8.95"),
            max_kingpin_kg=Decimal(8000),
            max_rear_kg=Decimal(19500),
            max_lateral_imbalance_kg=Decimal(2000),
        )

    @classmethod
    def semi_trailer_26_industrial(cls) -> TrailerType:
        """The same 13.6 m semi-trailer laid out for 26 industrial pallets (2 × 13 rows of 1 m)."""
        return cls(
            name="semi-trailer 13.6 m, 26 industrial",
            rows=13,
            columns=2,
            footprint=Footprint.INDUSTRIAL,
            position_length_m=Decimal("1.0"),
            position_width_m=Decimal("1.2"),
            length_m=Decimal("13.6"),
            payload_kg=Decimal(24000),
            kingpin_m=Decimal("1.2"),
            rear_axle_m=Decimal("8.95"),
            max_kingpin_kg=Decimal(8000),
            max_rear_kg=Decimal(19500),
            max_lateral_imbalance_kg=Decimal(2000),
        )

    @classmethod
    def double_deck_66_eur(cls) -> TrailerType:
        """13.6 m double-deck semi-trailer: two decks of 33 EUR positions (66 in all).

        Same chassis and axle limits as `semi_trailer_33_eur`; the second deck's 1.4 t tare
        (0.6 t on the kingpin, 0.8 t on the axles) comes off the cargo shares: payload 22.6 t,
        kingpin ≤ 7.4 t, axle group ≤ 18.7 t. Each deck is unloaded at the rear on its own.
        """
        return cls(
            name="double-deck semi-trailer 13.6 m, 66 EUR",
            rows=11,
            columns=3,
            footprint=Footprint.EUR,
            position_length_m=Decimal("1.2"),
            position_width_m=Decimal("0.8"),
            length_m=Decimal("13.6"),
            payload_kg=Decimal(22600),
            kingpin_m=Decimal("1.2"),
            rear_axle_m=Decimal("8.95"),
            max_kingpin_kg=Decimal(7400),
            max_rear_kg=Decimal(18700),
            max_lateral_imbalance_kg=Decimal(2000),
            decks=2,
        )

    @classmethod
    def rigid_7_5t_18_eur(cls) -> TrailerType:
        """7.5 t rigid box truck, 7.3 m body, 18 EUR pallets (3 across × 6 rows).

        Front axle 3.7 t limit, 2.7 t of the 4.7 t tare on it: cargo share ≤ 1 t; a load behind
        the rear axle may relieve the (steering) front axle by at most 0.5 t. Rear axle 5.6 t,
        2.0 t tare: cargo share ≤ 3.6 t. Front axle 1.0 m ahead of the body, wheelbase 4.8 m.
        Payload 2.79 t (7.49 t gross).
        """
        return cls(
            name="rigid truck 7.5 t, 18 EUR",
            rows=6,
            columns=3,
            footprint=Footprint.EUR,
            position_length_m=Decimal("1.2"),
            position_width_m=Decimal("0.8"),
            length_m=Decimal("7.3"),
            payload_kg=Decimal(2790),
            kingpin_m=Decimal("-1.0"),
            rear_axle_m=Decimal("3.8"),
            max_kingpin_kg=Decimal(1000),
            max_rear_kg=Decimal(3600),
            max_lateral_imbalance_kg=Decimal(300),
            min_kingpin_kg=Decimal(-500),
        )


@dataclass(frozen=True)
class Pallet:
    """One handling unit to load.

    Args:
        id: SSCC or another handling-unit id, unique within the problem.
        weight_kg: Gross weight, whole grams.
        stop_index: Delivery order of its stop on the route, 1 = first stop.
        stackable: May stand on another pallet, and carry one if also not fragile.
        fragile: Nothing may be stacked on it.
        footprint: Its base.
    """

    id: str
    weight_kg: Decimal
    stop_index: int
    stackable: bool = False
    fragile: bool = False
    footprint: Footprint = Footprint.EUR

    def __post_init__(self) -> None:
        owner = f"Pallet {self.id!r}"
        if not self.id:
            raise ValueError("Pallet: id must not be empty")
        _exact(owner, "weight_kg", self.weight_kg, _GRAM, minimum=ZERO)
        if self.stop_index < 1:
            raise ValueError(f"{owner}: stop_index must be >= 1, got {self.stop_index}")

    @property
    def supports(self) -> bool:
        """Whether another pallet may be stacked on it."""
        return self.stackable and not self.fragile


@dataclass(frozen=True)
class LoadProblem:
    """Pallets to load onto one vehicle, each with its stop."""

    trailer: TrailerType
    pallets: tuple[Pallet, ...]

    def __post_init__(self) -> None:
        ids = [p.id for p in self.pallets]
        if len(set(ids)) != len(ids):
            raise ValueError("LoadProblem: pallet ids must be unique")

    def pallet(self, pallet_id: str) -> Pallet:
        """The pallet with this id (KeyError if absent)."""
        for p in self.pallets:
            if p.id == pallet_id:
                return p
        raise KeyError(pallet_id)


@dataclass(frozen=True)
class Placement:
    """Where one pallet goes and when it goes on (sequence 1 = loaded first)."""

    pallet_id: str
    row: int
    column: int
    sequence: int
    stop_index: int
    weight_kg: Decimal
    deck: int = 0
    level: int = 0


class LoadStatus(Enum):
    """Outcome of a solve for loading *all* pallets of the problem."""

    OPTIMAL = "OPTIMAL"
    """Everything loaded; no better balanced plan exists."""
    FEASIBLE = "FEASIBLE"
    """Everything loaded within every limit; better balance not ruled out in the time given."""
    INFEASIBLE = "INFEASIBLE"
    """Not everything fits; `reasons` say why, the plan holds what fits and lists the rest."""
    UNKNOWN = "UNKNOWN"
    """No plan found and none ruled out within the time limit."""


class ReasonCode(Enum):
    """Why a load (or a given plan) does not work."""

    TOO_MANY_PALLETS = "TOO_MANY_PALLETS"
    OVER_PAYLOAD = "OVER_PAYLOAD"
    OVER_AXLE_LIMIT = "OVER_AXLE_LIMIT"
    LATERAL_IMBALANCE = "LATERAL_IMBALANCE"
    LIFO_CONFLICT = "LIFO_CONFLICT"
    PALLET_TOO_HEAVY = "PALLET_TOO_HEAVY"
    FOOTPRINT_MISMATCH = "FOOTPRINT_MISMATCH"
    CONFLICTING_LIMITS = "CONFLICTING_LIMITS"
    """Not everything fits, but the solver named no cause within the time limit."""
    TIME_LIMIT = "TIME_LIMIT"


@dataclass(frozen=True)
class Reason:
    """One reason, with a message a dispatcher can act on and the pallets it concerns."""

    code: ReasonCode
    detail: str
    pallet_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadMeasures:
    """Weights and balance of a set of placements (kg rounded to 0.1, metres to 1 mm)."""

    load_kg: Decimal
    kingpin_kg: Decimal
    rear_kg: Decimal
    cog_m: Decimal | None
    lateral_imbalance_kg: Decimal


@dataclass(frozen=True)
class LoadPlan:
    """A load plan: placements in loading order, what was left out and why, and its balance.

    ``objective`` and ``bound`` are in kg·m: the load's longitudinal moment about the ideal centre
    of gravity, |W·(x_cg − `TrailerType.ideal_cog_m`)|, plus its lateral moment about the centre
    line, |Σ weight × y|, each beyond a free tolerance of W × 1 cm and rounded up. For an
    INFEASIBLE plan they belong to the best partial plan (earliest stops first); the naive plan
    has neither.
    """

    status: LoadStatus
    placements: tuple[Placement, ...]
    left_out: tuple[str, ...]
    reasons: tuple[Reason, ...]
    objective: int | None
    bound: int | None
    solve_time_s: float
    measures: LoadMeasures

    @property
    def kingpin_kg(self) -> Decimal:
        """Cargo share on the kingpin (front support)."""
        return self.measures.kingpin_kg

    @property
    def rear_kg(self) -> Decimal:
        """Cargo share on the rear axle group."""
        return self.measures.rear_kg

    @property
    def cog_m(self) -> Decimal | None:
        """The load's centre of gravity from the front wall; None for an empty load."""
        return self.measures.cog_m

    @property
    def lateral_imbalance_kg(self) -> Decimal:
        """|left − right| cargo weight."""
        return self.measures.lateral_imbalance_kg

    @property
    def load_kg(self) -> Decimal:
        """Total cargo weight."""
        return self.measures.load_kg

    @property
    def reason_codes(self) -> frozenset[ReasonCode]:
        """The codes of `reasons`."""
        return frozenset(r.code for r in self.reasons)


def measure(trailer: TrailerType, placements: tuple[Placement, ...]) -> LoadMeasures:
    """Weights on the supports, centre of gravity and lateral imbalance of some placements."""
    load = sum((p.weight_kg for p in placements), ZERO)
    moment = sum((p.weight_kg * trailer.row_centre_m(p.row) for p in placements), ZERO)
    lateral = sum((p.weight_kg * trailer.side(p.column) for p in placements), ZERO)
    span = trailer.rear_axle_m - trailer.kingpin_m
    kingpin = (load * trailer.rear_axle_m - moment) / span
    rear = (moment - load * trailer.kingpin_m) / span
    return LoadMeasures(
        load_kg=load.quantize(_REPORT_KG, ROUND_HALF_EVEN),
        kingpin_kg=kingpin.quantize(_REPORT_KG, ROUND_HALF_EVEN),
        rear_kg=rear.quantize(_REPORT_KG, ROUND_HALF_EVEN),
        cog_m=(moment / load).quantize(_REPORT_M, ROUND_HALF_EVEN) if load else None,
        lateral_imbalance_kg=abs(lateral).quantize(_REPORT_KG, ROUND_HALF_EVEN),
    )


def check_plan(problem: LoadProblem, placements: tuple[Placement, ...]) -> tuple[Reason, ...]:
    """Every limit a plan breaks (LIFO, payload, axles, lateral balance); () if it keeps them all.

    Raises:
        ValueError: The placements are not a plan at all (unknown or repeated pallet, a position
            off the grid or taken twice, a pallet stacked where it may not be).
    """
    trailer = problem.trailer
    by_id = {p.id: p for p in problem.pallets}
    slots: dict[tuple[int, int, int, int], Pallet] = {}
    for pl in placements:
        pallet = by_id.get(pl.pallet_id)
        if pallet is None or pl.stop_index != pallet.stop_index or pl.weight_kg != pallet.weight_kg:
            raise ValueError(f"placement {pl.pallet_id!r} does not match a pallet of the problem")
        if not (
            0 <= pl.deck < trailer.decks
            and 0 <= pl.row < trailer.rows
            and 0 <= pl.column < trailer.columns
            and 0 <= pl.level < trailer.max_stack
        ):
            raise ValueError(f"pallet {pl.pallet_id!r} is placed off the grid")
        if not pallet.footprint.fits_on(trailer.footprint):
            raise ValueError(
                f"pallet {pl.pallet_id!r} does not fit a {trailer.footprint.value} slot"
            )
        key = (pl.deck, pl.row, pl.column, pl.level)
        if key in slots:
            raise ValueError(f"two pallets on deck {pl.deck} row {pl.row} column {pl.column}")
        slots[key] = pallet
    if len({pl.pallet_id for pl in placements}) != len(placements):
        raise ValueError("a pallet is placed twice")

    reasons: list[Reason] = []
    for (deck, row, column, level), top in slots.items():
        if level == 0:
            continue
        bottom = slots.get((deck, row, column, 0))
        if (
            bottom is None
            or not top.stackable
            or not bottom.supports
            or (top.footprint is Footprint.INDUSTRIAL and bottom.footprint is Footprint.EUR)
        ):
            raise ValueError(f"pallet {top.id!r} may not be stacked there")
        if top.stop_index > bottom.stop_index:
            reasons.append(
                Reason(
                    ReasonCode.LIFO_CONFLICT,
                    f"{top.id} (stop {top.stop_index}) is stacked on {bottom.id} "
                    f"(stop {bottom.stop_index}), which must come off first",
                    (top.id, bottom.id),
                )
            )
    for earlier in placements:
        for later in placements:
            if (
                earlier.deck == later.deck
                and earlier.stop_index < later.stop_index
                and earlier.row < later.row
            ):
                reasons.append(
                    Reason(
                        ReasonCode.LIFO_CONFLICT,
                        f"{later.pallet_id} (stop {later.stop_index}, row {later.row}) blocks "
                        f"{earlier.pallet_id} (stop {earlier.stop_index}, row {earlier.row})",
                        (earlier.pallet_id, later.pallet_id),
                    )
                )

    load = sum((pl.weight_kg for pl in placements), ZERO)
    moment = sum((pl.weight_kg * trailer.row_centre_m(pl.row) for pl in placements), ZERO)
    lateral = sum((pl.weight_kg * trailer.side(pl.column) for pl in placements), ZERO)
    span = trailer.rear_axle_m - trailer.kingpin_m
    kingpin_x_span = load * trailer.rear_axle_m - moment
    rear_x_span = moment - load * trailer.kingpin_m
    shown = measure(trailer, placements)
    if load > trailer.payload_kg:
        reasons.append(
            Reason(
                ReasonCode.OVER_PAYLOAD,
                f"load {shown.load_kg} kg is over the payload of {trailer.payload_kg} kg",
            )
        )
    if kingpin_x_span > trailer.max_kingpin_kg * span:
        reasons.append(
            Reason(
                ReasonCode.OVER_AXLE_LIMIT,
                f"kingpin carries {shown.kingpin_kg} kg of cargo, "
                f"limit {trailer.max_kingpin_kg} kg",
            )
        )
    if kingpin_x_span < trailer.min_kingpin_kg * span:
        reasons.append(
            Reason(
                ReasonCode.OVER_AXLE_LIMIT,
                f"the load sits so far back it lifts the front by {-shown.kingpin_kg} kg, "
                f"limit {-trailer.min_kingpin_kg} kg",
            )
        )
    if rear_x_span > trailer.max_rear_kg * span:
        reasons.append(
            Reason(
                ReasonCode.OVER_AXLE_LIMIT,
                f"rear axles carry {shown.rear_kg} kg of cargo, limit {trailer.max_rear_kg} kg",
            )
        )
    if abs(lateral) > trailer.max_lateral_imbalance_kg:
        reasons.append(
            Reason(
                ReasonCode.LATERAL_IMBALANCE,
                f"left and right differ by {shown.lateral_imbalance_kg} kg, "
                f"limit {trailer.max_lateral_imbalance_kg} kg",
            )
        )
    return tuple(reasons)
