"""Addresses of a route's driver page and of its action endpoint, carrying the driver token."""

from __future__ import annotations

from urllib.parse import quote


def driver_url(public_url: str, route_id: int, token: str) -> str:
    """The driver page of route `route_id` as reached from outside (`public_url`)."""
    return f"{public_url.rstrip('/')}/driver/routes/{route_id}?token={quote(token, safe='')}"


def driver_actions_path(route_id: int, token: str) -> str:
    """Where the driver page's forms post their reports (relative to the page's host)."""
    return f"/driver/routes/{route_id}/actions?token={quote(token, safe='')}"
