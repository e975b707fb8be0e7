"""`make bench`: every benchmark, results written to bench/results/.

Each benchmark measures its own baseline in the same run and reports ratios; absolute
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")
BENCHMARKS = (
    "ingest",
    "scan_to_label",
    "postings",
    "slotting",
    "loading",
    "routing",
    "routing_day",
)


def main() -> int:
    """Run the named benchmarks (default: all) and write a summary."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), choices=BENCHMARKS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    summary: dict[str, object] = {}
    for name in args.names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        result = module.main(RESULTS)
        summary[name] = {"seconds": round(time.perf_counter() - started, 1), "result": result}
        sys.stdout.write(f"{name}: {result}\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
