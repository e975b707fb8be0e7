"""The event envelope every edge event travels in, and central's acknowledgement."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import uuid6
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import ContractError

SCHEMA_VERSION: Literal[1] = 1

_SITE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,15}$")


def _check_site(value: str) -> str:
    if not _SITE_RE.match(value):
        raise ValueError(f"site code {value!r} must be 1-16 upper-case letters, digits, '-' or '_'")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


SiteCode = Annotated[str, AfterValidator(_check_site)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def new_event_id() -> UUID:
    """A time-ordered UUIDv7, made once where the event happens and kept through retries."""
    return UUID(str(uuid6.uuid7()))


def utc_now() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One event from an edge: a past-tense fact with its per-site sequence number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    id: UUID
    site: SiteCode
    seq: int = Field(ge=1, description="Per-site, gap-free, assigned when entering the outbox")
    source: str = Field(min_length=1, max_length=120, description="e.g. 'dock-1/scale'")
    type: str = Field(min_length=1, max_length=60)
    at: UtcDatetime
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> bytes:
        """The envelope as UTF-8 JSON bytes, as it goes on the wire."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | bytearray | str) -> Envelope:
        """Parse and validate an envelope; raise ContractError with the reason if it is bad."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as err:
            raise ContractError(f"invalid event envelope: {_summarise(err)}") from err


class Ack(BaseModel):
    """Central's acknowledgement: every event of the site up to `upto` is durably applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upto: int = Field(ge=0)

    def to_json(self) -> bytes:
        """The ack as UTF-8 JSON bytes."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | bytearray | str) -> Ack:
        """Parse an ack; raise ContractError if it is malformed."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as err:
            raise ContractError(f"invalid ack: {_summarise(err)}") from err


def _summarise(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "<message>"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def summarise_validation_error(err: ValidationError) -> str:
    """A short, readable account of what was wrong with a message."""
    return _summarise(err)
