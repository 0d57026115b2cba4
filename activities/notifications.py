"""E-mail (SMTP) and signed webhooks for ticket events.

Safe to run twice: the notice id becomes the e-mail's Message-ID and the webhook-id, so a
retried delivery is recognisable as the same message by mail clients and receivers.

A signed link reaches only the person it names (docs/security.md): a notice with an
approval link (a director) or a survey link (the requester) is mailed with the link to
that person alone; everyone else on it (the client's desk mailboxes, ...) gets a copy
without the link (Message-ID ``<...desk@tempodesk>``), and webhooks never carry one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import outbound, webhooks
from activities.heartbeats import heartbeating
from activities.invites import invite_ics
from activities.smtp_send import new_message, send_mail
from domain import tokens
from domain.documents.quote import document_pdf
from domain.links import ticket_link
from domain.mail_words import Letterhead, mail_words, notice_facts
from domain.notifications import (
    DeliveryFailure,
    Lane,
    LaneReceipts,
    Notice,
    NoticeBatch,
    NoticeDelivery,
    NoticeReceipt,
    WebhookRouting,
)
from domain.reply_address import reply_address
from domain.settings import Settings
from domain.tenants import TempodeskConfig, Webhook

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",)),
    keep_trailing_newline=True,
)


def render_body(notice: Notice, head: Letterhead) -> str:
    """The e-mail text of ``notice``: its event's template (else the generic one) given
    the words :func:`domain.mail_words.mail_words` chose (local times, the facts that apply,
    the footer with the MSP, the ticket's link and the terms)."""
    names = [f"{notice.event}.txt.j2", "generic.txt.j2"]
    template = _TEMPLATES.select_template(names)
    return template.render(**mail_words(notice, head))


def letterhead(notice: Notice, config: TempodeskConfig, public_url: str) -> Letterhead:
    """The MSP, the client's name and zone and the ticket's link for ``notice``'s mail."""
    client = config.client(notice.client_id)
    return Letterhead(msp=config.msp, client_name=client.name if client else notice.client_id,
                      zone=config.zone_of(notice.client_id),
                      ticket_url=ticket_link(public_url, notice.ticket_id))


def link_holder(notice: Notice) -> str | None:
    """Whom the notice's signed link names, if it carries one: the director of an approval
    link; for a survey, the requester (the technical contact, whom ``_notify`` lists last
    whichever list the ticket's age puts them in)."""
    if notice.approval is not None:
        return notice.approval.director_email.lower()
    if notice.survey_expires_at is not None:
        named = [*notice.recipients, *notice.unverified, *notice.unconfirmed]
        return named[-1].lower() if named else None
    return None


def _facts(notice: Notice) -> list[tuple[str, str]]:
    shown = ("priority", "status", "response_due", "resolution_due", "escalation_level")
    return [(key.replace("_", " ").capitalize(), str(notice.context[key]))
            for key in shown if notice.context.get(key) not in (None, "", 0)]


def webhook_payload(notice: Notice, hook: Webhook, head: Letterhead | None = None) -> dict:
    """The body for ``hook``: Slack blocks, a Teams Adaptive Card (Workflows webhook), or
    our own JSON event; chat bodies carry a plain ``text`` fallback too. People read chat:
    given the ``head``, its facts are worded as in mail (local times, only what applies)
    and end with the ticket's link; our own JSON event keeps the raw values for machines."""
    text = f"[{notice.ticket_id}] {notice.subject}"
    facts = _facts(notice) if head is None else [*notice_facts(notice, head),
                                                 ("Ticket", head.ticket_url)]
    if hook.format == "slack":
        detail = " · ".join(f"{name}: {value}" for name, value in facts)
        return {"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": detail or notice.event}]}]}
    if hook.format == "teams":
        return {"type": "message", "text": text, "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard", "version": "1.4", "body": [
                            {"type": "TextBlock", "text": text, "weight": "Bolder",
                             "wrap": True},
                            {"type": "FactSet", "facts": [{"title": name, "value": value}
                                                          for name, value in facts]}]}}]}
    return {"type": f"ticket.{notice.event}", "timestamp": notice.occurred_at.isoformat(),
            "data": {"ticket_id": notice.ticket_id, "client_id": notice.client_id,
                     "subject": notice.subject, **notice.context}}


async def deliver_in_order(batch: NoticeBatch,
                           one: Callable[[NoticeDelivery], Awaitable[NoticeReceipt]],
                           ) -> LaneReceipts:
    """Deliver a lane's notices one by one, in order (a thread's root mail goes first),
    stopping at the first that fails: when nothing got through the error is raised, as a
    single delivery's would be; after a delivered one it is returned beside their receipts,
    so what was sent is recorded and only the rest is tried again."""
    receipts: list[NoticeReceipt] = []
    for notice in batch.notices:
        try:
            receipts.append(await one(NoticeDelivery(notice=notice, lane=batch.lane)))
        except Exception as err:
            if not receipts:
                raise
            final = isinstance(err, ApplicationError) and err.non_retryable
            return LaneReceipts(receipts=receipts,
                                failure=DeliveryFailure(error=str(err)[:500], final=final))
    return LaneReceipts(receipts=receipts)


class NotificationActivities:
    def __init__(self, settings: Settings, config: TempodeskConfig,
                 http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.config = config
        self.http = http

    @activity.defn
    async def deliver(self, delivery: NoticeDelivery) -> NoticeReceipt:
        """One notice on one lane: for tickets started before "notices-batched-per-lane"
        (their histories replay with it); new tickets use :meth:`deliver_notices`."""
        async with heartbeating():  # a worker killed mid-attempt is noticed in seconds
            return await self._deliver_one(delivery)

    @activity.defn
    async def deliver_notices(self, batch: NoticeBatch) -> LaneReceipts:
        """A lane's pending notices in one attempt (see :func:`deliver_in_order`), with the
        client's webhook routing: the ticket's webhook lane runs no activity for events no
        hook receives, and learns of a hook added to the config from the next result."""
        async with heartbeating():
            result = await deliver_in_order(batch, self._deliver_one)
        result.routing = self.routing(batch.notices[0].client_id)
        return result

    def routing(self, client_id: str) -> WebhookRouting | None:
        """The client's webhook routing now (None for an unknown client: the delivery
        reports that)."""
        client = self.config.client(client_id)
        if client is None:
            return None
        hooks = client.notifications.webhooks
        return WebhookRouting(every_event=any(h.events is None for h in hooks),
                              events=sorted({e for h in hooks for e in h.events or []}))

    async def _deliver_one(self, delivery: NoticeDelivery) -> NoticeReceipt:
        """Errors a retry can never mend (a refused recipient, a header no mail server
        accepts, a webhook answering 4xx) are non-retryable; the workflow retries the rest
        with backoff, so a peer's outage holds back no clock."""
        if delivery.lane is Lane.EMAIL:
            return await self._email_lane(delivery.notice)
        return await self._webhook_lane(delivery.notice)  # never with a personal link

    @activity.defn
    async def notify(self, notice: Notice) -> NoticeReceipt:
        """Both lanes in one go: only for tickets started before the lanes existed (their
        histories replay with it); new tickets use :meth:`deliver`."""
        receipt = await self._email_lane(notice)
        receipt.webhooks = (await self._webhook_lane(notice)).webhooks
        return receipt

    def _client(self, notice: Notice):
        client = self.config.client(notice.client_id)
        if client is None:
            raise ApplicationError(f"unknown client {notice.client_id!r}", non_retryable=True)
        return client

    def _with_links(self, notice: Notice) -> Notice:
        """The version for the link's holder: the signed approval or survey URL added."""
        if notice.approval is not None:
            link = notice.approval
            token = tokens.sign(self.settings.secret, "quote", link.quote_id, link.expires_at,
                                director=link.director_email)
            notice = notice.model_copy(update={"context": {
                **notice.context,
                "approval_url": f"{self.settings.public_url}/v1/quotes/{link.quote_id}"
                                f"/review?token={token}"}})
        if notice.survey_expires_at is None:
            return notice
        return notice.model_copy(update={"context": {
            **notice.context, "survey_url": self.survey_url(notice)}})

    async def _email_lane(self, notice: Notice) -> NoticeReceipt:
        client = self._client(notice)
        receipt = NoticeReceipt()
        confirmed = {a.lower() for a in notice.confirmed}
        held = sorted({a for a in notice.unverified
                       if a.lower() not in confirmed and not self.config.may_mail(client, a)}
                      | {a for a in notice.unconfirmed if a.lower() not in confirmed})
        wanted = {*notice.recipients, *notice.unverified, *notice.unconfirmed,
                  *client.notifications.email}
        recipients = sorted(wanted - set(held))
        if held:
            receipt.skipped.append(f"held until an agent confirms: {', '.join(held)}")
        if recipients and not self.settings.smtp_host:  # nothing leaves: said, never "sent"
            receipt.unsent = recipients
            return receipt
        holder = link_holder(notice)
        personal = [r for r in recipients if holder is not None and r.lower() == holder]
        copies = [r for r in recipients if r not in personal]
        # The copies first: the holder's mail, the one a notice is about, goes last, so
        # once it has arrived the delivery is done (as when a notice was one mail).
        if copies:
            receipt.message_id = await self._email(self._without_links(notice, holder),
                                                   copies, copy=holder is not None)
        if personal:
            receipt.message_id = await self._email(self._with_links(notice), personal,
                                                   reply_to=self._reply_to(notice))
        receipt.emailed = recipients
        return receipt

    def _without_links(self, notice: Notice, holder: str | None) -> Notice:
        """The copy for everyone but the link's holder: says who got the link, not what."""
        if holder is None:
            return notice
        return notice.model_copy(update={"context": {
            **notice.context, "personal_link": f"sent to {holder} only"}})

    def _reply_to(self, notice: Notice) -> str | None:
        """A director's own reply address on a quote (what an "Approved" by mail needs)."""
        approvals = self.config.mail.approvals
        if notice.approval is None or approvals is None:
            return None
        link = notice.approval
        return reply_address(self.settings.secret, approvals, link.quote_id,
                             link.director_email, link.expires_at)

    async def _webhook_lane(self, notice: Notice) -> NoticeReceipt:
        receipt = NoticeReceipt()
        for hook in self._client(notice).notifications.webhooks:
            if hook.events is not None and notice.event not in hook.events:
                continue  # routed elsewhere (e.g. only breaches to the on-call channel)
            await self._webhook(notice, hook)
            receipt.webhooks.append(hook.url)
        return receipt

    def survey_url(self, notice: Notice) -> str:
        assert notice.survey_expires_at is not None
        token = tokens.sign(self.settings.secret, "csat",
                            notice.ticket_id, notice.survey_expires_at)
        return f"{self.settings.public_url}/v1/surveys/{token}"

    def _message(self, notice: Notice, recipients: list[str], reply_to: str | None = None,
                 copy: bool = False) -> EmailMessage:
        # Our own mail answers tickets automatically ("auto-replied", RFC 3834). A copy
        # without the personal link is another message, so it has its own Message-ID.
        mail_id = f"{notice.notice_id}:desk" if copy else notice.notice_id
        message = new_message(self.settings, mail_id, recipients, notice.occurred_at,
                              f"[{notice.ticket_id}] {notice.subject}", "auto-replied",
                              "this notice")
        if reply_to is not None:
            message["Reply-To"] = reply_to
        if notice.thread_root:
            message["In-Reply-To"] = notice.thread_root
            message["References"] = notice.thread_root
        message.set_content(render_body(notice, letterhead(notice, self.config,
                                                           self.settings.public_url)))
        if notice.document is not None:
            message.add_attachment(document_pdf(notice.document), maintype="application",
                                   subtype="pdf", filename=f"{notice.document.quote_id}.pdf")
        if notice.invite is not None:
            message.add_attachment(
                invite_ics(notice.invite, self.settings.smtp_from, notice.occurred_at),
                maintype="text", subtype="calendar", filename="invite.ics",
                params={"method": "REQUEST"})
        return message

    async def _email(self, notice: Notice, recipients: list[str], reply_to: str | None = None,
                     copy: bool = False) -> str:
        return await send_mail(self.settings, self._message(notice, recipients, reply_to,
                                                            copy))

    async def _webhook(self, notice: Notice, hook: Webhook) -> None:
        head = letterhead(notice, self.config, self.settings.public_url)
        body = json.dumps(webhook_payload(notice, hook, head), separators=(",", ":")).encode()
        headers = webhooks.headers(hook.secret, notice.notice_id, int(time.time()), body)
        await outbound.guard(hook.url, self.settings, "webhook")
        response = await self.http.post(hook.url, content=body, headers=headers, timeout=15)
        if response.status_code in (400, 401, 403, 404, 410, 422):
            raise ApplicationError(
                f"webhook {hook.url} refused the delivery ({response.status_code})",
                non_retryable=True)
        response.raise_for_status()

