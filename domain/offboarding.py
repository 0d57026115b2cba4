"""User exits (offboarding): HR's form, the workflow's input, state and messages.

Seed 000: "Raise User Exit ticket ASAP, include last workday. Belton disables accounts &
revokes access within 1 hr. Client returns hardware / Belton remote-wipes; chain-of-custody
doc provided. Licence recycling & 30-day data archive."
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import FieldError
from domain.ids import TicketKind
from domain.provider_steps import StepState
from domain.sla.deadlines import windows_between
from domain.sla.policy import SlaPolicy
from domain.sla.timeline import from_us
from domain.text import mailbox_of
from domain.tickets import (
    Contact,
    EmailAddress,
    OneLine,
    PlainText,
    TicketStart,
    TicketState,
    TicketView,
)

ACCESS_TARGET = "access_revoked"   # the clock's target: 1 h after the effective time
ACCESS_WITHIN_SECONDS = 3600
ACCESS_WARNINGS = (50, 75)         # 30 and 45 minutes
ARCHIVE_DAYS = 30
RETURN_WINDOW_DAYS_MAX = 60
HARDWARE_MAX = 20


class DeviceKind(StrEnum):
    LAPTOP = "laptop"
    DESKTOP = "desktop"
    PHONE = "phone"
    TABLET = "tablet"
    OTHER = "other"


class Device(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: OneLine = Field(min_length=1, max_length=64)
    kind: DeviceKind = DeviceKind.LAPTOP
    managed_device_id: OneLine | None = Field(None, max_length=64, description="Intune id, "
                                              "for a remote wipe if it is not returned")


class ExitForm(BaseModel):
    """HR's User Exit form."""

    model_config = ConfigDict(extra="forbid")
    client_id: str | None = Field(None, max_length=32, description="MSP staff only")
    employee: Contact
    user_principal_name: EmailAddress = Field(max_length=320, description="the account to "
                                              "disable, e.g. jo.tran@client.example")
    manager: Contact | None = Field(None, description="told of the exit's progress (never "
                                    "the leaver); without one only the desk is told")
    last_working_day: date = Field(description="access ends at the close of this day, in "
                                   "the client's time zone")
    immediate: bool = Field(False, description="involuntary or urgent: revoke access now")
    reason: PlainText = Field("", max_length=1000)
    hardware: list[Device] = Field(default_factory=list, max_length=HARDWARE_MAX)
    return_window_days: int = Field(14, ge=1, le=RETURN_WINDOW_DAYS_MAX, description="days "
                                    "to return hardware before it is remote-wiped")
    legal_hold: bool = Field(False, description="keep the archived mailbox and data")

    def people(self) -> list[tuple[str, str]]:
        """The addresses of the client's people this exit acts on, by field: the account,
        and the manager (told about the exit, the leaver's technical contact)."""
        found = [("user_principal_name", self.user_principal_name)]
        if self.manager is not None:
            found.append(("manager.email", self.manager.email))
        return found

    @model_validator(mode="after")
    def _devices_unique(self) -> ExitForm:
        serials = [d.serial for d in self.hardware]
        if len(serials) != len(set(serials)):
            raise FieldError("hardware", "a serial number is listed twice",
                             "list each device once")
        return self


def is_the_leaver(form: ExitForm, address: str) -> bool:
    """Whether ``address`` reaches one of the leaver's own mailboxes (the account, or the
    address HR gave for them)."""
    return mailbox_of(address) in {mailbox_of(form.user_principal_name),
                                   mailbox_of(form.employee.email)}


def exit_contact(form: ExitForm) -> str:
    """Whom an exit's notices name as its contact: the manager, never the leaver (who may
    not know yet); "" (nobody: the desk's own mailboxes alone) without one."""
    manager = form.manager
    if manager is None or is_the_leaver(form, manager.email):
        return ""
    return manager.email


class CustodyEntry(BaseModel):
    """One hand-over in a device's chain of custody."""

    serial: str
    at: datetime
    by: str
    event: str          # returned, received, wiped, wipe_confirmed
    condition: str = ""


class DeviceState(BaseModel):
    device: Device
    returned_at: datetime | None = None
    wiped_at: datetime | None = None
    wipe_confirmed_at: datetime | None = Field(None, description="Intune reported it done")


class OffboardingStart(TicketStart):
    form: ExitForm
    effective_at: datetime = Field(description="end of the last working day in the client's "
                                   "zone, or the intake instant for an immediate exit")
    state: OffboardingState | None = None


class ExitIntake(BaseModel):
    """HR's form as it was made, but for what the view shows elsewhere (the leaver's name
    and account, the devices, the legal hold) and the leaver's own contact."""

    manager: Contact | None = None
    last_working_day: date
    immediate: bool = False
    reason: str | None = None
    return_window_days: int

    @classmethod
    def of(cls, form: ExitForm) -> ExitIntake:
        return cls.model_validate(form.model_dump(include=set(cls.model_fields)))


class OffboardingFacts(BaseModel):
    kind: TicketKind = TicketKind.OFFBOARDING
    employee: str
    user_principal_name: str
    effective_at: datetime
    access_revoked_at: datetime | None = None
    revoke_seconds: int | None = Field(None, description="access_revoked_at - effective_at")
    steps: list[StepState] = Field(default_factory=list)
    other_steps: list[StepState] = Field(default_factory=list, description="each device's "
                                         "wipe and its confirmation, and the purge: each "
                                         "with its attempts")
    devices: list[DeviceState] = Field(default_factory=list)
    custody: list[CustodyEntry] = Field(default_factory=list)
    return_by: datetime
    archived_at: datetime | None = None
    purge_at: datetime
    purged_at: datetime | None = None
    legal_hold: bool = False
    request: ExitIntake | None = Field(None, description="HR's form as it was made (None "
                                       "only while a ticket from before is loaded)")


class OffboardingState(OffboardingFacts, TicketState):
    def view(self) -> OffboardingView:
        return OffboardingView.model_validate(self.view_fields())


class OffboardingView(OffboardingFacts, TicketView):
    """What queries answer for a user exit."""

    # Why someone leaves is HR's to tell: HR and the desk read it; a director sees the exit.
    personal_fields: ClassVar[tuple[str, ...]] = ("request.manager.phone", "request.reason")
    withheld: list[str] = Field(default_factory=list, description="personal fields emptied "
                                "for this reader (only HR and the service desk read them)")


class HardwareReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: OneLine = Field(min_length=1, max_length=64)
    condition: PlainText = Field("", max_length=500)
    by: str = ""


class LegalHold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold: bool
    reason: PlainText = Field(min_length=3, max_length=1000)
    by: str = ""


class RevocationStep(StrEnum):
    """What ends a leaver's access, all at once at the effective time."""

    DISABLE_ACCOUNT = "disable_account"
    REVOKE_SESSIONS = "revoke_sessions"
    REMOVE_GROUPS = "remove_groups"
    REMOVE_LICENCES = "remove_licences"
    DISCONNECT_EDR = "disconnect_edr"


# Access is revoked once these are done (licences and EDR follow, but do not hold it open).
ACCESS_STEPS = frozenset({RevocationStep.DISABLE_ACCOUNT, RevocationStep.REVOKE_SESSIONS})


class ProviderCall(BaseModel):
    """What a provider activity is given: the client (its provider settings) and the user."""

    client_id: str
    ticket_id: str
    user_principal_name: str
    step: str
    step_key: str | None = Field(None, description="the step's business key (domain.ids."
                                 "step_key): the idempotency key providers see")
    device: Device | None = None

    def people(self) -> list[tuple[str, str]]:
        """Whom the call acts on (checked against the client's domains before any
        provider sees it)."""
        return [("user_principal_name", self.user_principal_name)]


NOTICE_AHEAD_MAX = timedelta(days=366)
# A last working day this long past is a typo in the year: it would cut the person off at
# once. An exit that must end access now says 'immediate'.
LAST_DAY_BEHIND_MAX = timedelta(days=30)


def check_last_day(form: ExitForm, now: datetime) -> None:
    """The last working day's range, before any calendar is built for it (one is built for
    every year up to the day)."""
    if form.last_working_day - now.date() > NOTICE_AHEAD_MAX:
        raise _a_year_ahead()
    if not form.immediate and now.date() - form.last_working_day > LAST_DAY_BEHIND_MAX:
        raise FieldError("last_working_day", f"more than {LAST_DAY_BEHIND_MAX.days} days "
                         "ago: access would end at once", "check the year, or send "
                         "'immediate': true to end access now")


def effective_time(form: ExitForm, policy: SlaPolicy, now: datetime) -> datetime:
    """When access ends: the close of the last working day in the client's zone (its last
    working window that day; midnight if it is not a working day), or now for an
    immediate exit or one raised after that moment."""
    if form.immediate:
        return now
    zone = ZoneInfo(policy.calendar.timezone)
    day_start = datetime.combine(form.last_working_day, time(), zone)
    day_end = datetime.combine(form.last_working_day + timedelta(days=1), time(), zone)
    windows = windows_between(policy, day_start, day_end).windows
    close = from_us(windows[-1][1]) if windows else day_end
    return max(close, now)


def check_manager(form: ExitForm) -> None:
    """HR's form must not name the leaver as their own manager: the exit's notices would
    go to the person leaving. (Checked at the form's door, not in the model: exits already
    recorded must still decode; SCIM's exits drop such a manager, see exit_contact.)"""
    if form.manager is not None and is_the_leaver(form, form.manager.email):
        raise FieldError("manager", "the manager is the leaver: an exit is never announced "
                         "to the person leaving", "name the leaver's manager, or leave "
                         "'manager' out (then only the service desk is told)")


def check_notice(form: ExitForm, effective: datetime, now: datetime) -> None:
    if effective - now > NOTICE_AHEAD_MAX:  # the day at the limit, and its close past it
        raise _a_year_ahead()


def _a_year_ahead() -> FieldError:
    return FieldError("last_working_day", "more than a year ahead",
                      "raise the exit closer to the day (within 12 months)")
