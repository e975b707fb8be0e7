"""MQTT topic names (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

UP_EVENTS_ALL_SITES = "wms/+/up/events"
SHARED_GROUP = "central"


def shared(topic: str, group: str = SHARED_GROUP) -> str:
    """An MQTT v5 shared subscription to `topic`, so several ingest workers split the load."""
    return f"$share/{group}/{topic}"


def site_of_topic(topic: str) -> str | None:
    """The site code in a `wms/{site}/...` topic, or None if the topic is not ours."""
    parts = topic.split("/")
    if len(parts) >= 3 and parts[0] == "wms":
        return parts[1]
    return None


@dataclass(frozen=True)
class Topics:
    """The topics of one site."""

    site: str

    @property
    def up_events(self) -> str:
        """Edge → central, QoS 1: event envelopes."""
        return f"wms/{self.site}/up/events"

    @property
    def down_ack(self) -> str:
        """Central → edge, QoS 1: `{"upto": seq}`."""
        return f"wms/{self.site}/down/ack"

    @property
    def down_cmd(self) -> str:
        """Central → edge, QoS 1: commands."""
        return f"wms/{self.site}/down/cmd"

    @property
    def status(self) -> str:
        """Edge → all, QoS 1, retained: `online` / `offline` (the will message)."""
        return f"wms/{self.site}/status"
