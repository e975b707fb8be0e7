"""The edge agent: one process per warehouse that owns its devices, runs the dock workflows,
keeps a durable outbox and talks to central over MQTT (DESIGN.md §2)."""

from edge_agent.agent import EdgeAgent, EdgeHealth, run_edge
from edge_agent.config import EdgeConfig, load_config
from edge_agent.errors import EdgeConfigError, EdgeError, OutboxError, UplinkError
from edge_agent.outbox import Outbox

__all__ = [
    "EdgeAgent",
    "EdgeConfig",
    "EdgeConfigError",
    "EdgeError",
    "EdgeHealth",
    "Outbox",
    "OutboxError",
    "UplinkError",
    "load_config",
    "run_edge",
]
