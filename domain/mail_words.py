"""What a notice's e-mail says, decided here and rendered by the notification activity's
templates (activities/templates): pure, so every kind's wording is tested without a server.

* Instants in the client's zone with the abbreviation ("Mon 7 Dec 2026, 5:30 pm AEDT"),
  never an ISO timestamp (:mod:`domain.words`).
* Only the facts that apply to the notice's kind and event: no "Response due: None" and
  no "Escalation level" in a quote's mail.
* Every mail ends with the MSP's name and contact line, the link to the ticket and the
  MSP's terms (:func:`footer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.documents.quote import money_text, quantity_text
from domain.msp import MspConfig, document_lines
from domain.notifications import Notice
from domain.words import day_text, local_time_text, parse_instant, time_for_reader


@dataclass(frozen=True)
class Letterhead:
    """Whom a notice's mail is from and for: the MSP, the client (its name and calendar
    zone), the ticket's link, and the reader's own zone where the desk knows it."""

    msp: MspConfig
    client_name: str
    zone: str
    ticket_url: str
    reader_zone: str | None = None


# The facts a notice of each kind shows (by context key), in this order.
FACTS_BY_KIND: dict[str, tuple[str, ...]] = {
    "incident": ("priority", "status", "response_due", "resolution_due"),
    "service_request": ("priority", "status", "resolution_due"),
    "quote": (),  # a quote's facts are its document's: see quote_facts
    "onboarding": ("status", "resolution_due"),
    "offboarding": ("status", "resolution_due"),
    "postmortem": ("due_at",),
}
RESOLUTION_LABELS = {"incident": "Resolution due", "service_request": "Due by",
                     "onboarding": "Ready by", "offboarding": "Due by"}
# Events about the escalation ladder: only they show the level reached.
ESCALATION_EVENTS = frozenset({"sla_breached", "escalated", "client_escalation"})
STATUS_WORDS = {"new": "New", "acknowledged": "Acknowledged", "in_progress": "In progress",
                "pending": "Waiting for you", "on_hold": "On hold", "resolved": "Resolved",
                "closed": "Closed"}


def notice_kind(notice: Notice) -> str:
    """The kind of ticket a notice is about, from its id (``incident:BEL-000001:3:...``:
    workflow ids are business keys, the kind first)."""
    return notice.notice_id.partition(":")[0]


def when(value: object, head: Letterhead) -> str | None:
    """An instant from a notice's context as the reader reads it; None when unset."""
    if isinstance(value, datetime):
        return time_for_reader(value, head.zone, head.reader_zone)
    if isinstance(value, str) and (at := parse_instant(value)) is not None:
        return time_for_reader(at, head.zone, head.reader_zone)
    return None


def notice_facts(notice: Notice, head: Letterhead) -> list[tuple[str, str]]:
    """The "label: value" lines of a notice: what applies to its kind and event, each set."""
    kind = notice_kind(notice)
    context = notice.context
    facts: list[tuple[str, str]] = []
    for key in FACTS_BY_KIND.get(kind, ("status",)):
        value = context.get(key)
        if value in (None, ""):
            continue
        if key == "priority":
            facts.append(("Priority", str(value)))
        elif key == "status":
            facts.append(("Status", STATUS_WORDS.get(str(value), str(value))))
        elif key == "response_due":
            if context.get("status") == "new" and (text := when(value, head)):
                facts.append(("First response due", text))  # not once responded
        elif key == "resolution_due":
            if context.get("status") not in ("resolved", "closed") and (
                    text := when(value, head)):
                facts.append((RESOLUTION_LABELS.get(kind, "Due by"), text))
        elif (text := when(value, head)) is not None:
            facts.append(("Due", text))
    level = context.get("escalation_level")
    if notice.event in ESCALATION_EVENTS and isinstance(level, int) and level > 0:
        facts.append(("Escalation level", str(level)))
    if notice.event == "provider_step_failed":
        facts += [("Waiting for an agent", line)
                  for line in str(notice.context.get("waiting_steps") or "").splitlines()]
    if notice.event == "quote_decided":
        facts += decision_lines(notice, head)
    if notice.document is not None:
        facts += quote_facts(notice)
    if notice.event == "order_failed" and notice.document is not None:
        facts += order_lines(notice)
    if notice.invite is not None:  # the .ics says it to calendars; the text to people
        facts += [("When", time_for_reader(notice.invite.starts_at, head.zone,
                                           head.reader_zone)),
                  ("Length", f"{notice.invite.minutes} minutes")]
    return facts


def validity_words(valid_until: datetime, zone: str) -> str:
    """When a quote stops being valid: "the end of Mon 21 Dec 2026 (AEDT)" when it ends at a
    local midnight (as quotes do), else the local time."""
    local = valid_until.astimezone(ZoneInfo(zone))
    if local.time() == time():
        last = local - timedelta(seconds=1)
        return f"the end of {day_text(last.date())} ({last.tzname()})"
    return local_time_text(valid_until, zone)


def quote_facts(notice: Notice) -> list[tuple[str, str]]:
    """A quote mail's facts, from the document it carries (an approved quote's order is
    past its validity: no "Valid until" there)."""
    doc = notice.document
    assert doc is not None
    facts = [("Quote", doc.draft.title),
             ("Total (incl. tax)", money_text(doc.totals.total, doc.draft.currency))]
    if notice.event != "order_failed":
        facts.append(("Valid until", validity_words(doc.valid_until, doc.zone)))
    return facts


# A quote's decision, as its resolution notice says it (domain.quotes.decision_facts).
DECISION_LABELS = (("decision", "Decision"), ("decided_by", "Decided by"),
                   ("decided_at", "Decided on"), ("decided_via", "By way of"),
                   ("decision_reason", "Reason"))


def decision_lines(notice: Notice, head: Letterhead) -> list[tuple[str, str]]:
    """What was decided on a quote, by whom, when (in the reader's zone) and how."""
    facts = []
    for key, label in DECISION_LABELS:
        value = notice.context.get(key)
        if value in (None, ""):
            continue
        text = when(value, head) if key == "decided_at" else str(value)
        if text:
            facts.append((label, text))
    return facts


def order_lines(notice: Notice) -> list[tuple[str, str]]:
    """What to order by hand: each of the quote's lines, quantity and price."""
    doc = notice.document
    assert doc is not None
    currency = doc.draft.currency
    return [(f"Order line {n}", f"{quantity_text(line.quantity)} x {line.description} at "
             f"{money_text(line.unit_price, currency)} each "
             f"({money_text(line.amount, currency)} before tax)")
            for n, line in enumerate(doc.draft.lines, start=1)]


def dues(notice: Notice, head: Letterhead) -> dict[str, str]:
    """The notice's instants that apply to its kind, as read, for templates that write them
    in a sentence ("We will respond by ...")."""
    out = {}
    shown = FACTS_BY_KIND.get(notice_kind(notice), ())
    for key in ("response_due", "resolution_due", "due_at"):
        text = when(notice.context.get(key), head) if key in shown else None
        if text is not None:
            out[key.removesuffix("_due").removesuffix("_at") or key] = text
    return out


def footer(head: Letterhead) -> str:
    """The end of every mail: who sent it, the ticket's link, how to answer, the terms."""
    contact = document_lines(head.msp).contact
    lines = ["-- ", head.msp.name, *([contact] if contact else []),
             f"Your ticket: {head.ticket_url}",
             "Reply to this e-mail to add to the ticket; keep the subject line."]
    terms = head.msp.terms_text()
    if terms:
        lines += ["", terms]
    return "\n".join(lines)


def mail_words(notice: Notice, head: Letterhead) -> dict[str, object]:
    """Everything a notice's template may write, already worded for people."""
    kind = notice_kind(notice)
    return {
        "subject": notice.subject, "ticket_id": notice.ticket_id, "kind": kind,
        "ticket_url": head.ticket_url, "client_name": head.client_name, "msp": head.msp,
        "facts": notice_facts(notice, head), "due": dues(notice, head),
        "resolution_label": RESOLUTION_LABELS.get(kind, "Due by"),
        "priority": notice.context.get("priority")
        if kind in ("incident", "service_request") else None,
        "context": notice.context, "footer": footer(head),
    }


def signature(msp: MspConfig) -> str:
    """The end of a mail that is about no ticket (surveys, reports): who sent it, the
    terms."""
    contact = document_lines(msp).contact
    lines = ["-- ", msp.name, *([contact] if contact else [])]
    terms = msp.terms_text()
    return "\n".join(lines + (["", terms] if terms else []))


def nps_invite_text(contact_name: str, client_name: str, url: str, closes_at: datetime,
                    zone: str, msp: MspConfig) -> str:
    """The NPS survey mail to one contact: the signed link (theirs alone) and until when it
    works, in the client's zone."""
    return (f"Dear {contact_name},\n\n"
            f"How likely are you to recommend {msp.name} to a colleague of {client_name}? "
            "One answer, a score from 0 (not at all likely) to 10 (extremely likely), and a "
            "comment if you like:\n\n"
            f"{url}\n\n"
            f"The link opens a one-question page; it works until "
            f"{local_time_text(closes_at, zone)} and only for you.\n"
            f"{signature(msp)}\n")


def qbr_mail_text(client_name: str, quarter: str, url: str, msp: MspConfig) -> str:
    """The plain-text part of the QBR mail (the report itself is its HTML part and PDF)."""
    return (f"The quarterly business review of {client_name} for {quarter} from {msp.name} "
            f"is attached (PDF) and kept at {url} (sign in with your API key).\n"
            f"{signature(msp)}\n")
