"""Response and resolution deadlines for a ticket, with pauses.

Two entry points share one calculation:

* :func:`compute_deadlines` works from a policy and its live calendar (the API, the CLI's
  ``sla preview``, benchmarks);
* :class:`SlaSnapshot` freezes what one ticket needs when it opens (targets in
  microseconds and the working windows ahead), so a workflow computes the same deadlines on
  every replay, whatever later ``holidays`` releases or config edits say.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, PrivateAttr

from domain.sla.calendar import BusinessClock, business_clock
from domain.sla.policy import (
    Clock,
    EscalationLevel,
    MeasuredFrom,
    Priority,
    PriorityTargets,
    SlaPolicy,
    Target,
)
from domain.sla.timeline import (
    US,
    HorizonExceeded,
    Timeline,
    TimelineSnapshot,
    from_us,
    merge_pauses,
    to_us,
)

ALWAYS = Timeline.always()
Pause = tuple[datetime, datetime | None]
_MAX_COVER_YEARS = 40


class SlaDeadlines(BaseModel):
    """``None`` means no deadline: no target, not started yet (resolution from first
    response before the response), or stopped (an open pause)."""

    response_due: datetime | None = None
    resolution_due: datetime | None = None


class ResolvedTarget(BaseModel):
    """A target with its length fixed in microseconds (business days resolved)."""

    micros: int
    business: bool
    from_first_response: bool = False

    @classmethod
    def of(cls, target: Target | None, business_day_seconds: int) -> ResolvedTarget | None:
        if target is None:
            return None
        return cls(
            micros=round(target.seconds(business_day_seconds) * US),
            business=target.clock is Clock.BUSINESS,
            from_first_response=target.measured_from is MeasuredFrom.FIRST_RESPONSE,
        )


def split_pauses(pauses: Sequence[Pause]) -> tuple[list[tuple[int, int]], int | None]:
    """Closed pauses as merged microsecond intervals, plus the start of an open one."""
    closed: list[tuple[int, int]] = []
    open_start: int | None = None
    for start, end in pauses:
        if end is None:
            s = to_us(start)
            open_start = s if open_start is None else min(open_start, s)
        else:
            closed.append((to_us(start), to_us(end)))
    return merge_pauses(closed), open_start


def due(target: ResolvedTarget | None, timeline: Timeline, opened: int,
        first_response: int | None, closed: Sequence[tuple[int, int]],
        open_start: int | None) -> int | None:
    """One deadline in microseconds, or ``None`` (see :class:`SlaDeadlines`)."""
    if target is None:
        return None
    start = first_response if target.from_first_response else opened
    if start is None:
        return None
    clock = timeline if target.business else ALWAYS
    deadline = clock.deadline(start, target.micros, closed)
    if open_start is not None and max(open_start, start) < deadline:
        return None  # the clock is stopped before the target is reached
    return deadline


def compute_deadlines(
    policy: SlaPolicy,
    priority: Priority,
    opened_at: datetime,
    first_response_at: datetime | None = None,
    pauses: Sequence[Pause] = (),
) -> SlaDeadlines:
    clock = compiled_clock(policy)
    pair = TargetPair.of(policy.targets[priority], clock.business_day_seconds)
    latest = max([opened_at, first_response_at or opened_at,
                  *(end for _, end in pauses if end is not None)])
    first_year, last_year = opened_at.year, latest.year + 1
    while True:
        try:
            return pair.deadlines(clock.cover(first_year, last_year), opened_at,
                                  first_response_at, pauses)
        except HorizonExceeded:
            if last_year - first_year > _MAX_COVER_YEARS:
                raise
            last_year += 2


_COMPILED: dict[int, tuple[SlaPolicy, BusinessClock]] = {}


def compiled_clock(policy: SlaPolicy) -> BusinessClock:
    """The compiled calendar of ``policy``, found by identity first (fast path), then by
    the calendar's content (shared across equal calendars)."""
    hit = _COMPILED.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    clock = business_clock(policy.calendar)
    if len(_COMPILED) > 1024:
        _COMPILED.clear()
    _COMPILED[id(policy)] = (policy, clock)
    return clock


class TargetPair(BaseModel):
    response: ResolvedTarget | None = None
    resolution: ResolvedTarget | None = None

    @classmethod
    def of(cls, targets: PriorityTargets, business_day_seconds: int) -> TargetPair:
        return cls.model_construct(
            response=ResolvedTarget.of(targets.response, business_day_seconds),
            resolution=ResolvedTarget.of(targets.resolution, business_day_seconds))

    def deadlines(self, timeline: Timeline, opened_at: datetime,
                  first_response_at: datetime | None = None, pauses: Sequence[Pause] = (),
                  resolution_pauses: Sequence[Pause] = ()) -> SlaDeadlines:
        """Both deadlines on ``timeline``; ``resolution_pauses`` stop only the resolution
        clock (e.g. while resolved, before a reopen)."""
        opened = to_us(opened_at)
        first = to_us(first_response_at) if first_response_at is not None else None
        closed, open_start = split_pauses(pauses)
        response = due(self.response, timeline, opened, first, closed, open_start)
        if resolution_pauses:
            closed, open_start = split_pauses([*pauses, *resolution_pauses])
        resolution = due(self.resolution, timeline, opened, first, closed, open_start)
        return SlaDeadlines(
            response_due=None if response is None else from_us(response),
            resolution_due=None if resolution is None else from_us(resolution),
        )


class SlaSnapshot(BaseModel):
    """Everything a ticket's SLA needs, frozen when it opens (workflow-safe: no zones).

    Targets for every priority are frozen too, so a reprioritised ticket gets the targets
    of the policy it opened under, recomputed from its original open time."""

    policy: str
    timezone: str
    business_day_seconds: int
    targets: dict[Priority, TargetPair]
    windows: TimelineSnapshot
    warnings: tuple[int, ...]
    ladder: tuple[EscalationLevel, ...]
    _timeline: Timeline | None = PrivateAttr(None)

    def extended(self, later: TimelineSnapshot) -> SlaSnapshot:
        """This snapshot with ``later``'s working windows appended."""
        copy = self.model_copy(update={"windows": self.windows.extended(later)})
        copy._timeline = None  # compile the longer windows on first use
        return copy

    def timeline(self) -> Timeline:
        if self._timeline is None:
            self._timeline = Timeline.from_snapshot(self.windows)
        return self._timeline

    def deadlines(self, priority: Priority, opened_at: datetime,
                  first_response_at: datetime | None = None, pauses: Sequence[Pause] = (),
                  resolution_pauses: Sequence[Pause] = ()) -> SlaDeadlines:
        """Raises :class:`HorizonExceeded` if the ticket outlives its windows."""
        return self.targets[priority].deadlines(self.timeline(), opened_at, first_response_at,
                                                pauses, resolution_pauses)


class Milestone(BaseModel):
    """An instant on one SLA clock: a warning threshold, or the breach (``percent=100``)."""

    clock: str  # "response" or "resolution"
    percent: int
    at: datetime

    @property
    def key(self) -> str:
        return f"{self.clock}:{self.percent}"


def milestones(snapshot: SlaSnapshot, priority: Priority, opened_at: datetime,
               first_response_at: datetime | None, pauses: Sequence[Pause] = (),
               resolution_pauses: Sequence[Pause] = ()) -> list[Milestone]:
    """Every warning and breach instant still defined (none while a clock is stopped),
    earliest first."""
    timeline = snapshot.timeline()
    pair = snapshot.targets[priority]
    found: list[Milestone] = []
    for clock, target, stops in (("response", pair.response, pauses),
                                 ("resolution", pair.resolution, [*pauses, *resolution_pauses])):
        if target is not None:
            found += target_milestones(clock, target, timeline, opened_at, first_response_at,
                                       stops, snapshot.warnings)
    return sorted(found, key=milestone_order)


def target_milestones(name: str, target: ResolvedTarget, timeline: Timeline,
                      opened_at: datetime, first_response_at: datetime | None,
                      stops: Sequence[Pause], warnings: Sequence[int]) -> list[Milestone]:
    """The warning instants (``warnings`` % of the target) and the breach of one target."""
    opened = to_us(opened_at)
    first = to_us(first_response_at) if first_response_at is not None else None
    closed, open_start = split_pauses(stops)
    found = []
    for percent in (*warnings, 100):
        part = target.model_copy(update={"micros": target.micros * percent // 100})
        at = due(part, timeline, opened, first, closed, open_start)
        if at is not None:
            found.append(Milestone(clock=name, percent=percent, at=from_us(at)))
    return found


def milestone_order(milestone: Milestone) -> tuple[datetime, bool, int]:
    """Earliest first; at one instant the response clock before the others."""
    return (milestone.at, milestone.clock != "response", milestone.percent)


SNAPSHOT_DAYS = 90  # a ticket living longer extends its windows (see windows_between)


def windows_between(policy: SlaPolicy, start: datetime, end: datetime) -> TimelineSnapshot:
    """The policy calendar's working windows from ``start`` to ``end``."""
    timeline = compiled_clock(policy).cover(start.year, end.year + 1)
    return timeline.snapshot(to_us(start), to_us(end))


def snapshot_for(policy: SlaPolicy, opened_at: datetime,
                 horizon_days: int = SNAPSHOT_DAYS) -> SlaSnapshot:
    """Freeze ``policy`` for a ticket opened at ``opened_at``: windows from a day before
    to ``horizon_days`` after; the workflow extends them before they run out."""
    clock = compiled_clock(policy)
    start = opened_at - timedelta(days=1)
    end = opened_at + timedelta(days=horizon_days)
    bd = clock.business_day_seconds
    return SlaSnapshot(
        policy=policy.name,
        timezone=policy.calendar.timezone,
        business_day_seconds=bd,
        targets={p: TargetPair.of(t, bd) for p, t in policy.targets.items()},
        windows=windows_between(policy, start, end),
        warnings=policy.warnings,
        ladder=policy.ladder,
    )
