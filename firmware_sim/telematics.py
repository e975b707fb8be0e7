"""Simulated vehicle telematics and driver: a delivery route driven in simulated time.

`plan_drive` turns a route (as the driver page API returns it) into a `Timeline`: the
vehicle's position samples and the driver's reports, in simulated time. It is pure and
deterministic: the same route and disturbances give the same timeline. `play` then executes
the timelines of several vehicles in simulated-time order: positions go to a
`PositionPublisher` (MQTT), reports to each route's driver client.

Travel is modelled as central's planner models it: a leg takes great-circle distance ×
circuity at an average speed. The vehicle is drawn along the straight line between stops
(bent at the middle by a detour) but moves at the pace of the road distance, so it reaches
each stop when the planner expects it. Unloading does not start before the stop's window
opens (the driver waits), as the planner plans it.

Errors:

TelematicsError
 ├── RouteStatusError      the route status JSON is not one
 └── PositionPublishError  the broker cannot be reached or did not take the samples
      └── BrokerUnavailable
"""

from __future__ import annotations

import heapq
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from itertools import pairwise
from threading import Event
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.envelope import summarise_validation_error
from contracts.telematics import VehiclePosition, position_topic
from firmware_sim.driver import DriverReport, ReportType

logger = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8  # as central's planner
_KM_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180 / 1000
# Grid samples this close to an arrival are the arrival's own sample (float sums drift).
_SAME_INSTANT_S = 1e-6
# Who signs for deliveries, picked by stop sequence so a drive is deterministic.
_RECEIVERS = ("A. Jensen", "M. Rossi", "K. Nowak", "L. Dubois", "S. Okafor", "T. Lindqvist")


class TelematicsError(Exception):
    """Base of the telematics simulator's errors."""


class RouteStatusError(TelematicsError, ValueError):
    """The route status handed to `DriveInput.from_status` is not a usable route."""


class PositionPublishError(TelematicsError):
    """Position samples could not be handed to the broker."""


class BrokerUnavailable(PositionPublishError):
    """The broker refused the connection or did not answer in time."""


# ----------------------------------------------------------------------------- the route


@dataclass(frozen=True)
class Point:
    """A position in degrees (WGS 84)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"latitude/longitude out of range: {self.lat}, {self.lon}")


@dataclass(frozen=True)
class RouteStop:
    """A stop to drive to. Unloading takes `service_s` and starts no earlier than `opens_at`."""

    sequence: int
    location: Point
    service_s: int = 0
    opens_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.sequence < 1 or self.service_s < 0:
            raise ValueError(f"stop {self.sequence}: sequence must be >= 1 and service_s >= 0")
        if self.opens_at is not None and self.opens_at.tzinfo is None:
            raise ValueError(f"stop {self.sequence}: opens_at must be timezone-aware")


@dataclass(frozen=True)
class DriveInput:
    """One vehicle's route to drive: leave the depot at `start_at`, visit `stops` in order."""

    route_id: int
    site: str
    vehicle: str
    depot: Point
    start_at: datetime
    stops: tuple[RouteStop, ...]

    def __post_init__(self) -> None:
        if self.start_at.tzinfo is None:
            raise ValueError("start_at must be timezone-aware")
        sequences = [s.sequence for s in self.stops]
        if sequences != sorted(set(sequences)):
            raise ValueError(f"stops must be in increasing, unique sequence, got {sequences}")

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> DriveInput:
        """The route of a driver page status (RouteStatusPublic as JSON).

        Windows are UTC times of day on the route's date, as central plans them.

        Raises:
            RouteStatusError: a field is missing or malformed.
        """
        try:
            parsed = _StatusIn.model_validate(status)
        except ValidationError as err:
            raise RouteStatusError(
                f"not a route status: {summarise_validation_error(err)}"
            ) from err
        stops = tuple(
            RouteStop(
                sequence=s.sequence,
                location=Point(s.lat, s.lon),
                service_s=s.service_s,
                opens_at=datetime.combine(parsed.date, s.window_earliest, UTC),
            )
            for s in sorted(parsed.stops, key=lambda s: s.sequence)
        )
        try:
            return cls(
                route_id=parsed.route_id,
                site=parsed.site,
                vehicle=parsed.vehicle_ref,
                depot=Point(parsed.depot_lat, parsed.depot_lon),
                start_at=parsed.start_at.astimezone(UTC),
                stops=stops,
            )
        except ValueError as err:
            raise RouteStatusError(f"route {parsed.route_id}: {err}") from err


class _StopIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sequence: int = Field(ge=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    service_s: int = Field(ge=0)
    window_earliest: time_of_day = time_of_day(0)


class _StatusIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    route_id: int
    site: str
    vehicle_ref: str
    date: date
    depot_lat: float = Field(ge=-90, le=90)
    depot_lon: float = Field(ge=-180, le=180)
    start_at: AwareDatetime
    stops: list[_StopIn]


# ----------------------------------------------------------------------------- disturbances


@dataclass(frozen=True)
class Delay:
    """The vehicle stands in traffic on leg `leg` for `minutes`, `at_fraction` of the way along.

    Legs are counted along the route as driven: leg 0 leaves the depot, leg k leaves the
    k-th stop visited, the last leg returns to the depot.
    """

    leg: int
    minutes: float
    at_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.leg < 0 or self.minutes <= 0 or not 0.0 <= self.at_fraction <= 1.0:
            raise ValueError(f"{self}: needs leg >= 0, minutes > 0 and 0 <= at_fraction <= 1")


@dataclass(frozen=True)
class Detour:
    """Leg `leg` bends sideways by `offset_km` at its middle (> 0: left of the way ahead).

    The bent leg is longer, and takes longer, than the straight one.
    """

    leg: int
    offset_km: float

    def __post_init__(self) -> None:
        if self.leg < 0 or self.offset_km == 0:
            raise ValueError(f"{self}: needs leg >= 0 and a non-zero offset")


@dataclass(frozen=True)
class SkipStop:
    """The driver does not go to stop `sequence` at all (and reports nothing about it)."""

    sequence: int


@dataclass(frozen=True)
class FailDelivery:
    """At stop `sequence` the driver tries for `minutes`, then reports a failed delivery."""

    sequence: int
    reason: str = "customer closed"
    minutes: float = 5.0

    def __post_init__(self) -> None:
        if not self.reason.strip() or self.minutes < 0:
            raise ValueError(f"{self}: needs a reason and minutes >= 0")


@dataclass(frozen=True)
class DepartLate:
    """The vehicle leaves the depot `minutes` after the planned start (several add up)."""

    minutes: float

    def __post_init__(self) -> None:
        if self.minutes < 0:
            raise ValueError(f"{self}: minutes must be >= 0")


Disturbance = Delay | Detour | SkipStop | FailDelivery | DepartLate


# ----------------------------------------------------------------------------- the timeline

Step = VehiclePosition | DriverReport


@dataclass(frozen=True)
class Timeline:
    """One vehicle's drive: position samples and driver reports, in time order."""

    route_id: int
    site: str
    vehicle: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        for before, after in pairwise(self.steps):
            if after.at < before.at:
                raise ValueError(f"timeline steps out of time order: {after.at} after {before.at}")

    @property
    def positions(self) -> tuple[VehiclePosition, ...]:
        """The position samples, in time order."""
        return tuple(s for s in self.steps if isinstance(s, VehiclePosition))

    @property
    def reports(self) -> tuple[DriverReport, ...]:
        """The driver's reports, in time order."""
        return tuple(s for s in self.steps if isinstance(s, DriverReport))


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres, as central's planner computes it."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _bend(a: Point, b: Point, offset_km: float) -> Point:
    """The point `offset_km` sideways (left > 0) of the middle of a→b, on a local flat map."""
    cos_lat = math.cos(math.radians((a.lat + b.lat) / 2))
    east_km = (b.lon - a.lon) * cos_lat * _KM_PER_DEGREE
    north_km = (b.lat - a.lat) * _KM_PER_DEGREE
    length_km = math.hypot(east_km, north_km)
    if length_km == 0:
        raise ValueError("a detour needs a leg between two different places")
    mid_east = east_km / 2 - offset_km * north_km / length_km
    mid_north = north_km / 2 + offset_km * east_km / length_km
    return Point(a.lat + mid_north / _KM_PER_DEGREE, a.lon + mid_east / _KM_PER_DEGREE / cos_lat)


@dataclass(frozen=True)
class _Path:
    """A polyline; points along it are found by distance from its start."""

    points: tuple[Point, ...]
    ends_m: tuple[float, ...]  # distance from the start to the end of each piece

    @classmethod
    def through(cls, *points: Point) -> _Path:
        ends: list[float] = []
        total = 0.0
        for a, b in pairwise(points):
            total += haversine_m(a, b)
            ends.append(total)
        return cls(points, tuple(ends))

    @property
    def length_m(self) -> float:
        return self.ends_m[-1] if self.ends_m else 0.0

    def at(self, distance_m: float) -> Point:
        start = 0.0
        for piece, end in enumerate(self.ends_m):
            if distance_m <= end or piece == len(self.ends_m) - 1:
                a, b = self.points[piece], self.points[piece + 1]
                f = (
                    0.0
                    if end == start
                    else min(1.0, max(0.0, (distance_m - start) / (end - start)))
                )
                # Linear in degrees is linear on the local flat map the bend was made on.
                return Point(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)
            start = end
        return self.points[0]


@dataclass(frozen=True)
class _Segment:
    """From `start_s` to `end_s` (seconds after departure) the vehicle covers `from_m`→`to_m`
    of `path` at `speed_kmh` (0: standing)."""

    start_s: float
    end_s: float
    path: _Path
    from_m: float
    to_m: float
    speed_kmh: float

    def at(self, s: float) -> Point:
        span = self.end_s - self.start_s
        f = 0.0 if span <= 0 else (s - self.start_s) / span
        return self.path.at(self.from_m + (self.to_m - self.from_m) * f)


@dataclass
class _Drive:
    """What `plan_drive` accumulates, in seconds after departure."""

    departure: datetime
    speed_ms: float
    circuity: float
    segments: list[_Segment] = field(default_factory=list)
    arrivals: list[tuple[float, Point]] = field(default_factory=list)
    reports: list[DriverReport] = field(default_factory=list)

    def at(self, s: float) -> datetime:
        """The instant `s` seconds after departure."""
        return self.departure + timedelta(seconds=s)

    def drive(self, clock: float, path: _Path, stands: Sequence[Delay]) -> float:
        """Drive `path` from `clock`, standing still for each delay; the arrival time."""
        covered = 0.0
        speed_kmh = self.speed_ms * 3.6
        for delay in sorted(stands, key=lambda d: d.at_fraction):
            stop_at = path.length_m * delay.at_fraction
            clock = self._move(clock, path, covered, stop_at, speed_kmh)
            covered = stop_at
            self.stand(clock, clock + delay.minutes * 60, path, covered)
            clock += delay.minutes * 60
        clock = self._move(clock, path, covered, path.length_m, speed_kmh)
        self.arrivals.append((clock, path.points[-1]))
        return clock

    def _move(self, clock: float, path: _Path, from_m: float, to_m: float, kmh: float) -> float:
        end = clock + (to_m - from_m) * self.circuity / self.speed_ms
        self.segments.append(_Segment(clock, end, path, from_m, to_m, kmh))
        return end

    def stand(self, start_s: float, end_s: float, path: _Path, at_m: float) -> None:
        self.segments.append(_Segment(start_s, end_s, path, at_m, at_m, 0.0))

    def report(
        self,
        clock: float,
        kind: ReportType,
        stop: int | None = None,
        *,
        received_by: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.reports.append(
            DriverReport(
                type=kind, at=self.at(clock), stop=stop, received_by=received_by, reason=reason
            )
        )

    def samples(self, every_s: float, end_s: float) -> list[tuple[float, Point, float]]:
        """(time, where, speed) on a grid of `every_s`, plus one at every arrival."""
        grid = (k * every_s for k in range(math.ceil(end_s / every_s) + 1))
        out: list[tuple[float, Point, float]] = []
        arrivals = iter(self.arrivals)
        arrival = next(arrivals, None)
        segment = 0
        for s in grid:
            if s > end_s - _SAME_INSTANT_S:
                break
            while arrival is not None and arrival[0] <= s + _SAME_INSTANT_S:
                out.append((arrival[0], arrival[1], 0.0))
                arrival = next(arrivals, None)
            if out and abs(out[-1][0] - s) <= _SAME_INSTANT_S:
                continue
            while segment < len(self.segments) - 1 and self.segments[segment].end_s <= s:
                segment += 1
            current = self.segments[segment]
            out.append((s, current.at(s), current.speed_kmh))
        while arrival is not None:
            out.append((arrival[0], arrival[1], 0.0))
            arrival = next(arrivals, None)
        return out


def plan_drive(
    drive: DriveInput,
    *,
    speed_kmh: float = 50.0,
    circuity: float = 1.3,
    sample_every_s: float = 60.0,
    disturbances: Iterable[Disturbance] = (),
) -> Timeline:
    """The simulated drive of one route: positions and driver reports in simulated time.

    Args:
        drive: The route.
        speed_kmh: Average road speed; also the speed the samples report while moving.
        circuity: Road distance / great-circle distance, as in central's planner.
        sample_every_s: Interval of the position samples from departure; each arrival (at a
            stop and back at the depot) adds a sample of its own, as a unit does on stopping.
        disturbances: What goes differently from the plan.

    Raises:
        ValueError: bad parameters, or a disturbance naming a leg or stop the route lacks.
    """
    if not 0 < speed_kmh <= 250 or circuity < 1.0 or sample_every_s <= 0:
        raise ValueError("need 0 < speed_kmh <= 250, circuity >= 1 and sample_every_s > 0")
    chosen = list(disturbances)
    sequences = {s.sequence for s in drive.stops}
    skipped = {d.sequence for d in chosen if isinstance(d, SkipStop)}
    failing = {d.sequence: d for d in chosen if isinstance(d, FailDelivery)}
    for named in skipped | failing.keys():
        if named not in sequences:
            raise ValueError(f"route {drive.route_id} has no stop {named}")
    if skipped & failing.keys():
        raise ValueError(f"stops {sorted(skipped & failing.keys())} are both skipped and failed")
    visited = [s for s in drive.stops if s.sequence not in skipped]
    delays: dict[int, list[Delay]] = {}
    detours: dict[int, Detour] = {}
    for d in chosen:
        if isinstance(d, Delay | Detour) and d.leg > len(visited):
            raise ValueError(f"{d}: the route as driven has legs 0..{len(visited)}")
        if isinstance(d, Delay):
            delays.setdefault(d.leg, []).append(d)
        elif isinstance(d, Detour):
            if d.leg in detours:
                raise ValueError(f"leg {d.leg} has two detours; one bend per leg")
            detours[d.leg] = d
    departure = drive.start_at + timedelta(
        minutes=sum(d.minutes for d in chosen if isinstance(d, DepartLate))
    )

    track = _Drive(departure=departure, speed_ms=speed_kmh / 3.6, circuity=circuity)
    track.report(0.0, ReportType.DEPARTED)
    here, clock = drive.depot, 0.0
    for leg, stop in enumerate([*visited, None]):
        there = drive.depot if stop is None else stop.location
        detour = detours.get(leg)
        path = (
            _Path.through(here, there)
            if detour is None
            else _Path.through(here, _bend(here, there, detour.offset_km), there)
        )
        clock = track.drive(clock, path, delays.get(leg, ()))
        if stop is None:
            track.report(clock, ReportType.RETURNED)
            break
        track.report(clock, ReportType.ARRIVED, stop.sequence)
        failure = failing.get(stop.sequence)
        if failure is not None:
            done = clock + failure.minutes * 60
            track.report(done, ReportType.FAILED, stop.sequence, reason=failure.reason)
        else:
            opens_s = (
                clock if stop.opens_at is None else (stop.opens_at - departure).total_seconds()
            )
            done = max(clock, opens_s) + stop.service_s
            receiver = _RECEIVERS[stop.sequence % len(_RECEIVERS)]
            track.report(done, ReportType.DELIVERED, stop.sequence, received_by=receiver)
        track.stand(clock, done, _Path.through(there), 0.0)
        here, clock = there, done

    positions: list[Step] = [
        VehiclePosition(
            site=drive.site,
            vehicle=drive.vehicle,
            at=track.at(s),
            lat=p.lat,
            lon=p.lon,
            speed_kmh=speed,
        )
        for s, p, speed in track.samples(sample_every_s, clock)
    ]
    reports: list[Step] = list(track.reports)
    # On a tie a sample goes first: the vehicle is at the stop, then the driver says so.
    steps = tuple(heapq.merge(positions, reports, key=lambda step: step.at))
    logger.debug(
        "route %s: %d samples, %d reports, %s to %s",
        drive.route_id,
        len(positions),
        len(reports),
        departure,
        track.at(clock),
    )
    return Timeline(drive.route_id, drive.site, drive.vehicle, steps)


# ----------------------------------------------------------------------------- playing


class PositionPublisher(Protocol):
    """Where a vehicle's position samples go (the broker, in production and demo)."""

    def publish(self, position: VehiclePosition) -> None:
        """Send one sample; samples of one vehicle must arrive in the order sent."""


class DriverReporter(Protocol):
    """Where a route's driver reports go (a `DriverClient`, in production and demo)."""

    def report(self, event: DriverReport) -> object:
        """Send one report."""


@dataclass(frozen=True)
class PlayStats:
    """What `play` sent."""

    positions: int
    reports: int


def play(
    timelines: Iterable[Timeline],
    *,
    publisher: PositionPublisher,
    drivers: Mapping[int, DriverReporter],
    speedup: float | None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> PlayStats:
    """Execute timelines of several vehicles in simulated-time order.

    Args:
        timelines: One per route.
        publisher: Takes every position sample.
        drivers: The driver client of each route, by route id.
        speedup: None: as fast as possible, without sleeping. Otherwise simulated time runs
            `speedup` times as fast as real time (60: a simulated minute per second).
        sleep: How to wait (injected by tests).
        monotonic: The real clock (injected by tests).

    Raises:
        ValueError: a route with reports has no driver, or speedup <= 0.
    """
    if speedup is not None and speedup <= 0:
        raise ValueError("speedup must be > 0, or None for as fast as possible")
    runs = list(timelines)
    for run in runs:
        if run.reports and run.route_id not in drivers:
            raise ValueError(f"route {run.route_id} has driver reports but no driver client")
    # heapq.merge is stable: equal times keep each timeline's own order, so per vehicle
    # the steps go out exactly as planned.
    merged = heapq.merge(*(_routed(run) for run in runs), key=lambda routed: routed[1].at)
    sim_origin: datetime | None = None
    real_origin = monotonic()
    positions = reports = 0
    for route_id, step in merged:
        if speedup is not None:
            if sim_origin is None:
                sim_origin = step.at
            due = real_origin + (step.at - sim_origin).total_seconds() / speedup
            wait = due - monotonic()
            if wait > 0:
                sleep(wait)
        if isinstance(step, VehiclePosition):
            publisher.publish(step)
            positions += 1
        else:
            drivers[route_id].report(step)
            reports += 1
    logger.info("played %d routes: %d positions, %d reports", len(runs), positions, reports)
    return PlayStats(positions=positions, reports=reports)


def _routed(run: Timeline) -> Iterator[tuple[int, Step]]:
    """The timeline's steps, each with its route id."""
    for step in run.steps:
        yield run.route_id, step


# ----------------------------------------------------------------------------- MQTT


class MqttPositionPublisher:
    """Publishes position samples on `position_topic(site, vehicle)` at QoS 1 over one
    connection, so each vehicle's samples reach the broker in order.

    A context manager: connects on enter (waiting for the broker's CONNACK); on a normal exit
    waits until the broker has acknowledged every sample, then disconnects.
    """

    def __init__(
        self,
        broker_url: str,
        *,
        connect_timeout_s: float = 10.0,
        publish_timeout_s: float = 10.0,
        max_unacknowledged: int = 100,
    ) -> None:
        """Args:
        broker_url: mqtt://[user:password@]host:port.
        connect_timeout_s: How long to wait for the broker to accept the connection.
        publish_timeout_s: How long to wait for the broker to acknowledge a sample.
        max_unacknowledged: Samples sent but not yet acknowledged before `publish` waits;
            bounds the client's queue (paho stalls with tens of thousands outstanding).
        """
        parts = urlsplit(broker_url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"broker URL {broker_url!r} must look like mqtt://host:port")
        self._host = parts.hostname
        self._port = parts.port or 1883
        self._connect_timeout_s = connect_timeout_s
        self._publish_timeout_s = publish_timeout_s
        self._max_unacknowledged = max_unacknowledged
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()
        self._connected = Event()
        self._refusal: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"telematics-sim-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        if parts.username:
            self._client.username_pw_set(parts.username, parts.password)
        self._client.on_connect = self._on_connect

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            self._refusal = str(reason_code)
        self._connected.set()

    def __enter__(self) -> Self:
        try:
            self._client.connect(self._host, self._port, 30)
        except OSError as err:
            raise BrokerUnavailable(
                f"cannot connect to the broker at {self._host}:{self._port}: {err}"
            ) from err
        self._client.loop_start()
        try:
            if not self._connected.wait(self._connect_timeout_s):
                raise BrokerUnavailable(
                    f"the broker at {self._host}:{self._port} did not accept the connection "
                    f"within {self._connect_timeout_s} s"
                )
            if self._refusal is not None:
                raise BrokerUnavailable(
                    f"the broker at {self._host}:{self._port} refused the connection: "
                    f"{self._refusal}"
                )
        except BaseException:
            self._disconnect()
            raise
        return self

    def publish(self, position: VehiclePosition) -> None:
        """Queue one sample at QoS 1; waits first if too many are unacknowledged."""
        topic = position_topic(position.site, position.vehicle)
        self._pending.append(self._client.publish(topic, position.to_json(), qos=1))
        while len(self._pending) > self._max_unacknowledged:
            self._await(self._pending.popleft())

    def flush(self) -> None:
        """Wait until the broker has acknowledged every sample published so far."""
        while self._pending:
            self._await(self._pending.popleft())

    def _await(self, info: mqtt.MQTTMessageInfo) -> None:
        try:
            info.wait_for_publish(self._publish_timeout_s)
        except (RuntimeError, ValueError) as err:
            raise PositionPublishError(f"a position sample was not published: {err}") from err
        if not info.is_published():
            raise PositionPublishError(
                f"the broker at {self._host}:{self._port} did not acknowledge a position "
                f"sample within {self._publish_timeout_s} s"
            )

    def _disconnect(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        # Close paho's sockets now rather than in its __del__ (ResourceWarning).
        self._client._reset_sockets()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self._disconnect()
