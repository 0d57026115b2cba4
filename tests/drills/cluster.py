"""Drill B (issue 12): two `tempodesk api` and two `tempodesk worker` processes on one
Temporal cluster and task queue; intakes alternate over the two APIs with bounded
concurrency; one worker is SIGKILLed mid-run. Shared by tests/drills/test_cluster.py
(sized down) and bench/drill_cluster.py (the full 2,000)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from domain.ids import parse_ticket_id
from tests.processes import (
    api,
    assert_listed_once,
    assert_one_ticket_per_key,
    assert_only_retryable_failures,
    assert_tickets_answer,
    child_env,
    drill_config,
    load,
    worker,
)
from tests.tags import unique_tag


@dataclass
class ClusterFigures:
    intakes: int
    seconds: float  # first intake sent to last answered
    killed_after: int  # intakes answered when the worker was killed
    pickup_seconds: float  # SIGKILL to every ticket answered before it answering its query
    slowest_after_kill: float  # the slowest intake sent after the kill, seconds
    slow_after_kill: int  # intakes sent after the kill that took over 5 s
    retried: int
    notices_seconds: float | None = None  # SIGKILL to every ticket's first notice sent

    def text(self) -> str:
        text = (f"{self.intakes} intakes over 2 APIs in {self.seconds:.1f} s = "
                f"{self.intakes / self.seconds:.0f}/s, {self.retried} retried, all distinct; "
                f"one worker SIGKILLed after {self.killed_after}: all {self.killed_after} "
                f"earlier tickets answered their query (from the survivor) "
                f"{self.pickup_seconds:.1f} s after the kill; intakes sent after the kill: "
                f"slowest {self.slowest_after_kill:.1f} s, {self.slow_after_kill} over 5 s")
        if self.notices_seconds is not None:
            text += (f"; every ticket's first notice sent {self.notices_seconds:.1f} s "
                     "after the kill")
        return text


async def cluster_drill(client, work_dir: Path, count: int, concurrency: int = 16,
                        kill_at: float = 0.4, wait_notices: bool = False) -> ClusterFigures:
    """Run the drill against the cluster ``client`` talks to; assert; return the figures.

    Tickets opened after the kill must have sent their first notice (only the survivor can
    have worked them); earlier ones must be running and answer their query. A notice
    attempt the killed worker had taken is retried only after its attempt timeout (one
    minute): ``wait_notices`` waits for every ticket's notice too."""
    tag = unique_tag()
    address = client.service_client.config.target_host
    config, client_id, _ = drill_config(work_dir / "cluster.yaml", tag)
    env = child_env(address, f"cluster-{tag}", config)
    workers = [worker(env, work_dir / f"worker{n}.log") for n in (1, 2)]
    apis = [api(env, work_dir / f"api{n}.log") for n in (1, 2)]
    try:
        for one in apis:
            await asyncio.to_thread(one.wait_healthy)
        intakes = []
        began = time.monotonic()
        stream = asyncio.create_task(load([a.port for a in apis], count, concurrency, tag,
                                          intakes))
        while len(intakes) < int(count * kill_at):
            assert not stream.done(), stream.exception()
            await asyncio.sleep(0.05)
        workers[0].kill()
        killed_at = time.monotonic()
        before_kill = [i.ticket for i in intakes]
        await assert_tickets_answer(client, before_kill, ready=lambda view: True)
        pickup = time.monotonic() - killed_at
        await stream
        seconds = max(i.answered_at for i in intakes) - began

        assert_only_retryable_failures(intakes)
        by_key = assert_one_ticket_per_key(intakes)
        assert len(by_key) == count
        tickets = list(by_key.values())
        assert len({parse_ticket_id(t) for t in tickets}) == count
        after_kill = [i for i in intakes if i.sent_at > killed_at]
        await assert_tickets_answer(client, [i.ticket for i in after_kill])
        await assert_tickets_answer(client, tickets, ready=lambda view: True)
        notices = None
        if wait_notices:
            await assert_tickets_answer(client, tickets, timeout=600)
            notices = time.monotonic() - killed_at
        await assert_listed_once(client, client_id, tickets)
        assert workers[1].process.poll() is None, workers[1].log_tail()
        for one in apis:
            assert one.process.poll() is None, one.log_tail()
        latencies = [i.answered_at - i.sent_at for i in after_kill] or [0.0]
        return ClusterFigures(count, seconds, len(before_kill), pickup, max(latencies),
                              sum(s > 5 for s in latencies),
                              sum(bool(i.failures) for i in intakes), notices)
    finally:
        for child in (*apis, *workers):
            child.stop()
