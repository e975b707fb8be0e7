"""A simulated driver's phone: reads the route from the driver page API and reports progress.

The driver page link (the QR code on the printed route sheet) is
`http://host:8000/driver/routes/{route_id}?token=...`; the API under it is

- `GET  /driver/routes/{id}/status?token=..`: the route as it is driven (RouteStatusPublic);
- `POST /driver/routes/{id}/events?token=..`: one report (DriverEventIn).

Every report carries an id made once per report and sent unchanged on every retry, so a
report whose answer was lost counts once at central.

Errors:

DriverApiError
 ├── DriverLinkError        the driver page link is not one
 ├── DriverRequestRejected  central refused the request (4xx), with central's reason
 └── CentralUnreachable     no answer, or only 5xx, after every attempt
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

logger = logging.getLogger(__name__)

_ROUTE_PATH_MARK = "/driver/routes/"


class DriverApiError(Exception):
    """Base of the driver client's errors."""


class DriverLinkError(DriverApiError, ValueError):
    """A URL that is not a driver page link (…/driver/routes/{id}?token=…)."""


class DriverRequestRejected(DriverApiError):
    """Central answered 4xx: the request is wrong and repeating it will not help."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(f"central refused the request ({status_code}): {reason}")
        self.status_code = status_code
        self.reason = reason


class CentralUnreachable(DriverApiError):
    """Central did not answer (or answered 5xx) on any attempt."""


class ReportType(StrEnum):
    """What a driver reports (central's DriverEventType)."""

    DEPARTED = "departed"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"
    RETURNED = "returned"


_AT_STOP = (ReportType.ARRIVED, ReportType.DELIVERED, ReportType.FAILED)


@dataclass(frozen=True)
class DriverReport:
    """One report of the driver, shaped like central's DriverEventIn (without its id)."""

    type: ReportType
    at: datetime
    stop: int | None = None
    received_by: str | None = None
    reason: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        # The same rules as central's DriverEventIn, so a bad report fails here, not at central.
        if self.at.tzinfo is None:
            raise ValueError(f"report time {self.at} must be timezone-aware")
        at_stop = self.type in _AT_STOP
        if at_stop and self.stop is None:
            raise ValueError(f"a '{self.type.value}' report must name the stop")
        if not at_stop and self.stop is not None:
            raise ValueError(f"a '{self.type.value}' report is about the route, not a stop")
        if self.type is ReportType.DELIVERED and not (self.received_by or "").strip():
            raise ValueError("proof of delivery needs the name of who received the goods")
        if self.type is ReportType.FAILED and not (self.reason or "").strip():
            raise ValueError("a failed delivery needs a reason")

    def body(self, report_id: uuid.UUID) -> dict[str, Any]:
        """The JSON body of POST …/events carrying this report under `report_id`."""
        return {
            "id": str(report_id),
            "type": self.type.value,
            "stop": self.stop,
            "at": self.at.isoformat(),
            "received_by": self.received_by,
            "reason": self.reason,
            "note": self.note,
        }


@dataclass(frozen=True)
class DriverLink:
    """What the route sheet's QR code holds: where central is, which route, its token."""

    base_url: str
    route_id: int
    token: str


def parse_driver_link(url: str) -> DriverLink:
    """Split a driver page link like http://host:8000/driver/routes/7?token=abc.

    Raises:
        DriverLinkError: not an http(s) link to a route's driver page with a token.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DriverLinkError(f"driver link {url!r} is not an http(s) URL with a host")
    prefix, mark, rest = parts.path.partition(_ROUTE_PATH_MARK)
    route_ref = rest.rstrip("/")
    if not mark or not route_ref.isdigit():
        raise DriverLinkError(f"driver link {url!r} does not name a route (…/driver/routes/<id>)")
    tokens = parse_qs(parts.query).get("token", [])
    if len(tokens) != 1 or not tokens[0]:
        raise DriverLinkError(f"driver link {url!r} needs exactly one non-empty token parameter")
    base_url = urlunsplit((parts.scheme, parts.netloc, prefix, "", ""))
    return DriverLink(base_url=base_url, route_id=int(route_ref), token=tokens[0])


def token_from_qr(url: str) -> tuple[int, str]:
    """(route id, token) of a driver page link; DriverLinkError if it is not one."""
    link = parse_driver_link(url)
    return link.route_id, link.token


def _central_reason(response: httpx.Response) -> str:
    """Central's explanation of a refusal: FastAPI's `detail`, else the body's text."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text.strip() or response.reason_phrase
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        # Request validation errors: [{"loc": [...], "msg": "..."}, ...]
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
            for item in detail
            if isinstance(item, dict)
        )
    return response.text.strip() or response.reason_phrase


class DriverClient:
    """The driver page API of one route, as the driver's phone uses it.

    A context manager: the HTTP connection pool closes on exit.
    """

    def __init__(
        self,
        base_url: str,
        route_id: int,
        token: str,
        *,
        timeout_s: float = 10.0,
        attempts: int = 4,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Args:
        base_url: Central's URL, e.g. http://127.0.0.1:8000.
        route_id: The route's id.
        token: The route's driver token (from the QR code).
        timeout_s: Per HTTP request.
        attempts: Tries per request on connection errors and 5xx answers.
        backoff_s: Wait before the second try; doubles with each further try.
        sleep: How to wait between tries.
        """
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.route_id = route_id
        self._token = token
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)

    @classmethod
    def from_qr(cls, url: str, **options: Any) -> DriverClient:
        """A client for the route the driver page link names (see `parse_driver_link`)."""
        link = parse_driver_link(url)
        return cls(link.base_url, link.route_id, link.token, **options)

    def status(self) -> dict[str, Any]:
        """The route as central tracks it (RouteStatusPublic as JSON)."""
        answer: dict[str, Any] = self._send("GET", "status").json()
        return answer

    def report(self, event: DriverReport, *, report_id: uuid.UUID | None = None) -> uuid.UUID:
        """Send one report; the id (made here unless given) is resent unchanged on retry.

        Returns:
            The report's id.

        Raises:
            DriverRequestRejected: central refused it (4xx), e.g. an unknown stop.
            CentralUnreachable: no successful answer after every attempt.
        """
        report_id = report_id or uuid.uuid4()
        self._send("POST", "events", json=event.body(report_id))
        logger.info(
            "route %s: reported %s%s at %s (id %s)",
            self.route_id,
            event.type.value,
            "" if event.stop is None else f" stop {event.stop}",
            event.at.isoformat(),
            report_id,
        )
        return report_id

    def _send(self, method: str, what: str, *, json: Any = None) -> httpx.Response:
        path = f"/driver/routes/{self.route_id}/{what}"
        failure = ""
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                response = self._http.request(
                    method, path, params={"token": self._token}, json=json
                )
            except httpx.TransportError as err:
                failure = f"{type(err).__name__}: {err}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500:
                    raise DriverRequestRejected(response.status_code, _central_reason(response))
                failure = f"{response.status_code} {_central_reason(response)}"
            logger.debug(
                "%s %s: attempt %d of %d failed: %s",
                method,
                path,
                attempt + 1,
                self._attempts,
                failure,
            )
        raise CentralUnreachable(
            f"{method} {path} failed {self._attempts} times, last: {failure}; "
            "is central running at the driver link's address?"
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
