"""All routers of the API."""

from fastapi import APIRouter

from central.api.routes import (
    alerts,
    commands,
    dead_letters,
    devices,
    docks,
    driver,
    events,
    expected_receipts,
    health,
    items,
    ledger,
    loads,
    locations,
    routes,
    sites,
    slotting,
    stock,
)

api_router = APIRouter()
for module in (
    sites,
    items,
    ledger,
    locations,
    expected_receipts,
    stock,
    events,
    dead_letters,
    alerts,
    commands,
    devices,
    docks,
    loads,
    routes,
    driver,
    slotting,
    health,
):
    api_router.include_router(module.router)
