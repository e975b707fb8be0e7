"""Dock events from the edge make the dock board; odd situations become alerts, not dead letters."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning

from central.app import create_app
from central.ingest import IngestService
from central.settings import CentralSettings
from contracts.events import DockPhase
from tests.integration.central.scenario import EdgeStream, sscc

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(seeded: Engine, database_url: str) -> Iterator[TestClient]:
    app = create_app(CentralSettings(database_url=database_url))
    with TestClient(app) as test_client:
        yield test_client


def _send(
    service: IngestService, stream: EdgeStream, event_type: str, data: dict[str, object]
) -> None:
    outcome = service.handle(
        stream.event(event_type, data, source="dock-1/control"), topic=stream.topic
    )
    assert outcome.ack_upto == stream.seq


def _state(dock: str, state: DockPhase, previous: DockPhase, **extra: object) -> dict[str, object]:
    return {"dock": dock, "state": state.value, "previous": previous.value, **extra}


def test_dock_events_make_the_dock_board_and_alerts(
    client: TestClient, service: IngestService, stream: EdgeStream, site_code: str
) -> None:
    board = client.get("/docks", params={"site": site_code}).json()
    assert [(d["dock"], d["phase"]) for d in board] == [("dock-1", None)]

    _send(service, stream, "device.status", {"device": "dock-1/door", "state": "online"})
    _send(
        service,
        stream,
        "dock.vehicle_changed",
        {"dock": "dock-1", "present": True, "sensor": "dock-1/vehicle", "distance_m": "0.4"},
    )
    _send(
        service,
        stream,
        "dock.state_changed",
        _state("dock-1", DockPhase.VEHICLE_DOCKED, DockPhase.EMPTY),
    )
    _send(
        service,
        stream,
        "dock.door_changed",
        {"dock": "dock-1", "door": "open", "sensor": "dock-1/door"},
    )
    _send(
        service,
        stream,
        "dock.state_changed",
        _state("dock-1", DockPhase.DOOR_OPEN, DockPhase.VEHICLE_DOCKED),
    )
    _send(
        service,
        stream,
        "dock.state_changed",
        _state(
            "dock-1",
            DockPhase.DOOR_OPEN,
            DockPhase.DOOR_OPEN,
            alert="door open for over 30 min with no work: close it",
        ),
    )

    [dock] = client.get("/docks", params={"site": site_code}).json()
    assert (dock["phase"], dock["door"], dock["vehicle_present"], dock["distance_m"]) == (
        "door_open",
        "open",
        True,
        "0.4",
    )
    assert dock["alert"] == "door open for over 30 min with no work: close it"
    assert dock["last_event_type"] == "dock.state_changed"
    assert [(d["device"], d["state"]) for d in dock["devices"]] == [("dock-1/door", "online")]
    alerts = client.get("/alerts", params={"site": site_code, "kind": "dock_alert"}).json()
    assert len(alerts) == 1 and "close it" in alerts[0]["message"]

    _send(
        service,
        stream,
        "loading.alarm",
        {
            "dock": "dock-1",
            "shipment_id": "SH-9",
            "sscc": sscc(3),
            "reason": "wrong_order",
            "detail": "load 2 pallet(s) before it",
        },
    )
    alarm = client.get("/alerts", params={"site": site_code, "kind": "loading_alarm"}).json()
    assert (
        len(alarm) == 1 and sscc(3) in alarm[0]["message"] and "wrong order" in alarm[0]["message"]
    )
    assert "SH-9" in client.get("/docks", params={"site": site_code}).json()[0]["alert"]

    _send(
        service,
        stream,
        "unloading.checked",
        {
            "dock": "dock-1",
            "receipt_ref": "ASN-1",
            "expected": [sscc(1), sscc(2)],
            "scanned": [sscc(2), sscc(5)],
            "shortages": [sscc(1)],
            "extras": [sscc(5)],
        },
    )
    short = client.get("/alerts", params={"site": site_code, "kind": "unloading_shortage"}).json()
    extra = client.get("/alerts", params={"site": site_code, "kind": "unloading_extra"}).json()
    assert [a["ref"] for a in short] == [sscc(1)] and "ASN-1" in short[0]["message"]
    assert [a["ref"] for a in extra] == [sscc(5)]

    _send(
        service,
        stream,
        "dock.door_changed",
        {"dock": "dock-1", "door": "closed", "sensor": "dock-1/door"},
    )
    _send(
        service,
        stream,
        "dock.state_changed",
        _state("dock-1", DockPhase.DOOR_CLOSED, DockPhase.DOOR_OPEN),
    )
    [dock] = client.get("/docks", params={"site": site_code}).json()
    assert (dock["phase"], dock["door"], dock["alert"]) == ("door_closed", "closed", None)

    # Every new event type was applied; none was dead-lettered.
    assert client.get("/dead-letters", params={"site": site_code}).json() == []
    events = client.get("/events", params={"site": site_code, "limit": 100}).json()
    assert {e["outcome"] for e in events} == {"applied"}
    assert client.get("/docks", params={"site": "NOPE"}).status_code == 404


@dataclass(frozen=True)
class _DockStep:
    kind: str
    door_open: bool = False
    present: bool = False
    phase: DockPhase = DockPhase.EMPTY


_STEPS = st.one_of(
    st.builds(_DockStep, kind=st.just("door"), door_open=st.booleans()),
    st.builds(_DockStep, kind=st.just("vehicle"), present=st.booleans()),
    st.builds(_DockStep, kind=st.just("state"), phase=st.sampled_from(list(DockPhase))),
)
_DOCKS = count(1)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_STEPS, min_size=1, max_size=8))
def test_the_board_shows_the_last_reported_door_vehicle_and_phase(
    client: TestClient,
    service: IngestService,
    stream: EdgeStream,
    site_code: str,
    steps: list[_DockStep],
) -> None:
    dock = f"dock-x{next(_DOCKS)}"
    phase: DockPhase | None = None
    door: str | None = None
    present: bool | None = None
    for step in steps:
        if step.kind == "door":
            door = "open" if step.door_open else "closed"
            _send(
                service,
                stream,
                "dock.door_changed",
                {"dock": dock, "door": door, "sensor": f"{dock}/door"},
            )
        elif step.kind == "vehicle":
            present = step.present
            _send(
                service,
                stream,
                "dock.vehicle_changed",
                {"dock": dock, "present": present, "sensor": f"{dock}/vehicle"},
            )
        else:
            previous = phase or DockPhase.EMPTY
            phase = step.phase
            _send(service, stream, "dock.state_changed", _state(dock, phase, previous))
    row = next(
        d for d in client.get("/docks", params={"site": site_code}).json() if d["dock"] == dock
    )
    assert row["phase"] == (phase or DockPhase.EMPTY).value
    assert (row["door"], row["vehicle_present"]) == (door, present)
