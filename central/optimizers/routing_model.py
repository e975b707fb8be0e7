"""Routing data model: the problem, the plan, travel matrices, plan cost and scheduling.

Conventions used everywhere in the routing optimizer:

* Times are integer seconds from the start of the planning day. A stop's window bounds the
  *start of service* (as in Solomon's VRPTW); `Visit.arrival_s` is that planned start.
* Node numbering inside the engines: depots first (in `RoutingProblem.depots` order), then
  stops (in `RoutingProblem.stops` order), then start places (`RoutingProblem.places`). A
  supplied `TravelMatrix` uses the same order.
* A vehicle normally leaves its depot and comes back to it. A `VehicleStart` changes that for
  one vehicle: it may start at a `Place` (re-planning the rest of the day: where a vehicle
  under way is committed), not before a time, with part of its shift, capacity and driving
  time before a break already used. Its route then runs from that place to its depot.
* Distances are integer metres, durations integer seconds.
* A route's duration is its span: return to the depot minus departure (waiting included);
  `VehicleType.cost_per_hour` is paid on it, `cost_per_km` on the distance.
* Driver breaks: a driver may drive at most `break_after_driving_s` between breaks of at least
  `break_duration_s` (e.g. EU 561/2006: 4.5 h, then 45 min). Waiting at a stop counts as a
  break when it is long enough; driving on one leg may be split around a break.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from types import MappingProxyType

EARTH_RADIUS_M = 6_371_008.8
DAY_S = 86_400


@dataclass(frozen=True)
class LatLon:
    """A geographic position in degrees (WGS 84)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"latitude/longitude out of range: {self.lat}, {self.lon}")


@dataclass(frozen=True)
class XY:
    """A planar position in metres (site plans, test grids, benchmark instances)."""

    x: float
    y: float


@dataclass(frozen=True)
class Haversine:
    """Road distance = great-circle distance × circuity; duration at an average speed."""

    circuity: float = 1.3
    speed_kmh: float = 50.0

    def __post_init__(self) -> None:
        if self.circuity < 1.0 or self.speed_kmh <= 0:
            raise ValueError("circuity must be >= 1 and speed_kmh > 0")


@dataclass(frozen=True)
class Euclidean:
    """Road distance = straight-line distance on `XY` positions × circuity; average speed."""

    circuity: float = 1.0
    speed_kmh: float = 50.0

    def __post_init__(self) -> None:
        if self.circuity < 1.0 or self.speed_kmh <= 0:
            raise ValueError("circuity must be >= 1 and speed_kmh > 0")


@dataclass(frozen=True)
class TravelMatrix:
    """Supplied distances (m) and durations (s), depots first, then stops."""

    distance_m: tuple[tuple[int, ...], ...]
    duration_s: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        size = len(self.distance_m)
        for matrix in (self.distance_m, self.duration_s):
            if len(matrix) != size or any(len(row) != size for row in matrix):
                raise ValueError("travel matrices must be square and of the same size")
            if min(map(min, matrix), default=0) < 0:
                raise ValueError("travel matrices must not hold negative values")


Travel = Haversine | Euclidean | TravelMatrix


@dataclass(frozen=True)
class Depot:
    """A site vehicles start from and return to, open from `opens_s` to `closes_s`."""

    site: str
    location: LatLon | XY | None = None
    opens_s: int = 0
    closes_s: int = DAY_S

    def __post_init__(self) -> None:
        if not 0 <= self.opens_s <= self.closes_s:
            raise ValueError(f"depot {self.site}: opening hours {self.opens_s}..{self.closes_s}")


@dataclass(frozen=True)
class VehicleType:
    """`count` identical vehicles; money in the plan's currency, Decimal.

    A type that is not `available`, or whose `maintenance_due` date is on or before the plan
    date, is not planned. `site` names the depot (None: the first depot). `shift_length_s`
    caps a route's span; the break rule applies when `break_after_driving_s` is set.
    """

    name: str
    capacity_kg: Decimal
    capacity_pallets: int | None = None
    count: int = 1
    fixed_cost: Decimal = Decimal(0)
    cost_per_km: Decimal = Decimal(0)
    cost_per_hour: Decimal = Decimal(0)
    site: str | None = None
    available: bool = True
    maintenance_due: date | None = None
    shift_length_s: int | None = None
    break_after_driving_s: int | None = None
    break_duration_s: int = 0

    def __post_init__(self) -> None:
        if self.count < 0 or self.capacity_kg < 0 or (self.capacity_pallets or 0) < 0:
            raise ValueError(f"vehicle type {self.name}: negative count or capacity")
        if min(self.fixed_cost, self.cost_per_km, self.cost_per_hour) < 0:
            raise ValueError(f"vehicle type {self.name}: negative cost")
        if self.shift_length_s is not None and self.shift_length_s <= 0:
            raise ValueError(f"vehicle type {self.name}: shift_length_s must be > 0")
        if self.break_after_driving_s is not None and (
            self.break_after_driving_s <= 0 or self.break_duration_s <= 0
        ):
            raise ValueError(f"vehicle type {self.name}: break rule needs positive durations")

    def plannable_on(self, day: date | None) -> bool:
        """Whether this type may be planned on `day` (available and not due for maintenance)."""
        if not self.available or self.count == 0:
            return False
        return self.maintenance_due is None or day is None or self.maintenance_due > day


@dataclass(frozen=True)
class Stop:
    """A delivery: demand, a window for the start of service, service time.

    An `optional` stop may be left out at cost `penalty`; a mandatory stop must be served.
    `latest_s` None means "until the depot closes".
    """

    id: str
    location: LatLon | XY | None = None
    demand_kg: Decimal = Decimal(0)
    demand_pallets: int = 0
    earliest_s: int = 0
    latest_s: int | None = None
    service_s: int = 0
    optional: bool = False
    penalty: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.demand_kg < 0 or self.demand_pallets < 0 or self.service_s < 0:
            raise ValueError(f"stop {self.id}: negative demand or service time")
        if self.latest_s is not None and self.latest_s < self.earliest_s:
            raise ValueError(f"stop {self.id}: time window closes before it opens")
        if self.penalty < 0:
            raise ValueError(f"stop {self.id}: negative penalty")


@dataclass(frozen=True)
class Place:
    """A place a vehicle starts from that is neither a depot nor a stop (re-planning: the stop
    a vehicle under way is committed to, once that stop is no longer part of the problem)."""

    name: str
    location: LatLon | XY | None = None


@dataclass(frozen=True)
class VehicleStart:
    """How one vehicle starts when not from its depot, at opening time, with a fresh shift.

    * `place`: a `Place` name (the route runs from there to the depot); None: its depot.
    * `ready_s`: the route departs at or after this time. A vehicle at a place departs at
      once: waiting there would only hold its shift clock running.
    * `shift_left_s`: the route must be back by `ready_s + shift_left_s` (None: the type's
      shift, on the route's span as usual).
    * `driven_s`: driving since the driver's last break, carried over: the first break is due
      after `break_after_driving_s - driven_s` more driving.
    * `used_kg`, `used_pallets`: capacity already taken (goods on board for stops outside
      this problem), so the route may load only the rest.
    * A vehicle at a place has paid its fixed cost already: `plan_cost` leaves it out.
    """

    vehicle: tuple[str, int]
    place: str | None = None
    ready_s: int = 0
    shift_left_s: int | None = None
    driven_s: int = 0
    used_kg: Decimal = Decimal(0)
    used_pallets: int = 0

    def __post_init__(self) -> None:
        if self.ready_s < 0 or self.driven_s < 0 or self.used_kg < 0 or self.used_pallets < 0:
            raise ValueError(f"vehicle start {self.vehicle}: negative time or load")
        if self.shift_left_s is not None and self.shift_left_s < 0:
            raise ValueError(f"vehicle start {self.vehicle}: negative shift left")


@dataclass(frozen=True)
class RoutingProblem:
    """Depots, a fleet of vehicle types and the stops of one planning day.

    `places` and `starts` describe vehicles that do not start plainly from their depot
    (see `VehicleStart`); every place is the start of exactly one vehicle.
    """

    depots: tuple[Depot, ...]
    vehicle_types: tuple[VehicleType, ...]
    stops: tuple[Stop, ...]
    travel: Travel = field(default_factory=Haversine)
    plan_date: date | None = None
    places: tuple[Place, ...] = ()
    starts: tuple[VehicleStart, ...] = ()

    def __post_init__(self) -> None:
        if not self.depots:
            raise ValueError("a routing problem needs at least one depot")
        sites = [d.site for d in self.depots]
        if len(set(sites)) != len(sites):
            raise ValueError("depot site codes must be unique")
        names = [t.name for t in self.vehicle_types]
        if len(set(names)) != len(names):
            raise ValueError("vehicle type names must be unique")
        for vtype in self.vehicle_types:
            if vtype.site is not None and vtype.site not in sites:
                raise ValueError(f"vehicle type {vtype.name}: unknown site {vtype.site}")
        ids = [s.id for s in self.stops]
        if len(set(ids)) != len(ids):
            raise ValueError("stop ids must be unique")
        self._check_starts()
        if isinstance(self.travel, TravelMatrix):
            if len(self.travel.distance_m) != self.node_count:
                raise ValueError("travel matrix size must be depots + stops + places")
        else:
            wanted = LatLon if isinstance(self.travel, Haversine) else XY
            if not all(isinstance(p, wanted) for p in self.node_locations()):
                raise ValueError(f"{type(self.travel).__name__} travel needs {wanted.__name__}")

    def _check_starts(self) -> None:
        counts = {t.name: t.count for t in self.vehicle_types}
        vehicles = [s.vehicle for s in self.starts]
        if len(set(vehicles)) != len(vehicles):
            raise ValueError("a vehicle has two starts")
        for start in self.starts:
            if not 0 <= start.vehicle[1] < counts.get(start.vehicle[0], 0):
                raise ValueError(f"start given for unknown vehicle {start.vehicle}")
        names = [p.name for p in self.places]
        used = [s.place for s in self.starts if s.place is not None]
        if len(set(names)) != len(names) or sorted(used) != sorted(names):
            raise ValueError("every place must be the start of exactly one vehicle")

    def node_locations(self) -> list[LatLon | XY | None]:
        """Locations of all nodes in engine order (depots, stops, places)."""
        return (
            [d.location for d in self.depots]
            + [s.location for s in self.stops]
            + [p.location for p in self.places]
        )

    @property
    def node_count(self) -> int:
        """Depots + stops + places."""
        return len(self.depots) + len(self.stops) + len(self.places)

    def start_of(self, vehicle: tuple[str, int]) -> VehicleStart | None:
        """A vehicle's start spec, or None when it starts plainly from its depot."""
        return next((s for s in self.starts if s.vehicle == vehicle), None)

    def start_node(self, vtype: VehicleType, start: VehicleStart | None) -> int:
        """Node a vehicle's route starts from: its start place, else its depot."""
        if start is None or start.place is None:
            return self.depot_node(vtype)
        offset = len(self.depots) + len(self.stops)
        return offset + next(i for i, p in enumerate(self.places) if p.name == start.place)

    def depot_node(self, vtype: VehicleType) -> int:
        """Node index of the depot a vehicle type is based at."""
        if vtype.site is None:
            return 0
        return next(i for i, d in enumerate(self.depots) if d.site == vtype.site)

    def stop_node(self, stop_index: int) -> int:
        """Node index of the stop at `stop_index` in `stops`."""
        return len(self.depots) + stop_index

    @property
    def horizon_s(self) -> int:
        """Latest closing time over all depots."""
        return max(d.closes_s for d in self.depots)

    def latest(self, stop: Stop) -> int:
        """A stop's latest start of service, defaulting to the horizon."""
        return self.horizon_s if stop.latest_s is None else stop.latest_s


@dataclass(frozen=True)
class Matrices:
    """Integer distance (m) and duration (s) between nodes (depots, then stops)."""

    distance: tuple[tuple[int, ...], ...]
    duration: tuple[tuple[int, ...], ...]


def _haversine_m(a: LatLon, b: LatLon) -> float:
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def travel_matrices(problem: RoutingProblem) -> Matrices:
    """Distances and durations between all nodes, from the problem's travel model."""
    travel = problem.travel
    if isinstance(travel, TravelMatrix):
        return Matrices(travel.distance_m, travel.duration_s)
    places = problem.node_locations()
    speed_ms = travel.speed_kmh / 3.6
    distance: list[tuple[int, ...]] = []
    duration: list[tuple[int, ...]] = []
    for a in places:
        row_d: list[int] = []
        row_t: list[int] = []
        for b in places:
            if isinstance(a, LatLon) and isinstance(b, LatLon):
                metres = _haversine_m(a, b) * travel.circuity
            elif isinstance(a, XY) and isinstance(b, XY):
                metres = math.hypot(a.x - b.x, a.y - b.y) * travel.circuity
            else:
                raise ValueError("mixed or missing locations")
            row_d.append(round(metres))
            row_t.append(round(metres / speed_ms))
        distance.append(tuple(row_d))
        duration.append(tuple(row_t))
    return Matrices(tuple(distance), tuple(duration))


@dataclass(frozen=True)
class Visit:
    """A planned stop: `arrival_s` is the planned start of service, `departure_s` its end."""

    stop_id: str
    arrival_s: int
    departure_s: int


@dataclass(frozen=True)
class Break:
    """A driver break on leg `leg` (0: leaving the depot, k: after the k-th visit)."""

    leg: int
    start_s: int
    duration_s: int


@dataclass(frozen=True)
class Route:
    """One vehicle's tour: depart the depot (or its start place) at `start_s`, back at `end_s`."""

    vehicle_type: str
    vehicle_index: int
    site: str
    start_s: int
    end_s: int
    visits: tuple[Visit, ...]
    breaks: tuple[Break, ...]
    distance_m: int
    load_kg: Decimal
    load_pallets: int

    @property
    def km(self) -> Decimal:
        """Distance driven in km."""
        return Decimal(self.distance_m) / 1000

    @property
    def duration_s(self) -> int:
        """Span of the route (waiting and breaks included)."""
        return self.end_s - self.start_s

    @property
    def vehicle(self) -> tuple[str, int]:
        """(vehicle type name, index within the type): the vehicle's key."""
        return (self.vehicle_type, self.vehicle_index)


class RoutingStatus(Enum):
    """Outcome of a routing solve."""

    FEASIBLE = "feasible"  # every mandatory stop served, all hard constraints met
    INCOMPLETE = "incomplete"  # valid routes, but some mandatory stops could not be planned
    NO_SOLUTION = "no_solution"  # no plan serving every mandatory stop was found


@dataclass(frozen=True)
class RoutingResult:
    """A routing plan: routes, dropped stops, its cost and how it was found.

    `engine_costs` holds each engine's feasible plan cost (None: no feasible plan).
    """

    status: RoutingStatus
    routes: tuple[Route, ...]
    dropped: tuple[str, ...]
    cost: Decimal
    engine: str
    solve_time_s: float
    engine_costs: Mapping[str, Decimal | None] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()

    def route_of(self, vehicle: tuple[str, int]) -> Route | None:
        """The route of a vehicle, or None when it stays at the depot."""
        return next((r for r in self.routes if r.vehicle == vehicle), None)


def plan_cost(problem: RoutingProblem, routes: Sequence[Route], dropped: Sequence[str]) -> Decimal:
    """Cost of a plan: fixed + per km + per hour of each route, plus dropped stops' penalties.

    A vehicle starting at a place (under way) has paid its fixed cost already.
    """
    types = {t.name: t for t in problem.vehicle_types}
    penalties = {s.id: s.penalty for s in problem.stops if s.optional}
    away = {s.vehicle for s in problem.starts if s.place is not None}
    total = Decimal(0)
    for route in routes:
        vtype = types[route.vehicle_type]
        hours = Decimal(route.duration_s) / 3600
        fixed = Decimal(0) if route.vehicle in away else vtype.fixed_cost
        total += fixed + route.km * vtype.cost_per_km + hours * vtype.cost_per_hour
    return total + sum((penalties.get(stop_id, Decimal(0)) for stop_id in dropped), Decimal(0))


def schedule_route(
    problem: RoutingProblem,
    matrices: Matrices,
    *,
    vtype: VehicleType,
    vehicle_index: int,
    stop_indices: Sequence[int],
    start_s: int,
) -> Route:
    """Times a stop sequence as early as possible from `start_s`, inserting driver breaks.

    The route starts where the vehicle's `VehicleStart` says (its depot by default), with
    the driving since the last break it carries over. Breaks are taken during waiting at a
    stop when it is long enough, else on the leg where the driving limit would be passed,
    right when it is reached. The result may still break time windows or the shift;
    `check_routes` says so.
    """
    depot = problem.depot_node(vtype)
    start = problem.start_of((vtype.name, vehicle_index))
    limit = vtype.break_after_driving_s
    pause = vtype.break_duration_s
    now = start_s
    driven = 0 if start is None else min(start.driven_s, limit or 0)
    node = problem.start_node(vtype, start)
    visits: list[Visit] = []
    breaks: list[Break] = []
    distance = 0
    targets = [*(problem.stop_node(i) for i in stop_indices), depot]
    for leg, target in enumerate(targets):
        drive = matrices.duration[node][target]
        distance += matrices.distance[node][target]
        if limit is not None:
            while driven + drive > limit:
                piece = limit - driven
                now += piece
                drive -= piece
                breaks.append(Break(leg, now, pause))
                now += pause
                driven = 0
            driven += drive
        now += drive
        if target == depot:
            break
        stop = problem.stops[target - len(problem.depots)]
        begin = max(now, stop.earliest_s)
        if limit is not None and begin - now >= pause and driven > 0:
            breaks.append(Break(leg, now, pause))
            driven = 0
        visits.append(Visit(stop.id, begin, begin + stop.service_s))
        now = begin + stop.service_s
        node = target
    served = [problem.stops[i] for i in stop_indices]
    return Route(
        vehicle_type=vtype.name,
        vehicle_index=vehicle_index,
        site=problem.depots[depot].site,
        start_s=start_s,
        end_s=now,
        visits=tuple(visits),
        breaks=tuple(breaks),
        distance_m=distance,
        load_kg=sum((s.demand_kg for s in served), Decimal(0)),
        load_pallets=sum(s.demand_pallets for s in served),
    )


class ViolationKind(Enum):
    """What a plan gets wrong."""

    UNKNOWN_VEHICLE = "unknown_vehicle"
    VEHICLE_NOT_PLANNABLE = "vehicle_not_plannable"
    VEHICLE_USED_TWICE = "vehicle_used_twice"
    WRONG_DEPOT = "wrong_depot"
    UNKNOWN_STOP = "unknown_stop"
    STOP_SERVED_TWICE = "stop_served_twice"
    MANDATORY_STOP_UNSERVED = "mandatory_stop_unserved"
    DROPPED_LIST_WRONG = "dropped_list_wrong"
    CAPACITY_KG = "capacity_kg"
    CAPACITY_PALLETS = "capacity_pallets"
    REPORTED_FIGURES_WRONG = "reported_figures_wrong"
    DEPOT_HOURS = "depot_hours"
    TRAVEL_TIME = "travel_time"
    TIME_WINDOW = "time_window"
    SERVICE_TIME = "service_time"
    SHIFT_LENGTH = "shift_length"
    BREAK = "break"
    DRIVING_TIME = "driving_time"


@dataclass(frozen=True)
class Violation:
    """One broken rule, with the vehicle and stop it concerns where there is one."""

    kind: ViolationKind
    detail: str
    vehicle: tuple[str, int] | None = None
    stop_id: str | None = None


def check_routes(problem: RoutingProblem, result: RoutingResult) -> list[Violation]:
    """Independent feasibility check of a plan against the problem's hard rules.

    Checks: vehicles exist, are plannable and used once from their depot; every stop is known
    and served at most once; every mandatory stop is served; the dropped list is exactly the
    unserved stops; kg and pallet capacity; depot hours, travel times, time windows, service
    times, shift length, break placement and driving time between breaks; the reported
    distance and loads. Returns an empty list for a feasible plan.
    """
    matrices = travel_matrices(problem)
    types = {t.name: t for t in problem.vehicle_types}
    stop_index = {s.id: i for i, s in enumerate(problem.stops)}
    out: list[Violation] = []
    used: set[tuple[str, int]] = set()
    served: set[str] = set()
    for route in result.routes:
        vtype = types.get(route.vehicle_type)
        if vtype is None or not 0 <= route.vehicle_index < vtype.count:
            out.append(Violation(ViolationKind.UNKNOWN_VEHICLE, "no such vehicle", route.vehicle))
            continue
        if route.vehicle in used:
            out.append(Violation(ViolationKind.VEHICLE_USED_TWICE, "two routes", route.vehicle))
        used.add(route.vehicle)
        if not vtype.plannable_on(problem.plan_date):
            out.append(
                Violation(
                    ViolationKind.VEHICLE_NOT_PLANNABLE,
                    "vehicle unavailable or due for maintenance",
                    route.vehicle,
                )
            )
        indices: list[int] = []
        for visit in route.visits:
            if visit.stop_id not in stop_index:
                out.append(
                    Violation(
                        ViolationKind.UNKNOWN_STOP, "unknown stop", route.vehicle, visit.stop_id
                    )
                )
                continue
            if visit.stop_id in served:
                out.append(
                    Violation(
                        ViolationKind.STOP_SERVED_TWICE,
                        "stop planned twice",
                        route.vehicle,
                        visit.stop_id,
                    )
                )
            served.add(visit.stop_id)
            indices.append(stop_index[visit.stop_id])
        if len(indices) != len(route.visits):
            continue
        out.extend(route_violations(problem, matrices, vtype, route, indices))
    for stop in problem.stops:
        if stop.id not in served and not stop.optional:
            out.append(
                Violation(ViolationKind.MANDATORY_STOP_UNSERVED, "not served", stop_id=stop.id)
            )
    unserved = {s.id for s in problem.stops} - served
    if set(result.dropped) != unserved or len(result.dropped) != len(set(result.dropped)):
        out.append(
            Violation(
                ViolationKind.DROPPED_LIST_WRONG,
                f"dropped {sorted(result.dropped)} but unserved {sorted(unserved)}",
            )
        )
    return out


def route_violations(
    problem: RoutingProblem,
    matrices: Matrices,
    vtype: VehicleType,
    route: Route,
    indices: Sequence[int],
) -> list[Violation]:
    """The rules one route of known stops (`indices` into `problem.stops`) breaks."""
    out: list[Violation] = []
    key = route.vehicle
    depot_node = problem.depot_node(vtype)
    depot = problem.depots[depot_node]
    start = problem.start_of(key)
    if route.site != depot.site:
        out.append(Violation(ViolationKind.WRONG_DEPOT, f"based at {depot.site}", key))
    stops = [problem.stops[i] for i in indices]
    load_kg = sum((s.demand_kg for s in stops), Decimal(0))
    pallets = sum(s.demand_pallets for s in stops)
    used_kg = Decimal(0) if start is None else start.used_kg
    used_pallets = 0 if start is None else start.used_pallets
    if used_kg + load_kg > vtype.capacity_kg:
        out.append(
            Violation(
                ViolationKind.CAPACITY_KG,
                f"{used_kg} on board + {load_kg} > {vtype.capacity_kg} kg",
                key,
            )
        )
    if vtype.capacity_pallets is not None and used_pallets + pallets > vtype.capacity_pallets:
        out.append(
            Violation(
                ViolationKind.CAPACITY_PALLETS,
                f"{used_pallets} on board + {pallets} > {vtype.capacity_pallets} pallets",
                key,
            )
        )
    nodes = [problem.start_node(vtype, start), *(problem.stop_node(i) for i in indices), depot_node]
    distance = sum(matrices.distance[a][b] for a, b in itertools.pairwise(nodes))
    if (distance, load_kg, pallets) != (route.distance_m, route.load_kg, route.load_pallets):
        out.append(
            Violation(
                ViolationKind.REPORTED_FIGURES_WRONG,
                f"distance/kg/pallets are {distance}/{load_kg}/{pallets}",
                key,
            )
        )
    if route.start_s < depot.opens_s or route.end_s > depot.closes_s:
        out.append(Violation(ViolationKind.DEPOT_HOURS, "outside depot opening hours", key))
    if start is not None and route.start_s < start.ready_s:
        out.append(
            Violation(
                ViolationKind.DEPOT_HOURS, f"leaves before it is ready ({start.ready_s})", key
            )
        )
    if start is not None and start.shift_left_s is not None:
        if route.end_s > start.ready_s + start.shift_left_s:
            out.append(
                Violation(
                    ViolationKind.SHIFT_LENGTH,
                    f"back at {route.end_s}, shift ends at {start.ready_s + start.shift_left_s}",
                    key,
                )
            )
    elif vtype.shift_length_s is not None and route.duration_s > vtype.shift_length_s:
        out.append(
            Violation(
                ViolationKind.SHIFT_LENGTH,
                f"{route.duration_s} s > shift of {vtype.shift_length_s} s",
                key,
            )
        )
    for stop, visit in zip(stops, route.visits, strict=True):
        if not stop.earliest_s <= visit.arrival_s <= problem.latest(stop):
            out.append(
                Violation(
                    ViolationKind.TIME_WINDOW,
                    f"service starts at {visit.arrival_s}, window "
                    f"{stop.earliest_s}..{problem.latest(stop)}",
                    key,
                    stop.id,
                )
            )
        if visit.departure_s - visit.arrival_s < stop.service_s:
            out.append(Violation(ViolationKind.SERVICE_TIME, "service too short", key, stop.id))
    departures = [route.start_s, *(v.departure_s for v in route.visits)]
    arrivals = [*(v.arrival_s for v in route.visits), route.end_s]
    limit = vtype.break_after_driving_s
    if route.breaks and limit is None:
        out.append(Violation(ViolationKind.BREAK, "breaks on a vehicle without break rule", key))
    driven = 0 if start is None else start.driven_s
    for leg, (a, b) in enumerate(itertools.pairwise(nodes)):
        leg_breaks = sorted((br for br in route.breaks if br.leg == leg), key=lambda br: br.start_s)
        gaps, ok = _leg_gaps(departures[leg], arrivals[leg], leg_breaks, vtype.break_duration_s)
        if not ok:
            out.append(
                Violation(ViolationKind.BREAK, f"break on leg {leg} misplaced or too short", key)
            )
            continue
        drive = matrices.duration[a][b]
        if drive > sum(gaps):
            out.append(
                Violation(
                    ViolationKind.TRAVEL_TIME,
                    f"leg {leg} needs {drive} s of driving, {sum(gaps)} s available",
                    key,
                )
            )
            continue
        if limit is None:
            continue
        driven, ok = _drive_through(driven, drive, gaps, limit)
        if not ok:
            out.append(
                Violation(
                    ViolationKind.DRIVING_TIME,
                    f"more than {limit} s of driving without a break by leg {leg}",
                    key,
                )
            )
    return out


def _leg_gaps(
    depart: int, arrive: int, breaks: list[Break], min_pause: int
) -> tuple[list[int], bool]:
    """Free time slots around the breaks of one leg; False when a break is misplaced."""
    gaps: list[int] = []
    cursor = depart
    for br in breaks:
        if br.start_s < cursor or br.duration_s < min_pause:
            return [], False
        gaps.append(br.start_s - cursor)
        cursor = br.start_s + br.duration_s
    if cursor > arrive:
        return [], False
    gaps.append(arrive - cursor)
    return gaps, True


def _drive_through(driven: int, drive: int, gaps: list[int], limit: int) -> tuple[int, bool]:
    """Drives a leg as early as possible in its slots; returns driving since the last break."""
    remaining = drive
    for i, gap in enumerate(gaps):
        piece = min(gap, limit - driven, remaining)
        if piece < 0:
            return driven, False
        remaining -= piece
        driven += piece
        if i < len(gaps) - 1:
            driven = 0
    return driven, remaining == 0 and driven <= limit


def frozen_mapping(values: Mapping[str, Decimal | None]) -> Mapping[str, Decimal | None]:
    """A read-only copy of a mapping, for frozen results."""
    return MappingProxyType(dict(values))


def cost_scale(problem: RoutingProblem) -> int:
    """Power of ten that turns the plan's money into engine integers.

    Per-metre, fixed and penalty costs become exact integers where a scale up to 10⁴ allows;
    per-second costs (per hour / 3600) are rounded, within 1 % where possible. The cap keeps
    costs in the range PyVRP's load and time-warp penalties are tuned for (at most 10⁵ per
    unit of violation): at finer scales it stops finding feasible plans. Plan costs are always
    recomputed exactly by `plan_cost`.
    """
    exact = [t.cost_per_km / 1000 for t in problem.vehicle_types]
    exact += [t.fixed_cost for t in problem.vehicle_types]
    exact += [s.penalty for s in problem.stops if s.optional]
    hourly = [t.cost_per_hour / 3600 for t in problem.vehicle_types if t.cost_per_hour]
    scale = 1
    while scale < 10**4:
        if all(v * scale == int(v * scale) for v in exact) and all(
            abs(round(v * scale) - v * scale) <= v * scale / 100 for v in hourly
        ):
            break
        scale *= 10
    return scale


def scaled(value: Decimal, scale: int) -> int:
    """`value` in engine integer cost units."""
    return int((value * scale).to_integral_value())


def route_feasible(problem: RoutingProblem, matrices: Matrices, route: Route) -> bool:
    """Whether one route of known stops meets capacity, time and break rules."""
    types = {t.name: t for t in problem.vehicle_types}
    index = {s.id: i for i, s in enumerate(problem.stops)}
    indices = [index[v.stop_id] for v in route.visits]
    return not route_violations(problem, matrices, types[route.vehicle_type], route, indices)
