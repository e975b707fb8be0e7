"""The demo's putaway follows the slotting plan computed before the truck arrives."""

from __future__ import annotations

from pathlib import Path

import pytest

from wms.demo import DemoOptions, run_demo
from wms.embedded_broker import free_port

pytestmark = pytest.mark.slow


def test_demo_puts_every_pallet_where_the_slotting_plan_says(
    tmp_path: Path, embedded_broker_url: str
) -> None:
    """The first pallet of each product goes to the product's planned bin; the others go to
    bins no product is planned for (the plan's slots stay free for their own items)."""
    # The amqtt broker runs in its own process (the session fixture): amqtt inside pytest
    # leaves transports for the garbage collector, which filterwarnings=error turns into errors.
    result = run_demo(
        DemoOptions(
            workdir=tmp_path / "demo",
            port=free_port(),
            pallets=8,
            serve=False,
            mqtt_url=embedded_broker_url,
            outbound_pallets=0,
        )
    )

    planned = result.planned_bins
    gtin_of = {p.sscc: p.item.gtin for p in result.manifest.pallets}
    assert set(planned) == set(gtin_of.values())
    assert result.report.put_away == 8
    seen: set[str] = set()
    for outcome in result.report.pallets:
        gtin = gtin_of[outcome.sscc]
        if gtin not in seen:
            assert outcome.location == planned[gtin], outcome
            seen.add(gtin)
        else:
            assert outcome.location not in planned.values(), outcome
    # The fastest mover (the first product) is planned nearest the dock, at floor level.
    fastest = result.manifest.items[0].gtin
    assert planned[fastest] == "A-01-1"
