"""Loading the edge's YAML config: defaults, env secret, and errors an operator can act on."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from edge_agent.config import PASSWORD_ENV, load_config
from edge_agent.errors import EdgeConfigError

EXAMPLE = """
site: WH1
broker:
  url: mqtt://10.0.0.5:1883
  username: edge-wh1
  password: from-file
data_dir: /var/lib/wms-edge
docks:
  - id: dock-1
    scanner: {url: /dev/ttyACM0, suffix: CRLF, aim_prefix: true}
    scale: {url: /dev/ttyUSB0, protocol: toledo-8217, min_kg: "1.5", unit: lb}
    printer: {url: "socket://10.0.0.31:9100", status_poll_s: 5}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_example_loads_with_defaults(tmp_path: Path):
    config = load_config(write(tmp_path, EXAMPLE), environ={})
    assert config.site == "WH1"
    assert (config.broker.host, config.broker.port) == ("10.0.0.5", 1883)
    assert config.client_id == "edge-WH1"
    assert config.broker.keepalive == 30
    assert config.reply_timeout_s == 3.0 and config.max_inflight == 500
    assert config.outbox_path == Path("/var/lib/wms-edge/outbox.sqlite3")
    dock = config.docks[0]
    assert dock.scanner.suffix == "CRLF" and dock.scanner.aim_prefix
    assert dock.scale.min_kg == Decimal("1.5") and dock.scale.stable_timeout_s == 15
    assert dock.scale.serial is None  # the protocol's own line settings apply
    assert dock.printer.status_poll_s == 5


def test_the_password_env_var_overrides_the_file(tmp_path: Path):
    config = load_config(write(tmp_path, EXAMPLE), environ={PASSWORD_ENV: "s3cret"})
    assert config.broker.password == "s3cret"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("site: wh 1\nbroker: {url: mqtt://h:1}\ndata_dir: /x\n", "site"),
        ("site: WH1\nbroker: {url: http://h}\ndata_dir: /x\n", "mqtt://host:1883"),
        ("site: WH1\ndata_dir: /x\n", "broker"),
        ("site: WH1\nbroker: {url: mqtt://h}\ndata_dir: /x\nmystery: 1\n", "mystery"),
        ("- just\n- a list\n", "mapping"),
        ("site: [unclosed\n", "not valid YAML"),
        (
            EXAMPLE.replace("protocol: toledo-8217", "protocol: bizerba"),
            "docks.0.scale.protocol",
        ),
        (EXAMPLE + "  - id: dock-1\n" + EXAMPLE.split("  - id: dock-1\n")[1], "unique"),
    ],
)
def test_bad_configs_say_what_to_fix(tmp_path: Path, text: str, words: str):
    with pytest.raises(EdgeConfigError, match=words.replace(".", r"\.")):
        load_config(write(tmp_path, text), environ={})


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(EdgeConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
