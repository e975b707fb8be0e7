"""Central's command outbox: every command to an edge is stored before it is sent.

The MQTT adapter publishes what is stored here and resends it until the edge's
`command.done` arrives (`IngestService.pending_commands`), so a command survives a broker
that drops it and a central that restarts.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel
from sqlmodel import Session

from central.store import tables as t
from contracts import Command, CommandType, new_event_id


def store_command(
    session: Session,
    command: Command,
    *,
    cause: UUID | None = None,
    sent_at: datetime | None = None,
) -> None:
    """Add `command` to the outbox in the caller's transaction."""
    session.add(
        t.CommandOutbox(
            command_id=command.id,
            site_code=command.site,
            type=command.type,
            payload=command.to_json().decode(),
            cause_event_id=cause,
            created_at=command.at,
            last_sent_at=sent_at,
        )
    )


def new_command(*, site: str, type: CommandType, payload: BaseModel, now: datetime) -> Command:
    """A new command with `payload` for `site` (not stored yet)."""
    return Command(
        id=new_event_id(), site=site, type=type, at=now, data=payload.model_dump(mode="json")
    )


def queue_command(
    session: Session, *, site: str, type: CommandType, payload: BaseModel, now: datetime
) -> Command:
    """Make a new command with `payload` for `site` and store it for sending."""
    command = new_command(site=site, type=type, payload=payload, now=now)
    store_command(session, command)
    return command
