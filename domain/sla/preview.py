"""`sla preview`: deadlines for a hypothetical ticket (CLI, JSON Lines and HTTP share this)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.errors import FieldError
from domain.sla.deadlines import compute_deadlines
from domain.sla.policy import Priority, SlaPolicy
from domain.sla.presets import PRESETS, policy_from_preset

# The dates a preview accepts (documented in docs/security.md, "At a glance"): calendars
# are compiled for the years a ticket spans, so an instant in year 9999 must never reach them.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=2 * 366)  # first response and pauses within 2 years of opening
PAUSES_MAX = 500


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(max_length=64,
                        description="a preset (belton, betterworld, plexacet) or a client id")
    priority: Priority
    opened_at: AwareDatetime = Field(description="between 2000-01-01 and 2099-12-31")
    first_response_at: AwareDatetime | None = Field(None, description="within 2 years of "
                                                    "opened_at")
    pauses: list[tuple[AwareDatetime, AwareDatetime]] = Field(
        default_factory=list, max_length=PAUSES_MAX,
        description=f"[[start, end], ...] while pending or on hold; at most {PAUSES_MAX}, "
                    "within 2 years of opened_at")

    @model_validator(mode="after")
    def _in_range(self) -> PreviewRequest:
        if not EARLIEST <= self.opened_at < LATEST:
            raise FieldError("opened_at", "outside the dates a preview covers",
                             "give a date between 2000-01-01 and 2099-12-31")
        limit = self.opened_at + SPAN
        later = [("first_response_at", self.first_response_at)]
        later += [(f"pauses[{i}]", moment) for i, pause in enumerate(self.pauses)
                  for moment in pause]
        for field, moment in later:
            if moment is not None and not EARLIEST <= moment <= limit:
                raise FieldError(field, "more than 2 years after opened_at (or before 2000)",
                                 f"give a time before {limit:%Y-%m-%d}")
        return self

    @model_validator(mode="after")
    def _ordered(self) -> PreviewRequest:
        for i, (start, end) in enumerate(self.pauses):
            if end <= start:
                raise FieldError(f"pauses[{i}]", "the pause ends before it starts",
                                 "give [start, end] with end after start")
        if self.first_response_at is not None and self.first_response_at < self.opened_at:
            raise FieldError("first_response_at", "the first response is before the ticket opened",
                             "give a time at or after opened_at")
        return self


class PreviewResult(BaseModel):
    policy: str
    priority: Priority
    timezone: str
    response_due: str | None
    resolution_due: str | None


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


def preview(request: PreviewRequest, policy: SlaPolicy) -> PreviewResult:
    deadlines = compute_deadlines(policy, request.priority, request.opened_at,
                                  request.first_response_at, request.pauses)
    zone = ZoneInfo(policy.calendar.timezone)
    return PreviewResult(policy=request.policy, priority=request.priority,
                         timezone=policy.calendar.timezone,
                         response_due=_local(deadlines.response_due, zone),
                         resolution_due=_local(deadlines.resolution_due, zone))


_PRESET_POLICIES: dict[str, SlaPolicy] = {}


def preset_policy(name: str) -> SlaPolicy | None:
    if name not in PRESETS:
        return None
    if name not in _PRESET_POLICIES:
        _PRESET_POLICIES[name] = policy_from_preset(name)
    return _PRESET_POLICIES[name]
