"""Provider steps keep one identity (issue 18): a new user whose client does its own
provisioning (the generic signed webhook) is provisioned, the ticket continues as new, then
HR withdraws the hire. Every undo must reach the client's script under its own webhook-id,
never one an earlier step used: a receiver that drops ids it has seen (as Standard Webhooks
invites) skipped ``delete_account`` when the next run's activity ids started again at 1,
and the withdrawn hire kept an account. A refused post is retried under the same id. While
the script keeps failing, the ticket shows it and the Web UI's filter finds it."""

from __future__ import annotations

from collections import defaultdict

import pytest

from domain.ids import SagaPass, TicketKind, parse_step_key
from tests.peers import WebhookReceiver
from tests.web.helpers import eventually
from tests.web.test_onboarding import earliest, new_user, view_of
from tests.web.test_webhook_provider import UPN, webhook_desk

PROVISION = {"provider.create_account", "provider.assign_licences", "provider.add_groups",
             "provider.build_device"}
UNDO = {"provider.release_device", "provider.remove_groups", "provider.remove_licences",
        "provider.delete_account"}


@pytest.fixture
async def hooked(dev_client, config, task_queue):
    with WebhookReceiver() as receiver:
        async with webhook_desk(dev_client, config, task_queue, receiver) as desk:
            yield desk, receiver


def acted_on(receiver: WebhookReceiver) -> dict[str, str]:
    """What a receiver that drops repeated webhook-ids acts on: id -> the step's type, the
    first answered post of each id."""
    acted: dict[str, str] = {}
    for post in receiver.received:
        if post["valid"] and not post["failed"]:
            acted.setdefault(post["id"], post["body"]["type"])
    return acted


async def test_every_undo_after_continue_as_new_arrives_under_its_own_id(hooked):
    desk, receiver = hooked
    receiver.fail_first = 2  # create_account's first two posts: 503, retried
    hr, agent = desk.as_("belton", "hr"), desk.as_("belton", "agent")
    form = new_user(await earliest(desk), role_template=None, licences=["SPE_E3"],
                    groups=["g-staff"])
    made = await desk.http.post("/v1/onboarding", json=form, headers=hr)
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    await eventually(lambda: view_of(desk, ticket), lambda v: v["ready_at"], timeout=90)

    # Notes take the history past the suite's 60-event suggestion (however the server
    # batches them into tasks): the ticket continues as new before the undo.
    handle = desk.client.get_workflow_handle(f"onboarding:{ticket}")
    first_run = (await handle.describe()).run_id

    async def continued_after_a_note() -> bool:
        said = await desk.http.post(f"/v1/tickets/{ticket}/comments", headers=agent,
                                    json={"body": "desk note"})
        assert said.status_code == 202, said.text
        return (await handle.describe()).run_id != first_run

    await eventually(continued_after_a_note, bool, timeout=60)

    receiver.fail_first = 1  # the first undo's first post: 503, retried
    cancelled = await desk.http.post(f"/v1/tickets/{ticket}/cancel", headers=hr,
                                     json={"reason": "offer withdrawn"})
    assert cancelled.status_code in (200, 503), cancelled.text  # 503: still undoing
    view = await eventually(lambda: view_of(desk, ticket), lambda v: v["compensated_at"],
                            timeout=90)
    assert all(step["undone_at"] for step in view["steps"])

    acted = acted_on(receiver)
    # The dropping receiver acted on every step of both passes, the undo included.
    assert set(acted.values()) == PROVISION | UNDO, sorted(acted.values())
    # No webhook-id was used by two steps.
    types_by_id: dict[str, set[str]] = defaultdict(set)
    for post in receiver.received:
        types_by_id[post["id"]].add(post["body"]["type"])
    assert all(len(types) == 1 for types in types_by_id.values()), dict(types_by_id)
    # Each id names its ticket, its step and its pass of the saga.
    for webhook_id, step_type in acted.items():
        key = parse_step_key(webhook_id)
        assert (key.kind, key.ticket) == (TicketKind.ONBOARDING, ticket)
        assert key.saga is (SagaPass.UNDO if step_type in UNDO else SagaPass.DO)
    # The refused posts were retried under the same id.
    refused = [post for post in receiver.received if post["failed"]]
    assert len(refused) == 3
    assert all(acted[post["id"]] == post["body"]["type"] for post in refused)


async def test_a_failing_provider_shows_on_the_ticket_and_in_the_web_ui_filter(hooked):
    """The client's script answers 503 to every post for a while: the ticket view shows
    the steps' failed attempts and last error, and the Web UI's filter finds the ticket
    (real visibility); once the script answers, the filter no longer does."""
    desk, receiver = hooked
    receiver.fail_first = 10**6
    made = await desk.http.post("/v1/offboarding", headers=desk.as_("belton", "hr"), json={
        "employee": {"name": "Jo Tran", "email": UPN}, "user_principal_name": UPN,
        "last_working_day": "2026-12-04", "immediate": True})
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    wanted = (f"ProviderFailing = true AND WorkflowId = 'offboarding:{ticket}' "
              "AND ExecutionStatus = 'Running'")  # an earlier run keeps its last value

    async def found() -> int:
        return len([w async for w in desk.client.list_workflows(wanted)])

    agent = desk.as_("belton", "agent")

    async def view() -> dict:
        return (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()

    failing = await eventually(view, lambda v: all(s["attempts_failed"] >= 2
                                                   for s in v["steps"]), timeout=60)
    for step in failing["steps"]:
        assert "(503)" in step["last_error"] and step["failing_since"]
        assert step["next_attempt_at"] and step["key"].endswith(f":do:{step['name']}")
    await eventually(found, lambda n: n == 1, timeout=30)
    receiver.fail_first = 0  # the script answers again
    done = await eventually(view, lambda v: all(s["done_at"] for s in v["steps"]),
                            timeout=90)
    assert done["access_revoked_at"] and not any(s["failing_since"] for s in done["steps"])
    await eventually(found, lambda n: n == 0, timeout=30)
