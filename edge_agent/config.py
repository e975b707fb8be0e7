"""The edge agent's configuration: one YAML file per warehouse, validated by pydantic.

Example (`edge.yaml`)::

    site: WH1
    broker:
      url: mqtt://127.0.0.1:1883
      username: edge-wh1          # password from WMS_EDGE_BROKER_PASSWORD
    data_dir: /var/lib/wms-edge
    docks:
      - id: dock-1
        scanner: {url: /dev/ttyACM0, suffix: CR}
        scale: {url: /dev/ttyUSB0, protocol: mt-sics, min_kg: "0.5"}
        printer: {url: "socket://10.0.0.31:9100"}
        sensors:                    # dock sensors on the site broker (see edge_agent.sensors)
          - {kind: zigbee2mqtt_contact, topic: zigbee2mqtt/dock1-door, role: door,
             max_silence_s: 90000}
          - {kind: presence, topic: sensors/dock1-distance, field: distance,
             present_below_m: "2.0", role: vehicle, max_silence_s: 600}
          - {kind: shelly_dw2, device_id: shellydw2-A1B2C3, role: door}
          - {kind: temperature, topic: zigbee2mqtt/dock1-temp, role: temperature}
        max_docked_s: 14400         # alert when a vehicle stays docked longer
        door_open_max_s: 1800       # alert when the door stays open this long with no work
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.envelope import SiteCode
from edge_agent.errors import EdgeConfigError

PASSWORD_ENV = "WMS_EDGE_BROKER_PASSWORD"
OUTBOX_FILE = "outbox.sqlite3"
DEFAULT_LOCATION_PATTERN = r"^[A-Z]{1,3}\d{0,2}(-[A-Z0-9]{1,4}){1,4}$"

_DOCK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _check_broker_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker url {value!r} must look like mqtt://host:1883")
    try:
        _ = parts.port
    except ValueError as err:
        raise ValueError(f"broker url {value!r} has a bad port") from err
    return value


def _check_dock_id(value: str) -> str:
    if not _DOCK_ID_RE.match(value):
        raise ValueError(
            f"dock id {value!r} must be lower-case letters, digits, '-' or '_' (e.g. dock-1)"
        )
    return value


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(
            f"location_pattern {value!r} is not a valid regular expression: {err}"
        ) from err
    return value


def _check_stopbits(value: float) -> float:
    if value not in (1, 1.5, 2):
        raise ValueError(f"stopbits must be 1, 1.5 or 2, not {value}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SerialConfig(_Model):
    """Serial line settings (ignored for socket:// device servers)."""

    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Annotated[float, AfterValidator(_check_stopbits)] = 1


class BrokerConfig(_Model):
    """Where the site's MQTT broker is and who we are on it."""

    url: Annotated[str, AfterValidator(_check_broker_url)]
    username: str | None = None
    password: str | None = None
    client_id: str | None = Field(default=None, description='Defaults to "edge-<site>"')
    keepalive: int = Field(default=30, ge=5, le=3600)

    @property
    def host(self) -> str:
        """The broker's host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The broker's TCP port (1883 if the URL has none)."""
        return urlsplit(self.url).port or 1883


class ScannerDeviceConfig(_Model):
    """A barcode scanner on a serial port (USB CDC-ACM, RS-232 or a device server)."""

    url: str = Field(min_length=1)
    serial: SerialConfig = SerialConfig()
    suffix: Literal["CR", "LF", "CRLF", "TAB"] = "CR"
    aim_prefix: bool = False
    separators: tuple[str, ...] = ("\x1d",)
    location_pattern: Annotated[str, AfterValidator(_check_pattern)] = DEFAULT_LOCATION_PATTERN


class ScaleDeviceConfig(_Model):
    """A dock floor scale; serial settings default to the protocol's usual line settings."""

    url: str = Field(min_length=1)
    protocol: Literal["mt-sics", "toledo-8217"] = "mt-sics"
    serial: SerialConfig | None = None
    stable_timeout_s: float = Field(default=15.0, gt=0)
    min_kg: Decimal = Field(default=Decimal("0.5"), ge=0)
    unit: Literal["kg", "lb", "g"] = "kg"
    poll_interval_s: float = Field(default=0.2, gt=0)

    @model_validator(mode="after")
    def _unit_fits_protocol(self) -> ScaleDeviceConfig:
        if self.protocol == "toledo-8217" and self.unit == "g":
            raise ValueError("a Toledo 8217 scale reports kg or lb, not g")
        return self


class PrinterDeviceConfig(_Model):
    """An ESC/POS label printer with a bidirectional link (serial, USB serial or raw TCP 9100)."""

    url: str = Field(min_length=1)
    serial: SerialConfig = SerialConfig()
    status_poll_s: float = Field(default=2.0, gt=0)


# Zigbee2MQTT marks battery devices offline after 25 h of silence; the same default here.
DEFAULT_SENSOR_SILENCE_S = 90000.0


class _SensorBase(_Model):
    role: Literal["door", "vehicle", "temperature"]
    max_silence_s: float = Field(default=DEFAULT_SENSOR_SILENCE_S, gt=0)


class Zigbee2MqttContactConfig(_SensorBase):
    """A Zigbee door contact behind Zigbee2MQTT (`topic` = zigbee2mqtt/<friendly name>)."""

    kind: Literal["zigbee2mqtt_contact"]
    topic: str = Field(min_length=1)
    role: Literal["door"] = "door"


class ShellyDw2Config(_SensorBase):
    """A Shelly Door/Window 2 (Gen1 MQTT), `device_id` like shellydw2-A1B2C3."""

    kind: Literal["shelly_dw2"]
    device_id: str = Field(min_length=1)
    role: Literal["door"] = "door"


class PresenceConfig(_SensorBase):
    """A vehicle presence sensor: a JSON distance field below a threshold, or a boolean field."""

    kind: Literal["presence"]
    topic: str = Field(min_length=1)
    field: str = "distance"
    present_below_m: Decimal | None = Field(default=None, gt=0)
    unit: Literal["m", "cm", "mm"] = "m"
    role: Literal["vehicle"] = "vehicle"


class TemperatureConfig(_SensorBase):
    """A dock temperature sensor (JSON field in °C)."""

    kind: Literal["temperature"]
    topic: str = Field(min_length=1)
    field: str = "temperature"
    role: Literal["temperature"] = "temperature"


SensorConfig = Annotated[
    Zigbee2MqttContactConfig | ShellyDw2Config | PresenceConfig | TemperatureConfig,
    Field(discriminator="kind"),
]


class DockConfig(_Model):
    """One dock and its devices."""

    id: Annotated[str, AfterValidator(_check_dock_id)]
    scanner: ScannerDeviceConfig
    scale: ScaleDeviceConfig
    printer: PrinterDeviceConfig
    sensors: list[SensorConfig] = Field(default_factory=list)
    max_docked_s: float = Field(default=4 * 3600.0, gt=0)
    door_open_max_s: float = Field(default=1800.0, gt=0)

    @model_validator(mode="after")
    def _one_sensor_per_role(self) -> DockConfig:
        roles = [s.role for s in self.sensors]
        repeated = sorted({r for r in roles if roles.count(r) > 1})
        if repeated:
            raise ValueError(f"dock {self.id} has more than one {', '.join(repeated)} sensor")
        return self


class EdgeConfig(_Model):
    """Everything one edge agent (one warehouse) needs."""

    site: SiteCode
    broker: BrokerConfig
    data_dir: Path
    reply_timeout_s: float = Field(default=3.0, gt=0)
    resend_after_s: float = Field(default=5.0, gt=0)
    max_inflight: int = Field(default=500, ge=1, le=60000)
    health_log_s: float = Field(default=60.0, gt=0)
    sensor_broker: BrokerConfig | None = Field(
        default=None,
        description="Broker (and credentials) of the dock sensors and signal lights; "
        "defaults to `broker`",
    )
    docks: list[DockConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _docks_unique(self) -> EdgeConfig:
        ids = [d.id for d in self.docks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"dock ids must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def client_id(self) -> str:
        """The MQTT client id: fixed per site so the broker keeps our persistent session."""
        return self.broker.client_id or f"edge-{self.site}"

    @property
    def outbox_path(self) -> Path:
        """The SQLite file holding the outbox, executed commands and the print queue."""
        return self.data_dir / OUTBOX_FILE


def _summarise(err: ValidationError) -> str:
    lines = []
    for e in err.errors()[:10]:
        where = ".".join(str(p) for p in e["loc"]) or "<top level>"
        lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def parse_config(
    raw: Mapping[str, object], *, environ: Mapping[str, str] | None = None, origin: str = "config"
) -> EdgeConfig:
    """Validate a config mapping; the broker password env var overrides the file's value."""
    env = os.environ if environ is None else environ
    data = dict(raw)
    password = env.get(PASSWORD_ENV)
    if password:
        broker = data.get("broker")
        if isinstance(broker, Mapping):
            data["broker"] = {**broker, "password": password}
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as err:
        raise EdgeConfigError(f"{origin} is not a valid edge config:\n{_summarise(err)}") from err


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> EdgeConfig:
    """Read and validate the edge's YAML config file; EdgeConfigError says what to fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise EdgeConfigError(f"edge config file {path} does not exist") from err
    except (OSError, UnicodeDecodeError) as err:
        raise EdgeConfigError(f"cannot read edge config file {path}: {err}") from err
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise EdgeConfigError(f"edge config file {path} is not valid YAML: {err}") from err
    if not isinstance(raw, Mapping):
        raise EdgeConfigError(f"edge config file {path} must be a YAML mapping (site:, broker:...)")
    return parse_config(raw, environ=environ, origin=f"edge config file {path}")
