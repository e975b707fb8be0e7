"""Central's configuration: one settings object, read once at start-up and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEFAULT_SECRETS = frozenset({"changethis", "secret", "password", "admin", "wms"})


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
    # Books: every site values stock in this currency with this method (DESIGN §5).
    ledger_currency: str = "EUR"
    ledger_valuation_method: Literal["moving_average", "fifo"] = "moving_average"
    ledger_negative_stock: Literal["refuse", "allow"] = "refuse"

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
        return self
