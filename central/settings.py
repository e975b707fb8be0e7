"""Central's configuration: one settings object, read once at start-up and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEFAULT_SECRETS = frozenset({"changethis", "secret", "password", "admin", "wms"})


class SiteBooks(BaseModel):
    """One site's own valuation settings; anything left out follows the LEDGER_* defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str | None = None
    valuation_method: Literal["moving_average", "fifo"] | None = None
    negative_stock: Literal["refuse", "allow"] | None = None
    item_methods: dict[str, Literal["moving_average", "fifo"]] = {}


class CentralSettings(BaseSettings):
    """Settings of the central service (API and ingest), from the environment or `.env`."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    database_url: str = "sqlite:///./var/central.db"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_client_id: str = "central-ingest"
    ingest_shared: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    environment: Literal["development", "production"] = "development"
    command_resend_after_s: float = 5.0
    # Drivers open their route page from the QR code on the route sheet: this URL + a token
    # signed with this secret (central.route_tokens).
    public_url: str = "http://127.0.0.1:8000"
    route_token_secret: str = "development-route-token-secret"
    # Books: each site values stock in this currency with this method (DESIGN §5).
    ledger_currency: str = "EUR"
    ledger_valuation_method: Literal["moving_average", "fifo"] = "moving_average"
    ledger_negative_stock: Literal["refuse", "allow"] = "refuse"
    # Per-site exceptions, as JSON: LEDGER_SITES='{"WH2": {"valuation_method": "fifo",
    # "negative_stock": "allow", "item_methods": {"07061234001006": "moving_average"}}}'.
    ledger_sites: dict[str, SiteBooks] = {}

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> CentralSettings:
        # A well-known password on a production broker is as good as none.
        if (
            self.environment != "development"
            and self.mqtt_password is not None
            and self.mqtt_password.lower() in _DEFAULT_SECRETS
        ):
            raise ValueError(
                "MQTT_PASSWORD is a default value; set a real secret before running in production"
            )
        if self.environment != "development" and self.route_token_secret.startswith("development-"):
            raise ValueError(
                "ROUTE_TOKEN_SECRET is the development default; set a real secret before "
                "running in production"
            )
        return self
