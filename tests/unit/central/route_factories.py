"""Routes as the driver sees them (RouteStatusPublic), for the renderer tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from central.routes_schemas import RouteStatusPublic, StopStatusPublic

DAY = date(2025, 6, 2)


def sscc(sequence: int, pallet: int) -> str:
    """An SSCC for pallet `pallet` of stop `sequence`."""
    return f"00376000000{sequence:04d}{pallet:03d}"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, 2, hour, minute, tzinfo=UTC)


def make_stop(sequence: int, **changes: Any) -> StopStatusPublic:
    fields: dict[str, Any] = {
        "sequence": sequence,
        "order_id": 100 + sequence,
        "reference": f"SO-{sequence:04d}",
        "customer": f"Customer {sequence:02d}",
        "address": f"{sequence} Market Street, Springfield",
        "window_earliest": time(8),
        "window_latest": time(16),
        "eta": at(8) + timedelta(hours=sequence),
        "departure_at": at(8, 15) + timedelta(hours=sequence),
        "demand_kg": Decimal("120.5"),
        "demand_pallets": 2,
        "lat": Decimal("52.2"),
        "lon": Decimal("21.0"),
        "service_s": 900,
        "instructions": "",
        "pallets": [sscc(sequence, 1), sscc(sequence, 2)],
        "state": "pending",
        "predicted_eta": at(8) + timedelta(hours=sequence),
        "late_by_s": 0,
        "arrived_at": None,
        "done_at": None,
        "received_by": None,
        "failed_reason": None,
    }
    fields.update(changes)
    return StopStatusPublic.model_validate(fields)


def make_route(stops: list[StopStatusPublic], **changes: Any) -> RouteStatusPublic:
    fields: dict[str, Any] = {
        "route_id": 17,
        "plan_id": 4,
        "site": "WH1",
        "date": DAY,
        "vehicle_ref": "VAN-07",
        "state": "under_way",
        "depot_lat": Decimal("52.1"),
        "depot_lon": Decimal("21.1"),
        "start_at": at(7, 30),
        "end_at": at(15, 45),
        "km": Decimal("123.45"),
        "load_kg": Decimal("1250.0"),
        "load_pallets": 2 * len(stops),
        "departed_at": at(7, 32),
        "completed_at": None,
        "position": None,
        "stops": stops,
        "alerts": [],
    }
    fields.update(changes)
    return RouteStatusPublic.model_validate(fields)
