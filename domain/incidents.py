"""Incidents: the intake form, the workflow's input, state and messages."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import FieldError
from domain.sla.deadlines import SlaSnapshot
from domain.sla.durations import parse_duration
from domain.sla.policy import Priority
from domain.sla.priority import (
    Level,
    PriorityDecision,
    PriorityMatrix,
    SeverityCriteria,
    priority_from_matrix,
    priority_from_severity,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Channel(StrEnum):
    PORTAL = "portal"
    TASKBAR = "taskbar"
    EMAIL = "email"
    PHONE = "phone"
    API = "api"
    MONITORING = "monitoring"


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"      # waiting on the customer: SLA paused
    ON_HOLD = "on_hold"      # SLA paused
    RESOLVED = "resolved"
    CLOSED = "closed"


PAUSED = frozenset({Status.PENDING, Status.ON_HOLD})


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320)
    phone: str | None = Field(None, max_length=50)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address: write it as name@example.com")
        return value.lower()


class IncidentReport(BaseModel):
    """What a requester must tell us (TechBento's request hygiene): a subject, the four
    questions, the technical contact, and either impact + urgency or severity criteria."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=3, max_length=200)
    doing: str = Field(min_length=1, max_length=10_000,
                       description="What were you doing or trying to accomplish?")
    expected: str = Field(min_length=1, max_length=10_000,
                          description="What did you expect to happen?")
    actual: str = Field(min_length=1, max_length=10_000,
                        description="What actually happened (error messages included)?")
    tried: str = Field(min_length=1, max_length=10_000,
                       description="What did you do to try to solve it?")
    technical_contact: Contact
    channel: Channel = Channel.PORTAL
    impact: Level | None = None
    urgency: Level | None = None
    severity: SeverityCriteria | None = None

    @model_validator(mode="after")
    def _one_way_to_prioritise(self) -> IncidentReport:
        matrix = self.impact is not None or self.urgency is not None
        if matrix and self.severity is not None:
            raise FieldError("severity", "give impact and urgency, or severity, not both",
                             "remove 'severity' or remove 'impact' and 'urgency'")
        if self.impact is not None and self.urgency is None:
            raise FieldError("urgency", "impact was given without urgency",
                             "add 'urgency': high, medium or low")
        if self.urgency is not None and self.impact is None:
            raise FieldError("impact", "urgency was given without impact",
                             "add 'impact': high, medium or low")
        if not matrix and self.severity is None:
            raise FieldError("impact", "the incident has no priority inputs",
                             "add 'impact' and 'urgency' (high/medium/low) or 'severity'")
        if self.severity is not None and not self.severity.levels():
            raise FieldError("severity", "severity has no criteria",
                             "give users_affected_pct, work_stoppage, workaround or business_risk")
        return self


class IncidentRules(BaseModel):
    """Per-client incident rules, frozen into each ticket when it opens."""

    model_config = ConfigDict(extra="forbid")
    auto_close_after: str = Field("3bd", description="close this long after resolution")
    reopen_window: str = Field("5bd", description="a reply may reopen this long after resolution")
    survey_valid_for: str = Field("14d", description="how long a CSAT link stays valid")

    @field_validator("auto_close_after", "reopen_window", "survey_valid_for")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class IncidentStart(BaseModel):
    """Workflow input: everything decided at intake, frozen for replay. ``state`` carries a
    running ticket across continue-as-new."""

    ticket_id: str
    client_id: str
    opened_at: datetime
    report: IncidentReport
    priority: PriorityDecision
    raised_by: str
    sla: SlaSnapshot
    rules: IncidentRules = IncidentRules()
    state: IncidentView | None = None


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


Period = tuple[datetime, datetime | None]


class IncidentView(BaseModel):
    """The ticket's whole state: what queries return, and what continue-as-new carries."""

    ticket_id: str
    client_id: str
    status: Status
    priority: Priority
    priority_rule: str
    subject: str
    channel: Channel
    technical_contact: str
    opened_at: datetime
    first_response_at: datetime | None = None
    response_due: datetime | None = None
    resolution_due: datetime | None = None
    breached: bool = False
    breached_at: datetime | None = None
    escalation_level: int = 0
    assignee: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    preventable: bool | None = None
    reopen_count: int = 0
    merged_into: str | None = None
    duplicates: list[str] = Field(default_factory=list)
    on_call_seconds: int = 0
    post_mortem: str | None = None
    csat_score: int | None = None
    csat_comment: str | None = None
    survey_expires_at: datetime | None = None
    pauses: list[Period] = Field(default_factory=list, description="pending / on hold")
    resolved_periods: list[Period] = Field(default_factory=list)
    work_periods: list[Period] = Field(default_factory=list, description="acknowledged / in "
                                       "progress, for on-call billing")
    warnings_sent: list[str] = Field(default_factory=list)
    comments: list[TicketComment] = Field(default_factory=list)
    events: list[TicketEvent] = Field(default_factory=list)
    notices_sent: int = 0
    thread_root: str | None = Field(None, description="Message-ID of the first e-mail; "
                                    "later e-mails reply to it so mail clients thread them")


# ---------------------------------------------------------------- messages

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


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Status
    reason: str = Field("", max_length=2000)
    preventable: bool | None = Field(None, description="on resolve: could it have been "
                                     "prevented? (P1/P2 then get a post-mortem)")
    by: str = Field("", description="set from the credential; a value sent is replaced")


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(min_length=1, max_length=200)
    by: str = ""


class Reprioritisation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Priority
    reason: str = Field(min_length=3, max_length=2000)
    by: str = ""


class MergeRequest(BaseModel):
    """Merge this ticket (a duplicate) into ``survivor``, the newest report."""

    model_config = ConfigDict(extra="forbid")
    survivor: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,7}-\d{6,}$")
    by: str = ""


class DuplicateMerged(BaseModel):
    ticket_id: str
    subject: str
    by: str


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=20_000)
    by: str = ""
    from_requester: bool = False


class CsatAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=5000)


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


def decide_priority(report: IncidentReport, matrix: PriorityMatrix) -> PriorityDecision:
    if report.severity is not None:
        return priority_from_severity(report.severity)
    assert report.impact is not None and report.urgency is not None  # checked by the model
    return priority_from_matrix(matrix, report.impact, report.urgency)
