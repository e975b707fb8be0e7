"""Telematics in: vehicle positions from MQTT to route control.

A sample that cannot be read, or whose topic names another vehicle than its payload, is kept
as a dead letter with the reason (it is never silently dropped); a readable sample of a
vehicle with no open route today is only logged: vehicles drive when they have no route.
"""

from __future__ import annotations

import logging

from central.ingest import IngestService
from central.route_control import PositionOutcome, RouteControl
from contracts.errors import ContractError
from contracts.telematics import VehiclePosition, vehicle_of_topic

logger = logging.getLogger(__name__)


class TelematicsIngest:
    """Applies position samples to routes; rejects go to `rejects`' dead letters."""

    def __init__(self, control: RouteControl, rejects: IngestService) -> None:
        self._control = control
        self._rejects = rejects

    def handle(self, raw: bytes, *, topic: str) -> PositionOutcome | None:
        """Apply one sample from `topic`; None when it was rejected as a dead letter."""
        source = vehicle_of_topic(topic)
        if source is None:
            raise ValueError(f"{topic} is not a vehicle position topic")
        try:
            sample = VehiclePosition.from_json(raw)
        except ContractError as err:
            self._rejects.reject(raw, topic=topic, reason=str(err))
            return None
        if (sample.site, sample.vehicle) != source:
            self._rejects.reject(
                raw,
                topic=topic,
                reason=(
                    f"sample of {sample.site} vehicle {sample.vehicle} published on the topic "
                    f"of {source[0]} vehicle {source[1]}; fix the telematics unit's settings"
                ),
            )
            return None
        outcome = self._control.apply_position(sample)
        if not outcome.applied:
            logger.debug("position of %s %s: %s", sample.site, sample.vehicle, outcome.detail)
        return outcome
