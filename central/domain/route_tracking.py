"""Tracking a delivery route as it is driven: ETAs of the remaining stops and deviations.

Pure: a route (as planned, with what has happened so far), the vehicle's recent positions and
"now" in, predicted ETAs and deviations out. No database, no MQTT, no wall clock: "now" is
the time of the newest fact (a position or a driver's report), so a simulated day that runs
faster than real time is tracked the same way as a real one.

Travel between points is estimated as the optimizer plans it: great-circle distance ×
circuity at an average speed, rounded to whole seconds per leg.

ETAs (start of unloading of every stop not yet delivered or failed), in the order expected:

* Stops the driver has arrived at (ARRIVED) start unloading at max(arrived_at, earliest) (an
  arrival without a time counts as arriving now). The vehicle is at the latest of them and
  leaves when all of them are unloaded, never before `now`.
* Otherwise, before departure the vehicle leaves the depot at max(now, planned_start). Under
  way it leaves at `now` from the newest known place: the newest position at or before now,
  the newest delivered/failed stop, or the depot at departure, whichever fact is newest.
* The pending stops follow in planned sequence: arrival = leave + travel; start of unloading
  = max(arrival, earliest); leave = start + service.
* Planned breaks (a simple approximation): a break that starts before the vehicle can leave
  its current point is taken there, so it leaves no earlier than the break's planned end (a
  break whose planned end has passed changes nothing). A later break is taken at its planned
  start while waiting for a window; if it starts during a drive or an unloading, that drive
  or unloading is extended by the break. These rules make an ETA never earlier when `now`
  moves on with the vehicle in the same place.
* late_by_s = seconds past latest + late_grace_s, rounded up (0 when there is no `latest`).
* A completed route has no ETAs.

Deviations, each with a stable key "<kind>:<stop sequence or vehicle-level id>":

* predicted_late:<seq>: a pending stop's ETA is past its window (+ grace); also before
  departure, not once the route is completed.
* late:<seq>: the driver reported arrival (arrived_at) after the window (+ grace).
* out_of_sequence:<seq>: a stop was reached (arrived_at, else done_at) while an earlier stop
  in the plan was pending: that stop is still pending, or it was reached later.
* skipped:<seq>: a stop still pending when the route is completed; or, under way, a pending
  stop when a later stop in the plan was delivered/failed and the driver has left that later
  stop: the newest position is newer than its done_at (else arrived_at) and farther than
  at_stop_radius_m from it, or another stop was reached after that time.
* idle:<ISO time the standing started>: under way, the trailing positions stay within
  idle_radius_m of the newest position for at least idle_after_s up to now, the newest
  position is farther than at_stop_radius_m from the depot and every stop, and no planned
  break overlaps the standing time.
* off_route:<leg>: under way, the newest position is farther than off_route_m from the
  planned path depot → stops in sequence → depot; <leg> is the nearest leg (0 = depot → first
  stop). Distances to the path use a local equirectangular projection around the position,
  good enough at city scale (not across the antimeridian).

IDLE and OFF_ROUTE judge the newest position only while no driver's report (arrival,
delivery, failure) is newer than it: a stale position says nothing about the vehicle now.
"Under way" means departed (departed_at set, or a stop reached) and not completed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

EARTH_RADIUS_M = 6_371_008.8


class StopState(Enum):
    """Where a stop of a route stands."""

    PENDING = "pending"  # not reached yet
    ARRIVED = "arrived"  # the driver reported arrival, not yet delivered
    DELIVERED = "delivered"  # proof of delivery taken
    FAILED = "failed"  # the driver could not deliver (reason given)


class DeviationKind(Enum):
    """What ops are alerted to on a route."""

    PREDICTED_LATE = "route_predicted_late"  # the ETA is past the stop's window, before arrival
    LATE = "route_late"  # arrived after the window closed
    OUT_OF_SEQUENCE = "route_out_of_sequence"  # arrived at a stop before an earlier pending one
    SKIPPED = "route_skipped_stop"  # the route ended (or moved on) leaving a stop unserved
    IDLE = "route_vehicle_idle"  # standing still away from stops and depot for too long
    OFF_ROUTE = "route_off_route"  # too far from the planned path


@dataclass(frozen=True)
class GeoPoint:
    """A position in degrees (WGS 84)."""

    lat: float
    lon: float


@dataclass(frozen=True)
class TrackedStop:
    """A stop of a route: its plan (window, service, planned ETA) and what happened."""

    sequence: int  # 1-based delivery order in the current plan
    ref: str  # the delivery order's reference, for messages
    location: GeoPoint
    earliest: datetime  # window opens (start of unloading)
    latest: datetime | None  # window closes; None: no closing time
    service_s: int
    planned_eta: datetime  # the promised start of unloading
    state: StopState = StopState.PENDING
    arrived_at: datetime | None = None
    done_at: datetime | None = None  # delivered or failed


@dataclass(frozen=True)
class PlannedBreak:
    """A driver's break as planned: starts at `start`, lasts `duration_s`."""

    start: datetime
    duration_s: int


@dataclass(frozen=True)
class TrackedRoute:
    """One vehicle's route as planned, with the facts reported so far."""

    route_id: int
    vehicle: str
    depot: GeoPoint
    planned_start: datetime
    planned_end: datetime
    stops: tuple[TrackedStop, ...]  # in planned sequence
    breaks: tuple[PlannedBreak, ...] = ()
    departed_at: datetime | None = None
    completed_at: datetime | None = None  # back at the depot / route closed


@dataclass(frozen=True)
class Position:
    """A telematics sample."""

    at: datetime
    point: GeoPoint
    speed_kmh: float = 0.0


@dataclass(frozen=True)
class TrackingRules:
    """Thresholds of the deviation alerts and the travel estimate."""

    circuity: float = 1.3
    speed_kmh: float = 50.0
    late_grace_s: int = 0  # an ETA this much past the window is still on time
    off_route_m: float = 3_000.0  # distance from the planned path that counts as off route
    idle_after_s: int = 900  # standing still this long away from a stop or the depot
    idle_radius_m: float = 150.0  # moving less than this counts as standing still
    at_stop_radius_m: float = 300.0  # this close to a stop or the depot counts as there

    def __post_init__(self) -> None:
        if self.circuity < 1.0 or self.speed_kmh <= 0:
            raise ValueError("tracking rules: circuity must be >= 1 and speed_kmh > 0")
        if (
            min(self.late_grace_s, self.idle_after_s) < 0
            or min(self.off_route_m, self.idle_radius_m, self.at_stop_radius_m) < 0
        ):
            raise ValueError("tracking rules: grace, thresholds and radii must not be negative")


@dataclass(frozen=True)
class StopEta:
    """The predicted start of unloading of a stop not yet delivered or failed."""

    sequence: int
    eta: datetime
    late_by_s: int  # > 0 when the ETA is past the window's close (+ grace)


@dataclass(frozen=True)
class Deviation:
    """Something odd on the route, with a message ops and the driver can act on.

    `stop` is the stop sequence it concerns (None for vehicle-level deviations); `key` is
    stable for the same deviation (e.g. "predicted_late:3"), so an adapter raises one alert
    per key, not one per position.
    """

    kind: DeviationKind
    stop: int | None
    key: str
    message: str


@dataclass(frozen=True)
class TrackingResult:
    """ETAs of the remaining stops, in the order they are expected, and deviations now."""

    etas: tuple[StopEta, ...]
    deviations: tuple[Deviation, ...]


def track(
    route: TrackedRoute,
    *,
    now: datetime,
    positions: Sequence[Position] = (),
    rules: TrackingRules | None = None,
) -> TrackingResult:
    """Predict the remaining stops' ETAs and list the route's deviations at `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")
    rules = rules or TrackingRules()
    stops = tuple(sorted(route.stops, key=lambda s: s.sequence))
    if len({s.sequence for s in stops}) != len(stops):
        raise ValueError(f"route {route.route_id}: two stops share a sequence number")
    seen = sorted((p for p in positions if p.at <= now), key=lambda p: p.at)
    newest = seen[-1] if seen else None

    etas = _predict_etas(route, stops, now=now, newest=newest, rules=rules)
    deviations = _predicted_late(stops, etas)  # none once completed: no ETAs then
    if _has_departed(route, stops):
        deviations += _late(stops, rules)
        deviations += _out_of_sequence(stops)
        deviations += _skipped(route, stops, newest, rules)
        if route.completed_at is None and newest is not None and _is_fresh(newest, stops):
            deviations += _idle(route, stops, seen, now=now, rules=rules)
            deviations += _off_route(route, stops, newest, rules)
    return TrackingResult(etas=etas, deviations=tuple(deviations))


def great_circle_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle (haversine) distance in metres between two positions."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def travel_s(a: GeoPoint, b: GeoPoint, rules: TrackingRules) -> int:
    """Estimated driving time in whole seconds: great-circle distance × circuity at speed."""
    return round(great_circle_m(a, b) * rules.circuity / (rules.speed_kmh / 3.6))


_DONE = (StopState.DELIVERED, StopState.FAILED)

_SHORT = {
    DeviationKind.PREDICTED_LATE: "predicted_late",
    DeviationKind.LATE: "late",
    DeviationKind.OUT_OF_SEQUENCE: "out_of_sequence",
    DeviationKind.SKIPPED: "skipped",
    DeviationKind.IDLE: "idle",
    DeviationKind.OFF_ROUTE: "off_route",
}


def _deviation(kind: DeviationKind, stop: int | None, key_id: str, message: str) -> Deviation:
    return Deviation(kind=kind, stop=stop, key=f"{_SHORT[kind]}:{key_id}", message=message)


def _hhmm(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M")


def _late_by_s(start: datetime, stop: TrackedStop, rules: TrackingRules) -> int:
    if stop.latest is None:
        return 0
    overdue = (start - stop.latest).total_seconds() - rules.late_grace_s
    return max(0, math.ceil(overdue))


def _reached_at(stop: TrackedStop) -> datetime | None:
    """When the driver was first known to be at the stop."""
    return stop.arrived_at or stop.done_at


def _has_departed(route: TrackedRoute, stops: Sequence[TrackedStop]) -> bool:
    # A reached stop proves departure even when the departure itself was never reported.
    return (
        route.departed_at is not None
        or route.completed_at is not None
        or any(s.state is not StopState.PENDING for s in stops)
    )


def _is_fresh(position: Position, stops: Iterable[TrackedStop]) -> bool:
    """No driver's report is newer than the position."""
    reports = [t for s in stops for t in (s.arrived_at, s.done_at) if t is not None]
    return not reports or position.at >= max(reports)


# --- ETAs ------------------------------------------------------------------------------------


def _predict_etas(
    route: TrackedRoute,
    stops: Sequence[TrackedStop],
    *,
    now: datetime,
    newest: Position | None,
    rules: TrackingRules,
) -> tuple[StopEta, ...]:
    if route.completed_at is not None:
        return ()
    at_stop: list[tuple[datetime, TrackedStop]] = [
        (max(s.arrived_at or now, s.earliest), s) for s in stops if s.state is StopState.ARRIVED
    ]
    etas = [
        StopEta(s.sequence, start, _late_by_s(start, s, rules))
        for start, s in sorted(at_stop, key=lambda a: (a[0], a[1].sequence))
    ]
    if at_stop:
        current = max(at_stop, key=lambda a: (a[1].arrived_at or now, a[1].sequence))[1]
        point = current.location
        leave = max([now] + [start + timedelta(seconds=s.service_s) for start, s in at_stop])
    elif not _has_departed(route, stops):
        point, leave = route.depot, max(now, route.planned_start)
    else:
        point, leave = _where_now(route, stops, newest), now

    breaks: list[PlannedBreak] = []
    for b in _merged(route.breaks):
        if b.start <= leave:
            leave = max(leave, b.start + timedelta(seconds=b.duration_s))
        else:
            breaks.append(b)

    for stop in (s for s in stops if s.state is StopState.PENDING):
        arrival = _busy(leave, travel_s(point, stop.location, rules), breaks)
        start = _wait(arrival, stop.earliest, breaks)
        etas.append(StopEta(stop.sequence, start, _late_by_s(start, stop, rules)))
        leave = _busy(start, stop.service_s, breaks)
        point = stop.location
    return tuple(etas)


def _where_now(
    route: TrackedRoute, stops: Sequence[TrackedStop], newest: Position | None
) -> GeoPoint:
    """The newest known place of a vehicle under way (the rank breaks ties between facts)."""
    facts: list[tuple[datetime, int, GeoPoint]] = []
    if route.departed_at is not None:
        facts.append((route.departed_at, 0, route.depot))
    for s in stops:
        done_at = s.done_at or s.arrived_at
        if s.state in _DONE and done_at is not None:
            facts.append((done_at, 1, s.location))
    if newest is not None:
        facts.append((newest.at, 2, newest.point))
    if facts:
        return max(facts, key=lambda f: (f[0], f[1]))[2]
    done = [s for s in stops if s.state in _DONE]
    return done[-1].location if done else route.depot


def _merged(breaks: Sequence[PlannedBreak]) -> list[PlannedBreak]:
    """Breaks in time order, overlapping ones merged: the driver rests once through both
    (held at a stop the overlap counts once, so it must count once on the road too)."""
    merged: list[PlannedBreak] = []
    for b in sorted(breaks, key=lambda b: b.start):
        end = b.start + timedelta(seconds=b.duration_s)
        if merged:
            last = merged[-1]
            last_end = last.start + timedelta(seconds=last.duration_s)
            if b.start <= last_end:
                span = max(last_end, end) - last.start
                merged[-1] = PlannedBreak(last.start, round(span.total_seconds()))
                continue
        merged.append(b)
    return merged


def _busy(start: datetime, seconds: int, breaks: list[PlannedBreak]) -> datetime:
    """End of a drive or an unloading; a break that falls due before its end extends it."""
    end = start + timedelta(seconds=seconds)
    while breaks and breaks[0].start < end:
        end += timedelta(seconds=breaks.pop(0).duration_s)
    return end


def _wait(arrival: datetime, earliest: datetime, breaks: list[PlannedBreak]) -> datetime:
    """Start of unloading; a break that falls due while waiting for the window is taken then."""
    t = arrival
    while breaks and breaks[0].start < earliest:
        b = breaks.pop(0)
        t = max(t, b.start) + timedelta(seconds=b.duration_s)
    return max(t, earliest)


# --- Deviations ------------------------------------------------------------------------------


def _predicted_late(stops: Sequence[TrackedStop], etas: Sequence[StopEta]) -> list[Deviation]:
    by_sequence = {s.sequence: s for s in stops}
    out: list[Deviation] = []
    for eta in sorted(etas, key=lambda e: e.sequence):
        stop = by_sequence[eta.sequence]
        if stop.state is not StopState.PENDING or eta.late_by_s <= 0 or stop.latest is None:
            continue
        message = (
            f"stop {stop.sequence} ({stop.ref}): predicted ETA {_hhmm(eta.eta)} UTC, window "
            f"closes {_hhmm(stop.latest)} UTC, {math.ceil(eta.late_by_s / 60)} min late"
        )
        out.append(
            _deviation(DeviationKind.PREDICTED_LATE, stop.sequence, str(stop.sequence), message)
        )
    return out


def _late(stops: Sequence[TrackedStop], rules: TrackingRules) -> list[Deviation]:
    out: list[Deviation] = []
    for stop in stops:
        if stop.arrived_at is None or stop.latest is None:
            continue
        late_by = _late_by_s(stop.arrived_at, stop, rules)
        if late_by > 0:
            message = (
                f"stop {stop.sequence} ({stop.ref}): arrived {_hhmm(stop.arrived_at)} UTC, "
                f"window closed {_hhmm(stop.latest)} UTC, {math.ceil(late_by / 60)} min late"
            )
            out.append(_deviation(DeviationKind.LATE, stop.sequence, str(stop.sequence), message))
    return out


def _out_of_sequence(stops: Sequence[TrackedStop]) -> list[Deviation]:
    out: list[Deviation] = []
    for stop in stops:
        if stop.state is StopState.PENDING:
            continue
        reached = _reached_at(stop)
        passed = [
            earlier
            for earlier in stops
            if earlier.sequence < stop.sequence
            and (
                earlier.state is StopState.PENDING
                or (
                    reached is not None
                    and (earlier_at := _reached_at(earlier)) is not None
                    and earlier_at > reached
                )
            )
        ]
        if passed:
            names = ", ".join(f"{s.sequence} ({s.ref})" for s in passed)
            message = (
                f"stop {stop.sequence} ({stop.ref}) was served before earlier planned "
                f"stop(s) {names}"
            )
            out.append(
                _deviation(
                    DeviationKind.OUT_OF_SEQUENCE, stop.sequence, str(stop.sequence), message
                )
            )
    return out


def _skipped(
    route: TrackedRoute,
    stops: Sequence[TrackedStop],
    newest: Position | None,
    rules: TrackingRules,
) -> list[Deviation]:
    out: list[Deviation] = []
    for stop in stops:
        if stop.state is not StopState.PENDING:
            continue
        if route.completed_at is not None:
            reason = "the route is completed"
        else:
            left = next(
                (
                    later
                    for later in stops
                    if later.sequence > stop.sequence
                    and later.state in _DONE
                    and _has_left(later, stops, newest, rules)
                ),
                None,
            )
            if left is None:
                continue
            reason = (
                f"the driver served stop {left.sequence} ({left.ref}), later in the plan, "
                "and moved on"
            )
        message = f"stop {stop.sequence} ({stop.ref}) left unserved: {reason}"
        out.append(_deviation(DeviationKind.SKIPPED, stop.sequence, str(stop.sequence), message))
    return out


def _has_left(
    stop: TrackedStop,
    stops: Sequence[TrackedStop],
    newest: Position | None,
    rules: TrackingRules,
) -> bool:
    """The driver has moved away from a stop they delivered to (or failed at)."""
    done_at = stop.done_at or stop.arrived_at
    if done_at is None:
        return False
    if (
        newest is not None
        and newest.at > done_at
        and great_circle_m(newest.point, stop.location) > rules.at_stop_radius_m
    ):
        return True
    return any(
        other.sequence != stop.sequence and (at := _reached_at(other)) is not None and at > done_at
        for other in stops
    )


def _idle(
    route: TrackedRoute,
    stops: Sequence[TrackedStop],
    seen: Sequence[Position],
    *,
    now: datetime,
    rules: TrackingRules,
) -> list[Deviation]:
    newest = seen[-1]
    since = newest.at
    for p in reversed(seen):
        if great_circle_m(p.point, newest.point) > rules.idle_radius_m:
            break
        since = p.at
    standing_s = (now - since).total_seconds()
    if standing_s < rules.idle_after_s:
        return []
    places = [route.depot, *(s.location for s in stops)]
    if any(great_circle_m(newest.point, q) <= rules.at_stop_radius_m for q in places):
        return []
    if any(
        b.start < now and b.start + timedelta(seconds=b.duration_s) > since for b in route.breaks
    ):
        return []
    message = (
        f"vehicle {route.vehicle} has stood still for {int(standing_s // 60)} min since "
        f"{_hhmm(since)} UTC at {newest.point.lat:.5f},{newest.point.lon:.5f}, away from its "
        "stops and the depot"
    )
    return [_deviation(DeviationKind.IDLE, None, since.isoformat(), message)]


def _off_route(
    route: TrackedRoute,
    stops: Sequence[TrackedStop],
    newest: Position,
    rules: TrackingRules,
) -> list[Deviation]:
    path = [route.depot, *(s.location for s in stops), route.depot]
    names = ["depot", *(f"stop {s.sequence}" for s in stops), "depot"]
    distance, leg = min(
        (_segment_distance_m(newest.point, path[i], path[i + 1]), i) for i in range(len(path) - 1)
    )
    if distance <= rules.off_route_m:
        return []
    message = (
        f"vehicle {route.vehicle} is {distance / 1000:.1f} km from its planned path "
        f"(nearest leg {leg}: {names[leg]} → {names[leg + 1]})"
    )
    return [_deviation(DeviationKind.OFF_ROUTE, None, str(leg), message)]


def _segment_distance_m(p: GeoPoint, a: GeoPoint, b: GeoPoint) -> float:
    """Distance from p to segment a-b, on a local equirectangular projection centred on p."""
    scale_x = math.cos(math.radians(p.lat)) * EARTH_RADIUS_M

    def xy(q: GeoPoint) -> tuple[float, float]:
        return (
            math.radians(q.lon - p.lon) * scale_x,
            math.radians(q.lat - p.lat) * EARTH_RADIUS_M,
        )

    (ax, ay), (bx, by) = xy(a), xy(b)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)
