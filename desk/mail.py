"""Mail in: one message -> a new incident, a reply on its ticket, a director's decision on a
quote, an escalation, a staff comment, a note, or nothing: the desk operation "take a
mail" that every mail door (the mail hook, the SMTP listener) calls with the raw message;
it only starts and messages workflows. What a message may do is decided by
:func:`domain.mail_rules.decide` (docs/security.md, "Which mail may act"); this module
finds the facts and applies the outcome.

Threading: our notices' Message-IDs name their ticket (``<incident.BEL-000123.3.…@tempodesk>``),
so In-Reply-To / References find it; then ``[BEL-000123]`` in the subject; then a director's
reply address (``approvals+BEL-000123.…@``). A new message's idempotency key is its
Message-ID with a digest of its content: a mail provider's retried hook opens one ticket,
and another message reusing a Message-ID is another ticket, never a refusal.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Literal

from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError

from desk.access import may
from desk.errors import DeskError
from desk.files import (
    discard_spares,
    held_files,
    list_on_ticket,
    room_for_mail,
    store_mail_files,
)
from desk.intake import open_incident
from desk.principal import Principal
from desk.state import Desk
from desk.tickets import TicketRef
from domain.attachments import Channel as FileChannel
from domain.email_inbound import (
    TEXT_MAX_CHARS,
    InboundMessage,
    parse_with_files,
    with_attachments,
)
from domain.ids import TicketKind
from domain.incidents import NOT_GIVEN_BY_MAIL, Channel, IncidentReport
from domain.mail_config import MailConfig
from domain.mail_rules import MailAction, MailDecision, MailFacts, ThreadFacts, decide
from domain.quotes import Channel as DecisionChannel
from domain.quotes import ConfirmByLink, Decision
from domain.reply_address import claim
from domain.roles import Action
from domain.sender_auth import SenderVerdict, judged, judged_at_smtp
from domain.sla.priority import Level
from domain.tenants import ClientConfig
from domain.tickets import ClientEscalation, CommentIn, Contact
from workflows.quote import QuoteWorkflow
from workflows.ticket import TicketWorkflow

NOT_GIVEN = NOT_GIVEN_BY_MAIL  # how the ticket view knows a mailed-in request


class Outcome(BaseModel):
    action: Literal["opened", "replied", "commented", "decided", "escalated", "staff_noted",
                    "noted", "ignored"]
    ticket_id: str | None = None
    detail: str = ""
    sender_authenticated: bool | None = None


_DONE = {MailAction.OPEN: "opened", MailAction.REPLY: "replied",
         MailAction.COMMENT: "commented",
         MailAction.DECIDE: "decided", MailAction.ESCALATE: "escalated",
         MailAction.STAFF_NOTE: "staff_noted", MailAction.NOTE: "noted",
         MailAction.IGNORE: "ignored"}


def _read(raw: bytes, mail: MailConfig, through_msp_mta: bool, smtp_peer: str | None,
          ) -> tuple[InboundMessage, SenderVerdict, list[bytes]]:
    """Parse and judge the sender (:func:`domain.sender_auth.judged`, or
    :func:`~domain.sender_auth.judged_at_smtp` for the listener's peer): CPU work on hostile
    input, run off the event loop. Also the bytes of the files the message carries."""
    message, files = parse_with_files(raw)
    if smtp_peer is not None:
        sender_verdict = judged_at_smtp(
            message.auth_results, message.sender, message.senders_named,
            mail.trusted_authserv_ids, smtp_peer, mail.smtp.trusted_relays)
    else:
        sender_verdict = judged(message.auth_results, message.sender, message.senders_named,
                                mail.trusted_authserv_ids, through_msp_mta)
    return message, sender_verdict, files


def _client_for_new(state: Desk, sender: str, principal: Principal) -> ClientConfig | None:
    """The client that owns the sender's domain, if the credential routes its mail."""
    return next((c for c in state.config.clients
                 if principal.may_see(c.id) and c.owns(sender)), None)


async def take_message(state: Desk, raw: bytes, principal: Principal,
                       envelope_recipients: list[str] | None = None,
                       smtp_peer: str | None = None) -> Outcome:
    """What ``raw`` did (its outcome for the door to map to a reply). ``smtp_peer``: the
    address the SMTP listener took the message from (only a trusted relay's headers are
    believed); None for the mail hook (only the MSP's own key is believed). Raises
    :class:`domain.email_inbound.MalformedMail` for mail nobody can read, and a 403
    :class:`DeskError` for a principal whose role may not post mail."""
    may(principal, Action.INBOUND_EMAIL)
    mail = state.config.mail
    # The MSP's own key (its gateway) is mail through its own MTA.
    message, sender_verdict, files = await asyncio.to_thread(
        _read, raw, mail, principal.is_staff, smtp_peer)
    if envelope_recipients:
        extra = [r.lower() for r in envelope_recipients[:50]]
        message.recipients = list(dict.fromkeys([*message.recipients, *extra]))
    reply = claim(state.settings.secret, mail.approvals, message.recipients, message.sender,
                  datetime.now(UTC))
    ref = await _ticket(state, message, reply.quote_id, principal)
    facts = MailFacts(
        message=message, verdict=sender_verdict, mail=mail, msp_domains=state.config.msp_domains,
        own_address=parseaddr(state.settings.smtp_from)[1].lower(), reply=reply,
        thread=ThreadFacts(ticket_id=ref.ticket_id, kind=ref.kind, client=ref.client,
                           contact=await _contact(ref, message.sender)) if ref else None,
        client_for_new=None if ref else _client_for_new(state, message.sender, principal))
    decision = decide(facts)
    ticket_id = await _apply(state, principal, decision, message, ref, facts, files)
    return Outcome(action=_DONE[decision.action], ticket_id=ticket_id,
                   detail=decision.reason, sender_authenticated=sender_verdict.authenticated)


async def _contact(ref: TicketRef, sender: str) -> str | None:
    """Whom the ticket's notices go to: its own person. Only their reply is the requester's
    (it may reopen the ticket or end its pending); on kinds a requester may not see, the
    rules hear a client's person only if it is the contact or a director. Asked of the
    ticket only for a sender among the client's people: the rules read it for no one else
    (staff, outsiders and forgers cost no query)."""
    if not ref.client.owns(sender):
        return None
    return (await ref.view()).technical_contact or None


async def _ticket(state: Desk, message: InboundMessage, quote_id: str | None,
                  principal: Principal) -> TicketRef | None:
    in_thread = message.ticket_in_thread()
    for ticket in (in_thread[1] if in_thread else None, message.ticket_in_subject(),
                   quote_id):
        if ticket is None:
            continue
        try:
            return await state.tickets.locate(ticket, principal)
        except DeskError:
            continue
    return None


async def _apply(state: Desk, principal: Principal, decision: MailDecision,
                 message: InboundMessage, ref: TicketRef | None, facts: MailFacts,
                 files: list[bytes]) -> str | None:
    """Carry the decision out. The message's files are stored first: if the store cannot
    take them now, nothing is done (a DeskError the door answers with "try again later")
    and the sender's server sends the message again, so a file is never dropped."""
    action = decision.action
    if action is MailAction.IGNORE:
        return ref.ticket_id if ref else None
    client = ref.client if ref else facts.client_for_new
    assert client is not None
    if files and state.files:  # room for them, before anything is stored or done
        opening = ref is None or action is MailAction.OPEN
        room_for_mail(client.files, [] if opening else await held_files(ref),
                      message.attachments)
    stored = await store_mail_files(state, client, message.attachments, files)
    try:
        if action is MailAction.OPEN:
            ticket, replayed = await _open(state, principal, client, message,
                                           unconfirmed=not decision.acknowledge,
                                           kept=state.files is not None)
            if replayed:
                decision.reason = "the same message again: its ticket"
            if not stored:
                return ticket
            ref = await state.tickets.locate(ticket, None)  # just opened for this client
        else:
            await _act(ref, decision, message, kept=state.files is not None)
        held = await held_files(ref) if stored else []
    except BaseException:
        await discard_spares(state, client, stored)  # the sender's server sends it again
        raise
    if stored:  # whose files they are, as far as the desk can tell
        by = (f"email:{message.sender}" if facts.verdict.authenticated
              else f"email (sender not authenticated):{message.sender}")
        await list_on_ticket(state, ref, stored, by, FileChannel.EMAIL, held)
    return ref.ticket_id


async def _act(ref: TicketRef | None, decision: MailDecision, message: InboundMessage,
               kept: bool) -> None:
    assert ref is not None
    sender = message.sender
    action = decision.action
    text = with_attachments(message.text or "(no text)", message.attachments, kept)
    by = f"email:{sender}"
    if action is MailAction.DECIDE:
        await ref.handle.signal(QuoteWorkflow.decide_by_email, Decision(
            approve=True, by=by, director_email=sender, channel=DecisionChannel.EMAIL))
    elif action is MailAction.ESCALATE:
        try:
            await ref.handle.execute_update(TicketWorkflow.escalate, ClientEscalation(
                reason=(message.text or message.subject)[:2000].ljust(10, "."), by=by,
                channel="email"))
        except WorkflowUpdateFailedError as exc:
            await _comment(ref, text, by, from_requester=decision.own_person)
            decision.action = MailAction.NOTE
            decision.reason = f"not escalated: {getattr(exc.cause, 'message', exc)}"
    elif action in (MailAction.REPLY, MailAction.COMMENT, MailAction.STAFF_NOTE):
        await _comment(ref, text, by, from_requester=action is MailAction.REPLY)
    else:  # a note: recorded with the reason, never from the requester (no reopening)
        await _comment(ref, note_body(decision.reason, message, kept),
                       f"email (not acted on):{sender}", from_requester=False)
        if decision.confirm_director is not None and ref.kind is TicketKind.QUOTE:
            await ref.handle.signal(QuoteWorkflow.confirm_by_link, ConfirmByLink(
                director_email=decision.confirm_director, reason=decision.reason[:500],
                by=by))


async def _comment(ref: TicketRef, body: str, by: str, from_requester: bool) -> None:
    await ref.handle.signal(TicketWorkflow.comment, CommentIn(
        body=body[:TEXT_MAX_CHARS], by=by, from_requester=from_requester))


def incident_report(message: InboundMessage, client_id: str | None,
                    kept: bool = True) -> IncidentReport:
    """The incident a new message opens (its fields already cleaned by the parser)."""
    return IncidentReport(
        client_id=client_id,
        subject=message.subject if len(message.subject) >= 3 else f"E-mail: {message.subject}",
        doing=with_attachments(message.text or "(no text)", message.attachments, kept),
        expected=NOT_GIVEN, actual=NOT_GIVEN, tried=NOT_GIVEN,
        technical_contact=Contact(name=message.sender_name or message.sender,
                                  email=message.sender),
        # A mailed-in problem states no impact: medium/medium until an agent triages it.
        channel=Channel.EMAIL, impact=Level.MEDIUM, urgency=Level.MEDIUM)


def note_body(reason: str, message: InboundMessage, kept: bool = True) -> str:
    """A note: the words, and why they did not act."""
    text = with_attachments(message.text or "(no text)", message.attachments, kept)
    return f"[Not acted on: {reason}]\n\n{text}"[:TEXT_MAX_CHARS]


async def _open(state: Desk, principal: Principal, client: ClientConfig,
                message: InboundMessage, unconfirmed: bool, kept: bool) -> tuple[str, bool]:
    report = incident_report(message, None if principal.client_id else client.id, kept)
    key = (f"{message.message_id} {message.content_digest}" if message.message_id
           else None)
    ticket, _, replayed = await open_incident(state, principal, client, report, key,
                                              contact_unconfirmed=unconfirmed)
    return ticket, replayed
