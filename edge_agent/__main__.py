"""`python -m edge_agent edge.yaml`: run one warehouse's edge agent until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from edge_agent.agent import run_edge
from edge_agent.config import load_config
from edge_agent.errors import EdgeConfigError


async def _main(config_path: str) -> None:
    config = load_config(config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_edge(config, stop=stop)


def main() -> int:
    """Entry point; returns the process exit code."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if len(sys.argv) != 2:
        logging.getLogger("edge_agent").error("usage: python -m edge_agent <edge.yaml>")
        return 2
    try:
        asyncio.run(_main(sys.argv[1]))
    except EdgeConfigError as err:
        logging.getLogger("edge_agent").error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
