"""Errors raised by the edge agent.

EdgeError
 ├── EdgeConfigError      the YAML config is missing, unreadable or invalid
 ├── OutboxError          the durable outbox database cannot be used
 └── UplinkError          the broker connection failed
      └── UplinkDisconnected
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error the edge agent raises."""


class EdgeConfigError(EdgeError):
    """The edge config file is missing, not valid YAML, or has wrong values: fix the file."""


class OutboxError(EdgeError):
    """The outbox database cannot be opened or written: check the disk and the data_dir path."""


class UplinkError(EdgeError):
    """The MQTT broker could not be reached or refused the connection."""


class UplinkDisconnected(UplinkError):
    """The broker connection was lost; the uplink reconnects and resends from the outbox."""
