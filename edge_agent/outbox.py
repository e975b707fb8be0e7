"""The edge's durable outbox: events waiting for central's ack, executed commands, print jobs.

One SQLite file in WAL mode with `synchronous=FULL`: every commit is fsynced before `append`
returns, so an event survives a process kill *and* a power cut once the worker has seen the
dock react to it. Dock events come a few per minute, so the fsync per commit costs nothing that
matters; NORMAL would risk losing the last commits on power loss, which is exactly when a
warehouse edge box tends to die.

The per-site `seq` lives in a counter row updated in the same transaction as the insert, so a
rolled-back append leaves no gap and acked (deleted) events never free their numbers for reuse.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self
from uuid import UUID

from pydantic import BaseModel

from contracts.envelope import Envelope, new_event_id, utc_now
from contracts.events import EventType
from edge_agent.errors import OutboxError

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    queued_epoch REAL NOT NULL,
    envelope TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executed_commands (
    id TEXT PRIMARY KEY,
    claimed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS print_jobs (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    dock TEXT NOT NULL,
    data BLOB NOT NULL,
    reason TEXT NOT NULL,
    command_id TEXT,
    queued_at TEXT NOT NULL,
    printed_at TEXT
);
CREATE INDEX IF NOT EXISTS print_jobs_pending ON print_jobs (dock, printed_at, n);
CREATE TABLE IF NOT EXISTS rejected_commands (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS load_plans (
    shipment_id TEXT PRIMARY KEY,
    dock TEXT NOT NULL,
    command_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    received_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS loaded_pallets (
    shipment_id TEXT NOT NULL,
    sscc TEXT NOT NULL,
    override_reason TEXT,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (shipment_id, sscc)
);
CREATE TABLE IF NOT EXISTS unloading_expectations (
    dock TEXT PRIMARY KEY,
    command_id TEXT NOT NULL,
    expectation TEXT NOT NULL
);
INSERT OR IGNORE INTO counters (name, value) VALUES ('last_seq', 0), ('last_acked', 0);
"""


@dataclass(frozen=True)
class PrintJob:
    """A print job waiting in the durable print queue of a dock."""

    job_id: str
    dock: str
    data: bytes
    reason: str
    command_id: UUID | None


@dataclass(frozen=True)
class StoredLoadPlan:
    """A load plan the edge holds (JSON of contracts.LoadPlan) and the pallets loaded so far."""

    shipment_id: str
    dock: str
    command_id: UUID
    plan_json: str
    loaded: tuple[tuple[str, str | None], ...]
    """(SSCC, override reason or None), in the order they were loaded."""


class OutboxTransaction:
    """Outbox operations that commit together (or not at all); get one from `Outbox.transaction`."""

    def __init__(self, outbox: Outbox, conn: sqlite3.Connection) -> None:
        self._outbox = outbox
        self._conn = conn
        self.appended: list[Envelope] = []

    def append(
        self, type: EventType, source: str, payload: BaseModel, *, event_id: UUID | None = None
    ) -> Envelope:
        """Queue an event; it gets the next seq of the site. `event_id` defaults to a new uuid7."""
        (last,) = self._conn.execute("SELECT value FROM counters WHERE name='last_seq'").fetchone()
        seq = int(last) + 1
        envelope = Envelope(
            id=event_id or new_event_id(),
            site=self._outbox.site,
            seq=seq,
            source=source,
            type=str(type),
            at=utc_now(),
            # Same shape as contracts.payload_data: JSON-ready, None fields left out.
            data=payload.model_dump(mode="json", exclude_none=True),
        )
        self._conn.execute("UPDATE counters SET value=? WHERE name='last_seq'", (seq,))
        self._conn.execute(
            "INSERT INTO events (seq, id, queued_epoch, envelope) VALUES (?, ?, ?, ?)",
            (seq, str(envelope.id), time.time(), envelope.model_dump_json()),
        )
        self.appended.append(envelope)
        return envelope

    def claim_command(self, command_id: UUID) -> bool:
        """True the first time `command_id` is claimed, False for every redelivery."""
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO executed_commands (id, claimed_at) VALUES (?, ?)",
            (str(command_id), utc_now().isoformat()),
        )
        return cur.rowcount == 1

    def enqueue_print(
        self,
        job_id: str,
        dock: str,
        data: bytes,
        reason: str,
        *,
        command_id: UUID | None = None,
    ) -> bool:
        """Queue a print job for `dock`; False if a job with this id was queued before."""
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO print_jobs (job_id, dock, data, reason, command_id, queued_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                job_id,
                dock,
                data,
                reason,
                str(command_id) if command_id else None,
                utc_now().isoformat(),
            ),
        )
        return cur.rowcount == 1

    def mark_printed(self, job_id: str) -> PrintJob | None:
        """Mark a job printed; returns it, or None if it was unknown or already printed."""
        row = self._conn.execute(
            "SELECT job_id, dock, data, reason, command_id FROM print_jobs"
            " WHERE job_id=? AND printed_at IS NULL",
            (job_id,),
        ).fetchone()
        if row is None:
            return None
        self._conn.execute(
            "UPDATE print_jobs SET printed_at=? WHERE job_id=?", (utc_now().isoformat(), job_id)
        )
        return _print_job(row)

    def ack(self, upto: int) -> int:
        """Delete the events central applied (seq <= `upto`); returns how many were deleted."""
        (last_seq,) = self._conn.execute(
            "SELECT value FROM counters WHERE name='last_seq'"
        ).fetchone()
        if upto > last_seq:
            # Central has applied more than this outbox ever numbered: the database was
            # replaced or restored. Deleting would drop events central never saw.
            logger.error(
                "central acked up to seq %d but this outbox numbered only up to %d: the outbox "
                "database %s was replaced; ack ignored, ops must reset the site's seq at central",
                upto,
                last_seq,
                self._outbox.path,
            )
            return 0
        cur = self._conn.execute("DELETE FROM events WHERE seq <= ?", (upto,))
        self._conn.execute(
            "UPDATE counters SET value=max(value, ?) WHERE name='last_acked'", (upto,)
        )
        return cur.rowcount

    def save_load_plan(self, shipment_id: str, dock: str, command_id: UUID, plan_json: str) -> None:
        """Hold a shipment's load plan (replacing an older plan of that shipment, keeping the
        pallets already loaded); an open plan of another shipment at the dock is closed."""
        now = utc_now().isoformat()
        self._conn.execute(
            "UPDATE load_plans SET closed_at=?"
            " WHERE dock=? AND shipment_id<>? AND closed_at IS NULL",
            (now, dock, shipment_id),
        )
        self._conn.execute(
            "INSERT INTO load_plans (shipment_id, dock, command_id, plan, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (shipment_id) DO UPDATE SET dock=excluded.dock,"
            " command_id=excluded.command_id, plan=excluded.plan,"
            " received_at=excluded.received_at, closed_at=NULL",
            (shipment_id, dock, str(command_id), plan_json, now),
        )

    def record_loaded(self, shipment_id: str, sscc: str, override_reason: str | None) -> None:
        """Record a pallet as loaded onto a shipment's vehicle."""
        self._conn.execute(
            "INSERT OR IGNORE INTO loaded_pallets (shipment_id, sscc, override_reason, loaded_at)"
            " VALUES (?, ?, ?, ?)",
            (shipment_id, sscc, override_reason, utc_now().isoformat()),
        )

    def close_load_plan(self, shipment_id: str) -> None:
        """The shipment left (or its plan was withdrawn): stop checking pallets against it."""
        self._conn.execute(
            "UPDATE load_plans SET closed_at=? WHERE shipment_id=? AND closed_at IS NULL",
            (utc_now().isoformat(), shipment_id),
        )

    def save_unloading_expectation(self, dock: str, command_id: UUID, expectation: str) -> None:
        """Hold the pallets expected off the vehicle at `dock` (JSON), replacing older ones."""
        self._conn.execute(
            "INSERT OR REPLACE INTO unloading_expectations (dock, command_id, expectation)"
            " VALUES (?, ?, ?)",
            (dock, str(command_id), expectation),
        )

    def clear_unloading_expectation(self, dock: str) -> None:
        """The unloading at `dock` was checked."""
        self._conn.execute("DELETE FROM unloading_expectations WHERE dock=?", (dock,))

    def reject_command(self, raw: bytes, reason: str) -> None:
        """Keep an unreadable command's raw bytes, so ops can see what central sent."""
        self._conn.execute(
            "INSERT INTO rejected_commands (received_at, reason, raw) VALUES (?, ?, ?)",
            (utc_now().isoformat(), reason, raw),
        )


def _print_job(row: tuple[str, str, bytes, str, str | None]) -> PrintJob:
    job_id, dock, data, reason, command_id = row
    return PrintJob(
        job_id=job_id,
        dock=dock,
        data=bytes(data),
        reason=reason,
        command_id=UUID(command_id) if command_id else None,
    )


class Outbox:
    """The durable outbox of one site; safe to use from several threads."""

    def __init__(self, path: str | Path, site: str) -> None:
        """Open (or create) the outbox database at `path` for `site`.

        Raises:
            OutboxError: the file cannot be opened or is not an outbox database.
        """
        self.path = Path(path)
        self.site = site
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the seq read and the
            # counter update can never interleave with another writer.
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as err:
            raise OutboxError(f"cannot open outbox database {self.path}: {err}") from err
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as err:
            self._conn.close()
            raise OutboxError(f"outbox database {self.path} is unusable: {err}") from err

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback()` (from the committing thread) after each commit that added events."""
        self._listeners.append(callback)

    @contextmanager
    def transaction(self) -> Iterator[OutboxTransaction]:
        """Operations inside the block commit together when it exits normally."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise OutboxError(f"outbox database {self.path} is not writable: {err}") from err
            tx = OutboxTransaction(self, self._conn)
            try:
                yield tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as err:
                self._conn.execute("ROLLBACK")
                raise OutboxError(f"outbox commit failed on {self.path}: {err}") from err
        if tx.appended:
            for listener in self._listeners:
                listener()

    def append(
        self, type: EventType, source: str, payload: BaseModel, *, event_id: UUID | None = None
    ) -> Envelope:
        """Durably queue one event and return its envelope (with its seq and id)."""
        with self.transaction() as tx:
            return tx.append(type, source, payload, event_id=event_id)

    def claim_command(self, command_id: UUID) -> bool:
        """True the first time `command_id` is claimed (durably), False for redeliveries."""
        with self.transaction() as tx:
            return tx.claim_command(command_id)

    def enqueue_print(
        self, job_id: str, dock: str, data: bytes, reason: str, *, command_id: UUID | None = None
    ) -> bool:
        """Durably queue a print job; False if this job id was queued before."""
        with self.transaction() as tx:
            return tx.enqueue_print(job_id, dock, data, reason, command_id=command_id)

    def mark_printed(self, job_id: str) -> PrintJob | None:
        """Mark a job printed; the job, or None if unknown or already printed."""
        with self.transaction() as tx:
            return tx.mark_printed(job_id)

    def pending_prints(self, dock: str) -> list[PrintJob]:
        """The dock's unprinted jobs, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT job_id, dock, data, reason, command_id FROM print_jobs"
                " WHERE dock=? AND printed_at IS NULL ORDER BY n",
                (dock,),
            ).fetchall()
        return [_print_job(row) for row in rows]

    def unacked(self, after_seq: int = 0, limit: int = 500) -> list[Envelope]:
        """Unacked events with seq > `after_seq`, in seq order, at most `limit`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT envelope FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [Envelope.model_validate_json(row[0]) for row in rows]

    def ack(self, upto: int) -> int:
        """Central applied every event up to `upto`: delete them; returns how many were deleted."""
        with self.transaction() as tx:
            return tx.ack(upto)

    def reject_command(self, raw: bytes, reason: str) -> None:
        """Keep an unreadable command's raw bytes with the reason."""
        with self.transaction() as tx:
            tx.reject_command(raw, reason)

    def rejected_commands(self) -> list[tuple[str, bytes]]:
        """Reasons and raw bytes of the commands that could not be read, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT reason, raw FROM rejected_commands ORDER BY n"
            ).fetchall()
        return [(str(reason), bytes(raw)) for reason, raw in rows]

    def open_load_plans(self) -> list[StoredLoadPlan]:
        """The load plans not yet dispatched, oldest first, with their loaded pallets."""
        with self._lock:
            plans = self._conn.execute(
                "SELECT shipment_id, dock, command_id, plan FROM load_plans"
                " WHERE closed_at IS NULL ORDER BY received_at"
            ).fetchall()
            out = []
            for shipment_id, dock, command_id, plan in plans:
                loaded = self._conn.execute(
                    "SELECT sscc, override_reason FROM loaded_pallets WHERE shipment_id=?"
                    " ORDER BY loaded_at, rowid",
                    (shipment_id,),
                ).fetchall()
                out.append(
                    StoredLoadPlan(
                        shipment_id=str(shipment_id),
                        dock=str(dock),
                        command_id=UUID(command_id),
                        plan_json=str(plan),
                        loaded=tuple((str(s), r) for s, r in loaded),
                    )
                )
        return out

    def unloading_expectations(self) -> dict[str, str]:
        """Per dock, the JSON of the pallets expected off its vehicle."""
        with self._lock:
            rows = self._conn.execute("SELECT dock, expectation FROM unloading_expectations")
            return {str(dock): str(expectation) for dock, expectation in rows.fetchall()}

    def depth(self) -> int:
        """How many events wait for central's ack."""
        with self._lock:
            (n,) = self._conn.execute("SELECT count(*) FROM events").fetchone()
        return int(n)

    def oldest_age_s(self) -> float | None:
        """Seconds since the oldest unacked event was queued; None if the outbox is empty."""
        with self._lock:
            row = self._conn.execute(
                "SELECT queued_epoch FROM events ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return max(0.0, time.time() - float(row[0]))

    def last_acked(self) -> int:
        """The highest seq central has acknowledged."""
        return self._counter("last_acked")

    def last_seq(self) -> int:
        """The highest seq ever assigned."""
        return self._counter("last_seq")

    def _counter(self, name: str) -> int:
        with self._lock:
            (value,) = self._conn.execute(
                "SELECT value FROM counters WHERE name=?", (name,)
            ).fetchone()
        return int(value)
