"""Per-client chat routing: each of a client's webhooks may take only some events (e.g.
breaches and escalations to the on-call channel), beside e-mail and the other hooks."""

from __future__ import annotations

from domain.tenants import TempodeskConfig, Webhook
from tests.conftest import make_settings, running_desk
from tests.fast_sla import fast_config_dict
from tests.peers import WebhookReceiver
from tests.tags import unique_tag
from tests.web.helpers import eventually, incident_body


async def test_a_hook_takes_only_its_events(dev_client, task_queue):
    with WebhookReceiver() as everything, WebhookReceiver() as on_call:
        base = TempodeskConfig.model_validate(
            fast_config_dict(response="3s", resolution="5m", tag=unique_tag()))
        hooks = [Webhook(url=everything.url, secret=WebhookReceiver.SECRET, format="slack"),
                 Webhook(url=on_call.url, secret=WebhookReceiver.SECRET, format="teams",
                         events=["sla_breached", "escalated"])]
        clients = [c.model_copy(update={"notifications": c.notifications.model_copy(
            update={"webhooks": hooks})}) for c in base.clients]
        async with running_desk(dev_client, base.model_copy(update={"clients": clients}),
                                make_settings(task_queue=task_queue)) as desk:
            made = await desk.http.post("/v1/incidents", json=incident_body(),
                                        headers=desk.as_("belton", "requester"))
            ticket = made.json()["ticket_id"]

            async def delivered():
                return [r for r in everything.received if ticket in r["body"]["text"]]

            # The first post (a late one may have the breach's beside it: 3 s on a busy machine)
            [opened, *_] = await eventually(delivered, bool, timeout=30)
            assert opened["body"]["text"].endswith("Logged: Whole office cannot send e-mail")
            assert "blocks" in opened["body"]  # Slack's shape

            async def paged():
                return [r for r in on_call.received if ticket in r["body"]["text"]]

            [breach, *_] = await eventually(paged, bool, timeout=30)  # 3 s: response missed
            assert "SLA breached" in breach["body"]["text"]
            assert breach["body"]["attachments"][0]["content"]["type"] == "AdaptiveCard"
            # Nothing but its events reached the on-call channel (the opening did not).
            assert all(("SLA breached" in r["body"]["text"] or "Escalated" in r["body"]["text"])
                       for r in on_call.received)
