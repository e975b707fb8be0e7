"""Vehicle telematics on the wire: a position report and where it is published.

A vehicle's telematics unit publishes on `wms/{site}/vehicles/{vehicle}/position` (QoS 0 or 1),
one small JSON object per sample. Positions are not envelopes: they are a stream of samples
of which the newest matters, published by the vehicle itself, not by the site's edge, so they
carry no site `seq`. A lost sample is replaced by the next one; making samples share the
site's gap-free sequence would make one lost sample hold up every dock event of the site.
Central applies a sample once (a repeat or an older sample changes nothing).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.envelope import SiteCode, UtcDatetime, summarise_validation_error
from contracts.errors import ContractError

POSITIONS_ALL_SITES = "wms/+/vehicles/+/position"


def position_topic(site: str, vehicle: str) -> str:
    """Where `vehicle` of `site` publishes its positions."""
    return f"wms/{site}/vehicles/{vehicle}/position"


def vehicle_of_topic(topic: str) -> tuple[str, str] | None:
    """(site, vehicle) of a position topic, or None if the topic is not one."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[0] == "wms" and parts[2] == "vehicles" and parts[4] == "position":
        return parts[1], parts[3]
    return None


class VehiclePosition(BaseModel):
    """One telematics sample: where the vehicle was at `at` (UTC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: SiteCode
    vehicle: str = Field(min_length=1, max_length=40, description="The vehicle's fleet ref")
    at: UtcDatetime
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed_kmh: float = Field(default=0.0, ge=0, le=250)

    def to_json(self) -> bytes:
        """The sample as UTF-8 JSON bytes, as it goes on the wire."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | bytearray | str) -> VehiclePosition:
        """Parse and validate a sample; ContractError with the reason if it is bad."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as err:
            raise ContractError(
                f"invalid vehicle position: {summarise_validation_error(err)}"
            ) from err
