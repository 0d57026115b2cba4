"""The side effects of client reviews: planning a fired schedule's run from the config,
reading a quarter's tickets (Temporal visibility, then each ticket's query), and the
e-mails (NPS survey links, the QBR to the account manager).

Safe to run twice: planning and compiling only read; each e-mail's Message-ID is derived
from its workflow, so a retried send is recognisably the same message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.smtp_send import new_message, send_mail
from domain import nps as nps_domain
from domain import reviews, tokens
from domain.documents.qbr import qbr_html, qbr_pdf
from domain.ids import TicketKind, parse_workflow_id
from domain.mail_words import nps_invite_text, qbr_mail_text
from domain.msp import document_lines
from domain.nps import InviteReceipt, NpsInvite, NpsResult, NpsStart, NpsSummary
from domain.qbr import (
    QBR_TICKETS_MAX,
    QbrFigures,
    QbrInputs,
    QbrMail,
    QbrStart,
    TicketFacts,
    qbr_figures,
)
from domain.review_plan import ReviewPlan, nps_contacts, qbr_start
from domain.reviews import Job, PlanRequest
from domain.settings import Settings
from domain.sla.durations import parse_duration
from domain.tenants import ClientConfig, TempodeskConfig
from domain.ticket_list import ticket_query
from domain.tickets import TicketView

QUERY_CONCURRENCY = 8


class TicketSource(Protocol):
    async def workflow_ids(self, client_id: str, since: datetime, limit: int,
                           ) -> tuple[list[str], int]:
        """Ticket workflow ids of ``client_id`` whose latest run started at or after
        ``since`` (at most ``limit``), and how many there were."""
        ...


class VisibilityTickets:
    """The tickets Temporal visibility lists for a client since an instant. A ticket's
    latest run starts no earlier than the ticket opened, so every ticket opened since then
    is among them; the figures keep those opened in the quarter."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def workflow_ids(self, client_id: str, since: datetime, limit: int,
                           ) -> tuple[list[str], int]:
        query = (f"{ticket_query([client_id])} AND StartTime >= "
                 f"'{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'")
        ids = [e.id async for e in self.client.list_workflows(query, limit=limit + 1,
                                                              page_size=500)]
        return ids[:limit], len(ids)


class ReviewActivities:
    """``view_models``: each ticket kind's view (``workflows.kinds.view_models()``), given by
    whoever builds these, so a ticket's view is read without importing its workflow."""

    def __init__(self, settings: Settings, config: TempodeskConfig, temporal: Client,
                 tickets: TicketSource | None = None, *,
                 view_models: Mapping[TicketKind, type[TicketView]]) -> None:
        self.settings = settings
        self.config = config
        self.temporal = temporal
        self.tickets = tickets or VisibilityTickets(temporal)
        self.view_models = view_models

    def all(self) -> list[Any]:
        return [self.plan_review, self.send_nps_invite, self.compile_qbr, self.send_qbr]

    def _client(self, client_id: str) -> ClientConfig:
        client = self.config.client(client_id)
        if client is None:
            raise ApplicationError(f"client {client_id!r} is no longer in the config",
                                   non_retryable=True)
        return client

    # ------------------------------------------------------------------ planning

    @activity.defn
    async def plan_review(self, request: PlanRequest) -> ReviewPlan:
        """The period a fired schedule covers, in the client's zone, and its input from
        the config as it is now."""
        client = self._client(request.client_id)
        zone = client.sla.calendar.timezone
        cfg = client.reviews
        if request.job is Job.NPS:
            period = reviews.current_half(request.fired_at, zone)
            sent = request.fired_at
            closes = sent + timedelta(seconds=_elapsed(cfg.nps_open_for))
            start = NpsStart(
                client_id=client.id, client_name=client.name, period=period.label,
                sent_at=sent, closes_at=closes,
                keep_until=closes + timedelta(seconds=_elapsed(cfg.report_kept_for)),
                contacts=nps_contacts(client))
            return ReviewPlan(workflow_id=reviews.review_workflow_id(Job.NPS, client.id,
                                                                     period.label),
                              period=period.label, nps=start)
        period = reviews.previous_quarter(request.fired_at, zone)
        return ReviewPlan(workflow_id=reviews.review_workflow_id(Job.QBR, client.id,
                                                                 period.label),
                          period=period.label,
                          qbr=qbr_start(client, period, request.fired_at,
                                        self.settings.public_url))

    # ------------------------------------------------------------------ NPS

    @activity.defn
    async def send_nps_invite(self, invite: NpsInvite) -> InviteReceipt:
        if not self.settings.smtp_host:
            return InviteReceipt(skipped=["email: TEMPODESK_SMTP_HOST is not set"])
        token = tokens.sign(self.settings.secret, nps_domain.TOKEN_PURPOSE,
                            nps_domain.token_subject(invite.client_id, invite.period),
                            invite.closes_at, r=invite.respondent)
        url = f"{self.settings.public_url}/v1/surveys/nps/{token}"
        message = new_message(self.settings, invite.invite_id, [invite.contact.email],
                              invite.sent_at,
                              f"How likely are you to recommend us? ({invite.period})",
                              "auto-generated", "this survey")
        zone = self.config.zone_of(invite.client_id)
        message.set_content(nps_invite_text(invite.contact.name, invite.client_name, url,
                                            invite.closes_at, zone, self.config.msp))
        return InviteReceipt(message_id=await send_mail(self.settings, message),
                             emailed=[invite.contact.email])

    # ------------------------------------------------------------------ QBR

    @activity.defn
    async def compile_qbr(self, start: QbrStart) -> QbrFigures:
        """The quarter's tickets (visibility, then each one's view by query, bounded) and
        the NPS survey, made into the figures."""
        ids, seen = await self.tickets.workflow_ids(start.client_id, start.period.start,
                                                    QBR_TICKETS_MAX)
        gate = asyncio.Semaphore(QUERY_CONCURRENCY)
        done = 0

        async def facts(workflow_id: str) -> TicketFacts | None:
            nonlocal done
            async with gate:
                view = await self._view(workflow_id)
                done += 1
                activity.heartbeat(done)
                return None if view is None else TicketFacts.of(view)

        found = [f for f in await asyncio.gather(*(facts(i) for i in ids)) if f is not None]
        return qbr_figures(QbrInputs(
            client_id=start.client_id, client_name=start.client_name, period=start.period,
            generated_at=start.generated_at, tickets=found, tickets_seen=seen,
            best_effort=start.best_effort, nps=await self._nps(start),
            answer_targets=start.answer_targets, risks=start.risks))

    async def _view(self, workflow_id: str) -> Any:
        try:
            kind, _ = parse_workflow_id(workflow_id)
        except ValueError:
            return None
        model = self.view_models[kind]
        try:
            return await self.temporal.get_workflow_handle(workflow_id).query(
                "view", result_type=model)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # gone since it was listed
                return None
            raise

    async def _nps(self, start: QbrStart) -> NpsSummary | None:
        for workflow_id in start.nps_workflow_ids:
            try:
                # The survey's ``result`` query, by name: activities import no workflow.
                result = await self.temporal.get_workflow_handle(workflow_id).query(
                    "result", result_type=NpsResult)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            if result.sent_at < start.period.end:
                return result.summary(until=start.period.end)
        return None

    @activity.defn
    async def send_qbr(self, mail: QbrMail) -> InviteReceipt:
        f = mail.figures
        if not mail.recipients:
            return InviteReceipt(skipped=["no account manager or desk mailbox in the config"])
        if not self.settings.smtp_host:
            return InviteReceipt(skipped=["email: TEMPODESK_SMTP_HOST is not set"])
        message = new_message(self.settings, mail.mail_id, mail.recipients, f.generated_at,
                              f"Quarterly business review {f.quarter}: {f.client_name}",
                              "auto-generated", "this report")
        msp = self.config.msp
        message.set_content(qbr_mail_text(f.client_name, f.quarter, mail.url, msp))
        message.add_alternative(qbr_html(f, url=mail.url, msp=document_lines(msp),
                                         logo_src=msp.logo_src(self.settings.public_url)),
                                subtype="html")
        message.add_attachment(qbr_pdf(f, msp=document_lines(msp)), maintype="application",
                               subtype="pdf",
                               filename=f"qbr-{f.client_id}-{f.quarter}.pdf")
        return InviteReceipt(message_id=await send_mail(self.settings, message),
                             emailed=mail.recipients)


def _elapsed(duration: str) -> float:
    return parse_duration(duration).seconds
