"""New users (onboarding): HR's New User form, the notice rule, the workflow's input, state
and messages.

Seed 000: "Submit New User form (client HR/manager) >= 3 business days ahead. Belton
assigns licences, builds device (M365, SentinelOne, Datto RMM, backups). Account
confirmation & MFA walk-through (Belton + user). 30-min security/usage induction."
BetterWorld: "Onboardings 48 HR notice required".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import FieldError
from domain.ids import TicketKind
from domain.provider_steps import StepState
from domain.sla.deadlines import compiled_clock
from domain.sla.durations import parse_duration
from domain.sla.policy import SlaPolicy
from domain.sla.timeline import US, Timeline, from_us, to_us
from domain.tenants import ClientConfig
from domain.tickets import (
    Contact,
    EmailAddress,
    OneLine,
    PlainText,
    TicketStart,
    TicketState,
    TicketView,
)

READY_TARGET = "ready"            # the clock's target: everything ready by the start
READY_WARNINGS = (50, 75, 90)
START_AHEAD_MAX = timedelta(days=366)
# A start this long past is a typo in the year, not a late form (which expedites).
START_BEHIND_MAX = timedelta(days=30)
DEVICES_MAX = 5
INDUCTION_MINUTES = 30
INDUCTION_AFTER_START = timedelta(hours=2)  # settle in first: desk, coffee, sign-in
MFA_REMINDERS_MAX = 3             # then an agent calls the user


class WorkLocation(StrEnum):
    OFFICE = "office"
    REMOTE = "remote"
    HYBRID = "hybrid"


class DeviceRequest(BaseModel):
    """A device to build for the new user: enrolled in the RMM, EDR agent, backups."""

    model_config = ConfigDict(extra="forbid")
    kind: OneLine = Field("laptop", max_length=32)
    hostname: OneLine = Field(min_length=1, max_length=63, description="the name the "
                              "technician gives it; the RMM finds it by this")
    serial: OneLine | None = Field(None, max_length=64)


class JoinerForm(BaseModel):
    """HR's New User form (seed 000), with BetterWorld's 48-hour rule in mind."""

    model_config = ConfigDict(extra="forbid")
    client_id: str | None = Field(None, max_length=32, description="MSP staff only")
    employee: Contact = Field(description="name, and a personal e-mail and phone for the "
                              "account confirmation before the work mailbox exists")
    user_principal_name: EmailAddress = Field(max_length=320, description="the new account, "
                                              "e.g. sam.lee@client.example")
    title: OneLine = Field(min_length=1, max_length=128)
    department: OneLine = Field("", max_length=64)
    manager: Contact
    start_date: date
    start_time: time | None = Field(None, description="default: the client's business "
                                    "opening that day")
    time_zone: str | None = Field(None, max_length=64, description="IANA zone of the start, "
                                  "e.g. Australia/Perth; default: the client's")
    work_location: WorkLocation = WorkLocation.OFFICE
    office: OneLine = Field("", max_length=128)
    role_template: str | None = Field(None, max_length=64, description="licences and groups "
                                      "of a role in the client's config")
    licences: list[OneLine] = Field(default_factory=list, max_length=10, description="more "
                                    "licences (SKU part numbers, e.g. SPE_E3)")
    groups: list[OneLine] = Field(default_factory=list, max_length=50, description="more "
                                  "groups (Entra object ids)")
    mailbox_access: list[EmailAddress] = Field(default_factory=list, max_length=20,
                                               description="shared mailboxes to open")
    hardware: list[DeviceRequest] = Field(default_factory=list, max_length=DEVICES_MAX)
    usage_location: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="licence "
                                       "country (ISO 3166); default: the client's")
    expedite: bool = Field(False, description="less notice than the contract asks: opened "
                           "flagged as expedited and waits for an agent's approval")
    notes: PlainText = Field("", max_length=2000)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone: write e.g. "
                             "'Australia/Melbourne'") from exc
        return value

    def people(self) -> list[tuple[str, str]]:
        """The addresses of the client's people this form acts on, by field: the new
        account, the manager (the joiner's technical contact) and the shared mailboxes to
        open. Not the joiner's personal e-mail: outside the client's domains by nature."""
        return [("user_principal_name", self.user_principal_name),
                ("manager.email", self.manager.email),
                *((f"mailbox_access[{i}]", box) for i, box in enumerate(self.mailbox_access))]

    @model_validator(mode="after")
    def _unique(self) -> JoinerForm:
        hosts = [d.hostname.lower() for d in self.hardware]
        if len(hosts) != len(set(hosts)):
            raise FieldError("hardware", "a hostname is listed twice", "list each device once")
        return self


# ---------------------------------------------------------------- the notice rule


@dataclass(frozen=True)
class Schedule:
    """When the new user starts, and whether the contract's notice was given."""

    starts_at: datetime
    notice_until: datetime      # the earliest instant a start may be at
    earliest_start: datetime    # the earliest allowed start, as a day and time to offer
    short_notice: bool

    def refusal(self, notice: str, zone: str) -> FieldError:
        local = self.earliest_start.astimezone(ZoneInfo(zone))
        kind = "business days" if parse_duration(notice).business_days else "hours"
        return FieldError("start_date", f"the contract asks for {notice} notice ({kind}); the "
                          f"earliest allowed start is {local:%A %Y-%m-%d %H:%M} {zone}",
                          f"start on or after {local:%Y-%m-%d}, or send 'expedite': true to "
                          "ask the service desk to do it sooner")


def _timeline(policy: SlaPolicy, first: datetime, last: datetime) -> Timeline:
    return compiled_clock(policy).cover(first.year, last.year + 1)


def _opening(timeline: Timeline, day: date, zone: ZoneInfo) -> datetime | None:
    """The start of the first working window on ``day`` (in ``zone``), if it has one."""
    start = to_us(datetime.combine(day, time(), zone))
    end = to_us(datetime.combine(day + timedelta(days=1), time(), zone))
    for window_start, window_end in timeline.windows:
        if window_end > start and window_start < end:
            return from_us(max(window_start, start))
    return None


def start_instant(form: JoinerForm, policy: SlaPolicy, day: date | None = None) -> datetime:
    """The start on ``day`` (default the form's): its ``start_time``, or the client's
    opening that day (09:00 on a day the client is closed)."""
    day = day or form.start_date
    zone = ZoneInfo(form.time_zone or policy.calendar.timezone)
    if form.start_time is not None:
        return datetime.combine(day, form.start_time, zone)
    client_zone = ZoneInfo(policy.calendar.timezone)
    at = datetime.combine(day, time(), zone)
    opening = _opening(_timeline(policy, at, at), day, client_zone)
    opening_time = opening.astimezone(client_zone).time() if opening else time(9)
    return datetime.combine(day, opening_time, zone)


def _a_year_ahead() -> FieldError:
    return FieldError("start_date", "more than a year ahead",
                      "send the form closer to the start (within 12 months)")


def schedule(form: JoinerForm, client: ClientConfig, now: datetime) -> Schedule:
    """Check the contract's notice (``3bd`` counted on the client's business calendar,
    ``48h`` on the wall clock) and find the earliest allowed start."""
    policy = client.sla
    # The day's range first: a calendar is built for every year up to the day.
    if form.start_date - now.date() > START_AHEAD_MAX:
        raise _a_year_ahead()
    if now.date() - form.start_date > START_BEHIND_MAX:
        raise FieldError("start_date", f"more than {START_BEHIND_MAX.days} days ago",
                         "check the year; a start already past is sent with its real date "
                         "and 'expedite': true")
    starts_at = start_instant(form, policy)
    if starts_at - now > START_AHEAD_MAX:  # the day at the limit, and its start past it
        raise _a_year_ahead()
    notice = parse_duration(client.onboarding_notice)
    if notice.business_days:
        timeline = _timeline(policy, now, now + timedelta(days=60))
        bd = compiled_clock(policy).business_day_seconds
        length = round(notice.to_seconds(bd) * US)
        until = from_us(timeline.deadline(to_us(now), length))
    else:
        until = now + timedelta(seconds=notice.seconds)
    earliest = _earliest_start(form, policy, until)
    return Schedule(starts_at=starts_at, notice_until=until, earliest_start=earliest,
                    short_notice=starts_at < until)


def _earliest_start(form: JoinerForm, policy: SlaPolicy, until: datetime) -> datetime:
    """The first working day (for the client) whose start is at or after ``until``."""
    zone = ZoneInfo(form.time_zone or policy.calendar.timezone)
    client_zone = ZoneInfo(policy.calendar.timezone)
    day = until.astimezone(zone).date()
    timeline = _timeline(policy, until, until + timedelta(days=40))
    for _ in range(40):
        starts = start_instant(form, policy, day)
        if starts >= until and _opening(timeline, starts.astimezone(client_zone).date(),
                                        client_zone) is not None:
            return starts
        day += timedelta(days=1)
    return until


def induction_for(policy: SlaPolicy, starts_at: datetime) -> datetime:
    return induction_slot(_timeline(policy, starts_at, starts_at + timedelta(days=30)),
                          starts_at)


def induction_slot(timeline: Timeline, starts_at: datetime) -> datetime:
    """The 30-minute security induction: the first moment at least two hours after the
    start that leaves 30 minutes inside one working window."""
    earliest = to_us(starts_at + INDUCTION_AFTER_START)
    length = INDUCTION_MINUTES * 60 * US
    for window_start, window_end in timeline.windows:
        begin = max(window_start, earliest)
        if window_end - begin >= length:
            return from_us(begin)
    return from_us(earliest)


# ---------------------------------------------------------------- workflow input and state


class JoinerStep(StrEnum):
    """Provisioning, in order of dependency: the account first, then the rest at once."""

    CREATE_ACCOUNT = "create_account"
    ASSIGN_LICENCES = "assign_licences"
    ADD_GROUPS = "add_groups"
    BUILD_DEVICE = "build_device"     # one per device: "build_device <hostname>"


class JoinerCall(BaseModel):
    """What an onboarding provider activity is given."""

    client_id: str
    ticket_id: str
    step: str
    step_key: str | None = Field(None, description="the step's business key (domain.ids."
                                 "step_key): the idempotency key providers see")
    user_principal_name: str
    display_name: str
    title: str = ""
    department: str = ""
    usage_location: str = ""
    licences: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    mailboxes: list[str] = Field(default_factory=list)
    device: DeviceRequest | None = None

    def people(self) -> list[tuple[str, str]]:
        """Whom the call acts on: the account and the shared mailboxes it opens (checked
        against the client's domains before any provider sees them)."""
        return [("user_principal_name", self.user_principal_name),
                *(("mailboxes", box) for box in self.mailboxes)]


class OnboardingStart(TicketStart):
    form: JoinerForm
    starts_at: datetime
    licences: list[str] = Field(description="the role template's and the form's")
    groups: list[str]
    usage_location: str
    expedited: bool = Field(False, description="less notice than the contract: waits for "
                            "an agent's approval before anything is done")
    notice: str = Field(description="the contract's notice, e.g. 3bd")
    induction_at: datetime | None = Field(None, description="the 30-minute security "
                                          "induction, booked at intake on the client's calendar")
    state: OnboardingState | None = None


class JoinerIntake(BaseModel):
    """HR's form as it was made, but for what the view shows elsewhere (the joiner's name,
    account, title and start instant) and the joiner's own contact: their personal e-mail
    and phone are the view's personal fields, read only by HR and the service desk."""

    start_date: date
    start_time: time | None = None
    time_zone: str | None = None
    department: str = ""
    manager: Contact
    work_location: WorkLocation
    office: str = ""
    role_template: str | None = None
    licences: list[str] = Field(default_factory=list, description="as the form listed them "
                                "(the ticket adds the role template's)")
    groups: list[str] = Field(default_factory=list)
    mailbox_access: list[str] = Field(default_factory=list)
    hardware: list[DeviceRequest] = Field(default_factory=list)
    usage_location: str | None = None
    notes: str | None = None

    @classmethod
    def of(cls, form: JoinerForm) -> JoinerIntake:
        return cls.model_validate(form.model_dump(include=set(cls.model_fields)))


class OnboardingFacts(BaseModel):
    kind: TicketKind = TicketKind.ONBOARDING
    employee: str
    user_principal_name: str
    title: str
    manager: str
    personal_email: str | None = Field(None, description="the joiner's own address, for the "
                                       "first contact before the work mailbox exists (HR "
                                       "and the service desk only: see domain/visibility.py)")
    personal_phone: str | None = Field(None, description="likewise, their phone")
    starts_at: datetime
    expedited: bool = False
    expedite_approved_by: str | None = None
    expedite_approved_at: datetime | None = None
    steps: list[StepState] = Field(default_factory=list)
    other_steps: list[StepState] = Field(default_factory=list, description="the undo of "
                                         "each step after a cancellation, and the MFA "
                                         "checks: each with its attempts")
    ready_at: datetime | None = Field(None, description="account, licences, groups and "
                                      "devices all done")
    waiting_for_agent: str | None = Field(None, description="what an agent must do before "
                                          "the work can go on (e.g. buy licences)")
    confirmation_sent_at: datetime | None = None
    mfa_enrolled_at: datetime | None = None
    mfa_reminders: int = 0
    induction_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    compensated_at: datetime | None = None
    request: JoinerIntake | None = Field(None, description="HR's form as it was made (None "
                                         "only while a ticket from before is loaded)")


class OnboardingState(OnboardingFacts, TicketState):
    def view(self) -> OnboardingView:
        return OnboardingView.model_validate(self.view_fields())


class OnboardingView(OnboardingFacts, TicketView):
    """What queries answer for a new user."""

    # HR's notes are about the person, for the desk that sets them up.
    personal_fields: ClassVar[tuple[str, ...]] = ("personal_email", "personal_phone",
                                                   "request.manager.phone", "request.notes")
    withheld: list[str] = Field(default_factory=list, description="personal fields emptied "
                                "for this reader (only HR and the service desk read them)")


def personal_contact(form: JoinerForm) -> dict[str, str | None]:
    """The joiner's personal e-mail and phone from the form, for the ticket's state (an
    e-mail that is only the new account's own address is not a personal one)."""
    email = form.employee.email
    own = email.lower() == form.user_principal_name.lower()
    return {"personal_email": None if own else email, "personal_phone": form.employee.phone}


class ExpediteDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: PlainText = Field("", max_length=1000)
    by: str = ""


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: PlainText = Field(min_length=3, max_length=1000)
    by: str = ""


class RetrySteps(BaseModel):
    """An agent mended what stopped a step (bought licences, fixed a permission)."""

    model_config = ConfigDict(extra="forbid")
    note: PlainText = Field("", max_length=1000)
    by: str = ""


class MfaEnrolled(BaseModel):
    """An agent saw the user enrol (e.g. at the walk-through)."""

    model_config = ConfigDict(extra="forbid")
    by: str = ""


def licences_and_groups(form: JoinerForm, client: ClientConfig) -> tuple[list[str], list[str]]:
    """The role template's licences and groups plus the form's, each once, in order."""
    template = client.role_templates.get(form.role_template) if form.role_template else None
    if form.role_template and template is None:
        known = ", ".join(sorted(client.role_templates)) or "none configured"
        raise FieldError("role_template", f"no role {form.role_template!r} for this client",
                         f"use one of: {known}; or list licences and groups yourself")
    licences = [*(template.licences if template else []), *form.licences]
    groups = [*(template.groups if template else []), *form.groups]
    return list(dict.fromkeys(licences)), list(dict.fromkeys(groups))


def usage_location(form: JoinerForm, client: ClientConfig) -> str:
    found = (form.usage_location or client.providers.usage_location
             or client.sla.calendar.holidays.country)
    if not found:
        raise FieldError("usage_location", "licences need the user's country",
                         "send 'usage_location', e.g. AU")
    return found
