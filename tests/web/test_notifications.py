"""E-mail over real SMTP (aiosmtpd) and signed webhooks to a real receiver, end to end."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import webhooks
from activities.notifications import NotificationActivities, webhook_payload
from domain import tokens
from domain.notifications import Lane, Notice, NoticeBatch, WebhookRouting
from domain.tenants import Webhook
from domain.words import local_time_text
from tests.conftest import UNCACHED, make_settings
from tests.peers import Mailbox, WebhookReceiver
from tests.web.helpers import assert_problem, eventually, incident_body


async def test_opened_ticket_emails_contact_and_desk_and_posts_signed_webhook(wired_desk):
    desk, mailbox, hooks = wired_desk.desk, wired_desk.mailbox, wired_desk.hooks
    created = (await desk.http.post("/v1/incidents", json=incident_body(),
                                    headers=desk.as_("belton", "requester"))).json()
    ticket = created["ticket_id"]

    async def mails():
        return mailbox.about(ticket)

    [mail] = await eventually(mails, lambda m: len(m) == 1)
    assert mail["Subject"] == f"[{ticket}] Logged: Whole office cannot send e-mail"
    assert mail["Message-ID"] == f"<incident.{ticket}.1.ticket_opened@tempodesk>"
    assert sorted(mailbox.envelopes[-1][1]) == ["jo.tran@harbourside.example",
                                                "servicedesk@belton.example"]
    body = mail.get_content()
    assert f"We have logged your request as {ticket} (P1)" in body
    due = datetime.fromisoformat(created["response_due"])  # in Belton's zone, as read
    assert "We will respond by " + local_time_text(due, "Australia/Melbourne") in body

    async def delivered():
        return [h for h in hooks.received if h["body"]["data"]["ticket_id"] == ticket]

    [hook] = await eventually(delivered, lambda h: len(h) == 1)
    assert hook["valid"] and hook["id"] == f"incident:{ticket}:1:ticket_opened"
    assert hook["body"]["type"] == "ticket.ticket_opened"
    assert hook["body"]["data"]["priority"] == "P1"


async def test_closing_sends_a_survey_link_that_records_the_score_once(wired_desk):
    desk, mailbox = wired_desk.desk, wired_desk.mailbox
    agent = desk.as_("belton", "agent")
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(impact="low"),
                                   headers=desk.as_("belton", "requester"))).json()["ticket_id"]
    await desk.http.post(f"/v1/tickets/{ticket}/transition", json={"to": "resolved"},
                         headers=agent)
    closed = await desk.http.post(f"/v1/tickets/{ticket}/transition", json={"to": "closed"},
                                  headers=agent)
    assert closed.status_code == 200, closed.text

    async def survey_mail():
        return [m for m in mailbox.about(ticket) if "how did we do" in m["Subject"]]

    # The requester's own mail carries the link; the desk's copy does not (docs/security.md).
    mails = await eventually(survey_mail, lambda m: len(m) == 2)
    [mail] = [m for m in mails if "jo.tran@harbourside.example" in m["To"]]
    [copy] = [m for m in mails if m is not mail]
    assert "/v1/surveys/" not in copy.get_content()
    first = mailbox.about(ticket)[0]
    assert mail["In-Reply-To"] == mail["References"] == first["Message-ID"]  # one thread
    link = re.search(r"http://\S+/v1/surveys/(\S+)", mail.get_content())
    assert link, mail.get_content()
    token = link.group(1)

    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert_problem(await desk.http.post(f"/v1/surveys/{tampered}", json={"score": 5}), 401)
    bad_score = assert_problem(await desk.http.post(f"/v1/surveys/{token}",
                                                    json={"score": 9}), 422)
    assert bad_score["errors"][0]["field"] == "score"

    answered = await desk.http.post(f"/v1/surveys/{token}",
                                    json={"score": 4, "comment": "Quick fix, thanks"})
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"ticket_id": ticket, "score": 4}
    again = assert_problem(await desk.http.post(f"/v1/surveys/{token}", json={"score": 1}), 409)
    assert again["detail"] == "the survey was already answered"
    view = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
    assert (view["csat_score"], view["csat_comment"]) == (4, "Quick fix, thanks")


async def test_expired_survey_link_is_410(wired_desk):
    desk = wired_desk.desk
    secret = desk.settings.secret
    stale = tokens.sign(secret, "csat", "BEL-000001", datetime.now(UTC) - timedelta(minutes=1))
    assert_problem(await desk.http.post(f"/v1/surveys/{stale}", json={"score": 3}), 410)
    forged = tokens.sign("not-our-secret", "csat", "BEL-000001",
                         datetime.now(UTC) + timedelta(days=1))
    assert_problem(await desk.http.post(f"/v1/surveys/{forged}", json={"score": 3}), 401)


async def test_activity_run_twice_sends_the_same_message_id(config):
    """Safe to run twice: a retried delivery is recognisably the same message."""
    notice = Notice(notice_id="incident:BEL-000042:3:sla_breached", client_id="belton",
                    ticket_id="BEL-000042", occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
                    event="sla_breached", subject="SLA breached", recipients=["a@b.example"])
    with Mailbox() as mailbox, WebhookReceiver() as hooks:
        hooked = config.model_copy(update={"clients": [
            c.model_copy(update={"notifications": c.notifications.model_copy(update={
                "webhooks": [Webhook(url=hooks.url, secret=WebhookReceiver.SECRET)]})})
            for c in config.clients]})
        async with httpx.AsyncClient() as http:
            activity = NotificationActivities(
                make_settings(smtp_host="127.0.0.1", smtp_port=mailbox.port), hooked, http)
            env = ActivityEnvironment()
            first = await env.run(activity.notify, notice)
            second = await env.run(activity.notify, notice)
    assert first.message_id == second.message_id == "<incident.BEL-000042.3.sla_breached@tempodesk>"
    assert [m["Message-ID"] for m in mailbox.messages] == [first.message_id] * 2
    assert [h["id"] for h in hooks.received] == [notice.notice_id] * 2
    assert all(h["valid"] for h in hooks.received)


def _notice(n: int, event: str, subject: str) -> Notice:
    return Notice(notice_id=f"incident:BEL-000042:{n}:{event}", client_id="belton",
                  ticket_id="BEL-000042", occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
                  event=event, subject=subject, recipients=["a@b.example"])


async def test_a_lane_batch_is_sent_in_order_and_stops_at_the_first_failure(config):
    """Over real SMTP: the breach is sent, the rung's subject cannot be an e-mail header
    (final), the note after it is not tried; a batch failing at its first notice raises as
    a single delivery would."""
    breach = _notice(3, "sla_breached", "SLA breached")
    broken = _notice(4, "escalated", "Escalated\r\nBcc: everyone@example.com")
    after = _notice(5, "note_added", "A note")
    with Mailbox() as mailbox:
        async with httpx.AsyncClient() as http:
            activity = NotificationActivities(
                make_settings(smtp_host="127.0.0.1", smtp_port=mailbox.port), config, http)
            env = ActivityEnvironment()
            sent = await env.run(activity.deliver_notices, NoticeBatch(
                notices=[breach, broken, after], lane=Lane.EMAIL))
            with pytest.raises(ApplicationError) as first_fails:
                await env.run(activity.deliver_notices,
                              NoticeBatch(notices=[broken, after], lane=Lane.EMAIL))
    assert [r.message_id for r in sent.receipts] == [
        "<incident.BEL-000042.3.sla_breached@tempodesk>"]
    assert sent.failure is not None and sent.failure.final
    assert "cannot be written as an e-mail" in sent.failure.error
    assert first_fails.value.non_retryable and first_fails.value.type == "BadContent"
    assert [m["Message-ID"] for m in mailbox.messages] == [sent.receipts[0].message_id]


async def test_each_batch_reports_the_clients_webhook_routing(config):
    """What the ticket's webhook lane decides by: none for a client without hooks, the
    listed events for a breaches-only hook, every event once a hook takes all; an unknown
    client reports nothing (its delivery reports the error)."""
    notice = _notice(3, "sla_breached", "SLA breached")

    async def routing(hooks: list[Webhook], client: str = "belton"):
        hooked = config.model_copy(update={"clients": [
            c.model_copy(update={"notifications": c.notifications.model_copy(update={
                "webhooks": hooks})}) for c in config.clients]})
        async with httpx.AsyncClient() as http:
            activity = NotificationActivities(make_settings(), hooked, http)
            if client != "belton":
                return activity.routing(client)
            result = await ActivityEnvironment().run(
                activity.deliver_notices, NoticeBatch(notices=[notice], lane=Lane.EMAIL))
            return result.routing

    breaches = Webhook(url="https://chat.example/oncall", secret="s",
                       events=["sla_breached", "escalated"])
    everything = Webhook(url="https://chat.example/desk", secret="s")
    assert await routing([]) == WebhookRouting()
    only = await routing([breaches])
    assert (only.every_event, only.events) == (False, ["escalated", "sla_breached"])
    assert only.receives("sla_breached") and not only.receives("ticket_opened")
    assert (await routing([breaches, everything])).receives("ticket_opened")
    assert await routing([], client="nobody") is None


def test_signature_scheme_and_chat_formats():
    body = b'{"a":1}'
    signed = webhooks.headers(WebhookReceiver.SECRET, "msg_1", 1_700_000_000, body)
    assert webhooks.verify(WebhookReceiver.SECRET, "msg_1", 1_700_000_000, body,
                           signed["webhook-signature"])
    assert not webhooks.verify(WebhookReceiver.SECRET, "msg_1", 1_700_000_001, body,
                               signed["webhook-signature"])
    assert not webhooks.verify("whsec_" + "b3RoZXI=", "msg_1", 1_700_000_000, body,
                               signed["webhook-signature"])
    notice = Notice(notice_id="n", client_id="c", ticket_id="BEL-000001",
                    occurred_at=datetime(2026, 1, 1, tzinfo=UTC), event="escalated",
                    subject="Escalated to COO",
                    context={"priority": "P1", "status": "in_progress", "escalation_level": 5})
    slack = webhook_payload(notice, Webhook(url="https://x", secret="s", format="slack"))
    teams = webhook_payload(notice, Webhook(url="https://x", secret="s", format="teams"))
    assert slack["text"] == "[BEL-000001] Escalated to COO"  # the notification's fallback
    assert slack["blocks"][0]["text"] == {"type": "mrkdwn",
                                          "text": "*[BEL-000001] Escalated to COO*"}
    assert slack["blocks"][1]["elements"][0]["text"] == (
        "Priority: P1 · Status: in_progress · Escalation level: 5")
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["body"][1]["facts"][0] == {"title": "Priority", "value": "P1"}


@pytest.mark.parametrize("wired_desk", [{}, UNCACHED], ids=["cached", "uncached"],
                         indirect=True)
async def test_outsiders_are_not_mailed_until_an_agent_confirms_them(wired_desk):
    """The desk mails only the client's known people and domains: a phishing subject with
    an outside contact reaches the desk's mailbox, not the outsider, until an agent
    confirms the address on the ticket."""
    desk, mailbox = wired_desk.desk, wired_desk.mailbox
    phishing = incident_body(
        subject="Your mailbox is full - re-verify at https://evil.example/login",
        technical_contact={"name": "Target", "email": "victim@outside.example"})
    ticket = (await desk.http.post("/v1/incidents", json=phishing,
                                   headers=desk.as_("belton", "integration"))).json()["ticket_id"]

    async def mails():
        return mailbox.about(ticket)

    await eventually(mails, lambda m: len(m) == 1)
    assert mailbox.envelopes[-1][1] == ["servicedesk@belton.example"]
    agent = desk.as_("belton", "agent")

    async def events():
        view = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
        return [e["detail"] for e in view["events"] if e["kind"] == "notified:ticket_opened"]

    details = await eventually(events, lambda d: any("held" in x for x in d))
    assert any(d == "servicedesk@belton.example, held until an agent confirms: "
               "victim@outside.example" for d in details), details

    confirmed = await desk.http.post(f"/v1/tickets/{ticket}/recipients", headers=agent,
                                     json={"email": "Victim@Outside.example"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_recipients"] == ["victim@outside.example"]
    assert (await desk.http.post(f"/v1/tickets/{ticket}/recipients",
                                 headers=desk.as_("belton", "requester"),
                                 json={"email": "x@outside.example"})).status_code == 403
    await desk.http.post(f"/v1/tickets/{ticket}/transition", headers=agent,
                         json={"to": "pending", "reason": "which mailbox?"})
    pending = await eventually(mails, lambda m: len(m) == 2)
    assert "victim@outside.example" in pending[1]["To"]
