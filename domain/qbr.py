"""The quarterly business review's figures: a pure function of the quarter's tickets.

The quarter's tickets are those *opened* in it; every figure is as it stood at the
quarter's end (a ticket resolved after the end counts as open), so a report made late, or
made twice, says the same. CSAT counts the scores given by the time the report is made.

* **SLA compliance per priority** (incidents: the tickets with priority targets) = resolved
  within the resolution target / resolved; priorities without a resolution target (e.g.
  Belton's P4, best effort) show none. The response target's share is given beside it.
* **Breaches**: tickets whose SLA was breached (response or resolution) by the end.
* **Mean time to respond / resolve**: elapsed (wall-clock) time from opening to the first
  response / to resolution, over the incidents that had one by the end.
* **CSAT average** over every ticket scored; **NPS** from the half-year's survey.
* **Top categories**: the tickets' kinds and types (an incident by its priority, a service
  request by its type), most frequent first.
* **Channel answer times**: incidents by intake channel, opening to first response, against
  the client's answer targets (every answer within a time, or the mean under one).
* **Risk register**: the client's, scored likelihood x impact, highest first.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.ids import TicketKind
from domain.nps import NpsSummary
from domain.reviews import AnswerTarget, Period, Risk
from domain.sla.policy import Priority

TOP_CATEGORIES = 6
QBR_TICKETS_MAX = 5000  # tickets one report reads; more are counted but not read


class TicketFacts(BaseModel):
    """What a QBR needs of one ticket (projected from its view)."""

    ticket_id: str
    kind: TicketKind
    priority: Priority
    category: str
    opened_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    csat_score: int | None = None
    channel: str | None = None

    @property
    def sla_applies(self) -> bool:
        return self.kind is TicketKind.INCIDENT

    @classmethod
    def of(cls, view: Any) -> TicketFacts:
        """From a ticket view of any kind (``domain.tickets.TicketView`` or a subclass)."""
        response = _breach(view, "response")
        resolution = _breach(view, "resolution")
        return cls(ticket_id=view.ticket_id, kind=view.kind, priority=view.priority,
                   category=category_of(view), opened_at=view.opened_at,
                   first_response_at=view.first_response_at, resolved_at=view.resolved_at,
                   response_breached_at=response, resolution_breached_at=resolution,
                   csat_score=view.csat_score,
                   channel=getattr(getattr(view, "channel", None), "value", None))


def _breach(view: Any, target: str) -> datetime | None:
    """When ``target`` was breached: its event's due instant; if the event log dropped it,
    the first breach instant (the clock still lists the milestone as fired)."""
    for event in view.events:
        if event.kind == f"sla_breached:{target}":
            return event.due or event.at
    if f"{target}:100" in view.warnings_sent:
        return view.breached_at
    return None


_KIND_NAMES = {TicketKind.INCIDENT: "Incident", TicketKind.SERVICE_REQUEST: "Service request",
               TicketKind.QUOTE: "Quote", TicketKind.ONBOARDING: "Onboarding (new user)",
               TicketKind.OFFBOARDING: "Offboarding (user exit)"}


def category_of(view: Any) -> str:
    """"Incident P2", "Service request: basic (add)", "Advisory: mini consult", ..."""
    kind = view.kind
    if kind is TicketKind.INCIDENT:
        return f"Incident {view.priority.value}"
    if kind is TicketKind.SERVICE_REQUEST:
        request_type = getattr(view, "request_type", None)
        tier = getattr(view, "advisory_tier", None)
        change = getattr(view, "change", None)
        if tier is not None:
            return f"Advisory: {tier.value.replace('_', ' ')}"
        if request_type is not None:
            return f"Service request: {request_type.value}" + (
                f" ({change.value})" if change is not None else "")
    return _KIND_NAMES.get(kind, str(kind))


# ---------------------------------------------------------------- figures


class PriorityFigures(BaseModel):
    priority: Priority
    opened: int
    responded: int
    responded_in_target: int
    response_pct: float | None
    resolved: int
    resolved_in_target: int
    compliance_pct: float | None = Field(description="resolved within target / resolved; "
                                         "None: nothing resolved, or no resolution target")
    has_resolution_target: bool
    breaches: int
    mean_response_s: float | None
    mean_resolution_s: float | None


class CategoryCount(BaseModel):
    category: str
    tickets: int


class ChannelFigures(BaseModel):
    channel: str
    name: str
    opened: int
    answered: int
    mean_answer_s: float | None
    target: str | None = Field(None, description="'within 24h' / 'average 5m'")
    target_s: int | None = None
    answered_within: int | None = Field(None, description="'within' targets: answers in time")
    met: bool | None = Field(None, description="None: no target, or nothing answered")


class RiskRow(BaseModel):
    risk: str
    likelihood: str
    impact: str
    score: int
    mitigation: str
    owner: str


class QbrInputs(BaseModel):
    """Everything the figures are computed from."""

    client_id: str
    client_name: str
    period: Period
    generated_at: datetime
    tickets: list[TicketFacts]
    best_effort: list[Priority] = Field(default_factory=list, description="priorities "
                                        "without a resolution target in the client's SLA")
    tickets_seen: int | None = Field(None, description="tickets found, when more than were "
                                     "read (the report then says so)")
    nps: NpsSummary | None = None
    answer_targets: list[AnswerTarget] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)


class QbrFigures(BaseModel):
    client_id: str
    client_name: str
    quarter: str
    period_start: datetime
    period_end: datetime
    zone: str
    generated_at: datetime
    tickets: int
    tickets_seen: int
    incidents: int
    open_at_end: int
    breaches: int
    compliance_pct: float | None
    mean_response_s: float | None
    mean_resolution_s: float | None
    csat_average: float | None
    csat_responses: int
    nps: NpsSummary | None
    priorities: list[PriorityFigures]
    categories: list[CategoryCount]
    channels: list[ChannelFigures]
    risks: list[RiskRow]


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _by(at: datetime | None, end: datetime) -> bool:
    return at is not None and at < end


def qbr_figures(inputs: QbrInputs) -> QbrFigures:
    end = inputs.period.end
    tickets = [t for t in inputs.tickets
               if inputs.period.start <= t.opened_at < end]
    incidents = [t for t in tickets if t.sla_applies]
    best_effort = set(inputs.best_effort)
    priorities = [_priority(p, [t for t in incidents if t.priority is p], end,
                            p not in best_effort) for p in Priority]
    resolved = [t for t in incidents
                if _by(t.resolved_at, end) and t.priority not in best_effort]
    in_target = [t for t in resolved if not _by(t.resolution_breached_at, end)]
    scores = [t.csat_score for t in tickets if t.csat_score is not None]
    counts = Counter(t.category for t in tickets)
    categories = [CategoryCount(category=c, tickets=n)
                  for c, n in sorted(counts.items(), key=lambda cn: (-cn[1], cn[0]))]
    return QbrFigures(
        client_id=inputs.client_id, client_name=inputs.client_name,
        quarter=inputs.period.label, period_start=inputs.period.start, period_end=end,
        zone=inputs.period.zone, generated_at=inputs.generated_at,
        tickets=len(tickets), tickets_seen=max(inputs.tickets_seen or 0, len(inputs.tickets)),
        incidents=len(incidents),
        open_at_end=sum(1 for t in tickets if not _by(t.resolved_at, end)),
        breaches=sum(p.breaches for p in priorities),
        compliance_pct=_pct(len(in_target), len(resolved)),
        mean_response_s=_mean([(t.first_response_at - t.opened_at).total_seconds()
                               for t in incidents if _by(t.first_response_at, end)]),
        mean_resolution_s=_mean([(t.resolved_at - t.opened_at).total_seconds()
                                 for t in incidents if _by(t.resolved_at, end)]),
        csat_average=round(sum(scores) / len(scores), 2) if scores else None,
        csat_responses=len(scores), nps=inputs.nps, priorities=priorities,
        categories=categories[:TOP_CATEGORIES],
        channels=_channels(incidents, inputs.answer_targets, end),
        risks=[RiskRow(risk=r.risk, likelihood=r.likelihood.label, impact=r.impact.label,
                       score=r.score, mitigation=r.mitigation, owner=r.owner)
               for r in sorted(inputs.risks, key=lambda r: -r.score)],
    )


def _priority(priority: Priority, tickets: list[TicketFacts], end: datetime,
              targeted: bool) -> PriorityFigures:
    responded = [t for t in tickets if _by(t.first_response_at, end)]
    responded_ok = [t for t in responded if not _by(t.response_breached_at, end)]
    resolved = [t for t in tickets if _by(t.resolved_at, end)]
    measured = resolved if targeted else []
    resolved_ok = [t for t in measured if not _by(t.resolution_breached_at, end)]
    breaches = sum(1 for t in tickets if _by(t.response_breached_at, end)
                   or _by(t.resolution_breached_at, end))
    return PriorityFigures(
        priority=priority, opened=len(tickets), responded=len(responded),
        responded_in_target=len(responded_ok), response_pct=_pct(len(responded_ok),
                                                                 len(responded)),
        resolved=len(resolved), resolved_in_target=len(resolved_ok),
        compliance_pct=_pct(len(resolved_ok), len(measured)),
        has_resolution_target=targeted, breaches=breaches,
        mean_response_s=_mean([(t.first_response_at - t.opened_at).total_seconds()
                               for t in responded]),
        mean_resolution_s=_mean([(t.resolved_at - t.opened_at).total_seconds()
                                 for t in resolved]),
    )


def _channels(incidents: list[TicketFacts], targets: list[AnswerTarget], end: datetime,
              ) -> list[ChannelFigures]:
    by_channel = {t.channel: t for t in targets}
    seen = sorted({t.channel for t in incidents if t.channel} - set(by_channel))
    rows = []
    for channel in [*(t.channel.value for t in targets), *seen]:
        tickets = [t for t in incidents if t.channel == channel]
        waits = [(t.first_response_at - t.opened_at).total_seconds()
                 for t in tickets if _by(t.first_response_at, end)]
        target = by_channel.get(channel)
        mean = _mean(waits)
        row = ChannelFigures(channel=channel, opened=len(tickets), answered=len(waits),
                             mean_answer_s=mean,
                             name=target.name if target else channel.capitalize())
        if target is not None:
            limit = target.seconds
            row.target_s = limit
            if target.within is not None:
                row.target = f"within {target.within}"
                row.answered_within = sum(1 for w in waits if w <= limit)
                unanswered_late = sum(1 for t in tickets if not _by(t.first_response_at, end)
                                      and (end - t.opened_at).total_seconds() > limit)
                row.met = (row.answered_within == len(waits) and not unanswered_late
                           ) if tickets else None
            else:
                row.target = f"average {target.average}"
                row.met = None if mean is None else mean <= limit
        rows.append(row)
    return rows


def duration_text(seconds: float | None) -> str:
    """"2 h 05 min", "4 min 30 s", "3 d 2 h", or "-"."""
    if seconds is None:
        return "-"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min" + (f" {secs:02d} s" if secs else "")
    return f"{secs} s"


def pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}%"


# ---------------------------------------------------------------- workflow messages


class QbrStart(BaseModel):
    """One client's report for one quarter: decided when the schedule fired."""

    client_id: str
    client_name: str
    period: Period
    generated_at: datetime
    keep_until: datetime = Field(description="served at its URL until then")
    recipients: list[str] = Field(max_length=20, description="the account manager")
    url: str = Field(description="where the report is served (put in the e-mail)")
    best_effort: list[Priority] = Field(default_factory=list)
    answer_targets: list[AnswerTarget] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)
    nps_workflow_ids: list[str] = Field(default_factory=list, max_length=2, description=(
        "surveys to take the NPS from, the first sent before the quarter's end"))


class QbrMail(BaseModel):
    mail_id: str = Field(description="stable across retries: becomes the Message-ID")
    recipients: list[str]
    url: str
    figures: QbrFigures


class QbrReport(BaseModel):
    """The report as the workflow keeps it (its query and its result): the figures, from
    which the HTML and the PDF are drawn again on demand, the same bytes each time."""

    client_id: str
    quarter: str
    status: str = Field("compiling", description="compiling, interim (a quarter not yet "
                        "over: its figures so far), ready")
    figures: QbrFigures | None = None
    emailed: list[str] = Field(default_factory=list)
    message_id: str | None = None
    email_problem: str | None = None
