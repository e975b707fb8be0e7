"""The simulated drive of a route: timeline geometry and timing, disturbances, playing, links."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.routes_schemas import DriverEventIn, RouteStatusPublic, StopStatusPublic
from contracts.telematics import VehiclePosition
from firmware_sim.driver import (
    DriverLinkError,
    DriverReport,
    ReportType,
    parse_driver_link,
    token_from_qr,
)
from firmware_sim.telematics import (
    Delay,
    DepartLate,
    Detour,
    DriveInput,
    FailDelivery,
    Point,
    RouteStatusError,
    RouteStop,
    SkipStop,
    Timeline,
    haversine_m,
    plan_drive,
    play,
)

START = datetime(2025, 3, 14, 7, 0, tzinfo=UTC)
DEPOT = Point(55.6761, 12.5683)
SPEED_KMH = 50.0
CIRCUITY = 1.3
US = timedelta(microseconds=1)


def route(*stops: RouteStop, start_at: datetime = START) -> DriveInput:
    return DriveInput(
        route_id=7, site="WH1", vehicle="VAN-1", depot=DEPOT, start_at=start_at, stops=stops
    )


STOPS = (
    RouteStop(1, Point(55.7400, 12.6200), service_s=600),
    RouteStop(2, Point(55.7000, 12.7000), service_s=300),
    RouteStop(3, Point(55.6300, 12.6500), service_s=900),
)


def travel(a: Point, b: Point) -> timedelta:
    return timedelta(seconds=haversine_m(a, b) * CIRCUITY / (SPEED_KMH / 3.6))


def report(timeline: Timeline, kind: ReportType, stop: int | None = None) -> DriverReport:
    (found,) = [r for r in timeline.reports if r.type is kind and r.stop == stop]
    return found


def leg_samples(timeline: Timeline, start: datetime, end: datetime) -> list[VehiclePosition]:
    """Samples strictly between two instants."""
    return [p for p in timeline.positions if start < p.at < end]


def flat_km(origin: Point, p: VehiclePosition | Point) -> tuple[float, float]:
    """(east, north) km from `origin` on a local flat map."""
    km_per_deg = 6_371.0088 * math.pi / 180
    return (
        (p.lon - origin.lon) * math.cos(math.radians(origin.lat)) * km_per_deg,
        (p.lat - origin.lat) * km_per_deg,
    )


def km_from_line(a: Point, b: Point, p: VehiclePosition) -> float:
    """Distance of p from the straight line through a and b."""
    bx, by = flat_km(a, b)
    px, py = flat_km(a, p)
    return abs(bx * py - by * px) / math.hypot(bx, by)


# ----------------------------------------------------------------------------- geometry, timing


def test_haversine_of_one_degree_of_latitude_is_111_km() -> None:
    assert haversine_m(Point(55.0, 12.0), Point(56.0, 12.0)) == pytest.approx(111_195, abs=1)


def test_vehicle_moves_steadily_toward_the_stop_at_the_road_speed() -> None:
    timeline = plan_drive(route(*STOPS))
    arrived = report(timeline, ReportType.ARRIVED, 1).at
    moving = leg_samples(timeline, START, arrived)
    assert len(moving) >= 5
    distances = [haversine_m(Point(p.lat, p.lon), STOPS[0].location) for p in moving]
    assert all(later < earlier for earlier, later in pairwise(distances))
    assert {p.speed_kmh for p in moving} == {SPEED_KMH}


def test_leg_takes_great_circle_distance_times_circuity_at_the_speed() -> None:
    """The planner's travel time; the samples cover the leg to within one interval."""
    timeline = plan_drive(route(*STOPS), sample_every_s=60)
    leg = travel(DEPOT, STOPS[0].location)
    arrived = report(timeline, ReportType.ARRIVED, 1).at
    assert abs(arrived - (START + leg)) <= US
    moving = leg_samples(timeline, START, arrived)
    assert timedelta(0) < arrived - moving[-1].at <= timedelta(seconds=60)
    arrival_sample = next(p for p in timeline.positions if p.at == arrived)
    assert (arrival_sample.lat, arrival_sample.lon, arrival_sample.speed_kmh) == (
        STOPS[0].location.lat,
        STOPS[0].location.lon,
        0.0,
    )


def test_samples_follow_the_interval_from_departure() -> None:
    timeline = plan_drive(route(*STOPS), sample_every_s=45)
    arrivals = {
        r.at for r in timeline.reports if r.type in (ReportType.ARRIVED, ReportType.RETURNED)
    }
    for sample in timeline.positions:
        if sample.at not in arrivals:
            offset = (sample.at - START).total_seconds()
            assert offset / 45 == pytest.approx(round(offset / 45))


def test_reports_come_in_route_order_with_service_times_respected() -> None:
    timeline = plan_drive(route(*STOPS))
    kinds = [(r.type, r.stop) for r in timeline.reports]
    assert kinds == [
        (ReportType.DEPARTED, None),
        (ReportType.ARRIVED, 1),
        (ReportType.DELIVERED, 1),
        (ReportType.ARRIVED, 2),
        (ReportType.DELIVERED, 2),
        (ReportType.ARRIVED, 3),
        (ReportType.DELIVERED, 3),
        (ReportType.RETURNED, None),
    ]
    expected = START
    places = [DEPOT, *(s.location for s in STOPS)]
    for stop, (here, there) in zip(STOPS, pairwise(places), strict=True):
        expected += travel(here, there)
        assert abs(report(timeline, ReportType.ARRIVED, stop.sequence).at - expected) <= US
        expected += timedelta(seconds=stop.service_s)
        delivered = report(timeline, ReportType.DELIVERED, stop.sequence)
        assert abs(delivered.at - expected) <= US
        assert delivered.received_by
    expected += travel(STOPS[-1].location, DEPOT)
    returned = report(timeline, ReportType.RETURNED)
    assert abs(returned.at - expected) <= US
    last = timeline.positions[-1]
    assert (last.at, last.lat, last.lon, last.speed_kmh) == (returned.at, DEPOT.lat, DEPOT.lon, 0)


def test_vehicle_stands_at_the_stop_while_unloading() -> None:
    timeline = plan_drive(route(*STOPS))
    arrived = report(timeline, ReportType.ARRIVED, 1).at
    delivered = report(timeline, ReportType.DELIVERED, 1).at
    standing = leg_samples(timeline, arrived, delivered)
    assert len(standing) == 10  # 600 s of service, one sample a minute
    assert {(p.lat, p.lon, p.speed_kmh) for p in standing} == {(55.74, 12.62, 0.0)}


def test_unloading_waits_for_the_window_to_open() -> None:
    opens = START + timedelta(hours=2)
    stop = RouteStop(1, Point(55.74, 12.62), service_s=600, opens_at=opens)
    timeline = plan_drive(route(stop))
    assert report(timeline, ReportType.ARRIVED, 1).at < opens
    assert report(timeline, ReportType.DELIVERED, 1).at == opens + timedelta(seconds=600)


def test_timeline_is_deterministic() -> None:
    disturbances = (Delay(1, 7), Detour(2, -1.5), FailDelivery(3))
    first = plan_drive(route(*STOPS), disturbances=disturbances)
    second = plan_drive(route(*STOPS), disturbances=disturbances)
    assert first == second


# ----------------------------------------------------------------------------- disturbances


def test_delay_stands_still_at_one_point_and_shifts_the_rest_of_the_route() -> None:
    plain = plan_drive(route(*STOPS), sample_every_s=60)
    delayed = plan_drive(route(*STOPS), sample_every_s=60, disturbances=[Delay(1, 10)])
    left_1 = report(plain, ReportType.DELIVERED, 1).at
    at_2 = report(delayed, ReportType.ARRIVED, 2).at

    on_leg = leg_samples(delayed, left_1, at_2)
    standing = [p for p in on_leg if p.speed_kmh == 0]
    assert len(standing) == 10
    assert len({(p.lat, p.lon) for p in standing}) == 1
    stood_at = Point(standing[0].lat, standing[0].lon)
    halfway = haversine_m(STOPS[0].location, stood_at) / haversine_m(
        STOPS[0].location, STOPS[1].location
    )
    assert halfway == pytest.approx(0.5, abs=1e-3)

    shift = timedelta(minutes=10)
    for before, after in zip(plain.reports, delayed.reports, strict=True):
        assert (after.type, after.stop) == (before.type, before.stop)
        expected = before.at if before.at <= left_1 else before.at + shift
        assert abs(after.at - expected) <= US
    delayed_by_time = {p.at.replace(microsecond=0): p for p in delayed.positions}
    # From the first standing sample on, the delayed drive is the plain one `shift` later.
    for sample in plain.positions:
        if sample.at >= standing[0].at and sample.at.microsecond == 0:
            moved = delayed_by_time[sample.at + shift]
            assert (moved.lat, moved.lon) == pytest.approx((sample.lat, sample.lon), abs=1e-9)


def test_detour_bends_the_leg_by_its_offset_at_the_middle_and_costs_time() -> None:
    plain = plan_drive(route(*STOPS), sample_every_s=10)
    bent = plan_drive(route(*STOPS), sample_every_s=10, disturbances=[Detour(0, 3.0)])
    arrived = report(bent, ReportType.ARRIVED, 1).at
    leg = leg_samples(bent, START, arrived)
    farthest = max(leg, key=lambda p: km_from_line(DEPOT, STOPS[0].location, p))
    assert km_from_line(DEPOT, STOPS[0].location, farthest) == pytest.approx(3.0, abs=0.1)
    assert (farthest.at - START) / (arrived - START) == pytest.approx(0.5, abs=0.02)
    # > 0 bends to the left of the way ahead: the cross product (way ahead × sample) is > 0.
    bx, by = flat_km(DEPOT, STOPS[0].location)
    px, py = flat_km(DEPOT, farthest)
    assert bx * py - by * px > 0
    assert arrived > report(plain, ReportType.ARRIVED, 1).at
    straight = leg_samples(plain, START, report(plain, ReportType.ARRIVED, 1).at)
    assert max(km_from_line(DEPOT, STOPS[0].location, p) for p in straight) < 0.01


def test_skipped_stop_is_neither_visited_nor_reported_and_legs_count_as_driven() -> None:
    timeline = plan_drive(route(*STOPS), disturbances=[SkipStop(2), Delay(1, 5)])
    assert [(r.type, r.stop) for r in timeline.reports if r.stop is not None] == [
        (ReportType.ARRIVED, 1),
        (ReportType.DELIVERED, 1),
        (ReportType.ARRIVED, 3),
        (ReportType.DELIVERED, 3),
    ]
    left_1 = report(timeline, ReportType.DELIVERED, 1).at
    expected = left_1 + travel(STOPS[0].location, STOPS[2].location) + timedelta(minutes=5)
    assert abs(report(timeline, ReportType.ARRIVED, 3).at - expected) <= US
    assert all(
        haversine_m(Point(p.lat, p.lon), STOPS[1].location) > 1000 for p in timeline.positions
    )


def test_failed_delivery_is_reported_with_its_reason_after_trying() -> None:
    timeline = plan_drive(route(*STOPS), disturbances=[FailDelivery(2, "nobody home", 8)])
    arrived = report(timeline, ReportType.ARRIVED, 2).at
    failed = report(timeline, ReportType.FAILED, 2)
    assert failed.reason == "nobody home"
    assert failed.at == arrived + timedelta(minutes=8)
    assert not [r for r in timeline.reports if r.type is ReportType.DELIVERED and r.stop == 2]


def test_late_departure_shifts_the_whole_drive() -> None:
    plain = plan_drive(route(*STOPS))
    late = plan_drive(route(*STOPS), disturbances=[DepartLate(20), DepartLate(5)])
    assert [s.at - timedelta(minutes=25) for s in late.steps] == [s.at for s in plain.steps]


@pytest.mark.parametrize(
    "disturbance",
    [Delay(4, 5), Detour(9, 1.0), SkipStop(4), FailDelivery(9)],
    ids=["delay-beyond-last-leg", "detour-beyond-last-leg", "skip-unknown", "fail-unknown"],
)
def test_disturbance_naming_what_the_route_lacks_is_refused(disturbance: object) -> None:
    with pytest.raises(ValueError, match="route"):
        plan_drive(route(*STOPS), disturbances=[disturbance])  # type: ignore[list-item]


def test_skipping_a_stop_leaves_one_leg_fewer() -> None:
    plan_drive(route(*STOPS), disturbances=[Delay(3, 5)])
    with pytest.raises(ValueError, match=r"legs 0\.\.2"):
        plan_drive(route(*STOPS), disturbances=[SkipStop(1), Delay(3, 5)])


# ----------------------------------------------------------------------------- random routes

stop_sets = st.lists(
    st.tuples(
        st.floats(-0.3, 0.3),
        st.floats(-0.3, 0.3),
        st.integers(0, 3600),
        st.one_of(st.none(), st.integers(0, 600)),
        st.booleans(),
    ),
    max_size=8,
)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    stop_sets,
    st.lists(st.tuples(st.integers(0, 8), st.floats(0.5, 60), st.floats(0, 1)), max_size=4),
    st.sampled_from([15.0, 60.0, 97.0]),
)
def test_random_routes_run_in_time_order_and_visit_each_stop_once(
    specs: list[tuple[float, float, int, int | None, bool]],
    delays: list[tuple[int, float, float]],
    every_s: float,
) -> None:
    stops = tuple(
        RouteStop(
            n,
            Point(DEPOT.lat + dlat, DEPOT.lon + dlon),
            service_s=service,
            opens_at=None if opens is None else START + timedelta(minutes=opens),
        )
        for n, (dlat, dlon, service, opens, _) in enumerate(specs, start=1)
    )
    skipped = {n for n, spec in enumerate(specs, start=1) if spec[4]}
    legs = len(stops) - len(skipped) + 1
    disturbances = [SkipStop(n) for n in skipped] + [
        Delay(leg % legs, minutes, fraction) for leg, minutes, fraction in delays
    ]
    timeline = plan_drive(route(*stops), sample_every_s=every_s, disturbances=disturbances)

    times = [s.at for s in timeline.steps]
    assert times == sorted(times)
    reports = timeline.reports
    assert reports[0].type is ReportType.DEPARTED
    assert reports[-1].type is ReportType.RETURNED
    arrived = [r.stop for r in reports if r.type is ReportType.ARRIVED]
    delivered = [r.stop for r in reports if r.type is ReportType.DELIVERED]
    visited = [s.sequence for s in stops if s.sequence not in skipped]
    assert arrived == visited
    assert delivered == visited
    for stop in stops:
        if stop.sequence in skipped:
            continue
        done = report(timeline, ReportType.DELIVERED, stop.sequence).at
        start_unloading = done - timedelta(seconds=stop.service_s)
        assert start_unloading >= report(timeline, ReportType.ARRIVED, stop.sequence).at - US
        if stop.opens_at is not None:
            assert start_unloading >= stop.opens_at - US
    first, last = timeline.positions[0], timeline.positions[-1]
    assert (first.lat, first.lon, first.at) == (DEPOT.lat, DEPOT.lon, START)
    assert (last.lat, last.lon, last.at) == (DEPOT.lat, DEPOT.lon, reports[-1].at)
    gaps = [b.at - a.at for a, b in pairwise(timeline.positions)]
    assert all(gap <= timedelta(seconds=every_s) + US for gap in gaps)


# ----------------------------------------------------------------------------- route status in


def status_json(stops: int = 2) -> dict[str, object]:
    """What central's driver page API returns, made with central's own model."""
    day = date(2025, 3, 14)
    status = RouteStatusPublic(
        route_id=7,
        plan_id=3,
        site="WH1",
        date=day,
        vehicle_ref="VAN-1",
        state="planned",
        depot_lat=Decimal("55.6761"),
        depot_lon=Decimal("12.5683"),
        start_at=datetime(2025, 3, 14, 7, tzinfo=UTC),
        end_at=datetime(2025, 3, 14, 12, tzinfo=UTC),
        km=Decimal("42.0"),
        load_kg=Decimal("900"),
        load_pallets=3,
        departed_at=None,
        completed_at=None,
        position=None,
        stops=[
            StopStatusPublic(
                sequence=n,
                order_id=100 + n,
                reference=f"O-{n}",
                customer=f"Customer {n}",
                address="",
                window_earliest=time(8 + n),
                window_latest=None,
                eta=datetime(2025, 3, 14, 8 + n, tzinfo=UTC),
                departure_at=datetime(2025, 3, 14, 8 + n, 10, tzinfo=UTC),
                demand_kg=Decimal("300"),
                demand_pallets=1,
                lat=Decimal("55.70") + Decimal(n) / 100,
                lon=Decimal("12.60"),
                service_s=600,
                instructions="",
                pallets=[],
                state="pending",
                predicted_eta=None,
                late_by_s=0,
                arrived_at=None,
                done_at=None,
                received_by=None,
                failed_reason=None,
            )
            for n in range(stops, 0, -1)  # out of order on purpose
        ],
        alerts=[],
    )
    return dict(status.model_dump(mode="json"))


def test_drive_input_is_read_from_centrals_route_status() -> None:
    drive = DriveInput.from_status(status_json())
    assert drive == DriveInput(
        route_id=7,
        site="WH1",
        vehicle="VAN-1",
        depot=Point(55.6761, 12.5683),
        start_at=datetime(2025, 3, 14, 7, tzinfo=UTC),
        stops=(
            RouteStop(1, Point(55.71, 12.60), 600, datetime(2025, 3, 14, 9, tzinfo=UTC)),
            RouteStop(2, Point(55.72, 12.60), 600, datetime(2025, 3, 14, 10, tzinfo=UTC)),
        ),
    )


def test_route_status_without_stops_field_is_refused_with_the_field_named() -> None:
    status = status_json()
    del status["stops"]
    with pytest.raises(RouteStatusError, match="stops"):
        DriveInput.from_status(status)


def test_every_report_of_a_drive_is_a_valid_driver_event_for_central() -> None:
    timeline = plan_drive(route(*STOPS), disturbances=[FailDelivery(2)])
    for item in timeline.reports:
        event = DriverEventIn.model_validate(item.body(uuid.uuid4()))
        assert (event.type.value, event.stop, event.at) == (item.type.value, item.stop, item.at)


@pytest.mark.parametrize(
    ("kind", "stop", "extra"),
    [
        (ReportType.ARRIVED, None, {}),
        (ReportType.DEPARTED, 1, {}),
        (ReportType.DELIVERED, 1, {"received_by": " "}),
        (ReportType.FAILED, 1, {}),
    ],
)
def test_report_central_would_refuse_is_refused_when_made(
    kind: ReportType, stop: int | None, extra: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=r"stop|received|reason"):
        DriverReport(type=kind, at=START, stop=stop, **extra)


# ----------------------------------------------------------------------------- driver links


def test_qr_link_gives_route_and_token() -> None:
    assert token_from_qr("http://host:8000/driver/routes/7?token=abc") == (7, "abc")


def test_qr_link_behind_a_path_prefix_keeps_the_prefix_in_the_base_url() -> None:
    link = parse_driver_link("https://wms.example.com/ops/driver/routes/12/?token=t0k&x=1")
    assert (link.base_url, link.route_id, link.token) == ("https://wms.example.com/ops", 12, "t0k")


@pytest.mark.parametrize(
    "url",
    [
        "http://host:8000/driver/routes/7",
        "http://host:8000/driver/routes/7?token=",
        "http://host:8000/driver/routes/seven?token=abc",
        "http://host:8000/routes/7?token=abc",
        "ftp://host/driver/routes/7?token=abc",
        "/driver/routes/7?token=abc",
        "http://host:8000/driver/routes/7?token=a&token=b",
    ],
)
def test_link_that_is_not_a_driver_page_link_is_refused(url: str) -> None:
    with pytest.raises(DriverLinkError):
        token_from_qr(url)


# ----------------------------------------------------------------------------- playing


class RecordingPublisher:
    """Keeps what it is given, in order, with the (fake) time it was given at."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.sent: list[tuple[float, VehiclePosition]] = []
        self._clock = clock

    def publish(self, position: VehiclePosition) -> None:
        self.sent.append((self._clock.now if self._clock else 0.0, position))


class RecordingDriver:
    def __init__(self, log: list[tuple[int, DriverReport]], route_id: int) -> None:
        self._log = log
        self._route_id = route_id

    def report(self, event: DriverReport) -> None:
        self._log.append((self._route_id, event))


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def two_vehicles() -> list[Timeline]:
    first = plan_drive(route(*STOPS))
    second_route = replace(
        route(*STOPS[1:], start_at=START + timedelta(minutes=3)), route_id=8, vehicle="VAN-2"
    )
    return [first, plan_drive(second_route, disturbances=[Delay(0, 4)])]


def test_play_sends_every_step_in_time_order_keeping_each_vehicles_order() -> None:
    timelines = two_vehicles()
    publisher = RecordingPublisher()
    reports: list[tuple[int, DriverReport]] = []
    drivers = {t.route_id: RecordingDriver(reports, t.route_id) for t in timelines}
    stats = play(timelines, publisher=publisher, drivers=drivers, speedup=None)

    assert stats.positions == sum(len(t.positions) for t in timelines)
    assert stats.reports == sum(len(t.reports) for t in timelines)
    sent = [p for _, p in publisher.sent]
    assert [p.at for p in sent] == sorted(p.at for p in sent)
    for t in timelines:
        assert [p for p in sent if p.vehicle == t.vehicle] == list(t.positions)
        assert [r for route_id, r in reports if route_id == t.route_id] == list(t.reports)


def test_play_as_fast_as_possible_never_sleeps() -> None:
    clock = FakeClock()
    play(
        two_vehicles(),
        publisher=RecordingPublisher(clock),
        drivers={7: RecordingDriver([], 7), 8: RecordingDriver([], 8)},
        speedup=None,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    assert clock.slept == 0


def test_play_with_speedup_sends_each_step_when_its_scaled_time_comes() -> None:
    clock = FakeClock()
    publisher = RecordingPublisher(clock)
    timelines = two_vehicles()
    play(
        timelines,
        publisher=publisher,
        drivers={7: RecordingDriver([], 7), 8: RecordingDriver([], 8)},
        speedup=60,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    origin = min(t.steps[0].at for t in timelines)
    for real, position in publisher.sent:
        expected = 1000.0 + (position.at - origin).total_seconds() / 60
        assert real == pytest.approx(expected, abs=1e-6)
    end = max(t.steps[-1].at for t in timelines)
    assert clock.slept == pytest.approx((end - origin).total_seconds() / 60, abs=1e-6)


def test_play_refuses_a_route_without_a_driver_before_sending_anything() -> None:
    publisher = RecordingPublisher()
    with pytest.raises(ValueError, match="route 8"):
        play(two_vehicles(), publisher=publisher, drivers={7: RecordingDriver([], 7)}, speedup=None)
    assert publisher.sent == []
