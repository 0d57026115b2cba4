"""Drill (issue 12): the identity provider answers 500 for 10 minutes, then an hour and more,
during a user exit. Real adapters (activities/graph.py over HTTP, the worker's pinned
client) against the local Graph server; time skipping for the minutes. The 10-minute outage
completes after recovery without a breach; past the hour the breach fires at exactly 60
minutes and the ladder is climbed, and access is still revoked once Graph is back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from activities import outbound
from domain.tenants import Providers
from provider_sandbox import ProviderServer
from tests.conftest import make_settings
from tests.workflows.support import events
from tests.workflows.test_offboarding_timers import exit_form, opened_now, start_exit
from worker import activities
from workflows.offboarding import OffboardingWorkflow

FOREVER = float("inf")


@contextlib.asynccontextmanager
async def graph_down(ts_env, config, task_queue) -> AsyncIterator[ProviderServer]:
    """A worker with the real adapters, and Graph answering 500 until the test says."""
    with ProviderServer() as graph:
        graph.faults.outage_status, graph.faults.down_until = 500, FOREVER
        wired = config.model_copy(update={"clients": [
            c.model_copy(update={"providers": Providers(graph_tenant="contoso-tenant")})
            for c in config.clients]})
        settings = make_settings(**graph.settings())
        async with outbound.http_client(settings) as http, Worker(
                ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                activities=activities(settings, wired, http)):
            yield graph


async def disable_attempts(handle) -> int:
    """disable_account's attempts, from the history: one activity per attempt (the
    workflow retries), each recorded on the step; the last one succeeded."""
    history = await handle.fetch_history()
    return sum(1 for e in history.events
               if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
               and e.activity_task_scheduled_event_attributes.activity_type.name
               == "disable_account")


async def test_ten_minutes_of_graph_500s_then_access_is_revoked(ts_env, config, task_queue):
    async with graph_down(ts_env, config, task_queue) as graph:
        effective = await opened_now(ts_env)
        handle = await start_exit(ts_env, task_queue, exit_form(), effective,
                                  client_id=config.clients[0].id)
        await ts_env.sleep(timedelta(minutes=10))
        failed = graph.calls("PATCH", "/users/")  # disable_account's, all answered 500
        graph.faults.down_until = 0.0  # Graph is back
        await ts_env.sleep(timedelta(minutes=50))
        view = await handle.query(OffboardingWorkflow.view)
        attempts = await disable_attempts(handle)
    print(f"\n{len(failed)} Graph calls answered 500; disable_account took {attempts} attempts;"
          f" access revoked {view.access_revoked_at - effective} after the effective time")
    assert len(failed) >= 10 and attempts >= 5  # retried throughout the outage
    [disable] = [st for st in view.steps if st.name == "disable_account"]
    assert disable.attempts_failed == attempts - 1 and "(500)" in disable.last_error
    assert timedelta(minutes=10) <= view.access_revoked_at - effective < timedelta(minutes=12)
    assert not view.breached and not events(view, "escalated")
    assert not events(view, "sla_warning")  # revoked before the 50 % warning at 30 minutes
    await handle.terminate("drill done")


async def test_graph_down_past_the_hour_breaches_escalates_then_completes(
        ts_env, config, task_queue):
    async with graph_down(ts_env, config, task_queue) as graph:
        effective = await opened_now(ts_env)
        handle = await start_exit(ts_env, task_queue, exit_form(), effective,
                                  client_id=config.clients[0].id)
        await ts_env.sleep(timedelta(minutes=75))
        during = await handle.query(OffboardingWorkflow.view)
        graph.faults.down_until = 0.0
        await ts_env.sleep(timedelta(minutes=30))
        view = await handle.query(OffboardingWorkflow.view)
    assert during.access_revoked_at is None and during.breached
    [breach] = events(view, "sla_breached:access_revoked")
    assert breach.due == effective + timedelta(hours=1)
    assert breach.at - breach.due < timedelta(seconds=1)
    rungs = events(view, "escalated")
    assert rungs and rungs[0].due == breach.due
    assert timedelta(minutes=75) <= view.access_revoked_at - effective < timedelta(minutes=77)
    print(f"\nbreach at {breach.at - effective}, {len(rungs)} rung(s); access revoked "
          f"{view.access_revoked_at - effective} after the effective time")
    await handle.terminate("drill done")
