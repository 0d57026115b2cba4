"""Quotes, for every door: issued by the MSP's agents, decided only by a director of the
client - with a credential naming them, or by the signed link of the quote e-mail (the
door verifies the link; the desk is told the director it names)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import cast

from desk.access import may
from desk.errors import DeskError, field_problem
from desk.intake import intake_client, start_ticket
from desk.opening import Opening
from desk.principal import Principal
from desk.state import Desk
from desk.ticket_actions import update
from desk.tickets import TicketRef
from domain.documents.quote import document_pdf
from domain.ids import TicketKind, a_kind
from domain.msp import document_lines
from domain.quote_lines import QuoteDocument, QuoteDraft, reminders, totals, valid_until
from domain.quotes import (
    DECISION_REASON_MAX_CHARS,
    Channel,
    Decision,
    QuoteNews,
    QuoteStart,
    QuoteState,
    QuoteView,
    Supersede,
)
from domain.request_bodies import DecisionBody
from domain.roles import Action
from domain.sla.deadlines import snapshot_for
from domain.words import local_time_text
from workflows.quote import QuoteWorkflow


async def find_quote(desk: Desk, quote_id: str, principal: Principal | None) -> TicketRef:
    """The quote ``quote_id`` if ``principal`` may see it (None: a signed link proved it);
    409 for a ticket of another kind."""
    ref = await desk.tickets.locate(quote_id, principal)
    if ref.kind is not TicketKind.QUOTE:
        raise DeskError(409, "Not a quote", f"{quote_id} is {a_kind(ref.kind)}", slug="conflict")
    return ref


async def quote_pdf(desk: Desk, quote_id: str) -> bytes:
    """The PDF of quote ``quote_id`` as its directors were sent it (for a signed link,
    which already proved who reads it)."""
    ref = await find_quote(desk, quote_id, None)
    return document_pdf(await ref.handle.query(QuoteWorkflow.document))


async def issue_quote(desk: Desk, principal: Principal, draft: QuoteDraft) -> QuoteView:
    """Issue a quote: sent to the client's directors with the PDF and a signed link, valid
    to the end of day 14 in the client's zone; it may price a service request and may
    revise a quote still waiting for a decision."""
    may(principal, Action.ISSUE_QUOTE)
    client = intake_client(principal, draft.client_id, desk)
    if not client.directors:
        raise field_problem(422, "client_id", f"{client.id} has no directors to approve a "
                            "quote", "add the client's directors to tempodesk.yaml", "No approver",
                            where="body")
    requester = client.directors[0].email
    request_ref: TicketRef | None = None
    if draft.request_id is not None:
        request_ref = await desk.tickets.locate(draft.request_id, principal)
        if request_ref.kind is not TicketKind.SERVICE_REQUEST or request_ref.client.id != client.id:
            raise field_problem(422, "request_id", f"{draft.request_id} is not a service "
                                f"request of {client.id}", "name the request this quote prices",
                                "Which request?", where="body")
        requester = (await request_ref.view()).technical_contact
    old: TicketRef | None = None
    if draft.supersedes is not None:
        old = await find_quote(desk, draft.supersedes, principal)
        old_view = cast(QuoteView, await old.view())
        if old_view.quote_state is not QuoteState.SENT or old.client.id != client.id:
            raise field_problem(409, "supersedes", f"{draft.supersedes} is "
                                f"{old_view.quote_state.value}", "revise a quote still "
                                "waiting for a decision", "Cannot revise", where="body")
    now = datetime.now(UTC)
    ticket = await desk.numbers.next(client.ticket_prefix)
    zone = client.sla.calendar.timezone
    document = QuoteDocument(quote_id=ticket, draft=draft, totals=totals(draft),
                             client_name=client.name, issued_at=now,
                             valid_until=valid_until(now, zone), zone=zone,
                             msp=document_lines(desk.config.msp))
    pdf = document_pdf(document)
    start = QuoteStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                       raised_by=principal.actor, sla=snapshot_for(client.sla, now),
                       rules=client.incidents, document=document,
                       pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                       directors=[d.email for d in client.directors], requester=requester,
                       zone=zone, reminders=reminders(now, zone))
    at_intake = await start_ticket(
        desk, QuoteWorkflow, start,
        f"{ticket} quote {draft.currency} {document.totals.total}, valid until "
        f"{local_time_text(document.valid_until, zone)}")
    if old is not None:
        await update(old, QuoteWorkflow.supersede, Supersede(by_quote=ticket,
                                                             by=principal.actor))
    if request_ref is not None:
        await request_ref.handle.signal("quote_news", QuoteNews(
            quote_id=ticket, quote_state=QuoteState.SENT,
            detail=f"{draft.currency} {document.totals.total} sent to the directors"))
    return cast(QuoteView, at_intake.view())


ISSUE = Opening(
    "quotes", "issue_quote", QuoteDraft, QuoteView, Action.ISSUE_QUOTE, issue_quote,
    "Issue a quote (MSP staff): sent to the client's directors with the PDF and a signed "
    "link; valid to the end of day 14 in the client's zone")


async def decide_quote(desk: Desk, principal: Principal, quote_id: str, body: DecisionBody,
                       ip: str) -> QuoteView:
    """A director of the client approves, or declines with a reason, with a credential
    that names them (``ip``: where the decision came from, for the record)."""
    may(principal, Action.DECIDE_QUOTE)
    ref = await find_quote(desk, quote_id, principal)
    if not ref.client.is_director(principal.email):
        raise DeskError(403, "Forbidden", "only a director of the client may decide: this "
                        "credential names no director (set the key's 'email' to one of the "
                        "client's directors)")
    decided = await update(ref, QuoteWorkflow.decide, body.message(
        by=principal.actor, director_email=principal.email, channel=Channel.API, ip=ip))
    return cast(QuoteView, ref.shown(decided))


async def decide_by_link(ref: TicketRef, director: str, approve: bool, reason: str,
                         ip: str) -> QuoteView:
    """The decision of the director a signed link names, on the quote ``ref`` (found with
    :func:`find_quote`): the workflow's refusal (decided already, expired) is a DeskError."""
    decision = Decision(approve=approve, reason=reason[:DECISION_REASON_MAX_CHARS],
                        by=f"director:{director}",
                        director_email=director, channel=Channel.LINK, ip=ip)
    return cast(QuoteView, await update(ref, QuoteWorkflow.decide, decision))
