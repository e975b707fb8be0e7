"""The edge config shipped for docker-compose stays loadable as the config model changes."""

from __future__ import annotations

from pathlib import Path

from edge_agent.config import load_config

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "edge" / "wh1.yaml"


def test_the_compose_edge_config_loads_with_its_password_from_the_environment() -> None:
    config = load_config(DEPLOY, environ={"WMS_EDGE_BROKER_PASSWORD": "from-env"})
    assert config.site == "WH1"
    assert config.broker.username == "WH1"  # the ACL pattern wms/%u/# needs the site code
    assert config.broker.password == "from-env"
    assert [d.id for d in config.docks] == ["dock-1"]
