"""SLA policies: per-priority response and resolution targets, warnings, escalation ladder."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.sla.calendar import CalendarSpec
from domain.sla.durations import Duration, parse_duration


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Clock(StrEnum):
    ALWAYS = "24x7"
    BUSINESS = "business"


class MeasuredFrom(StrEnum):
    CREATION = "creation"
    FIRST_RESPONSE = "first_response"


_TARGET_TEXT = re.compile(
    r"^(?P<duration>\S+)(?:\s+(?P<clock>24x7|business))?"
    r"(?:\s+from\s+(?P<origin>creation|first[ _]response))?$"
)


class Target(BaseModel):
    """One target. Written in config either as a mapping or as text such as
    ``"4h 24x7"``, ``"3bd"`` (business is the default clock) or ``"5bd from first response"``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    duration: str
    clock: Clock = Clock.BUSINESS
    measured_from: MeasuredFrom = Field(MeasuredFrom.CREATION, alias="from")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        match = _TARGET_TEXT.match(value.strip().lower())
        if not match:
            raise ValueError(f"{value!r} is not a target: write e.g. '4h 24x7', '3bd' or "
                             "'5bd from first response'")
        origin = (match["origin"] or "creation").replace(" ", "_")
        return {"duration": match["duration"], "clock": match["clock"] or "business",
                "from": origin}

    @field_validator("duration")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def parsed(self) -> Duration:
        return parse_duration(self.duration)

    def seconds(self, business_day_seconds: int) -> float:
        return self.parsed.to_seconds(business_day_seconds)


class PriorityTargets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    response: Target | None = None
    resolution: Target | None = None

    @field_validator("response")
    @classmethod
    def _response_from_creation(cls, value: Target | None) -> Target | None:
        if value is not None and value.measured_from is MeasuredFrom.FIRST_RESPONSE:
            raise ValueError("a response target is measured from creation; remove 'from'")
        return value


class EscalationLevel(BaseModel):
    """A rung of the ladder: who is told, and how long after the breach (24x7)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: str
    contact: str | None = Field(None, description="e-mail or chat handle of the person")
    after: str = Field("0m", description="delay after the breach, e.g. '0m', '2h'")

    @field_validator("after")
    @classmethod
    def _valid_after(cls, value: str) -> str:
        if parse_duration(value, allow_zero=True).business_days:
            raise ValueError("ladder delays run on the 24x7 clock: use h/m, not bd")
        return value

    @property
    def after_seconds(self) -> float:
        return parse_duration(self.after, allow_zero=True).seconds


DEFAULT_LADDER: tuple[EscalationLevel, ...] = tuple(
    EscalationLevel(role=role, after=after)
    for role, after in (
        ("Service Desk Team Lead", "0m"),
        ("Senior IT Operations Manager", "1h"),
        ("IT Operations Director", "2h"),
        ("Account Manager", "4h"),
        ("Chief Operating Officer", "8h"),
        ("Chief Executive Officer", "24h"),
    )
)


class SlaPolicy(BaseModel):
    """What a contract promises for each priority, on which calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    calendar: CalendarSpec
    targets: dict[Priority, PriorityTargets]
    warnings: tuple[int, ...] = Field((50, 75, 90), description="warn at these % elapsed")
    ladder: tuple[EscalationLevel, ...] = DEFAULT_LADDER

    @field_validator("warnings")
    @classmethod
    def _valid_warnings(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 < w < 100 for w in value):
            raise ValueError("warnings are percentages strictly between 0 and 100")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _all_priorities(self) -> SlaPolicy:
        missing = [p.value for p in Priority if p not in self.targets]
        if missing:
            raise ValueError(f"targets has no entry for {', '.join(missing)}: add one "
                             "(an empty mapping means best effort)")
        return self

    def for_priority(self, priority: Priority) -> PriorityTargets:
        return self.targets[priority]
