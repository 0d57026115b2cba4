"""Mail in: one message -> a new incident, a reply on its ticket, a director's decision on a
quote, a note, or nothing (automatic mail, unknown senders). Shared by
``POST /v1/email/inbound`` and ``tempodesk smtp``; like every route it only starts and
messages workflows.

Threading: our notices' Message-IDs name their ticket (``<incident.BEL-000123.3.…@tempodesk>``),
so In-Reply-To / References find it; then ``[BEL-000123]`` in the subject. The Message-ID
of a new message is its idempotency key: a mail provider's retried hook opens one ticket.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Literal

from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError

from api.auth import Principal
from api.intake import open_incident
from api.problems import Problem
from api.state import AppState
from api.ticket_directory import TicketRef
from domain.email_inbound import InboundMessage, parse, with_attachments
from domain.ids import TicketKind
from domain.incidents import Channel, IncidentReport
from domain.quotes import Channel as DecisionChannel
from domain.quotes import Decision
from domain.sla.priority import Level
from domain.tenants import ClientConfig
from domain.tickets import ClientEscalation, CommentIn, Contact
from workflows.quote import QuoteWorkflow
from workflows.ticket import TicketWorkflow

NOT_GIVEN = "(not given: raised by e-mail)"


class Outcome(BaseModel):
    action: Literal["opened", "replied", "decided", "escalated", "noted", "ignored"]
    ticket_id: str | None = None
    detail: str = ""


def _client_of(state: AppState, sender: str, principal: Principal) -> ClientConfig | None:
    """The client whose people the sender is (by domain or a known address), among those
    the credential may route mail for."""
    for client in state.config.clients:
        if principal.may_see(client.id) and state.config.may_mail(client, sender):
            return client
    return None


def _msp_staff(state: AppState, sender: str) -> bool:
    return sender.rsplit("@", 1)[-1] in state.config.msp_domains


async def take_message(state: AppState, raw: bytes, principal: Principal) -> Outcome:
    message = parse(raw)
    if message.automatic is not None:
        return Outcome(action="ignored", detail=f"automatic mail ({message.automatic})")
    if message.sender == parseaddr(state.settings.smtp_from)[1].lower() or not message.sender:
        return Outcome(action="ignored", detail="our own mail, or no sender")
    ticket = _thread(message)
    if ticket is not None:
        try:
            ref = await state.tickets.locate(ticket, principal)
        except Problem:
            ref = None
        if ref is not None:
            return await _on_ticket(state, ref, message)
    client = _client_of(state, message.sender, principal)
    if client is None:
        return Outcome(action="ignored", detail=f"{message.sender} is not one of a client's "
                       "people (domain or known address): forward it to an agent")
    return await _open(state, principal, client, message)


def _thread(message: InboundMessage) -> str | None:
    in_thread = message.ticket_in_thread()
    return in_thread[1] if in_thread else message.ticket_in_subject()


async def _on_ticket(state: AppState, ref: TicketRef, message: InboundMessage) -> Outcome:
    sender = message.sender
    staff = _msp_staff(state, sender)
    if not staff and not state.config.may_mail(ref.client, sender):
        return Outcome(action="ignored", ticket_id=ref.ticket_id,
                       detail=f"{sender} is not one of {ref.client.id}'s people")
    if not staff and message.to_escalations(state.settings.escalations_mailbox):
        try:
            await ref.handle.execute_update(TicketWorkflow.escalate, ClientEscalation(
                reason=(message.text or message.subject)[:2000].ljust(10, "."),
                by=f"email:{sender}", channel="email"))
        except WorkflowUpdateFailedError as exc:
            await ref.handle.signal(TicketWorkflow.comment, CommentIn(
                body=message.text or message.subject, by=f"email:{sender}",
                from_requester=True))
            return Outcome(action="noted", ticket_id=ref.ticket_id,
                           detail=f"not escalated: {getattr(exc.cause, 'message', exc)}")
        return Outcome(action="escalated", ticket_id=ref.ticket_id,
                       detail="the ladder climbed one rung; the service delivery team told")
    if (ref.kind is TicketKind.QUOTE and message.says_approved()
            and ref.client.is_director(sender)):
        await ref.handle.signal(QuoteWorkflow.decide_by_email, Decision(
            approve=True, by=f"email:{sender}", director_email=sender,
            channel=DecisionChannel.EMAIL))
        return Outcome(action="decided", ticket_id=ref.ticket_id,
                       detail="a director's 'Approved' (the quote checks it again)")
    text = with_attachments(message.text or "(no text)", message.attachments)
    await ref.handle.signal(TicketWorkflow.comment, CommentIn(
        body=text, by=f"email:{sender}", from_requester=not staff))
    noted = ref.kind is TicketKind.QUOTE and message.says_approved()
    return Outcome(action="noted" if noted else "replied", ticket_id=ref.ticket_id,
                   detail="'Approved' from someone who is not a director: kept as a note"
                   if noted else "added to the ticket")


async def _open(state: AppState, principal: Principal, client: ClientConfig,
                message: InboundMessage) -> Outcome:
    report = IncidentReport(
        client_id=None if principal.client_id else client.id,
        subject=message.subject if len(message.subject) >= 3 else f"E-mail: {message.subject}",
        doing=with_attachments(message.text or "(no text)", message.attachments),
        expected=NOT_GIVEN, actual=NOT_GIVEN, tried=NOT_GIVEN,
        technical_contact=Contact(name=message.sender_name or message.sender,
                                  email=message.sender),
        # A mailed-in problem states no impact: medium/medium until an agent triages it.
        channel=Channel.EMAIL, impact=Level.MEDIUM, urgency=Level.MEDIUM)
    ticket, _, replayed = await open_incident(state, principal, client, report,
                                              message.message_id)
    return Outcome(action="opened", ticket_id=ticket,
                   detail="the same message again: its ticket" if replayed else "new ticket")
