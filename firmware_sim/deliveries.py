"""A generated delivery day for a site: its fleet and its customers' orders.

Deterministic per seed. Customers lie around the site (denser near it), with the windows
shops and businesses ask for (early, morning, midday, afternoon, all day), a few pallets each
and the unloading time that takes. The bodies are what central's API takes
(POST /vehicles, POST /orders), so a scenario loads them as an integration would.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from firmware_sim.telematics import Point

# (earliest, latest) start of unloading, UTC.
_WINDOWS = (
    (time(7, 0), time(10, 0)),
    (time(8, 0), time(12, 0)),
    (time(10, 0), time(14, 0)),
    (time(12, 0), time(17, 0)),
    (time(7, 0), time(17, 0)),
)
_CUSTOMERS = (
    "Bakery",
    "Cafe",
    "Pharmacy",
    "Hotel",
    "Deli",
    "Market",
    "Canteen",
    "Garage",
    "Florist",
    "Kiosk",
    "Bistro",
    "Hardware",
)
_STREETS = ("Haven", "Markt", "Kade", "Singel", "Dijk", "Laan", "Plein", "Straat")


@dataclass(frozen=True)
class FleetVehicle:
    """A delivery vehicle of the site (a POST /vehicles body)."""

    ref: str
    capacity_kg: Decimal
    capacity_pallets: int
    fixed_cost: Decimal
    cost_per_km: Decimal
    cost_per_hour: Decimal
    shift_length_s: int = 10 * 3600
    break_after_driving_s: int = 4 * 3600 + 1800
    break_duration_s: int = 2700

    def body(self, site: str) -> dict[str, object]:
        """The vehicle as central's API takes it."""
        return {
            "site": site,
            "ref": self.ref,
            "capacity_kg": str(self.capacity_kg),
            "capacity_pallets": self.capacity_pallets,
            "fixed_cost": str(self.fixed_cost),
            "cost_per_km": str(self.cost_per_km),
            "cost_per_hour": str(self.cost_per_hour),
            "shift_length_s": self.shift_length_s,
            "break_after_driving_s": self.break_after_driving_s,
            "break_duration_s": self.break_duration_s,
        }


@dataclass(frozen=True)
class CustomerOrder:
    """A delivery to a customer on the day (a POST /orders body)."""

    reference: str
    customer: str
    address: str
    location: Point
    pallets: int
    kg: Decimal
    earliest: time
    latest: time
    service_s: int
    instructions: str

    def body(self, site: str, day: date) -> dict[str, object]:
        """The order as central's API takes it."""
        return {
            "site": site,
            "reference": self.reference,
            "customer": self.customer,
            "address": self.address,
            "lat": f"{self.location.lat:.6f}",
            "lon": f"{self.location.lon:.6f}",
            "demand_kg": str(self.kg),
            "demand_pallets": self.pallets,
            "window_earliest": self.earliest.isoformat(),
            "window_latest": self.latest.isoformat(),
            "service_s": self.service_s,
            "delivery_date": day.isoformat(),
            "instructions": self.instructions,
        }


@dataclass(frozen=True)
class DeliveryDay:
    """A site's fleet and the day's orders."""

    depot: Point
    vehicles: tuple[FleetVehicle, ...]
    orders: tuple[CustomerOrder, ...]


def delivery_day(
    *, depot: Point, orders: int = 20, vans: int = 3, trucks: int = 2, seed: int = 1
) -> DeliveryDay:
    """Customers within about 25 km of `depot`, served by vans (8 pallets) and trucks (18)."""
    rng = random.Random(seed)
    fleet = [
        FleetVehicle(
            f"VAN-{n}", Decimal(1500), 8, Decimal(60), Decimal("0.35"), Decimal(28), 9 * 3600
        )
        for n in range(1, vans + 1)
    ] + [
        FleetVehicle(f"TRK-{n}", Decimal(10000), 18, Decimal(120), Decimal("0.65"), Decimal(34))
        for n in range(1, trucks + 1)
    ]
    made: list[CustomerOrder] = []
    for n in range(1, orders + 1):
        distance_km = 25 * math.sqrt(rng.random()) * rng.uniform(0.3, 1.0)
        bearing = rng.uniform(0, 2 * math.pi)
        location = _offset(depot, distance_km, bearing)
        pallets = rng.choice((1, 1, 2, 2, 3, 4))
        earliest, latest = rng.choice(_WINDOWS)
        name = f"{rng.choice(_CUSTOMERS)} {rng.choice('ABCDEFGHKLMNPRSTVW')}{n:02d}"
        made.append(
            CustomerOrder(
                reference=f"SO-{n:04d}",
                customer=name,
                address=f"{rng.choice(_STREETS)} {rng.randint(1, 180)}",
                location=location,
                pallets=pallets,
                kg=Decimal(pallets * rng.randint(250, 520)),
                earliest=earliest,
                latest=latest,
                service_s=600 + 300 * pallets,
                instructions=rng.choice(
                    ("", "", "Ring at the side door", "Forklift on site", "Call 15 min ahead")
                ),
            )
        )
    return DeliveryDay(depot, tuple(fleet), tuple(made))


def _offset(origin: Point, distance_km: float, bearing: float) -> Point:
    """The point `distance_km` from `origin` in direction `bearing` (radians from north)."""
    dlat = distance_km * math.cos(bearing) / 111.32
    dlon = distance_km * math.sin(bearing) / (111.32 * math.cos(math.radians(origin.lat)))
    return Point(round(origin.lat + dlat, 6), round(origin.lon + dlon, 6))
