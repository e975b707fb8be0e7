"""Route-scoped driver tokens: the key in the QR code of a route sheet.

A token is an HMAC of the route id under the server's secret, so it opens that route's driver
page and nothing else, needs no table, and a reprinted sheet carries the same token.
Rotating `ROUTE_TOKEN_SECRET` revokes every printed token at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from central.domain.errors import Forbidden
from central.settings import CentralSettings
from central.web.driver_links import driver_url

_TOKEN_BYTES = 16  # 128 bits: unguessable, and short enough for a small QR code


class InvalidRouteToken(Forbidden):
    """The driver link's token does not open this route (mistyped, or from an old secret)."""


@dataclass(frozen=True)
class RouteLinks:
    """Makes and checks driver tokens and links; `public_url` is how drivers reach central."""

    secret: str
    public_url: str

    def token(self, route_id: int) -> str:
        """The token that opens route `route_id`'s driver page."""
        digest = hmac.new(
            self.secret.encode(), f"route:{route_id}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest[:_TOKEN_BYTES]).decode().rstrip("=")

    def check(self, route_id: int, token: str | None) -> None:
        """Raise InvalidRouteToken unless `token` opens route `route_id`."""
        if not token or not hmac.compare_digest(token, self.token(route_id)):
            raise InvalidRouteToken(
                f"this link does not open route {route_id}; scan the QR code on the route "
                "sheet again or ask the dispatcher for a new sheet"
            )

    def driver_url(self, route_id: int) -> str:
        """The driver page of a route, with its token (what the QR code holds)."""
        return driver_url(self.public_url, route_id, self.token(route_id))


def route_links(settings: CentralSettings) -> RouteLinks:
    """The driver links of the settings' public URL and token secret."""
    return RouteLinks(settings.route_token_secret, settings.public_url)
