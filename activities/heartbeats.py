"""Heartbeats for short activities whose worker may die mid-attempt.

An attempt the worker was running when it was killed is retried only after its timeout;
with heartbeats it is retried after the (much shorter) heartbeat timeout instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

EVERY_SECONDS = 2.0  # the workflow's heartbeat timeout is a few times this


@contextlib.asynccontextmanager
async def heartbeating(every: float = EVERY_SECONDS) -> AsyncIterator[None]:
    """Heartbeat every ``every`` seconds while the body runs."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
