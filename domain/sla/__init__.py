"""The SLA engine: business calendars, targets, priorities and exact deadlines."""

from domain.sla.calendar import CalendarSpec, HolidaySpec, Shift, business_clock
from domain.sla.deadlines import (
    SlaDeadlines,
    SlaSnapshot,
    compute_deadlines,
    snapshot_for,
)
from domain.sla.durations import Duration, parse_duration
from domain.sla.policy import (
    DEFAULT_LADDER,
    Clock,
    EscalationLevel,
    MeasuredFrom,
    Priority,
    PriorityTargets,
    SlaPolicy,
    Target,
)
from domain.sla.presets import PRESETS, deep_merge, policy_from_preset
from domain.sla.priority import (
    Level,
    PriorityDecision,
    PriorityMatrix,
    SeverityCriteria,
    priority_from_matrix,
    priority_from_severity,
)
from domain.sla.timeline import HorizonExceeded, Timeline, TimelineSnapshot

__all__ = [
    "DEFAULT_LADDER", "PRESETS", "CalendarSpec", "Clock", "Duration", "EscalationLevel",
    "HolidaySpec", "HorizonExceeded", "Level", "MeasuredFrom", "Priority", "PriorityDecision",
    "PriorityMatrix", "PriorityTargets", "SeverityCriteria", "Shift", "SlaDeadlines",
    "SlaPolicy", "SlaSnapshot", "Target", "Timeline", "TimelineSnapshot", "business_clock",
    "compute_deadlines", "deep_merge", "parse_duration", "policy_from_preset",
    "priority_from_matrix", "priority_from_severity", "snapshot_for",
]
