"""Monitoring alerts: the Alertmanager webhook (version 4) and PagerDuty-style Events v2,
the per-client rules that turn them into incidents, and the messages of the alert
episode workflow (workflows/alert_episode.py).

An *episode* is one firing of one alert of one client: Alertmanager's fingerprint and
``startsAt``, or an event's ``dedup_key``. Every message about an alert goes to the one
workflow named by the client and the alert's key (:func:`domain.ids.alert_workflow_id`),
which opens at most one incident per episode and reopens it when the alert flaps.

Payloads come from other people's software: unknown fields are ignored (a newer
Alertmanager must not be refused), sizes and counts are bounded (422 naming the field),
and text is made printable rather than refused (an alert is never dropped for a stray
control character).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from domain.errors import FieldError
from domain.incidents import Channel, IncidentReport, IncidentStart
from domain.sla.durations import parse_duration
from domain.sla.policy import Priority
from domain.sla.priority import Level, PriorityDecision, PriorityMatrix
from domain.text import CONTROL
from domain.tickets import Contact

ALERTS_MAX = 100            # per webhook: Alertmanager's `max_alerts: 100` keeps under it
NEW_INCIDENTS_PER_MINUTE = 20   # per integration key, unless the client's alerts: say more
LABELS_MAX = 64
LABEL_NAME_MAX = 128
LABEL_VALUE_MAX = 1024
ANNOTATIONS_MAX = 32
ANNOTATION_VALUE_MAX = 4096
URL_MAX = 2048
ALERT_KEY_MAX = 255         # a fingerprint or a dedup_key
CUSTOM_DETAILS_MAX = 8192   # Events v2 custom_details, as JSON
FLAP_WINDOW_MAX = 7 * 86_400

LabelName = Annotated[str, StringConstraints(min_length=1, max_length=LABEL_NAME_MAX)]
LabelValue = Annotated[str, StringConstraints(max_length=LABEL_VALUE_MAX)]
AnnotationValue = Annotated[str, StringConstraints(max_length=ANNOTATION_VALUE_MAX)]
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=LABELS_MAX)]
Annotations = Annotated[dict[LabelName, AnnotationValue], Field(max_length=ANNOTATIONS_MAX)]
Url = Annotated[str, StringConstraints(max_length=URL_MAX)]


class AlertSource(StrEnum):
    ALERTMANAGER = "alertmanager"
    EVENTS = "events"


# ---------------------------------------------------------------- per-client rules

DEFAULT_SEVERITY_PRIORITY: dict[str, Priority] = {
    "critical": Priority.P1, "page": Priority.P1,
    "high": Priority.P2, "error": Priority.P2, "major": Priority.P2,
    "warning": Priority.P3, "minor": Priority.P3,
    "low": Priority.P4, "info": Priority.P4,
}


class AlertRules(BaseModel):
    """A client's ``alerts:`` block. ``severity_priority`` entries override the defaults
    (critical P1, error/high P2, warning P3, info P4); an alert whose severity is missing
    or unlisted gets ``default_priority``."""

    model_config = ConfigDict(extra="forbid")
    severity_label: str = Field("severity", min_length=1, max_length=LABEL_NAME_MAX,
                                description="the Alertmanager label holding the severity")
    severity_priority: dict[str, Priority] = Field(default_factory=dict, max_length=50,
                                                   description="severity -> P1..P4")
    default_priority: Priority = Priority.P3
    flap_window: str = Field("30m", description="an alert that fires again this long "
                             "(24x7) after it resolved reopens the same incident")
    contact: Contact | None = Field(None, description="the technical contact of alert "
                                    "incidents; default: the client's first desk mailbox")
    new_incidents_per_minute: int = Field(
        NEW_INCIDENTS_PER_MINUTE, ge=1, le=10_000,
        description="new incidents one integration key may open a minute (a burst of this "
                    "many, then one every 60/n s); alerts about open episodes are always "
                    "taken. Beyond it: 429 with Retry-After for the alerts that would open one")

    @field_validator("severity_priority")
    @classmethod
    def _lower(cls, value: dict[str, Priority]) -> dict[str, Priority]:
        return {k.strip().lower(): v for k, v in value.items()}

    @field_validator("flap_window")
    @classmethod
    def _window(cls, value: str) -> str:
        length = parse_duration(value)
        if length.business_days:
            raise ValueError("the flap window runs 24x7: write it in s, m, h or d, e.g. '30m'")
        if length.seconds > FLAP_WINDOW_MAX:
            raise ValueError("a flap window longer than 7d would keep resolved alerts open: "
                             "use at most '7d'")
        return value

    def flap_window_seconds(self) -> int:
        return max(1, round(parse_duration(self.flap_window).seconds))

    def priority_for(self, severity: str | None) -> PriorityDecision:
        table = {**DEFAULT_SEVERITY_PRIORITY, **self.severity_priority}
        name = (severity or "").strip().lower()
        if name in table:
            return PriorityDecision(priority=table[name],
                                    rule=f"alert severity={one_line(name, 40)}")
        shown = one_line(name, 40) if name else "(none)"
        return PriorityDecision(priority=self.default_priority,
                                rule=f"alert severity={shown}: unmapped, the client's default")


def levels_for(matrix: PriorityMatrix, priority: Priority) -> tuple[Level, Level]:
    """An impact x urgency that the client's matrix maps to ``priority`` (the report
    records one; the alert's severity decided the priority)."""
    for table in (matrix, PriorityMatrix()):
        for impact in Level:
            for urgency in Level:
                if table.cells[impact][urgency] is priority:
                    return impact, urgency
    return Level.MEDIUM, Level.MEDIUM  # pragma: no cover - the default matrix has all four


# ---------------------------------------------------------------- Alertmanager (version 4)

class AmAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    startsAt: AwareDatetime  # Alertmanager's field names
    endsAt: AwareDatetime | None = None
    generatorURL: Url = ""
    fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")


class AlertmanagerWebhook(BaseModel):
    """What Alertmanager's webhook receiver POSTs (https://prometheus.io/docs/alerting/
    latest/configuration/#webhook_config)."""

    model_config = ConfigDict(extra="ignore")
    version: Literal["4"]
    groupKey: str = Field("", max_length=4096)
    truncatedAlerts: int = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = Field("", max_length=256)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Annotations = Field(default_factory=dict)
    externalURL: Url = ""
    alerts: list[AmAlert] = Field(min_length=1, max_length=ALERTS_MAX)

    @model_validator(mode="before")
    @classmethod
    def _at_most_max_alerts(cls, data: Any) -> Any:
        """Counted before any alert is read: a webhook is work in proportion to its
        alerts, so their number is bounded like a body's size."""
        alerts = data.get("alerts") if isinstance(data, dict) else None
        if isinstance(alerts, list) and len(alerts) > ALERTS_MAX:
            raise FieldError("alerts", f"{len(alerts)} alerts in one webhook: at most "
                             f"{ALERTS_MAX}", f"set 'max_alerts: {ALERTS_MAX}' in "
                             "Alertmanager's webhook_config, and group_by labels that keep a "
                             f"group under {ALERTS_MAX} alerts")
        return data


# ---------------------------------------------------------------- Events v2

class EventAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class EventSeverity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class EventLink(BaseModel):
    model_config = ConfigDict(extra="ignore")
    href: Url
    text: str = Field("", max_length=1024)


class EventPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: EventSeverity
    timestamp: AwareDatetime | None = None
    component: str | None = Field(None, max_length=255)
    group: str | None = Field(None, max_length=255)
    class_: str | None = Field(None, alias="class", max_length=255)
    custom_details: dict[str, Any] | None = None

    @field_validator("custom_details")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > CUSTOM_DETAILS_MAX:
            raise ValueError(f"custom_details is over {CUSTOM_DETAILS_MAX} bytes as JSON: send "
                             "less, or a link to the details")
        return value


class EventIn(BaseModel):
    """A PagerDuty Events API v2 event. The credential is the bearer key; ``routing_key``
    is accepted (and ignored) so PagerDuty-shaped senders need no change."""

    model_config = ConfigDict(extra="ignore")
    routing_key: str | None = Field(None, max_length=64)
    event_action: EventAction
    dedup_key: str | None = Field(None, min_length=1, max_length=ALERT_KEY_MAX)
    payload: EventPayload | None = None
    client: str | None = Field(None, max_length=255)
    client_url: Url | None = None
    links: list[EventLink] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _needs(self) -> EventIn:
        if self.event_action is EventAction.TRIGGER and self.payload is None:
            raise FieldError("payload", "a trigger needs a payload",
                             "add 'payload' with summary, source and severity")
        if self.event_action is not EventAction.TRIGGER and self.dedup_key is None:
            raise FieldError("dedup_key", f"{self.event_action.value} names the alert by its "
                             "dedup_key", "send the dedup_key the trigger was given or answered")
        return self

    def key(self) -> str:
        """The dedup_key, or one derived from what the alert is (so a retried trigger
        without a key does not open a second incident)."""
        if self.dedup_key is not None:
            return self.dedup_key
        assert self.payload is not None
        p = self.payload
        raw = "\x00".join([p.source, p.summary, p.component or "", p.group or "",
                           p.class_ or ""])
        return "td-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- text

_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


def one_line(text: str, limit: int) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    line = _BREAKS.sub(" ", text).strip()
    return line if len(line) <= limit else line[:limit - 1] + "…"


def plain(text: str, limit: int) -> str:
    body = CONTROL.sub(" ", text)
    return body if len(body) <= limit else body[:limit - 1] + "…"


def _subject(text: str) -> str:
    subject = one_line(text, 200)
    return subject if len(subject) >= 3 else f"Alert: {subject or '(unnamed)'}"


# ---------------------------------------------------------------- reports

def alertmanager_report(hook: AlertmanagerWebhook, alert: AmAlert, contact: Contact,
                        levels: tuple[Level, Level]) -> IncidentReport:
    labels = {**hook.commonLabels, **alert.labels}
    notes = {**hook.commonAnnotations, **alert.annotations}
    name = labels.get("alertname", "alert")
    where = labels.get("instance") or labels.get("job") or ""
    summary = notes.get("summary") or notes.get("title") or ""
    subject = name + (f" on {where}" if where else "") + (f": {summary}" if summary else "")
    label_lines = "\n".join(f"  {one_line(k, 128)}={one_line(v, 300)}"
                            for k, v in sorted(labels.items()))
    actual = "\n".join(x for x in (
        summary, notes.get("description", ""), f"Firing since {alert.startsAt.isoformat()}",
        f"Labels:\n{label_lines}", f"Source: {alert.generatorURL}" if alert.generatorURL else "",
        f"Fingerprint: {alert.fingerprint}") if x)
    runbook = notes.get("runbook_url") or notes.get("runbook")
    return IncidentReport(
        subject=_subject(subject),
        doing=plain(f"Monitoring: Alertmanager {hook.externalURL or ''} receiver "
                    f"'{hook.receiver}', group {hook.groupKey}", 2000),
        expected=plain(f"Alert '{name}' not to fire", 1000),
        actual=plain(actual, 10_000),
        tried=plain("Nothing yet: raised automatically by monitoring"
                    + (f". Runbook: {runbook}" if runbook else ""), 5000),
        technical_contact=contact, channel=Channel.MONITORING,
        impact=levels[0], urgency=levels[1])


def event_report(event: EventIn, contact: Contact, levels: tuple[Level, Level]) -> IncidentReport:
    p = event.payload
    assert p is not None
    facts = [("Source", p.source), ("Component", p.component), ("Group", p.group),
             ("Class", p.class_), ("Severity", p.severity.value),
             ("Timestamp", p.timestamp.isoformat() if p.timestamp else None),
             ("Dedup key", event.key()), ("Sent by", event.client)]
    lines = [p.summary, *(f"{k}: {v}" for k, v in facts if v)]
    if p.custom_details:
        lines.append("Details: " + json.dumps(p.custom_details, ensure_ascii=False))
    lines += [f"Link: {link.text} {link.href}".replace("  ", " ") for link in event.links]
    return IncidentReport(
        subject=_subject(p.summary),
        doing=plain(f"Monitoring: events from {p.source}"
                    + (f" ({event.client})" if event.client else ""), 2000),
        expected=plain(f"No alert from {p.source}", 1000),
        actual=plain("\n".join(lines), 10_000),
        tried=plain("Nothing yet: raised automatically by monitoring"
                    + (f" ({event.client_url})" if event.client_url else ""), 5000),
        technical_contact=contact, channel=Channel.MONITORING,
        impact=levels[0], urgency=levels[1])


# ---------------------------------------------------------------- episode workflow

class EpisodeStatus(StrEnum):
    QUIET = "quiet"        # nothing fired in this run yet
    FIRING = "firing"      # an incident is open for it
    RESOLVED = "resolved"  # the alert resolved; a new firing within the window reopens


EPISODE_LOG_KEPT = 50
EPISODE_TICKETS_KEPT = 20
# Messages whose answers an episode keeps, by update id: Temporal admits at most 10 updates
# in flight, and only those can come again (see EpisodeState.answers).
EPISODE_ANSWERS_KEPT = 50


class EpisodeEvent(BaseModel):
    at: datetime
    kind: str
    detail: str = ""


class EpisodeState(BaseModel):
    """An alert's episode workflow's whole state (carried across continue-as-new)."""

    client_id: str
    source: AlertSource
    key: str = Field(max_length=ALERT_KEY_MAX, description="fingerprint or dedup_key")
    flap_window_seconds: int = Field(1800, ge=1, le=FLAP_WINDOW_MAX)
    status: EpisodeStatus = EpisodeStatus.QUIET
    ticket_id: str | None = None
    starts_at: datetime | None = Field(None, description="Alertmanager: the episode's startsAt")
    resolved_at: datetime | None = None
    last_message_at: datetime | None = None
    checked_at: datetime | None = None
    tickets: list[str] = Field(default_factory=list, description="incidents opened, newest last")
    repeats: int = 0
    flaps: int = 0
    handled: int = Field(0, description="messages handled by this run")
    log: list[EpisodeEvent] = Field(default_factory=list)
    answers: list[AnsweredUpdate] = Field(default_factory=list, description=(
        "the last messages answered, by update id, newest last: an update in flight when "
        "the run continues as new is aborted and sent again, with its id, to the next run, "
        "though this run may have applied it; it gets its first answer again"))

    def note(self, at: datetime, kind: str, detail: str = "") -> None:
        self.log.append(EpisodeEvent(at=at, kind=kind, detail=detail[:300]))
        del self.log[:-EPISODE_LOG_KEPT]

    def answer_for(self, update_id: str) -> EpisodeAnswer | None:
        """The answer given to the message ``update_id``, if it was handled already."""
        return next((a.answer for a in self.answers if a.update_id == update_id), None)

    def remember(self, update_id: str, answer: EpisodeAnswer) -> None:
        self.answers.append(AnsweredUpdate(update_id=update_id, answer=answer))
        del self.answers[:-EPISODE_ANSWERS_KEPT]


class EpisodeStart(BaseModel):
    state: EpisodeState


class AlertFiring(BaseModel):
    """An alert fired (or fired again). ``incident`` is prepared by the API with a fresh
    ticket number; the episode uses it only if it opens a new incident."""

    client_id: str
    source: AlertSource
    starts_at: datetime | None = None
    flap_window_seconds: int = Field(ge=1, le=FLAP_WINDOW_MAX)
    by: str
    incident: IncidentStart
    summary: str = Field("", max_length=300, description="the incident's Web UI summary")
    details: str = Field("", max_length=20_000, description="its Web UI details")


class AlertEnding(BaseModel):
    """The alert resolved, or (Events v2) someone acknowledged it at the source."""

    client_id: str
    source: AlertSource
    starts_at: datetime | None = None
    flap_window_seconds: int = Field(ge=1, le=FLAP_WINDOW_MAX)
    by: str
    note: str = Field("", max_length=1000)


class EpisodeAction(StrEnum):
    OPENED = "opened"              # a new incident
    REPEAT = "repeat"              # the open episode again (repeat or HA duplicate)
    REOPENED = "reopened"          # fired again within the flap window
    STALE = "stale"                # about an episode already over: ignored
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    NOTED = "noted"                # the incident refused the change (e.g. already resolved)
    NO_INCIDENT = "no_incident"    # nothing open to resolve or acknowledge
    DEFERRED = "deferred"          # the API's: over the key's budget of new incidents, not sent


class EpisodeAnswer(BaseModel):
    ticket_id: str | None = None
    action: EpisodeAction
    detail: str = ""


class AnsweredUpdate(BaseModel):
    update_id: str
    answer: EpisodeAnswer


EpisodeState.model_rebuild()  # its answers are defined after it


class IncidentRef(BaseModel):
    ticket_id: str


class IncidentMove(BaseModel):
    """An activity's request: move an incident (the episode cannot update it itself)."""

    ticket_id: str
    to: Literal["acknowledged", "in_progress", "resolved"]
    reason: str = Field(max_length=1000)
    by: str


class MoveOutcome(BaseModel):
    applied: bool
    status: str | None = Field(None, description="the incident's status now; None if its "
                               "workflow has ended")
    refused: str = ""


def opens_incident(episode: EpisodeState | None, starts_at: datetime | None, now: datetime,
                   flap_window_seconds: int) -> bool:
    """Whether a firing sent ``now`` would open a new incident: what
    ``AlertEpisodeWorkflow._fire`` will decide, read ahead of it from the episode's state
    (None: no episode is running). A repeat, a stale copy and a reopen within the flap
    window open none. A reopen the incident refuses opens one after all: the API counts
    what the workflow answered, not this forecast."""
    if episode is None:
        return True
    if starts_at is not None and episode.starts_at is not None and (
            starts_at < episode.starts_at or (starts_at == episode.starts_at
                                              and episode.status is EpisodeStatus.RESOLVED)):
        return False  # stale
    if episode.status is EpisodeStatus.FIRING:
        return False  # a repeat
    return not (episode.status is EpisodeStatus.RESOLVED and episode.ticket_id is not None
                and episode.resolved_at is not None
                and now - episode.resolved_at <= timedelta(seconds=flap_window_seconds))
