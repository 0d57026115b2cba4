"""Service requests: planned, repeatable, low-risk work (seed 000, seed 003).

* **Basic** - add / change / remove; included in the contract; fulfilled within 5 business
  days on the client's calendar (a target on the ticket's SLA clock).
* **Enhanced** - complex and billable: it needs a quote, then is fulfilled by the schedule
  agreed (an agent sets it once the quote is approved).
* **Advisory** (seed 000's tiers) - a *quick answer* (<= 15 min, free, inside the ticket),
  a *mini-consult* (<= 2 h, quoted, scheduled within 3 business days) or a *scoping
  workshop* (half a day or more, booked during the QBR or separately).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from domain.attachments import UPLOADS_PER_TICKET_MAX, UploadRef
from domain.errors import FieldError
from domain.ids import TicketKind
from domain.sla.clock import ClockTarget
from domain.sla.deadlines import ResolvedTarget
from domain.sla.durations import parse_duration
from domain.sla.timeline import US
from domain.tickets import Contact, OneLine, PlainText, TicketStart, TicketState, TicketView

FULFILMENT = "fulfilment"      # the clock's target: done by this
SCHEDULED = "scheduled"        # a mini-consult is booked within 3 business days
SCHEDULE_AHEAD_MAX = timedelta(days=366)


class RequestType(StrEnum):
    BASIC = "basic"
    ENHANCED = "enhanced"
    ADVISORY = "advisory"


class Change(StrEnum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"


class AdvisoryTier(StrEnum):
    QUICK_ANSWER = "quick_answer"
    MINI_CONSULT = "mini_consult"
    SCOPING_WORKSHOP = "scoping_workshop"


# What each kind of request promises, as targets on the clock: (name, length).
_TARGETS: dict[tuple[RequestType, AdvisoryTier | None], tuple[str, str] | None] = {
    (RequestType.BASIC, None): (FULFILMENT, "5bd"),
    (RequestType.ENHANCED, None): None,                          # the agreed schedule
    (RequestType.ADVISORY, AdvisoryTier.QUICK_ANSWER): (FULFILMENT, "15m"),
    (RequestType.ADVISORY, AdvisoryTier.MINI_CONSULT): (SCHEDULED, "3bd"),
    (RequestType.ADVISORY, AdvisoryTier.SCOPING_WORKSHOP): None,  # booked at the QBR
}


class RequestForm(BaseModel):
    """A service request as a client raises it (portal, API)."""

    model_config = ConfigDict(extra="forbid")
    client_id: str | None = Field(None, max_length=32, description="MSP staff only")
    subject: OneLine = Field(min_length=3, max_length=200)
    description: PlainText = Field("", max_length=5000)
    type: RequestType
    change: Change | None = Field(None, description="basic requests: add, change or remove")
    advisory_tier: AdvisoryTier | None = Field(None, description="advisory requests: "
                                               "quick_answer, mini_consult, scoping_workshop")
    requester: Contact
    uploads: list[UploadRef] = Field(default_factory=list, max_length=UPLOADS_PER_TICKET_MAX,
                                     description="files uploaded first (POST /v1/attachments):"
                                     " their 'upload' references, listed on the new ticket")

    @model_validator(mode="after")
    def _consistent(self) -> RequestForm:
        if self.type is RequestType.BASIC and self.change is None:
            raise FieldError("change", "a basic request adds, changes or removes something",
                             "send 'change': 'add', 'change' or 'remove'")
        if self.type is RequestType.ADVISORY and self.advisory_tier is None:
            raise FieldError("advisory_tier", "an advisory request names its tier",
                             "send 'advisory_tier': 'quick_answer', 'mini_consult' or "
                             "'scoping_workshop'")
        if self.type is not RequestType.ADVISORY and self.advisory_tier is not None:
            raise FieldError("advisory_tier", "only advisory requests have a tier",
                             "remove 'advisory_tier', or send 'type': 'advisory'")
        if self.type is not RequestType.BASIC and self.change is not None:
            raise FieldError("change", "only basic requests name a change",
                             "remove 'change', or send 'type': 'basic'")
        return self

    @property
    def billable(self) -> bool:
        return is_billable(self.type, self.advisory_tier)


def is_billable(request_type: RequestType, tier: AdvisoryTier | None) -> bool:
    """Enhanced requests, mini-consults and workshops are billed; the rest are covered."""
    return request_type is RequestType.ENHANCED or tier in (AdvisoryTier.MINI_CONSULT,
                                                            AdvisoryTier.SCOPING_WORKSHOP)


def promised_target(form: RequestForm, business_day_seconds: int) -> ClockTarget | None:
    """The target the request opens with (None: it waits for an agreed schedule)."""
    promise = _TARGETS[(form.type, form.advisory_tier)]
    if promise is None:
        return None
    name, length = promise
    duration = parse_duration(length)
    micros = round(duration.to_seconds(business_day_seconds) * US)
    return ClockTarget(name=name, length=ResolvedTarget(micros=micros, business=True))


class RequestStart(TicketStart):
    form: RequestForm
    state: RequestState | None = None


class RequestIntake(BaseModel):
    """What the form said that the view shows nowhere else: who asked, whole."""

    requester: Contact

    @classmethod
    def of(cls, form: RequestForm) -> RequestIntake:
        return cls(requester=form.requester)


class RequestFacts(BaseModel):
    kind: TicketKind = TicketKind.SERVICE_REQUEST
    request_type: RequestType
    change: Change | None = None
    advisory_tier: AdvisoryTier | None = None
    description: str = ""
    scheduled_for: datetime | None = Field(None, description="the agreed date (enhanced, "
                                           "mini-consult, workshop)")
    quotes: list[str] = Field(default_factory=list, description="its quotes, newest last")
    request: RequestIntake | None = Field(None, description="the request as it was made "
                                          "(None only while a ticket from before is loaded)")


class RequestState(RequestFacts, TicketState):
    def view(self) -> RequestView:
        return RequestView.model_validate(self.view_fields())


class RequestView(RequestFacts, TicketView):
    """What queries answer for a service request."""

    personal_fields: ClassVar[tuple[str, ...]] = ("request.requester.phone",)
    withheld: list[str] = Field(default_factory=list, description="personal fields emptied "
                                "for this reader (only HR and the service desk read them)")

    @computed_field(description="enhanced requests, mini-consults and workshops are billed")
    @property
    def billable(self) -> bool:
        return is_billable(self.request_type, self.advisory_tier)

    @computed_field(description="when the request is due (its resolution_due: queues sort "
                                "requests beside incidents by it)")
    @property
    def fulfilment_due(self) -> datetime | None:
        return self.resolution_due


class ScheduleAgreed(BaseModel):
    """The date agreed with the client: the request is due then."""

    model_config = ConfigDict(extra="forbid")
    at: datetime
    note: PlainText = Field("", max_length=1000)
    by: str = ""
