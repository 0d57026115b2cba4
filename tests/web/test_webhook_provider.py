"""The generic signed-webhook provider: a client without Microsoft 365 gets every step of a
user exit as a signed webhook; its receiver's outage is retried (same webhook-id each time,
so it can de-duplicate) and access counts as revoked when it has answered."""

from __future__ import annotations

from collections import defaultdict

import pytest

from domain.tenants import Providers, Webhook
from tests.conftest import isolated, make_settings, running_desk
from tests.peers import WebhookReceiver
from tests.web.helpers import eventually

UPN = "jo.tran@harbourside.example"


@pytest.fixture
async def scripted(dev_client, config, task_queue):
    with WebhookReceiver(fail_first=3) as receiver:
        base = isolated(config)
        hook = Providers(webhook=Webhook(url=receiver.url, secret=WebhookReceiver.SECRET))
        clients = [c.model_copy(update={"providers": hook}) for c in base.clients]
        async with running_desk(dev_client, base.model_copy(update={"clients": clients}),
                                make_settings(task_queue=task_queue)) as desk:
            yield desk, receiver


async def test_a_user_exit_through_the_clients_webhook(scripted):
    desk, receiver = scripted
    made = await desk.http.post("/v1/offboarding", headers=desk.as_("belton", "hr"), json={
        "employee": {"name": "Jo Tran", "email": UPN}, "user_principal_name": UPN,
        "last_working_day": "2026-12-04", "immediate": True})
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]

    async def view():
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("belton", "agent"))).json()

    done = await eventually(view, lambda v: all(s["done_at"] for s in v["steps"]), timeout=90)
    assert done["access_revoked_at"] and not any(s["needs_agent"] for s in done["steps"])
    # Each step reached the provider under one webhook-id: a post whose answer came too late
    # for the worker (a loaded machine) is sent again under the same id, for the provider
    # to drop, so posts are counted per id, not one by one.
    ids: dict[str, set[str]] = defaultdict(set)
    for r in receiver.received:
        if not r["failed"]:
            ids[r["body"]["type"]].add(r["id"])
    assert {step: len(sent) for step, sent in ids.items()} == {
        "provider.disable_account": 1, "provider.revoke_sessions": 1,
        "provider.remove_all_groups": 1, "provider.remove_licences": 1,
        "provider.disconnect_edr": 1}
    assert all(r["valid"] for r in receiver.received)  # signed with the client's secret
    assert all(r["body"]["data"]["user_principal_name"] == UPN for r in receiver.received)
    # The three refused posts were retried under the same webhook-id.
    failed_ids = {r["id"] for r in receiver.received if r["failed"]}
    delivered_ids = {r["id"] for r in receiver.received if not r["failed"]}
    assert len(failed_ids) >= 1 and failed_ids <= delivered_ids
