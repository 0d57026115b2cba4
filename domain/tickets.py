"""The ticket contract every process shares: lifecycle, events, comments, the SLA clock's
state and the notices on their way out.

A ticket kind (incident, service request, ...) extends :class:`TicketState` with its own
facts and :class:`TicketView` with what its queries add; the ticket surface (routes, CLI,
search attributes) only ever needs what is declared here.

Everything a client can send is bounded, so no ticket's state, query result or
continue-as-new input can approach Temporal's 2 MB payload limit: comment bodies are
capped, only the latest :data:`COMMENTS_KEPT` are kept whole (older ones as summaries),
and the event log keeps its first entry and the latest :data:`EVENTS_KEPT`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.attachments import Attachment
from domain.ids import TicketKind
from domain.notifications import FailedNotice, OutboxEntry
from domain.sla.clock import Period, SlaClockState
from domain.sla.deadlines import SlaSnapshot
from domain.sla.durations import parse_duration
from domain.sla.policy import Priority
from domain.text import EmailAddress, OneLine, PlainText

COMMENT_MAX_CHARS = 10_000
COMMENTS_KEPT = 10          # whole, newest last
COMMENT_SUMMARIES_KEPT = 200
EVENTS_KEPT = 300
EVENT_DETAIL_CHARS = 500
PAUSES_MAX = 200            # pending/on-hold periods one ticket may have
FAILED_NOTICES_KEPT = 20

class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"      # waiting on the customer: SLA paused
    ON_HOLD = "on_hold"      # SLA paused
    RESOLVED = "resolved"
    CLOSED = "closed"


PAUSED = frozenset({Status.PENDING, Status.ON_HOLD})
WORKED = frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS})
DONE = frozenset({Status.RESOLVED, Status.CLOSED})

# The shared lifecycle; a kind may declare a narrower table.
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.PENDING,
                           Status.ON_HOLD, Status.RESOLVED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.PENDING, Status.ON_HOLD,
                                    Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.PENDING, Status.ON_HOLD, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED}),
    Status.ON_HOLD: frozenset({Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),  # in_progress = reopen
    Status.CLOSED: frozenset({Status.IN_PROGRESS}),                   # reopen, within window
}


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OneLine = Field(min_length=1, max_length=200)
    email: EmailAddress = Field(max_length=320)
    phone: OneLine | None = Field(None, max_length=50)


# ---------------------------------------------------------------- state


class TicketEvent(BaseModel):
    at: datetime
    kind: str
    detail: str = ""
    by: str = "system"
    due: datetime | None = Field(None, description="for timer events: the exact instant the "
                                 "SLA scheduled them for")


class TicketComment(BaseModel):
    at: datetime
    by: str
    body: str
    from_requester: bool = False


class CommentSummary(BaseModel):
    """An older comment: who, when, how long, its start and a digest of the whole body."""

    at: datetime
    by: str
    excerpt: str
    chars: int
    sha256: str
    from_requester: bool = False

    @classmethod
    def of(cls, comment: TicketComment) -> CommentSummary:
        return cls(at=comment.at, by=comment.by, excerpt=comment.body[:200],
                   chars=len(comment.body), from_requester=comment.from_requester,
                   sha256=hashlib.sha256(comment.body.encode()).hexdigest())


class TicketRecord(BaseModel):
    """The fields a ticket's state and its view share."""

    kind: TicketKind
    ticket_id: str
    client_id: str
    subject: str
    status: Status = Status.NEW
    opened_at: datetime
    technical_contact: str = Field(description="who the ticket's notices go to")
    response_due: datetime | None = None
    resolution_due: datetime | None = None
    assignee: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    client_escalations: int = 0
    csat_score: int | None = None
    csat_comment: str | None = None
    survey_expires_at: datetime | None = None
    events: list[TicketEvent] = Field(default_factory=list)
    events_dropped: int = 0
    comments: list[TicketComment] = Field(default_factory=list, description=(
        f"the newest {COMMENTS_KEPT}, whole"))
    older_comments: list[CommentSummary] = Field(default_factory=list)
    comments_total: int = 0
    outbox: list[OutboxEntry] = Field(default_factory=list, description="notices not yet "
                                      "delivered, with attempts and the last error")
    failed_notices: list[FailedNotice] = Field(default_factory=list)
    notices_queued: int = Field(0, description="notices the ticket made (each one's number is "
                                "in its id)")
    notices_sent: int = Field(0, description="notices that reached someone: e-mailed, or "
                              "posted to a webhook")
    notices_unsent: int = Field(0, description="notices whose e-mail did not leave because no "
                                "SMTP server is configured (TEMPODESK_SMTP_HOST); each has a "
                                "notice_unsent event")
    thread_root: str | None = Field(None, description="Message-ID of the first e-mail; "
                                    "later e-mails reply to it so mail clients thread them")
    confirmed_recipients: list[str] = Field(default_factory=list, description="addresses "
                                            "outside the client's known ones an agent confirmed")
    attachments: list[Attachment] = Field(default_factory=list, description="files on the "
                                          "ticket (the bytes are in object storage, sealed)")
    files_released_at: datetime | None = Field(None, description="when the ticket let go of "
                                               "its files at the end of its life")
    contact_unconfirmed: bool = Field(False, description="the technical contact sent mail "
                                      "that failed sender authentication: notices go to them "
                                      "only once an agent confirms the address (recipients)")
    kind_due: datetime | None = Field(None, description="quotes, new users and user exits: "
                                      "the instant that matters next (expiry, start, effective "
                                      "time, auto-close, purge), published as NextDue; see "
                                      "docs/lifecycle.md")

    @model_validator(mode="before")
    @classmethod
    def _notices_numbered_by_sent(cls, data: Any) -> Any:
        """State carried from before ``notices_queued`` (continue-as-new): ``notices_sent``
        numbered the notices then, so numbering goes on from it (ids stay unique)."""
        if isinstance(data, dict) and "notices_sent" in data and "notices_queued" not in data:
            data = {**data, "notices_queued": data["notices_sent"]}
        return data


class TicketState(TicketRecord):
    """What every ticket workflow keeps (and carries across continue-as-new)."""

    clock: SlaClockState

    def add_event(self, event: TicketEvent) -> None:
        if len(event.detail) > EVENT_DETAIL_CHARS:
            event.detail = event.detail[:EVENT_DETAIL_CHARS - 1] + "…"
        self.events.append(event)
        if len(self.events) > EVENTS_KEPT + 1:  # keep "opened" and the newest
            del self.events[1]
            self.events_dropped += 1

    def add_comment(self, comment: TicketComment) -> None:
        self.comments.append(comment)
        self.comments_total += 1
        while len(self.comments) > COMMENTS_KEPT:
            self.older_comments.append(CommentSummary.of(self.comments.pop(0)))
        del self.older_comments[:-COMMENT_SUMMARIES_KEPT]

    def notice_failing(self, after_a_failure: bool = True) -> bool:
        return any(entry.failing(after_a_failure) for entry in self.outbox)

    def view(self) -> TicketView:
        return TicketView.model_validate(self.view_fields())

    def view_fields(self) -> dict:
        """The contract's fields, flat, for a :class:`TicketView` (or a kind's subclass)."""
        c = self.clock
        data = self.model_dump(exclude={"clock"})
        data.update(priority=c.priority, first_response_at=c.first_response_at,
                    breached=c.breached_at is not None, breached_at=c.breached_at,
                    escalation_level=c.escalation_level, pauses=c.pauses,
                    resolved_periods=c.resolved_periods, warnings_sent=c.fired,
                    notice_failing=self.notice_failing())
        return data


class TicketView(TicketRecord):
    """What ``GET /v1/tickets/{id}`` answers for any kind (a kind's view adds fields): the
    record, with the SLA clock's state flattened."""

    priority: Priority
    first_response_at: datetime | None = None
    breached: bool = False
    breached_at: datetime | None = None
    escalation_level: int = 0
    pauses: list[Period] = Field(default_factory=list, description="pending / on hold")
    resolved_periods: list[Period] = Field(default_factory=list)
    warnings_sent: list[str] = Field(default_factory=list)
    notice_failing: bool = False


# ---------------------------------------------------------------- input


class TicketRules(BaseModel):
    """Per-client lifecycle rules, frozen into each ticket when it opens."""

    model_config = ConfigDict(extra="forbid")
    auto_close_after: str = Field("3bd", description="close this long after resolution")
    reopen_window: str = Field("5bd", description="a reply may reopen this long after resolution")
    survey_valid_for: str = Field("14d", description="how long a CSAT link stays valid")
    notice_retry_max: str = Field("5m", description="longest wait between attempts to "
                                  "deliver a notice while its peer is down")
    escalations: list[EmailAddress] = Field(default_factory=list, max_length=10, description=(
        "the service delivery team, told when the client escalates a ticket"))
    reply_ends_pending: bool = Field(True, description=(
        "a requester's reply to a ticket pending on them moves it back to in_progress (the "
        "SLA clock resumes); false: agents move it by hand"))

    @field_validator("auto_close_after", "reopen_window", "survey_valid_for", "notice_retry_max")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class TicketStart(BaseModel):
    """What every ticket workflow starts from: decided at intake, frozen for replay.
    ``state`` carries a running ticket across continue-as-new."""

    ticket_id: str
    client_id: str
    opened_at: datetime
    raised_by: str
    sla: SlaSnapshot
    rules: TicketRules = TicketRules()


# ---------------------------------------------------------------- messages


TRANSITION_REASON_MAX_CHARS = 1000


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Status
    reason: PlainText = Field("", max_length=TRANSITION_REASON_MAX_CHARS)
    preventable: bool | None = Field(None, description="on resolve: could it have been "
                                     "prevented? (P1/P2 incidents then get a post-mortem)")
    by: str = Field("", description="set from the credential; a value sent is replaced")

    @classmethod
    def made(cls, to: Status, by: str, reason: str) -> Transition:
        """A transition a workflow makes itself, its reason composed around what a person
        wrote ("declined: ..."): cut to the limit, where one sent is refused over it. A
        reason at the limit plus a prefix failed the workflow on every attempt."""
        return cls(to=to, by=by, reason=reason[:TRANSITION_REASON_MAX_CHARS])


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: OneLine = Field(min_length=1, max_length=200)
    by: str = ""


RECIPIENTS_CONFIRMED_MAX = 10


class RecipientConfirmation(BaseModel):
    """An agent vouches for an address outside the client's known domains."""

    model_config = ConfigDict(extra="forbid")
    email: EmailAddress = Field(max_length=320)
    by: str = ""


class CsatAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5)
    comment: PlainText = Field("", max_length=5000)


class ClientEscalation(BaseModel):
    """A client's manager says the ticket is not being handled properly."""

    model_config = ConfigDict(extra="forbid")
    reason: PlainText = Field(min_length=10, max_length=2000)
    by: str = ""
    channel: str = Field("api", pattern="^(api|email)$")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: PlainText = Field(min_length=1, max_length=COMMENT_MAX_CHARS)
    by: str = ""
    from_requester: bool = False


# ---------------------------------------------------------------- rules

_GRATITUDE = frozenset("""thanks thank you ty thx cheers much many so very a lot heaps great
    perfect awesome brilliant lovely excellent wonderful fantastic amazing good all sorted works
    working now that this it is its fixed again appreciated appreciate really legend mate guys
    team kind regards best ok okay yes yep again for your help the""".split())
_THANKS = frozenset({"thanks", "thank", "ty", "thx", "cheers", "appreciated", "appreciate"})
_WORD = re.compile(r"[a-z']+")
_SIGN_OFF = re.compile(r"^(sent from|regards|kind regards|best|cheers)\b", re.IGNORECASE)


def is_thanks_only(text: str) -> bool:
    """A reply that only says thanks: it must not reopen a resolved ticket (TechBento).
    Quoted lines ("> ...") and the signature after a sign-off line are ignored."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        if kept and (stripped.startswith(("--", "__")) or _SIGN_OFF.match(stripped)):
            break
        kept.append(stripped.lower())
    words = _WORD.findall(" ".join(kept).replace("\u2019", "'"))
    return bool(words) and bool(_THANKS & set(words)) and all(w in _GRATITUDE for w in words)
