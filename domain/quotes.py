"""Quotes that only a director of the client may approve (seed 000 "Quotes & Approvals",
seed 003): line items, tax and totals in exact decimal money, validity to the end of day
14 in the client's zone, reminders on days 7 and 13, finance (rental / OPEX) options over
AU$10,000, and the decisions with who, when, from where and the SHA-256 of the exact PDF.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import TicketKind
from domain.quote_lines import LineItem, QuoteDocument, Totals
from domain.refusals import Refusal
from domain.tickets import PlainText, TicketStart, TicketState, TicketView


class QuoteState(StrEnum):
    SENT = "sent"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class Channel(StrEnum):
    API = "api"
    LINK = "link"       # the signed approval page
    EMAIL = "email"     # a director's reply "Approved"


DECISION_REASON_MAX_CHARS = 1000


class Decision(BaseModel):
    """A director's decision, as it reaches the quote (update or signal)."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: PlainText = Field("", max_length=DECISION_REASON_MAX_CHARS)
    by: str = Field("", description="set from the credential or the signed link")
    director_email: str = ""
    channel: Channel = Channel.API
    ip: str = Field("", max_length=64)


class ConfirmByLink(BaseModel):
    """An "Approved" by mail that could not count (docs/security.md): that director is
    sent their own link to confirm."""

    model_config = ConfigDict(extra="forbid")
    director_email: str
    reason: str = Field("", max_length=500)
    by: str = ""


class DecisionRecord(BaseModel):
    approve: bool
    reason: str
    by: str
    director_email: str
    channel: Channel
    ip: str
    at: datetime
    pdf_sha256: str = Field(description="the exact document decided on")


_CHANNEL_WORDS = {"api": "the API", "email": "e-mail", "link": "the approval page"}


def decision_facts(record: DecisionRecord | None, by: str, at: datetime, reason: str,
                   ) -> dict[str, str]:
    """What a quote's resolution notice says instead of "reply if it is not fixed": what
    was decided, by whom, when (an instant: worded in the reader's zone by the mail) and
    how; a quote resolved without a director's decision says who resolved it and why."""
    if record is None:
        facts = {"decision": "Resolved without a director's decision", "decided_by": by,
                 "decided_at": at.isoformat(), "decision_reason": reason}
    else:
        facts = {"decision": "Approved" if record.approve else "Declined",
                 "decided_by": record.director_email or record.by,
                 "decided_at": record.at.isoformat(),
                 "decided_via": _CHANNEL_WORDS.get(record.channel.value, record.channel.value),
                 "decision_reason": record.reason}
    return {key: value for key, value in facts.items() if value}


class Order(BaseModel):
    """What the procurement system answered for the approved quote."""

    order_id: str
    eta: date
    install_on: date
    install_at: datetime = Field(description="the install day's end in the client's zone: "
                                 "when the request is due")


class OrderRequest(BaseModel):
    """What the procurement hook is sent for an approved quote (idempotent by quote id)."""

    quote_id: str
    client_id: str
    request_id: str | None = None
    title: str
    currency: str
    lines: list[LineItem]
    total: str
    install_days: int
    zone: str = Field(description="the client's time zone (install dates are local)")


class QuoteNews(BaseModel):
    """What a service request hears of its quote."""

    quote_id: str
    quote_state: QuoteState
    detail: str = ""
    install_at: datetime | None = None


class QuoteStart(TicketStart):
    document: QuoteDocument
    pdf_sha256: str
    directors: list[str] = Field(description="e-mail addresses of the client's directors")
    requester: str = Field(description="who hears of the order's ETA and install")
    zone: str
    reminders: list[datetime] | None = Field(None, description="the reminder instants, "
                                             "worked out at intake (time zones stay outside "
                                             "workflows); None for quotes issued before")
    state: QuoteRecordState | None = None


class QuoteIntake(BaseModel):
    """What the agent's draft said that the view shows nowhere else, and whom it went to."""

    notes: str = ""
    install_days: int
    supersedes: str | None = None
    directors: list[str] = Field(description="the directors it was sent to for a decision")

    @classmethod
    def of(cls, start: QuoteStart) -> QuoteIntake:
        draft = start.document.draft
        return cls(notes=draft.notes, install_days=draft.install_days,
                   supersedes=draft.supersedes, directors=start.directors)


class QuoteFacts(BaseModel):
    kind: TicketKind = TicketKind.QUOTE
    title: str
    request_id: str | None = None
    currency: str
    lines: list[LineItem]
    totals: Totals
    quote_state: QuoteState = QuoteState.SENT
    valid_until: datetime
    reminders_sent: list[datetime] = Field(default_factory=list)
    pdf_sha256: str
    decision: DecisionRecord | None = None
    refused_decisions: int = Field(0, description="decisions refused inside the workflow "
                                   "(e-mail replies from non-directors, after expiry, ...)")
    superseded_by: str | None = None
    confirmations_asked: list[str] = Field(default_factory=list, description="directors "
                                           "whose 'Approved' by mail could not count and who "
                                           "were sent their link to confirm (once each)")
    order: Order | None = None
    order_failed: str | None = None
    request: QuoteIntake | None = Field(None, description="the draft as it was made (None "
                                        "only while a quote from before is loaded)")


class QuoteRecordState(QuoteFacts, TicketState):
    def view(self) -> QuoteView:
        return QuoteView.model_validate(self.view_fields())


class QuoteView(QuoteFacts, TicketView):
    """What queries answer for a quote."""


class Supersede(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by_quote: str
    by: str = ""


def decision_refusal(state: QuoteFacts, decision: Decision, directors: list[str],
                     now: datetime) -> str | None:
    """Why ``decision`` may not take effect (None: it may). One rule for the update's
    validator and the e-mail signal."""
    refused = typed_decision_refusal(state, decision, directors, now)
    return None if refused is None else refused[1]


def typed_decision_refusal(state: QuoteFacts, decision: Decision, directors: list[str],
                           now: datetime) -> tuple[Refusal, str] | None:
    """``decision_refusal`` with the refusal's type (which the doors map to a status)."""
    if decision.director_email.lower() not in {d.lower() for d in directors}:
        return Refusal.NOT_ALLOWED, "only a director of the client may decide on a quote"
    if state.quote_state is QuoteState.SUPERSEDED:
        return (Refusal.INVALID_TRANSITION,
                f"this quote was revised: decide on {state.superseded_by} instead")
    if state.quote_state is QuoteState.EXPIRED or now >= state.valid_until:
        return (Refusal.EXPIRED,
                f"this quote expired at {state.valid_until.isoformat()}: ask for a new one")
    if state.decision is not None and state.decision.approve != decision.approve:
        done = "approved" if state.decision.approve else "declined"
        return Refusal.ALREADY_DONE, f"this quote was {done} already by {state.decision.by}"
    if not decision.approve and not decision.reason.strip():
        return Refusal.INVALID, "say why the quote is declined in 'reason'"
    return None
