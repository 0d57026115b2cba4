"""Priority from impact x urgency (a per-client matrix) or from severity criteria
(BetterWorld's table). Every decision records the rule that produced it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.sla.policy import Priority


class Level(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class WorkStoppage(StrEnum):
    FULL = "full"
    SIGNIFICANT = "significant"
    SOME = "some"
    MINOR = "minor"


class Workaround(StrEnum):
    NONE = "none"
    SHORT_TERM = "short_term"
    MEDIUM_TERM = "medium_term"


class BusinessRisk(StrEnum):
    CATASTROPHIC = "catastrophic"
    MAJOR = "major"
    MODERATE = "moderate"
    MINIMAL = "minimal"


class PriorityMatrix(BaseModel):
    """impact -> urgency -> priority (ITIL's 3x3 folded onto P1..P4 by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cells: dict[Level, dict[Level, Priority]] = Field(default_factory=lambda: {
        Level.HIGH: {Level.HIGH: Priority.P1, Level.MEDIUM: Priority.P2,
                     Level.LOW: Priority.P3},
        Level.MEDIUM: {Level.HIGH: Priority.P2, Level.MEDIUM: Priority.P3,
                       Level.LOW: Priority.P4},
        Level.LOW: {Level.HIGH: Priority.P3, Level.MEDIUM: Priority.P4,
                    Level.LOW: Priority.P4},
    })

    @model_validator(mode="after")
    def _complete(self) -> PriorityMatrix:
        for impact in Level:
            for urgency in Level:
                if urgency not in self.cells.get(impact, {}):
                    raise ValueError(f"matrix has no cell for impact={impact}, urgency={urgency}")
        return self


class PriorityDecision(BaseModel):
    priority: Priority
    rule: str = Field(description="how the priority was reached, for the ticket's record")


def priority_from_matrix(matrix: PriorityMatrix, impact: Level, urgency: Level) -> PriorityDecision:
    priority = matrix.cells[impact][urgency]
    return PriorityDecision(priority=priority,
                            rule=f"matrix: impact={impact.value} x urgency={urgency.value}")


class SeverityCriteria(BaseModel):
    """BetterWorld's severity table; give any of the four criteria."""

    model_config = ConfigDict(extra="forbid")
    users_affected_pct: float | None = Field(None, ge=0, le=100)
    work_stoppage: WorkStoppage | None = None
    workaround: Workaround | None = None
    business_risk: BusinessRisk | None = None

    def levels(self) -> dict[str, Priority]:
        """Each given criterion and the priority its column in the table points to."""
        found: dict[str, Priority] = {}
        if self.users_affected_pct is not None:
            pct = self.users_affected_pct
            found["users_affected_pct"] = (
                Priority.P1 if pct >= 75 else Priority.P2 if pct >= 30
                else Priority.P3 if pct >= 15 else Priority.P4
            )
        ordered = list(Priority)
        for name, value, scale in (
            ("work_stoppage", self.work_stoppage, list(WorkStoppage)),
            ("workaround", self.workaround, list(Workaround)),
            ("business_risk", self.business_risk, list(BusinessRisk)),
        ):
            if value is not None:
                found[name] = ordered[scale.index(value)]
        return found


def priority_from_severity(criteria: SeverityCriteria) -> PriorityDecision:
    """The median of the criteria's levels, taking the more severe middle on a tie: one
    outlier cannot swing the priority, and a split decision errs toward urgency."""
    levels = criteria.levels()
    if not levels:
        raise ValueError("give at least one severity criterion: users_affected_pct, "
                         "work_stoppage, workaround or business_risk")
    ranked = sorted(levels.values(), key=lambda p: p.value)
    priority = ranked[(len(ranked) - 1) // 2]
    detail = ", ".join(f"{name}={level.value}" for name, level in levels.items())
    return PriorityDecision(priority=priority, rule=f"severity median of {detail}")
