"""How a driven route reads to people: UTC clock times, windows, ETA changes, the next stop.

Shared by the printed route sheet and the driver page so both say the same thing."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from central.routes_schemas import RouteStatusPublic, StopStatusPublic

# A predicted ETA this close to the planned one is noise to a driver: not shown.
ETA_CHANGE_SHOWN_AFTER = timedelta(minutes=5)

OPEN_STATES = ("pending", "arrived")

STATE_LABELS = {
    "planned": "Not departed",
    "under_way": "Under way",
    "completed": "Completed",
    "pending": "Pending",
    "arrived": "Arrived",
    "delivered": "Delivered",
    "failed": "Failed",
}


def state_label(state: str) -> str:
    """A route's or stop's state in words (an unknown state as it is)."""
    return STATE_LABELS.get(state, state.replace("_", " ").capitalize())


def clock(at: datetime, *, day: date) -> str:
    """`at` as a UTC clock time; with its date too when it is not on `day`."""
    # Naive datetimes from the store are UTC already.
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if utc.date() != day:
        return f"{utc:%Y-%m-%d %H:%M}"
    return f"{utc:%H:%M}"


def window(earliest: time, latest: time | None) -> str:
    """A delivery window of UTC times of day."""
    if latest is None:
        return f"from {earliest:%H:%M}"
    return f"{earliest:%H:%M}–{latest:%H:%M}"


def changed_eta(stop: StopStatusPublic) -> datetime | None:
    """The stop's current ETA when it moved more than a few minutes from the planned one."""
    if stop.predicted_eta is None:
        return None
    if abs(stop.predicted_eta - stop.eta) <= ETA_CHANGE_SHOWN_AFTER:
        return None
    return stop.predicted_eta


def late_minutes(stop: StopStatusPublic) -> int:
    """Whole minutes the stop is late by, rounded up so any lateness shows; 0 when on time."""
    return math.ceil(stop.late_by_s / 60) if stop.late_by_s > 0 else 0


def quantity(value: Decimal) -> str:
    """A quantity to one decimal at most, without trailing zeros (1250, 1250.5)."""
    return format(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize(), "f")


def in_sequence(route: RouteStatusPublic) -> list[StopStatusPublic]:
    """The route's stops in delivery order."""
    return sorted(route.stops, key=lambda stop: stop.sequence)


def next_stop(route: RouteStatusPublic) -> StopStatusPublic | None:
    """Where the driver acts next: a stop arrived at (the driver is there), else the first
    pending stop in sequence; None when every stop is done."""
    stops = in_sequence(route)
    for stop in stops:
        if stop.state == "arrived":
            return stop
    for stop in stops:
        if stop.state == "pending":
            return stop
    return None
