"""A worker killed with SIGKILL while a ticket waits on its breach timer: a new worker
fires the breach within 3 s of due, and every rung exactly once. (The ticket's next task
sat on the dead worker's sticky queue; it moves to the shared queue after
TEMPODESK_STICKY_SCHEDULE_TO_START_SECONDS, 1 s by default, instead of the SDK's 10 s.)"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from temporalio.service import RPCError

from domain.incidents import IncidentView
from domain.tenants import load_config
from tests.fast_sla import RUNGS, write_fast_config
from tests.processes import child_env, worker
from tests.tags import unique_tag
from tests.web.helpers import eventually
from tests.workflows.support import make_start, start_incident
from workflows.incident import IncidentWorkflow


async def test_sigkilled_worker_loses_no_breach_and_no_rung(dev_client, tmp_path, task_queue):
    tag = unique_tag()
    config_path = write_fast_config(tmp_path / "fast.yaml", response="12s", resolution="10m",
                                    tag=tag)
    config = load_config(config_path)
    env = child_env(dev_client.service_client.config.target_host, task_queue, config_path,
                    signing_secret=secrets.token_urlsafe(32),
                    TEMPODESK_LOG_LEVEL="INFO")  # Child.polling reads "worker polling"
    belton = next(c for c in config.clients if c.ticket_prefix.startswith("BEL"))
    first = worker(env, tmp_path / "first.log")
    try:
        # The 12 s clock starts once the worker polls (its start-up is not what is timed).
        assert await first.polling() is not None, first.log_tail()
        start = make_start(datetime.now(UTC), policy=belton.sla, client_id=belton.id)
        handle = await start_incident(dev_client, start, task_queue)

        async def view() -> IncidentView | None:
            try:
                return await handle.query(IncidentWorkflow.view)
            except RPCError:  # a query that reached the killed worker times out: ask again
                return None

        await eventually(view, lambda v: v is not None and v.notices_queued >= 1, timeout=30)
        await asyncio.sleep(1)  # the ticket now waits on its SLA timers, cached by `first`
        first.kill()
        assert datetime.now(UTC) < start.opened_at + timedelta(seconds=9), "too slow to set up"
        second = worker(env, tmp_path / "second.log")
        try:
            breach_due = start.opened_at + timedelta(seconds=12)
            final = await eventually(
                view, lambda v: v is not None and v.escalation_level == len(RUNGS), timeout=40)
        finally:
            second.stop()
    finally:
        if first.process.poll() is None:
            first.kill()
    breach = next(e for e in final.events if e.kind == "sla_breached:response")
    print(f"\nbreach fired {(breach.at - breach_due).total_seconds():.3f} s after due")
    assert breach.due == breach_due and breach.at - breach_due < timedelta(seconds=3)
    rungs = [e for e in final.events if e.kind == "escalated"]
    assert [e.due for e in rungs] == [breach_due + timedelta(seconds=s) for _, s in RUNGS]
    for rung in rungs:
        print(f"rung {rung.detail}: {(rung.at - rung.due).total_seconds():.3f} s after due")
        assert rung.at - rung.due < timedelta(seconds=3)
    await handle.terminate("test done")
