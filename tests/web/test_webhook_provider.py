"""The generic signed-webhook provider: a client without Microsoft 365 gets every step of a
user exit as a signed webhook; its receiver's outage is retried (same webhook-id each time,
so it can de-duplicate) and access counts as revoked when it has answered."""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from domain.tenants import Providers, Webhook
from tests.conftest import isolated, make_settings, running_desk
from tests.peers import WebhookReceiver
from tests.web.helpers import eventually

UPN = "jo.tran@harbourside.example"


@contextlib.asynccontextmanager
async def webhook_desk(dev_client, config, task_queue, receiver: WebhookReceiver):
    """A desk whose every client's provider is ``receiver`` (the generic webhook)."""
    base = isolated(config)
    hook = Providers(webhook=Webhook(url=receiver.url, secret=WebhookReceiver.SECRET))
    clients = [c.model_copy(update={"providers": hook}) for c in base.clients]
    async with running_desk(dev_client, base.model_copy(update={"clients": clients}),
                            make_settings(task_queue=task_queue)) as desk:
        yield desk


@pytest.fixture
async def scripted(dev_client, config, task_queue):
    with WebhookReceiver(fail_first=3) as receiver:
        async with webhook_desk(dev_client, config, task_queue, receiver) as desk:
            yield desk, receiver


async def start_exit(desk) -> str:
    made = await desk.http.post("/v1/offboarding", headers=desk.as_("belton", "hr"), json={
        "employee": {"name": "Jo Tran", "email": UPN}, "user_principal_name": UPN,
        "last_working_day": "2026-12-04", "immediate": True})
    assert made.status_code == 201, made.text
    return made.json()["ticket_id"]


def posts_per_step(receiver: WebhookReceiver) -> dict[str, set[str]]:
    """The webhook-ids each step was delivered under: a post whose answer came too late for
    the worker (a loaded machine) is sent again under the same id, for the provider to drop,
    so deliveries are counted per id, not per post."""
    ids: dict[str, set[str]] = defaultdict(set)
    for r in receiver.received:
        if not r["failed"]:
            ids[r["body"]["type"]].add(r["id"])
    return ids


async def suggested_and_answered(run) -> bool:
    """Whether ``run`` has completed a task in which the server suggested continue-as-new."""
    events = (await run.fetch_history()).events
    suggested = [e.event_id for e in events
                 if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
                 and e.workflow_task_started_event_attributes.suggest_continue_as_new]
    return bool(suggested) and any(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        and e.event_id > suggested[0] for e in events)


EVERY_STEP_ONCE = {"provider.disable_account": 1, "provider.revoke_sessions": 1,
                   "provider.remove_all_groups": 1, "provider.remove_licences": 1,
                   "provider.disconnect_edr": 1}


async def test_a_user_exit_through_the_clients_webhook(scripted):
    desk, receiver = scripted
    ticket = await start_exit(desk)

    async def view():
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("belton", "agent"))).json()

    done = await eventually(view, lambda v: all(s["done_at"] for s in v["steps"]), timeout=90)
    assert done["access_revoked_at"] and not any(s["needs_agent"] for s in done["steps"])
    assert {step: len(ids) for step, ids in posts_per_step(receiver).items()} == \
        EVERY_STEP_ONCE
    assert all(r["valid"] for r in receiver.received)  # signed with the client's secret
    assert all(r["body"]["data"]["user_principal_name"] == UPN for r in receiver.received)
    # The three refused posts were retried under the same webhook-id.
    failed_ids = {r["id"] for r in receiver.received if r["failed"]}
    delivered_ids = {r["id"] for r in receiver.received if not r["failed"]}
    assert len(failed_ids) >= 1 and failed_ids <= delivered_ids


async def test_a_run_continues_as_new_only_once_its_provider_calls_have_answered(
        dev_client, config, task_queue):
    """The suite's dev server suggests continue-as-new at 60 events. The exit's five calls
    are held by the client's webhook while agents' comments take the history past that:
    the ticket waits for the calls before it continues as new. (It continued at once, and
    its next run called again the steps still running: the provider got them twice, the
    second time under another webhook-id.)"""
    release = threading.Event()
    with WebhookReceiver(hold=release) as receiver:
        async with webhook_desk(dev_client, config, task_queue, receiver) as desk:
            ticket = await start_exit(desk)
            handle = desk.client.get_workflow_handle(f"offboarding:{ticket}")
            first_run = (await handle.describe()).run_id
            await eventually(lambda: len(receiver.received), lambda n: n == 5)
            agent = desk.as_("belton", "agent")
            for n in range(16):
                said = await desk.http.post(f"/v1/tickets/{ticket}/comments", headers=agent,
                                            json={"body": f"note {n}"})
                assert said.status_code == 202, said.text
            run = desk.client.get_workflow_handle(handle.id, run_id=first_run)
            await eventually(lambda: suggested_and_answered(run), bool)
            assert (await run.describe()).status == WorkflowExecutionStatus.RUNNING, \
                "continued as new with provider calls in flight"
            release.set()

            async def latest_run() -> str:
                return (await handle.describe()).run_id

            await eventually(latest_run, lambda run: run != first_run, timeout=30)
            kinds = [e.event_type for e in (await run.fetch_history()).events]
            scheduled = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
            answered = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
            assert scheduled == answered, "the run left a call without its answer"
            view = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
            assert all(step["done_at"] for step in view["steps"])
            assert {s: len(ids) for s, ids in posts_per_step(receiver).items()} == \
                EVERY_STEP_ONCE
            assert len(receiver.received) == 5  # no step called again by the next run
