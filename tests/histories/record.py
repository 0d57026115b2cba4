"""Record a workflow history for the replay tests (house rule 8).

    .venv/bin/python -m tests.histories.record NAME
        (offboarding_* a user exit, onboarding_* / onboarding_cancel_* a new user,
         quote_* a quote, service_request_* a service request, alert_episode_* an alert)

Runs one scripted incident lifecycle on a time-skipping server (timers, activities,
updates and signals all appear) and writes tests/histories/NAME.json. Commit the file
before changing the incident workflow's command sequence; test_replay.py then proves the
change is replay-safe (or behind workflow.patched()).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from domain.sla import Priority
from domain.tenants import load_config
from domain.tickets import CommentIn, Status, Transition
from temporal_client import data_converter
from tests.conftest import BIN, DEMO_CONFIG, make_settings, register_search_attributes
from tests.workflows.support import incident_worker, make_start, next_local, start_incident
from workflows.incident import IncidentWorkflow

HERE = Path(__file__).parent


@contextlib.asynccontextmanager
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server with the search attributes registered."""
    # No codec even if keys are in the environment: committed histories must replay
    # anywhere, without a key (their data is synthetic).
    plain = data_converter(make_settings(codec_keys={}, codec_key_id=None))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=plain)
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


def save(name: str, history) -> Path:
    path = HERE / f"{name}.json"
    path.write_text(history.to_json())
    return path


async def record(name: str) -> Path:
    async with time_skipping() as env:
        config = load_config(DEMO_CONFIG)
        opened = next_local(await env.get_current_time(), weekday=0, hour=9)
        await env.sleep(opened - await env.get_current_time())
        async with incident_worker(env.client, config, "record"):
            handle = await start_incident(env.client, make_start(opened, Priority.P1), "record")
            await env.sleep(timedelta(minutes=16))  # response warnings, breach, first rung
            await handle.execute_update(IncidentWorkflow.acknowledge,
                                        Transition(to=Status.ACKNOWLEDGED, by="agent"))
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.PENDING, by="agent"))
            await handle.signal(IncidentWorkflow.comment,
                                CommentIn(body="screenshot attached", by="jo",
                                          from_requester=True))
            await env.sleep(timedelta(minutes=5))
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.IN_PROGRESS, by="agent"))
            await env.sleep(timedelta(minutes=50))  # the second rung (breach + 1 h)
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.RESOLVED, by="agent",
                                                   preventable=False))
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.CLOSED, by="agent"))
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


async def record_offboarding(name: str) -> Path:
    """A user exit: a 20-minute identity outage, a returned phone, a wiped laptop, the
    30-day purge (stand-in providers, as in tests/workflows/test_offboarding_timers.py)."""
    from temporalio.worker import Worker

    from domain.offboarding import HardwareReturn
    from tests.workflows import test_offboarding_timers as exits
    from workflows.offboarding import OffboardingWorkflow

    async with time_skipping() as env:
        effective = await exits.opened_now(env)
        exits.identity_down_until = effective + timedelta(minutes=20)
        form = exits.exit_form(hardware=[{"serial": "PF3X9K", "managed_device_id": "dev-1"},
                                         {"serial": "PHONE-7", "kind": "phone"}])
        async with Worker(env.client, task_queue="record", workflows=[OffboardingWorkflow],
                          activities=exits.STAND_INS):
            handle = await exits.start_exit(env, "record", form, effective)
            await env.sleep(timedelta(hours=2))
            await handle.execute_update(OffboardingWorkflow.hardware_returned,
                                        HardwareReturn(serial="PHONE-7", by="agent"))
            await env.sleep(timedelta(days=31))
            await handle.terminate("recorded")
            history = await handle.fetch_history()
        return save(name, history)


async def record_onboarding(name: str) -> Path:
    """A new user (stand-in providers, as in tests/workflows/test_onboarding_timers.py):
    onboarding_* - an exhausted licence pool, an agent's retry, ready, one MFA reminder,
    enrolled, resolved; onboarding_cancel_* - HR cancels while the laptop is not enrolled."""
    from temporalio.worker import Worker

    from domain.onboarding import Cancellation, RetrySteps
    from tests.workflows import test_onboarding_timers as joiners
    from workflows.onboarding import OnboardingWorkflow

    cancel = name.startswith("onboarding_cancel")
    async with time_skipping() as env:
        opened, starts = await joiners.monday_morning(env)
        joiners.reset(pool_empty=not cancel,
                      device_enrolled_at=None if cancel else opened + timedelta(hours=1),
                      mfa_enrolled_at=starts + timedelta(days=3, hours=3))
        async with Worker(env.client, task_queue="record", workflows=[OnboardingWorkflow],
                          activities=joiners.STAND_INS):
            handle = await joiners.start_joiner(env, "record", opened, starts)
            await env.sleep(timedelta(hours=3))
            if cancel:
                await handle.execute_update(OnboardingWorkflow.cancel,
                                            Cancellation(reason="offer withdrawn", by="hr"))
            else:
                joiners.behaviour["pool_empty"] = False
                await handle.execute_update(OnboardingWorkflow.retry_steps,
                                            RetrySteps(note="bought seats", by="agent"))
            await env.sleep(starts + timedelta(days=5) - await env.get_current_time())
            await handle.terminate("recorded")
            history = await handle.fetch_history()
        return save(name, history)


async def record_quote(name: str) -> Path:
    """quote_*: a quote issued, reminded on day 7, approved, ordered; service_request_*:
    a basic request paused a day, then resolved after its warnings."""
    from temporalio.worker import Worker

    from domain.quotes import Channel, Decision
    from domain.tickets import Status, Transition
    from tests.workflows import test_quote_timers as quotes
    from tests.workflows import test_service_request_timers as requests
    from workflows.quote import QuoteWorkflow
    from workflows.service_request import ServiceRequestWorkflow

    async with time_skipping() as env:
        if name.startswith("quote"):
            opened = await env.get_current_time()
            async with Worker(env.client, task_queue="record", workflows=[QuoteWorkflow],
                              activities=quotes.STAND_INS):
                handle = await quotes.issue(env, "record", opened)
                await env.sleep(timedelta(days=8))
                await handle.execute_update(QuoteWorkflow.decide, Decision(
                    approve=True, by="director:mia", director_email=quotes.DIRECTOR,
                    channel=Channel.API, ip="127.0.0.1"))
                await env.sleep(timedelta(hours=1))
                await handle.terminate("recorded")
                history = await handle.fetch_history()
        else:
            opened = await requests.monday_10(env)
            async with Worker(env.client, task_queue="record",
                              workflows=[ServiceRequestWorkflow], activities=[requests.deliver]):
                handle = await requests.start_request(env, "record", opened, requests.form())
                await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
                    to=Status.PENDING, by="agent", reason="which drive?"))
                await env.sleep(timedelta(days=1))
                await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
                    to=Status.IN_PROGRESS, by="agent"))
                await env.sleep(timedelta(days=4))
                await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
                    to=Status.RESOLVED, by="agent", reason="granted"))
                await env.sleep(timedelta(hours=1))
                await handle.terminate("recorded")
                history = await handle.fetch_history()
        return save(name, history)


async def record_alert_episode(name: str) -> Path:
    """An alert: fired (an incident), repeated, resolved, fired again within the flap window
    (reopened), resolved again; then the window runs out and the episode ends."""
    from tests.workflows import test_alert_episode as alerts
    from workflows.alert_episode import AlertEpisodeWorkflow

    async with time_skipping() as env:
        config = load_config(DEMO_CONFIG)
        async with alerts.episode_worker(env.client, config, "record"):
            now = await env.get_current_time()
            handle = await env.client.start_workflow(
                AlertEpisodeWorkflow.run, alerts.episode_start("record"),
                id="alert:belton:record", task_queue="record",
                execution_timeout=timedelta(days=30))
            fire, resolve = AlertEpisodeWorkflow.fire, AlertEpisodeWorkflow.resolve
            await handle.execute_update(fire, alerts.firing(now, now))         # opened
            await env.sleep(timedelta(minutes=5))
            await handle.execute_update(fire, alerts.firing(now, now))         # repeat
            await handle.execute_update(resolve, alerts.ending(now))           # resolved
            await env.sleep(timedelta(minutes=2))
            again = await env.get_current_time()
            await handle.execute_update(fire, alerts.firing(again, again))     # reopened
            await env.sleep(timedelta(minutes=3))
            await handle.execute_update(resolve, alerts.ending(again))         # resolved
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "incident_v1"
    recorder = (record_offboarding if name.startswith("offboarding")
                else record_onboarding if name.startswith("onboarding")
                else record_quote if name.startswith(("quote", "service_request"))
                else record_alert_episode if name.startswith("alert_episode")
                else record)
    print(asyncio.run(recorder(name)))
