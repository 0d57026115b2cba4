"""Client reviews from the config: the NPS survey twice a year and the quarterly business
review (QBR), their calendars, and the periods they cover.

A client's ``reviews`` block (every key optional)::

    reviews:
      account_manager: {name: Sam Lee, email: sam.lee@msp.example}  # gets the QBR
      nps_contacts: [{name: Mia Chen, email: mia.chen@harbourside.example}]
      nps_months: [3, 9]        # NPS survey on day `nps_day` of these months
      risk_register:
        - {risk: Ransomware, likelihood: med, impact: critical,
           mitigation: "Immutable backups, EDR", owner: Belton SOC}
      answer_targets:           # channel answer times (BetterWorld, seed 001)
        - {channel: email, within: 24h}

Defaults: the account manager is the ladder's "Account Manager" rung (else the desk
mailboxes); NPS goes to the client's directors on 1 March and 1 September at 09:00 in
the client's time zone and stays open 14 days; the QBR of a quarter is made on the first
day of the next one, at the same hour. Temporal Schedules run both (``schedules.py``);
:func:`fire_times` computes the same instants from the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import FieldError
from domain.incidents import Channel
from domain.person import Person
from domain.sla.durations import parse_duration
from domain.text import OneLine, PlainText

RISKS_MAX = 50
NPS_CONTACTS_MAX = 200
QUARTER_PATTERN = r"^\d{4}-Q[1-4]$"
HALF_PATTERN = r"^\d{4}-H[12]$"
QBR_MONTHS = (1, 4, 7, 10)  # a quarter's report is made on the first day of the next
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Job(StrEnum):
    NPS = "nps"
    QBR = "qbr"


class Rating(StrEnum):
    """A risk's likelihood or impact, as seed 000's risk table writes them."""

    LOW = "low"
    LOW_MED = "low-med"
    MED = "med"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def weight(self) -> int:
        return _WEIGHTS[self]

    @property
    def label(self) -> str:
        return {"low-med": "Low-Med"}.get(self.value, self.value.capitalize())


_WEIGHTS = {Rating.LOW: 1, Rating.LOW_MED: 2, Rating.MED: 3, Rating.HIGH: 4, Rating.CRITICAL: 5}
_RATING_ALIASES = {"medium": "med", "low-medium": "low-med", "low/med": "low-med",
                   "lowmed": "low-med", "low med": "low-med"}


class Risk(BaseModel):
    """One row of the client's risk register: scored likelihood x impact (1..25)."""

    model_config = ConfigDict(extra="forbid")
    risk: OneLine = Field(min_length=1, max_length=200)
    likelihood: Rating
    impact: Rating
    mitigation: PlainText = Field("", max_length=1000)
    owner: OneLine = Field("", max_length=200)

    @field_validator("likelihood", "impact", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            return _RATING_ALIASES.get(text, text)
        return value

    @property
    def score(self) -> int:
        return self.likelihood.weight * self.impact.weight


class AnswerTarget(BaseModel):
    """A promise on how fast a channel is answered (first response after opening):
    every ticket ``within`` a time, or the ``average`` under one."""

    model_config = ConfigDict(extra="forbid")
    channel: Channel
    label: OneLine | None = Field(None, max_length=40, description="e.g. 'Voicemail' for "
                                  "the phone channel; default: the channel's name")
    within: str | None = Field(None, description="every answer within this, e.g. '24h'")
    average: str | None = Field(None, description="the mean answer under this, e.g. '5m'")

    @field_validator("within", "average")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value).business_days:
            raise ValueError(f"{value!r}: answer times are elapsed time: write e.g. '24h', "
                             "not business days")
        return value

    @model_validator(mode="after")
    def _one(self) -> AnswerTarget:
        if (self.within is None) == (self.average is None):
            raise ValueError(f"answer target for {self.channel.value}: give 'within' (every "
                             "answer) or 'average' (the mean), one of the two")
        return self

    @property
    def name(self) -> str:
        return self.label or self.channel.value.capitalize().replace("Email", "E-mail")

    @property
    def seconds(self) -> int:
        return int(parse_duration(self.within or self.average or "").seconds)


class ReviewConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="false: no NPS or QBR schedules for the client")
    account_manager: Person | None = Field(None, description="who gets the QBR; default: the "
                                           "ladder's Account Manager, else the desk mailboxes")
    nps_contacts: list[Person] | None = Field(None, max_length=NPS_CONTACTS_MAX,
                                              description="default: the client's directors")
    nps_months: list[int] = Field([3, 9], min_length=1, max_length=2,
                                  description="months the NPS survey goes out (one per half)")
    nps_day: int = Field(1, ge=1, le=28)
    nps_open_for: str = Field("14d", description="how long the survey takes answers")
    qbr_day: int = Field(1, ge=1, le=28, description="the QBR of a quarter is made on this "
                         "day of the following quarter's first month")
    send_at: str = Field("09:00", description="local time (HH:MM) both go out")
    report_kept_for: str = Field("730d", description="how long a QBR stays served at its URL")
    risk_register: list[Risk] = Field(default_factory=list, max_length=RISKS_MAX)
    answer_targets: list[AnswerTarget] = Field(default_factory=list, max_length=10)

    @field_validator("nps_months")
    @classmethod
    def _months(cls, value: list[int]) -> list[int]:
        if any(not 1 <= m <= 12 for m in value):
            raise ValueError("months are 1 (January) to 12 (December)")
        halves = [(m - 1) // 6 for m in value]
        if len(set(halves)) != len(halves):
            raise ValueError("one NPS survey per half-year: pick one month in January-June "
                             "and one in July-December, e.g. [3, 9]")
        return sorted(value)

    @field_validator("send_at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. '09:00'")
        return value

    @field_validator("nps_open_for", "report_kept_for")
    @classmethod
    def _elapsed(cls, value: str) -> str:
        if parse_duration(value).business_days:
            raise ValueError(f"{value!r}: write elapsed days, e.g. '14d', not business days")
        return value

    @field_validator("answer_targets")
    @classmethod
    def _unique_channels(cls, value: list[AnswerTarget]) -> list[AnswerTarget]:
        channels = [t.channel for t in value]
        if len(set(channels)) != len(channels):
            raise ValueError("one answer target per channel")
        return value

    @property
    def local_time(self) -> time:
        hour, minute = self.send_at.split(":")
        return time(int(hour), int(minute))

    def calendar(self, job: Job) -> Calendar:
        months = tuple(self.nps_months) if job is Job.NPS else QBR_MONTHS
        day = self.nps_day if job is Job.NPS else self.qbr_day
        return Calendar(months=months, day=day, hour=self.local_time.hour,
                        minute=self.local_time.minute)


@dataclass(frozen=True)
class Calendar:
    """When a job runs, in the client's zone: ``day`` of each of ``months`` at hh:mm."""

    months: tuple[int, ...]
    day: int
    hour: int
    minute: int


def fire_times(calendar: Calendar, zone: str, after: datetime, until: datetime,
               ) -> list[datetime]:
    """The instants (UTC) ``calendar`` fires in ``zone``, ``after`` < t <= ``until``: what a
    Temporal Schedule with the same calendar spec and time zone does."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    for year in range(after.astimezone(tz).year, until.astimezone(tz).year + 1):
        for month in calendar.months:
            local = datetime(year, month, calendar.day, calendar.hour, calendar.minute,
                             tzinfo=tz)
            at = local.astimezone(UTC)
            if after < at <= until:
                found.append(at)
    return sorted(found)


# ---------------------------------------------------------------- periods


class Period(BaseModel):
    """A quarter (``2027-Q1``) or a half-year (``2027-H1``) in the client's zone, as UTC
    instants: ``start`` <= t < ``end``."""

    label: str
    start: datetime
    end: datetime
    zone: str


def _bounds(year: int, first_month: int, months: int, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime(year, first_month, 1, tzinfo=tz)
    end_month = first_month + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def quarter(label: str, zone: str) -> Period:
    return _period(label, zone, QUARTER_PATTERN, 3, "a quarter: write e.g. '2027-Q1'")


def half(label: str, zone: str) -> Period:
    return _period(label, zone, HALF_PATTERN, 6, "a half-year: write e.g. '2027-H1'")


def _period(label: str, zone: str, pattern: str, months: int, what: str) -> Period:
    """The ``months``-long period ``label`` (e.g. 2027-Q2, 2027-H1) names, in ``zone``."""
    if not re.match(pattern, label):
        raise ValueError(f"{label!r} is not {what}")
    year, number = int(label[:4]), int(label[-1])
    start, end = _bounds(year, months * (number - 1) + 1, months, zone)
    return Period(label=label, start=start, end=end, zone=zone)


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def half_label(day: date) -> str:
    return f"{day.year}-H{(day.month - 1) // 6 + 1}"


def previous_quarter(at: datetime, zone: str) -> Period:
    """The last whole quarter before ``at`` (in ``zone``): what a QBR made then covers."""
    local = at.astimezone(ZoneInfo(zone)).date()
    first = date(local.year, 3 * ((local.month - 1) // 3) + 1, 1)
    return quarter(quarter_label(first - timedelta(days=1)), zone)


def current_half(at: datetime, zone: str) -> Period:
    """The half-year ``at`` falls in (in ``zone``): the NPS survey sent then is its one."""
    return half(half_label(at.astimezone(ZoneInfo(zone)).date()), zone)


def quarter_half(label: str) -> str:
    """The half-year a quarter is in: 2027-Q2 -> 2027-H1."""
    return f"{label[:4]}-H{1 if int(label[-1]) <= 2 else 2}"


def previous_half(label: str) -> str:
    year, number = int(label[:4]), int(label[-1])
    return f"{year - 1}-H2" if number == 1 else f"{year}-H1"


# ---------------------------------------------------------------- people


# ---------------------------------------------------------------- workflow ids


def review_workflow_id(job: Job, client_id: str, period: str) -> str:
    """``nps:belton:2027-H1``, ``qbr:belton:2027-Q1``: one per client and period."""
    return f"{job.value}:{client_id}:{period}"


def schedule_id(job: Job, client_id: str) -> str:
    """``nps:belton``, ``qbr:belton``: the client's Temporal Schedule for ``job``."""
    return f"{job.value}:{client_id}"


def scheduled_workflow_id(job: Job, client_id: str) -> str:
    """The id the schedule starts its runs under (Temporal appends the instant)."""
    return f"schedule:{job.value}:{client_id}"


# ---------------------------------------------------------------- workflow messages


class ReviewKickoff(BaseModel):
    """What a client's schedule starts: the job, for the client (nothing else is frozen in
    the schedule: the config at the moment it fires decides the rest)."""

    client_id: str
    job: Job


class PlanRequest(BaseModel):
    client_id: str
    job: Job
    fired_at: datetime = Field(description="the instant the schedule fired for (or the run "
                               "started, when triggered by hand)")


class KickoffResult(BaseModel):
    job: Job
    period: str
    workflow_id: str
    started: bool = Field(description="False: that period's run already existed")


# ---------------------------------------------------------------- reports on demand

QBR_ON_DEMAND_QUARTERS_BACK = 8  # two years: as long as a report is kept by default


def on_demand_quarter(label: str, zone: str, now: datetime) -> Period:
    """The quarter ``label`` (in ``zone``) if a QBR of it may be made on demand at ``now``:
    the current quarter (its figures so far; the final ones follow at its end) or one of
    the :data:`QBR_ON_DEMAND_QUARTERS_BACK` before it. Otherwise a FieldError saying which
    quarters may be asked for."""
    current = quarter(quarter_label(now.astimezone(ZoneInfo(zone)).date()), zone)
    oldest = current
    for _ in range(QBR_ON_DEMAND_QUARTERS_BACK):
        oldest = previous_quarter(oldest.start, zone)
    span = f"write a quarter from {oldest.label} to {current.label}"
    if not re.match(QUARTER_PATTERN, label):
        raise FieldError("quarter", f"{label[:20]!r} is not a quarter", f"{span}, e.g. "
                         f"{current.label}")
    if label < oldest.label:  # "YYYY-Qn" sorts as it reads; year 0000 makes no date
        raise FieldError("quarter", f"{label} is more than {QBR_ON_DEMAND_QUARTERS_BACK} "
                         "quarters back: the desk keeps what a report reads for two years",
                         span)
    if label > current.label:
        raise FieldError("quarter", f"{label} has not begun: a report covers a quarter "
                         "that has begun", f"{span} (the current one shows its figures so far)")
    return quarter(label, zone)
