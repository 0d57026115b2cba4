"""Which mail may act: what one inbound message does, decided from the parsed message, the
receiving MTA's verdict on its sender, and what the desk knows. Pure: every rule is
tested without a server (tests/test_mail_rules.py); ``desk/mail.py`` applies it.

The rules (docs/security.md, "Which mail may act"):

* Automatic mail, our own mail and mail without a usable sender do nothing.
* A sender is one of a client's people only if the client owns the address's domain
  (``ClientConfig.owns``); MSP staff are senders at one of ``msp_domains``.
* Only an authenticated sender acts: approves a quote, escalates, comments as staff,
  replies as the requester (a reply may reopen a ticket).
* An unauthenticated client person's message is recorded and does nothing more: on a
  ticket it is a note with the reason (it does not reopen); otherwise it opens a ticket
  whose contact nobody mails until an agent confirms the address (no acknowledgement goes
  to a sender who may be forged: no backscatter). Unauthenticated mail claiming the MSP's
  own domain is ignored (the MSP's mail always authenticates).
* "Approved" on a quote counts only from one of its client's directors, authenticated,
  and sent to that director's own reply address for that quote; any other "Approved" from
  a director is a note with the reason, and that director is sent their link to confirm.
* Escalation: only mail copied to the configured escalations address (a full address at
  the MSP's domain), from an authenticated person of the ticket's client.
* Only the ticket's own people reply as its requester (a reply may reopen it or end its
  pending): its contact, or a director on a quote. Anyone else of the client,
  authenticated, adds a comment naming them; the status does not change.
* Mail follows who may see which ticket: on a kind a requester may not see (joiners,
  leavers, quotes), a client's person is heard only if they are one of its directors or
  the ticket's own contact (a leaver's manager); anyone else is ignored, as if the ticket
  did not exist (a leaver cannot comment on, or escalate, their own exit).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from domain.email_inbound import InboundMessage
from domain.ids import TicketKind
from domain.mail_config import MailConfig
from domain.reply_address import ReplyClaim
from domain.roles import Role
from domain.sender_auth import SenderVerdict
from domain.tenants import ClientConfig
from domain.visibility import Viewer, may_see


class MailAction(StrEnum):
    OPEN = "open"                # a new incident
    REPLY = "reply"              # the requester's comment (may reopen)
    COMMENT = "comment"          # another of the client's people: recorded, status unchanged
    DECIDE = "decide"            # a director's approval of a quote
    ESCALATE = "escalate"        # the ladder climbs a rung
    STAFF_NOTE = "staff_note"    # an MSP staff member's comment
    NOTE = "note"                # recorded on the ticket with the reason; nothing else
    IGNORE = "ignore"


class ThreadFacts(BaseModel):
    """The ticket a message answers, as the desk found it."""

    ticket_id: str
    kind: TicketKind
    client: ClientConfig
    contact: str | None = None  # whom the ticket's notices go to: the ticket's own person


# A sender is a person of the client, of no known role: heard as a requester would be.
_ANYONE = Viewer(Role.REQUESTER)


class MailFacts(BaseModel):
    """Everything the decision reads; nothing here is fetched by the rules themselves."""

    message: InboundMessage
    verdict: SenderVerdict
    thread: ThreadFacts | None = None
    client_for_new: ClientConfig | None = None
    own_address: str = ""
    msp_domains: list[str]
    mail: MailConfig
    reply: ReplyClaim = ReplyClaim()


class MailDecision(BaseModel):
    action: MailAction
    reason: str
    acknowledge: bool = False
    confirm_director: str | None = None
    own_person: bool = False  # the sender is the ticket's own person (its contact)

    @classmethod
    def ignore(cls, reason: str) -> MailDecision:
        return cls(action=MailAction.IGNORE, reason=reason)

    @classmethod
    def note(cls, reason: str, confirm_director: str | None = None) -> MailDecision:
        return cls(action=MailAction.NOTE, reason=reason, confirm_director=confirm_director)


def decide(facts: MailFacts) -> MailDecision:
    message, verdict = facts.message, facts.verdict
    if message.automatic is not None:
        return MailDecision.ignore(f"automatic mail ({message.automatic})")
    if not message.sender or message.sender == facts.own_address:
        return MailDecision.ignore("our own mail, or no usable sender")
    if facts.thread is not None:
        return _on_ticket(facts, facts.thread)
    client = facts.client_for_new
    if client is None:
        return MailDecision.ignore(f"{message.sender} is not one of a client's people "
                                   "(a domain a client owns): forward it to an agent")
    if verdict.authenticated:
        return MailDecision(action=MailAction.OPEN, reason="new ticket", acknowledge=True)
    return MailDecision(action=MailAction.OPEN, reason=(
        f"new ticket; sender not authenticated ({verdict.reason}): nobody is mailed about it "
        "until an agent confirms the address"), acknowledge=False)


def _on_ticket(facts: MailFacts, thread: ThreadFacts) -> MailDecision:
    message, verdict = facts.message, facts.verdict
    sender = message.sender
    unverified = f"sender not authenticated ({verdict.reason})"
    if message.sender_domain() in facts.msp_domains:
        if verdict.authenticated:
            return MailDecision(action=MailAction.STAFF_NOTE, reason="MSP staff's comment")
        return MailDecision.ignore(f"claims the MSP's own domain but {unverified}")
    if not thread.client.owns(sender):
        return MailDecision.ignore(f"{sender} is not one of {thread.client.id}'s people")
    if not (may_see(_ANYONE, thread.kind) or thread.client.is_director(sender)
            or sender == (thread.contact or "").lower()):
        return MailDecision.ignore(f"{sender} is not one of the people of this "
                                   f"{thread.kind.value} (its contact or a director): "
                                   "forward it to an agent")
    if thread.kind is TicketKind.QUOTE and message.says_approved():
        return _approval(facts, thread, unverified)
    own = _own_person(thread, sender)
    if facts.mail.escalations is not None and facts.mail.escalations in message.recipients:
        if verdict.authenticated:
            return MailDecision(action=MailAction.ESCALATE, reason="sent to the escalations "
                                "address by the client's authenticated person",
                                own_person=own)
        return MailDecision.note(f"not escalated: {unverified}")
    if verdict.authenticated and own:
        return MailDecision(action=MailAction.REPLY, reason="added to the ticket",
                            own_person=True)
    if verdict.authenticated:
        return MailDecision(action=MailAction.COMMENT, reason=(
            f"added to the ticket as {sender}'s comment: not the ticket's own contact, so "
            "it does not reopen the ticket or end its pending"))
    return MailDecision.note(f"{unverified}: kept as a note (it does not reopen the "
                             "ticket or end its pending)")


def _own_person(thread: ThreadFacts, sender: str) -> bool:
    """Whether ``sender`` is one of the ticket's own people: the contact it records (the
    requester's technical contact, a leaver's manager, a joiner's HR contact), or, on a
    quote, one of the client's directors it is addressed to. Only their reply is the
    requester's (it may reopen the ticket or end its pending)."""
    if sender == (thread.contact or "").lower():
        return True
    return thread.kind is TicketKind.QUOTE and thread.client.is_director(sender)


def _approval(facts: MailFacts, thread: ThreadFacts, unverified: str) -> MailDecision:
    sender, reply = facts.message.sender, facts.reply
    if not thread.client.is_director(sender):
        return MailDecision.note(f"'Approved' from {sender}, who is not a director of "
                                 f"{thread.client.id}: kept as a note")
    if not facts.verdict.authenticated:
        why = unverified
    elif not reply.valid:
        why = reply.reason
    elif reply.quote_id != thread.ticket_id:
        why = f"the reply address is for {reply.quote_id}, not {thread.ticket_id}"
    else:
        return MailDecision(action=MailAction.DECIDE, reason="a director's 'Approved', "
                            "authenticated, to their own reply address (the quote checks "
                            "it again)")
    return MailDecision.note(f"'Approved' not taken: {why}; the director is sent their "
                             "link to confirm", confirm_director=sender)
