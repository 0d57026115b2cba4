"""Drill B of issue 12 at full size: two `tempodesk api` and two `tempodesk worker`
processes on one in-memory dev server, 2,000 intakes (each with its own Idempotency-Key)
alternated over the two APIs, one worker SIGKILLed mid-run; asserts 2,000 distinct ticket
numbers, every ticket worked and answering its query, none failed; prints throughput and
how long the survivor took to pick up the killed worker's tickets.

    .venv/bin/python bench/drill_cluster.py [--count 2000] [--concurrency 16] [--kill-at 0.4]

The suite runs the same drill (tests/drills/cluster.py) with 300 intakes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from temporalio.testing import WorkflowEnvironment  # noqa: E402

from domain import search_attributes as sa  # noqa: E402
from domain.settings import Settings  # noqa: E402
from temporal_client import data_converter  # noqa: E402
from tests.drills.cluster import cluster_drill  # noqa: E402

BIN = Path(sys.executable).parent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kill-at", type=float, default=0.4,
                        help="fraction of intakes answered when the worker is killed")
    parser.add_argument("--no-wait-notices", action="store_true",
                        help="do not wait for every ticket's first notice (a notice attempt "
                             "the killed worker held is retried after its 1-minute timeout)")
    args = parser.parse_args()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(Settings(_env_file=None)), search_attributes=sa.ALL_KEYS)
    try:
        with tempfile.TemporaryDirectory() as work:
            figures = await cluster_drill(env.client, Path(work), args.count,
                                          args.concurrency, args.kill_at,
                                          wait_notices=not args.no_wait_notices)
            print(figures.text())
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # the SDK's Rust threads can abort interpreter shutdown (TEMPORAL_NOTES.md)
