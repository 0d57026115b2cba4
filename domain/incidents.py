"""Incidents: the intake form, the workflow's input, state and messages.

The lifecycle, events, comments and SLA clock state are the ticket core's
(:mod:`domain.tickets`); this module adds what only incidents have."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.attachments import UPLOADS_PER_TICKET_MAX, UploadRef
from domain.errors import FieldError
from domain.ids import TICKET_ID_PATTERN, TicketKind
from domain.sla.policy import Priority
from domain.sla.priority import (
    Level,
    PriorityDecision,
    PriorityMatrix,
    SeverityCriteria,
    priority_from_matrix,
    priority_from_severity,
)
from domain.tickets import (
    Contact,
    OneLine,
    Period,
    PlainText,
    TicketRules,
    TicketStart,
    TicketState,
    TicketView,
)


class Channel(StrEnum):
    PORTAL = "portal"
    TASKBAR = "taskbar"
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    API = "api"
    MONITORING = "monitoring"


class IncidentReport(BaseModel):
    """What a requester must tell us (TechBento's request hygiene): a subject, the four
    questions, the technical contact, and either impact + urgency or severity criteria."""

    model_config = ConfigDict(extra="forbid")
    client_id: str | None = Field(None, max_length=32, description="MSP staff: the client "
                                  "the incident is for; a client's credential may omit it")
    subject: OneLine = Field(min_length=3, max_length=200)
    doing: PlainText = Field(min_length=1, max_length=10_000,
                       description="What were you doing or trying to accomplish?")
    expected: PlainText = Field(min_length=1, max_length=10_000,
                          description="What did you expect to happen?")
    actual: PlainText = Field(min_length=1, max_length=10_000,
                        description="What actually happened (error messages included)?")
    tried: PlainText = Field(min_length=1, max_length=10_000,
                       description="What did you do to try to solve it?")
    technical_contact: Contact
    channel: Channel = Channel.PORTAL
    impact: Level | None = None
    urgency: Level | None = None
    severity: SeverityCriteria | None = None
    uploads: list[UploadRef] = Field(default_factory=list, max_length=UPLOADS_PER_TICKET_MAX,
                               description="files uploaded first (POST /v1/attachments): "
                               "their 'upload' references, listed on the new ticket")

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


IncidentRules = TicketRules  # the config's ``incidents:`` block

# What a mailed-in ticket says for the questions mail does not ask (desk/mail.py).
NOT_GIVEN_BY_MAIL = "(not given: raised by e-mail)"


class IncidentIntake(BaseModel):
    """The request as it was made, whole, for the people who work it: the four answers,
    the channel's own words (a mailed-in ticket's body, which is its request: mail answers
    no questions), the technical contact and the priority inputs the requester designated.
    Bounded by the report's limits (10,000 characters a text). The channel is the view's."""

    doing: str | None = None
    expected: str | None = None
    actual: str | None = None
    tried: str | None = None
    original_text: str | None = Field(None, description="the channel's own words: a "
                                      "mailed-in ticket's body (plain text, at most 10,000 "
                                      "characters, its files listed at the end)")
    technical_contact: Contact
    impact: Level | None = None
    urgency: Level | None = None
    severity: SeverityCriteria | None = None

    @classmethod
    def of(cls, report: IncidentReport) -> IncidentIntake:
        mailed_in = report.channel is Channel.EMAIL and report.expected == NOT_GIVEN_BY_MAIL
        answers = ({"original_text": report.doing} if mailed_in else
                   report.model_dump(include={"doing", "expected", "actual", "tried"}))
        return cls(technical_contact=report.technical_contact,
                   impact=report.impact, urgency=report.urgency, severity=report.severity,
                   **answers)


class IncidentStart(TicketStart):
    """Workflow input: the report and the priority decided at intake, besides the ticket
    core's; ``state`` carries a running ticket across continue-as-new."""

    report: IncidentReport
    priority: PriorityDecision
    contact_unconfirmed: bool = Field(False, description="the contact is a mail sender who "
                                      "failed authentication: mailed only once confirmed")
    state: IncidentState | None = None


class IncidentFacts(BaseModel):
    """What only incidents have, in their state and in their view alike."""

    kind: TicketKind = TicketKind.INCIDENT
    priority_rule: str
    channel: Channel
    preventable: bool | None = None
    merged_into: str | None = None
    duplicates: list[str] = Field(default_factory=list)
    on_call_seconds: int = 0
    post_mortem: str | None = None
    work_periods: list[Period] = Field(default_factory=list, description="acknowledged / in "
                                       "progress, for on-call billing")
    request: IncidentIntake | None = Field(None, description="the request as it was made "
                                           "(None only while a ticket from before is loaded)")


class IncidentState(IncidentFacts, TicketState):
    """The incident's whole mutable state: the ticket core's plus its facts. Continue-as-new
    carries it; queries answer :class:`IncidentView`."""

    post_mortem_started: bool = False

    def view(self) -> IncidentView:
        return IncidentView.model_validate(self.view_fields())


class IncidentView(IncidentFacts, TicketView):
    """What queries (and ``GET /v1/tickets/{id}``) answer for an incident."""

    personal_fields: ClassVar[tuple[str, ...]] = ("request.technical_contact.phone",)
    withheld: list[str] = Field(default_factory=list, description="personal fields emptied "
                                "for this reader (only HR and the service desk read them)")


# IncidentStart names IncidentState, defined after it: complete it now, or a process whose first
# use is serialising one (an alert episode starting its incident) fails to.
IncidentStart.model_rebuild()


# ---------------------------------------------------------------- messages

class Reprioritisation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Priority
    reason: PlainText = Field(min_length=3, max_length=1000)
    by: str = ""


class MergeRequest(BaseModel):
    """Merge this ticket (a duplicate) into ``survivor``, the newest report."""

    model_config = ConfigDict(extra="forbid")
    survivor: str = Field(pattern=TICKET_ID_PATTERN, max_length=20, examples=["BEL-000123"])
    by: str = ""


class DuplicateMerged(BaseModel):
    ticket_id: str
    subject: str
    by: str


def decide_priority(report: IncidentReport, matrix: PriorityMatrix) -> PriorityDecision:
    if report.severity is not None:
        return priority_from_severity(report.severity)
    assert report.impact is not None and report.urgency is not None  # checked by the model
    return priority_from_matrix(matrix, report.impact, report.urgency)
