"""`sla preview`: deadlines for a hypothetical ticket (CLI, JSON Lines and HTTP share this)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.errors import FieldError
from domain.sla.deadlines import compute_deadlines
from domain.sla.policy import Priority, SlaPolicy
from domain.sla.presets import PRESETS, policy_from_preset


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(description="a preset (belton, betterworld, plexacet) or a client id")
    priority: Priority
    opened_at: AwareDatetime
    first_response_at: AwareDatetime | None = None
    pauses: list[tuple[AwareDatetime, AwareDatetime]] = Field(
        default_factory=list, description="[[start, end], ...] while pending or on hold")

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
