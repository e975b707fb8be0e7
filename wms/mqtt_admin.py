"""Broker housekeeping: drop sessions and retained messages a test or a benchmark left behind."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def clear_session(url: str, client_id: str) -> None:
    """Drop a persistent session a test left on a broker, so it queues nothing for nobody.

    Connecting with the same client id and clean_session=True discards the stored session.
    """
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    try:
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=10)
    except OSError:
        return  # the broker is gone (a private one already stopped): nothing to clear
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def clear_retained(url: str, topic: str) -> None:
    """Remove a retained message (e.g. an edge's status) from a broker."""
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    try:
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=10)
    except OSError:
        return
    client.loop_start()
    client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
