"""A provider step that cannot succeed goes to an agent once; a failing episode sends two
notices, not one per attempt; history stays bounded.

The trial this guards against: a new user for a client with no Graph/Datto set up failed
account creation ~30 times a second for 17 minutes (26,000 attempts, as many notices, 35
continue-as-new runs). Here the unconfigured client is plexacet (tempodesk.yaml gives it no
``providers``), driven for a simulated day on the time-skipping server with the real
provider activities pointed at the provider sandbox (provider_sandbox.py); notices are
counted as the notice lanes deliver them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.graph import raise_for
from activities.onboarding import OnboardingActivities
from activities.provider_clients import ProviderClients
from activities.providers import ProviderActivities
from activities.sla import SlaActivities
from domain.notifications import NoticeDelivery, NoticeReceipt
from domain.offboarding import ACCESS_WARNINGS, ExitForm, OffboardingStart
from domain.onboarding import JoinerForm, OnboardingStart, RetrySteps, induction_slot
from domain.provider_steps import FAILING_NOTICE_AFTER, StepFailure, retry_delay
from domain.sla.deadlines import snapshot_for
from domain.tenants import Providers, TempodeskConfig
from provider_sandbox import ProviderServer
from tests.conftest import make_settings
from tests.workflows.support import (
    LADDER,
    belton_without_holidays,
    events,
    next_local,
    notice_stand_ins,
    start_ticket,
)
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow

# A step's whole life in the trial took ~30 ms: a day of it would never end here. The
# test stops waiting after this much wall time and counts what happened (the old code
# then shows thousands of attempts; the fixed code is done in a few seconds).
WALL_CLOCK_SAFETY = 90  # seconds
# What a day of an unconfigured client may cost at most (the old code: thousands).
HISTORY_EVENTS_MAX = 300
NOTICES_MAX = 6

PROVIDER_STEPS = {"create_account", "assign_licences", "add_groups", "build_device",
                  "check_mfa", "disable_account", "revoke_sessions", "remove_all_groups",
                  "remove_licences", "disconnect_edr", "wipe_device", "confirm_wipe",
                  "purge_mailbox", "delete_account", "remove_groups", "release_device"}

delivered: list[str] = []  # notices, as "<event>" (e-mail lane only)


@pytest.fixture(autouse=True)
def quiet_and_fresh():
    """Refusals are logged by the SDK as activity failures: keep them out of the log."""
    logger = logging.getLogger("temporalio.activity")
    level = logger.level
    logger.setLevel(logging.ERROR)
    delivered.clear()
    yield
    logger.setLevel(level)


async def _deliver(delivery: NoticeDelivery) -> NoticeReceipt:
    if delivery.lane.value == "email":
        delivered.append(delivery.notice.event)
    return NoticeReceipt()


@contextlib.asynccontextmanager
async def provider_worker(client: Client, config: TempodeskConfig, sandbox: ProviderServer,
                          task_queue: str, workflow: type) -> AsyncIterator[Worker]:
    """A worker with the real provider activities, pointed at ``sandbox`` (each client
    reaches it only if its config says so), and stand-in notice delivery (counted)."""
    settings = make_settings(**sandbox.settings())
    async with httpx.AsyncClient() as http:
        clients = ProviderClients.build(settings, config, http)
        providers = ProviderActivities(config, clients)
        joiners = OnboardingActivities(config, clients)
        async with Worker(client, task_queue=task_queue, workflows=[workflow],
                          activities=[*providers.all(), *joiners.all(),
                                      SlaActivities(config).extend_calendar,
                                      *notice_stand_ins(_deliver)]) as worker:
            yield worker


def belton_on_the_sandbox(config: TempodeskConfig) -> TempodeskConfig:
    """The demo config with Belton reaching the sandbox's tenant and sites (plexacet keeps
    no providers at all, as tempodesk.yaml has it)."""
    sites = Providers(graph_tenant="harbourside-tenant", datto_site_uid=ProviderServer.SITE,
                      sentinelone_site_ids=[ProviderServer.S1_SITE])
    return config.model_copy(update={"clients": [
        c.model_copy(update={"providers": sites}) if c.id == "belton" else c
        for c in config.clients]})


async def live_a_day(env, hours: int = 24) -> None:
    """Let a simulated day (or ``hours``) pass, an hour at a time, or stop at the
    wall-clock safety: a ticket that never lets the server skip time (a loop) stops it
    skipping, and the server's sleep then times out."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + WALL_CLOCK_SAFETY
    for _ in range(hours):
        try:
            await asyncio.wait_for(env.sleep(timedelta(hours=1)), give_up - loop.time())
        except (TimeoutError, RPCError):
            return


async def history_counts(handle: WorkflowHandle) -> tuple[int, Counter[str], int]:
    """The first run's history: its number of events, the provider activities it scheduled
    (by type) and whether it continued as new (1) or not (0)."""
    size, scheduled, continued = 0, Counter[str](), 0
    async for event in handle.fetch_history_events():
        size += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            if name in PROVIDER_STEPS:
                scheduled[name] += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            continued = 1
    return size, scheduled, continued


def plexacet_joiner(opened: datetime) -> OnboardingStart:
    form = JoinerForm.model_validate({
        "employee": {"name": "Noor Haddad", "email": "noor.haddad@personal.example"},
        "user_principal_name": "noor.haddad@opaldental.example", "title": "Dental nurse",
        "manager": {"name": "Raj Patel", "email": "raj.patel@opaldental.example"},
        "start_date": "2027-01-08", "hardware": [{"hostname": "PLX-LT-001"}]})
    sla = snapshot_for(belton_without_holidays(), opened)
    starts = opened + timedelta(days=4)
    return OnboardingStart(
        ticket_id=f"PLX-{uuid.uuid4().int % 10**6:06d}", client_id="plexacet",
        opened_at=opened, raised_by="hr:test", form=form, starts_at=starts,
        licences=["SPE_E3"], groups=["g-staff"], usage_location="AU", notice="3bd",
        induction_at=induction_slot(sla.timeline(), starts), sla=sla)


def plexacet_exit(effective: datetime) -> OffboardingStart:
    form = ExitForm.model_validate({
        "employee": {"name": "Sol Ahn", "email": "sol.ahn@opaldental.example"},
        "user_principal_name": "sol.ahn@opaldental.example",
        "manager": {"name": "Raj Patel", "email": "raj.patel@opaldental.example"},
        "last_working_day": "2026-12-04", "immediate": True,
        "hardware": [{"serial": "PLX-SN-1", "managed_device_id": "dev-plx-1"}]})
    return OffboardingStart(
        ticket_id=f"PLX-{uuid.uuid4().int % 10**6:06d}", client_id="plexacet",
        opened_at=effective, raised_by="hr:test", form=form, effective_at=effective,
        sla=snapshot_for(belton_without_holidays(), effective))


async def test_an_unconfigured_clients_new_user_goes_to_an_agent_once_in_a_day(
        ts_env, task_queue, config):
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=10)
    await ts_env.sleep(opened - await ts_env.get_current_time())
    with ProviderServer() as sandbox:
        async with provider_worker(ts_env.client, config, sandbox, task_queue,
                                   OnboardingWorkflow):
            handle = await start_ticket(ts_env.client, OnboardingWorkflow,
                                        plexacet_joiner(opened), task_queue, days=30)
            await live_a_day(ts_env)
            view = await handle.query(OnboardingWorkflow.view)
            size, scheduled, continued = await history_counts(handle)
            in_a_day = list(delivered)
            # The agent acts (asks the client for its tenant): one more attempt, refused
            # again, one more hand-off; then nothing until the agent acts again.
            await handle.execute_update(OnboardingWorkflow.retry_steps, RetrySteps(
                note="asked Opal Dental for their tenant", by="agent:kim"))
            await live_a_day(ts_env, hours=3)
            after = await handle.query(OnboardingWorkflow.view)
            _, retried, _ = await history_counts(handle)
            await handle.terminate("test done")
    print(f"onboarding: {size} events, attempts {dict(scheduled)}, notices "
          f"{Counter(in_a_day)}, continued {continued}")
    account = next(st for st in view.steps if st.name == "create_account")
    # One attempt, one hand-off (event and notice), the provider's reason on the step.
    assert scheduled == Counter(create_account=1)
    assert len(events(view, "step_failed:")) == 1
    assert in_a_day.count("provider_step_failed") == 1
    assert account.needs_agent and account.attempts_failed == 1
    assert "Microsoft Graph is not set up for plexacet" in account.last_error
    assert "Microsoft Graph is not set up" in (view.waiting_for_agent or "")
    # Bounded: a handful of notices, one run, history in the low hundreds at most.
    assert len(in_a_day) <= NOTICES_MAX
    assert not continued and size < HISTORY_EVENTS_MAX
    # Tried again only because an agent acted, once.
    assert retried == Counter(create_account=2)
    assert delivered.count("provider_step_failed") == 2
    assert after.steps[0].needs_agent and after.steps[0].attempts_failed == 2


async def test_an_unconfigured_clients_exit_goes_to_an_agent_once_in_a_day(
        ts_env, task_queue, config):
    effective = next_local(await ts_env.get_current_time(), weekday=4, hour=17, minute=30)
    await ts_env.sleep(effective - await ts_env.get_current_time())
    with ProviderServer() as sandbox:
        async with provider_worker(ts_env.client, config, sandbox, task_queue,
                                   OffboardingWorkflow):
            handle = await start_ticket(ts_env.client, OffboardingWorkflow,
                                        plexacet_exit(effective), task_queue, days=30)
            await live_a_day(ts_env)
            view = await handle.query(OffboardingWorkflow.view)
            await handle.terminate("test done")
        size, scheduled, continued = await history_counts(handle)
    print(f"offboarding: {size} events, attempts {dict(scheduled)}, notices "
          f"{Counter(delivered)}, continued {continued}")
    # Each revocation step tried once and handed over with its reason; one notice for it.
    assert set(scheduled.values()) == {1} and len(scheduled) == len(view.steps)
    assert all(st.needs_agent and st.attempts_failed == 1
               and "set the client's providers." in st.last_error for st in view.steps)
    assert len(events(view, "step_failed:")) == len(view.steps)
    assert delivered.count("provider_step_failed") == 1
    # The access promise is missed (nothing was revoked): its warnings, breach and each
    # rung of the ladder are told once each, as the contract says; nothing else repeats.
    sla = [n for n in delivered if n.startswith(("sla_", "escalated"))]
    assert len(sla) <= len(ACCESS_WARNINGS) + 1 + len(LADDER)
    assert len(delivered) - len(sla) <= NOTICES_MAX
    assert not continued and size < HISTORY_EVENTS_MAX


def belton_exit(effective: datetime, upn: str = "jo.tran@harbourside.example",
                ) -> OffboardingStart:
    form = ExitForm.model_validate({
        "employee": {"name": "Jo Tran", "email": upn}, "user_principal_name": upn,
        "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
        "last_working_day": "2026-12-04", "immediate": True, "hardware": []})
    return OffboardingStart(
        ticket_id=f"BEL-{uuid.uuid4().int % 10**6:06d}", client_id="belton",
        opened_at=effective, raised_by="hr:test", form=form, effective_at=effective,
        sla=snapshot_for(belton_without_holidays(), effective))


async def friday_evening(env) -> datetime:
    effective = next_local(await env.get_current_time(), weekday=4, hour=17, minute=30)
    await env.sleep(effective - await env.get_current_time())
    return effective


async def scheduled_at(handle: WorkflowHandle, activity: str) -> list[datetime]:
    """When each attempt of ``activity`` was scheduled (virtual time)."""
    return [event.event_time.ToDatetime(tzinfo=UTC)
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and event.activity_task_scheduled_event_attributes.activity_type.name == activity]


async def test_a_sandbox_refusal_goes_to_an_agent_once_with_its_reason(
        ts_env, task_queue, config):
    """Graph answers 404 for a leaver it does not know: every Graph step is refused (the
    provider's words on each step), tried once, and the agent is told once."""
    effective = await friday_evening(ts_env)
    upn = "kai.lowe@harbourside.example"
    with ProviderServer() as sandbox:
        sandbox.faults.unknown_users.add(upn)
        async with provider_worker(ts_env.client, belton_on_the_sandbox(config), sandbox,
                                   task_queue, OffboardingWorkflow):
            handle = await start_ticket(ts_env.client, OffboardingWorkflow,
                                        belton_exit(effective, upn), task_queue, days=30)
            await live_a_day(ts_env)
            view = await handle.query(OffboardingWorkflow.view)
            details = (await handle.query("__temporal_workflow_metadata",
                                          result_type=WorkflowMetadata)).current_details
            await handle.terminate("test done")
        size, scheduled, _ = await history_counts(handle)
    refused = [st for st in view.steps if st.needs_agent]
    # The Web UI's details name each step with the provider's reason.
    assert details.count("**Needs an agent:**") == 4 and "refused (404)" in details
    activity_of = {"disable_account": "disable_account", "revoke_sessions": "revoke_sessions",
                   "remove_groups": "remove_all_groups", "remove_licences": "remove_licences"}
    graph_steps = set(activity_of)
    assert {st.name for st in refused} == graph_steps
    for step in refused:  # the sandbox's own reason, on the ticket
        assert "refused (404)" in step.last_error, step
        assert "Request_ResourceNotFound" in step.last_error, step
        assert step.attempts_failed == 1 and scheduled[activity_of[step.name]] == 1
    assert {e.kind for e in events(view, "step_failed:")} == {
        f"step_failed:{name}" for name in graph_steps}
    assert delivered.count("provider_step_failed") == 1
    assert size < HISTORY_EVENTS_MAX


async def test_a_failing_then_recovering_provider_sends_two_notices(
        ts_env, task_queue, config):
    """Graph answers 503 to its next 40 calls (some minutes of retries for the exit's four
    Graph steps): the desk hears once that it fails and once that it answers again, each
    step backing off on schedule meanwhile."""
    effective = await friday_evening(ts_env)
    with ProviderServer() as sandbox:
        sandbox.faults.outage_calls = 40
        async with provider_worker(ts_env.client, belton_on_the_sandbox(config), sandbox,
                                   task_queue, OffboardingWorkflow):
            handle = await start_ticket(ts_env.client, OffboardingWorkflow,
                                        belton_exit(effective), task_queue, days=30)
            await live_a_day(ts_env)
            view = await handle.query(OffboardingWorkflow.view)
            tried = await scheduled_at(handle, "disable_account")
            await handle.terminate("test done")
        size, _, _ = await history_counts(handle)
    assert view.access_revoked_at is not None and all(st.done_at for st in view.steps)
    disable = next(st for st in view.steps if st.name == "disable_account")
    assert disable.attempts_failed >= 5  # an episode long enough to be told
    assert view.access_revoked_at - effective > FAILING_NOTICE_AFTER
    told = [n for n in delivered if n.startswith("provider_")]
    assert told == ["provider_failing", "provider_recovered"]
    assert [e.kind for e in events(view, "provider_")] == told
    # Never faster than the schedule: each wait at least the backoff for that attempt.
    failure = StepFailure(error="provider error (503)")
    for attempt, (before, after) in enumerate(pairwise(tried), start=1):
        assert after - before >= retry_delay(attempt, failure), (attempt, tried)
    assert size < HISTORY_EVENTS_MAX * 2


@pytest.mark.parametrize(("status", "refused"), [
    (400, True), (402, True), (404, True), (406, True), (413, True), (418, True),
    (451, True), (408, False), (429, False), (500, False), (502, False), (503, False)])
def test_any_4xx_but_408_and_429_is_a_refusal(status, refused):
    """A provider's 4xx (but a timeout or throttling) is refused at once: an agent mends
    it; anything else is retried with backoff."""
    answer = httpx.Response(status, text="the provider's reason",
                            request=httpx.Request("POST", "https://graph.example/v1.0/users"))
    with pytest.raises(ApplicationError) as raised:
        raise_for(answer, "Graph POST /users")
    assert StepFailure(error=raised.value.message, error_type=raised.value.type,
                       non_retryable=raised.value.non_retryable).final is refused
    assert "the provider's reason" in raised.value.message or status == 429
