"""An in-process MQTT broker (amqtt) for the embedded default: no Mosquitto needed.

amqtt speaks MQTT 3.1.1 only, so shared subscriptions (v5) are not available on it; the
embedded default runs a single central ingest worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

from amqtt.broker import Broker

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


class _SnapshotKeys(dict[str, Any]):
    """A dict whose iteration walks a copy of its keys."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.keys()))


def _snapshot_subscription_table(broker: Broker) -> None:
    """Work around amqtt 0.12 iterating its subscription table across `await`s: a client
    subscribing meanwhile made the broker raise "dictionary changed size during iteration"
    and drop the client that was connecting (seen in our tests). Iterating a copy of the
    keys is what the loops need; the table itself stays the one the broker updates."""
    table = broker._subscriptions
    broker._subscriptions = _SnapshotKeys(table)


class EmbeddedBroker:
    """An amqtt broker on its own event loop in a daemon thread.

    Use as a context manager; `url` is the `mqtt://host:port` to give clients.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it listens."""
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout=15):
            raise RuntimeError("embedded MQTT broker did not start within 15 s")
        if self._error is not None:
            raise RuntimeError(f"embedded MQTT broker failed to start: {self._error}")
        logger.info("embedded MQTT broker listening on %s", self.url)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._broker = Broker(_config(self.host, self.port), loop=self._loop)
            _snapshot_subscription_table(self._broker)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as err:  # reported to the starting thread
            self._error = err
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        """Shut the broker down and join its thread."""
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(broker), loop)
        try:
            fut.result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)
            loop.close()

    @staticmethod
    async def _shutdown(broker: Broker) -> None:
        await broker.shutdown()
        # amqtt leaves connection handlers running after shutdown; finish them so their
        # transports close here rather than in the garbage collector.
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """`python -m wms.embedded_broker --port N`: an amqtt broker as its own process."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m wms.embedded_broker")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(host=args.host, port=args.port), contextlib.suppress(KeyboardInterrupt):
        stop.wait()


if __name__ == "__main__":
    main()
