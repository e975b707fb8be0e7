"""Master data for a simulated site, loaded through central's HTTP API as an integration would."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx

from firmware_sim.scenario import TruckManifest

logger = logging.getLogger(__name__)


class SeedError(RuntimeError):
    """Central refused master data; the message carries its answer."""


@dataclass(frozen=True)
class Layout:
    """A simple rack layout: aisles × bays × levels of single-pallet bins."""

    aisles: str = "ABCD"
    bays: int = 10
    levels: int = 3
    aisle_pitch_m: int = 4
    bay_pitch_m: str = "1.4"
    level_height_m: str = "1.5"
    bin_max_kg: int = 1200
    temperature_class: str = "ambient"
    # Aisles fitted for hazardous goods (sprinklers, spill trays) and the classes they take.
    hazard_aisles: str = "D"
    hazard_classes: tuple[str, ...] = ("3", "8")

    def bins(self, site: str) -> list[dict[str, object]]:
        """The bins as POST /locations bodies."""
        bodies: list[dict[str, object]] = []
        for a, aisle in enumerate(self.aisles):
            for bay in range(1, self.bays + 1):
                for level in range(1, self.levels + 1):
                    bodies.append(
                        {
                            "site": site,
                            "code": f"{aisle}-{bay:02d}-{level}",
                            "kind": "bin",
                            "zone": "ambient",
                            "aisle": aisle,
                            "bay": f"{bay:02d}",
                            "level": str(level),
                            "x": str((a + 1) * self.aisle_pitch_m),
                            "y": f"{bay * float(self.bay_pitch_m):.1f}",
                            "z": f"{(level - 1) * float(self.level_height_m):.1f}",
                            "max_weight_kg": str(self.bin_max_kg),
                            "max_pallets": 1,
                            "temperature_class": self.temperature_class,
                            "hazard_classes": list(
                                self.hazard_classes if aisle in self.hazard_aisles else ()
                            ),
                        }
                    )
        return bodies


def _post(client: httpx.Client, path: str, body: object) -> None:
    response = client.post(path, json=body)
    if response.status_code == 409:
        return  # already there: seeding is repeatable
    if response.status_code >= 400:
        raise SeedError(f"POST {path} failed with {response.status_code}: {response.text}")


def seed_site(client: httpx.Client, *, site: str, docks: list[str], layout: Layout) -> None:
    """Create the site with its docks (each with a receiving location) and its bins."""
    _post(
        client,
        "/sites",
        {
            "code": site,
            "name": f"Warehouse {site}",
            "docks": [
                {"code": dock, "receiving_location": f"RCV-{i + 1}", "x": "0", "y": str(i * 5)}
                for i, dock in enumerate(docks)
            ],
        },
    )
    for body in layout.bins(site):
        _post(client, "/locations", body)
    logger.info("seeded site %s: %d docks, %d bins", site, len(docks), len(layout.bins(site)))


# Picks per week of the truck's products, fastest first: the demo has no stock history yet, so
# each new item carries a forecast (its pick frequency override) for slotting.
DEMO_PICKS_PER_WEEK = (120, 85, 60, 40, 20, 8)


def seed_truck(client: httpx.Client, manifest: TruckManifest) -> None:
    """Create the truck's items (with a pick forecast) and its ASN (one line per pallet)."""
    for i, item in enumerate(manifest.items):
        _post(
            client,
            "/items",
            {
                "gtin": item.gtin,
                "name": item.name,
                "unit_weight_kg": str(item.unit_weight_kg),
                "pick_frequency_override": str(DEMO_PICKS_PER_WEEK[i % len(DEMO_PICKS_PER_WEEK)]),
            },
        )
    lines = [
        {
            "gtin": p.item.gtin,
            "batch": p.batch,
            "sscc": p.sscc,
            "quantity": str(p.count),
            "expected_weight_kg": str(p.weight_kg),
            "weight_tolerance_pct": "2",
            "unit_price": str(p.item.unit_price),
            "currency": p.item.currency,
        }
        for p in manifest.pallets
    ]
    _post(
        client,
        "/expected-receipts",
        {
            "site": manifest.site,
            "reference": manifest.reference,
            "supplier": "Demo Foods",
            "lines": lines,
        },
    )
    logger.info("seeded ASN %s with %d pallets", manifest.reference, len(lines))


def plan_slotting(client: httpx.Client, *, site: str) -> dict[str, str]:
    """Compute the site's slotting plan (putaway follows it); return GTIN -> planned bin."""
    response = client.post("/slotting/plans", json={"site": site})
    if response.status_code != 201:
        raise SeedError(f"POST /slotting/plans failed with {response.status_code}: {response.text}")
    plan = response.json()
    logger.info(
        "slotting plan %s for %s: %s items, %s (gap %s)",
        plan["id"],
        site,
        plan["items"],
        plan["solver_status"],
        plan["gap"],
    )
    return {row["gtin"]: row["bin"] for row in plan["assignments"]}


class DockNotReady(TimeoutError):
    """The edge did not report the dock's devices online in time."""


def wait_dock_online(
    client: httpx.Client, *, site: str, dock: str, timeout_s: float = 30.0
) -> None:
    """Wait until central shows the dock's scanner, scale and printer online.

    A scan sent before the edge has opened the scanner's port is lost, as with a real
    scanner, so the simulated worker starts only once the edge reports the devices.
    """
    wanted = {f"{dock}/scanner", f"{dock}/scale", f"{dock}/printer"}
    deadline = time.monotonic() + timeout_s
    online: set[str] = set()
    while time.monotonic() < deadline:
        rows = client.get("/devices", params={"site": site}).json()
        online = {r["device"] for r in rows if r["state"] == "online"}
        if wanted <= online:
            return
        time.sleep(0.2)
    raise DockNotReady(
        f"{site} {dock}: devices not online after {timeout_s} s (online: {sorted(online)})"
    )
