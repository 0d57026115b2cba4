"""Incidents: the intake form, the workflow's input, state and messages."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import FieldError
from domain.sla.deadlines import SlaSnapshot
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


class IncidentStart(BaseModel):
    """Workflow input: everything decided at intake, frozen for replay."""

    ticket_id: str
    client_id: str
    opened_at: datetime
    report: IncidentReport
    priority: PriorityDecision
    raised_by: str
    sla: SlaSnapshot


class TicketEvent(BaseModel):
    at: datetime
    kind: str
    detail: str = ""
    by: str = "system"


class IncidentView(BaseModel):
    """What queries return and the API shows."""

    ticket_id: str
    client_id: str
    status: Status
    priority: Priority
    priority_rule: str
    subject: str
    channel: Channel
    opened_at: datetime
    first_response_at: datetime | None = None
    response_due: datetime | None = None
    resolution_due: datetime | None = None
    breached: bool = False
    escalation_level: int = 0
    assignee: str | None = None
    events: list[TicketEvent] = Field(default_factory=list)


def decide_priority(report: IncidentReport, matrix: PriorityMatrix) -> PriorityDecision:
    if report.severity is not None:
        return priority_from_severity(report.severity)
    assert report.impact is not None and report.urgency is not None  # checked by the model
    return priority_from_matrix(matrix, report.impact, report.urgency)
