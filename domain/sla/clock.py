"""A ticket's SLA clock: targets, pauses, warnings, breach and the escalation ladder.

Every ticket workflow (incident, service request, onboarding, ...) owns one. The clock is
pure: it keeps its state in :class:`SlaClockState` (which the workflow carries across
continue-as-new), answers "when must I wake next?" (:meth:`SlaClock.next_moment`) and,
once woken, reports what fell due (:meth:`SlaClock.fire_due`). It never sleeps, sends or
logs: the workflow turns the :class:`ClockEvent` s into ticket events and notices.

Targets are the priority's response/resolution pair frozen in the :class:`SlaSnapshot`,
plus any named extra targets a process adds while running (a fulfilment date, access
revoked within 1 h of an exit, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from domain.sla.deadlines import (
    Milestone,
    ResolvedTarget,
    SlaDeadlines,
    SlaSnapshot,
    milestone_order,
    milestones,
    target_milestones,
)
from domain.sla.policy import EscalationLevel, Priority
from domain.sla.timeline import HorizonExceeded

Period = tuple[datetime, datetime | None]


class ClockTarget(BaseModel):
    """A named target beside the priority's pair: a length on the clock (from opening,
    first response or ``starts_at``), or a fixed instant ``due_at``."""

    name: str = Field(pattern=r"^[a-z_]{1,32}$")
    length: ResolvedTarget | None = None
    due_at: datetime | None = None
    starts_at: datetime | None = Field(None, description="measured from here, not opening")
    warnings: tuple[int, ...] | None = Field(None, description="None: the policy's warnings")
    pausable: bool = Field(True, description="False: pending/on hold do not move it")
    met_at: datetime | None = Field(None, description="met: no more warnings or breach")


class SlaClockState(BaseModel):
    """Everything the clock remembers; lives in the ticket's state."""

    priority: Priority
    priority_targets: bool = Field(True, description="False: the priority's response and "
                                   "resolution targets do not apply (a process with its own)")
    opened_at: datetime
    first_response_at: datetime | None = None
    pauses: list[Period] = Field(default_factory=list, description="pending / on hold")
    resolved_periods: list[Period] = Field(default_factory=list, description="stop the "
                                           "resolution clock only (resolved, before a reopen)")
    extra: list[ClockTarget] = Field(default_factory=list)
    fired: list[str] = Field(default_factory=list, description="milestone keys fired")
    breached_at: datetime | None = None
    escalation_level: int = 0
    running: bool = Field(True, description="False once the work is done: nothing falls due")


class ClockEvent(BaseModel):
    """Something that fell due: a warning, a breach or one rung of the ladder."""

    kind: Literal["warning", "breach", "escalation"]
    due: datetime
    target: str = ""
    percent: int = 0
    level: int = 0
    rung: EscalationLevel | None = None


class SlaClock:
    """Operations on one :class:`SlaClockState` under one :class:`SlaSnapshot`.

    ``patched`` answers ``workflow.patched`` inside a workflow (a pure caller passes
    nothing): the clock asks it only where its behaviour changed over time.
    """

    def __init__(self, snapshot: SlaSnapshot, state: SlaClockState,
                 patched: Callable[[str], bool] = lambda _: True) -> None:
        self.snapshot = snapshot
        self.state = state
        self._patched = patched

    # ------------------------------------------------------------------ reading

    @property
    def paused(self) -> bool:
        return bool(self.state.pauses) and self.state.pauses[-1][1] is None

    @property
    def breached(self) -> bool:
        return self.state.breached_at is not None

    def deadlines(self) -> SlaDeadlines | None:
        """Response and resolution due now (``None`` fields while stopped); ``None`` if
        the ticket outlived its frozen calendar (the workflow extends it)."""
        s = self.state
        if not s.priority_targets:
            return SlaDeadlines()
        try:
            return self.snapshot.deadlines(s.priority, s.opened_at, s.first_response_at,
                                           s.pauses, s.resolved_periods)
        except HorizonExceeded:
            return None

    def due(self, name: str) -> datetime | None:
        """The breach instant of target ``name`` (``None`` if stopped, met or unknown)."""
        found = [m.at for m in self._all_milestones() if m.clock == name and m.percent == 100]
        return found[0] if found else None

    def pending(self) -> list[Milestone]:
        """Warnings and breaches still to fire, earliest first."""
        s = self.state
        if not s.running:
            return []
        met = {t.name for t in s.extra if t.met_at is not None}
        if s.first_response_at is not None:
            met.add("response")
        return [m for m in self._all_milestones() if m.key not in s.fired and m.clock not in met]

    def ladder_moment(self) -> datetime | None:
        """When the next rung of the escalation ladder is due, if one is."""
        s = self.state
        ladder = self.snapshot.ladder
        if s.breached_at is None or not s.running or s.escalation_level >= len(ladder):
            return None
        return s.breached_at + timedelta(seconds=ladder[s.escalation_level].after_seconds)

    def next_moment(self) -> datetime | None:
        """The earliest instant something falls due."""
        moments = [m.at for m in self.pending()[:1]]
        rung = self.ladder_moment()
        # The ladder waits while the ticket is paused (fire_due skips it); without this a
        # rung falling due mid-pause woke the loop again and again at a past instant.
        if rung is not None and self.paused and self._patched("ladder-waits-while-paused"):
            rung = None
        if rung is not None:
            moments.append(rung)
        return min(moments, default=None)

    # ------------------------------------------------------------------ firing

    def fire_due(self, now: datetime) -> Iterator[ClockEvent]:
        """Everything due at or before ``now``, in order; each fires exactly once.

        A generator: the state moves as each event is taken, so a caller that publishes
        after each one (search attributes, notices) sees the ticket as it was then."""
        s = self.state
        for milestone in self.pending():
            if milestone.at > now:
                break
            s.fired.append(milestone.key)
            if milestone.percent == 100:
                if s.breached_at is None:
                    s.breached_at = milestone.at
                yield ClockEvent(kind="breach", due=milestone.at, target=milestone.clock,
                                 percent=100)
            else:
                yield ClockEvent(kind="warning", due=milestone.at, target=milestone.clock,
                                 percent=milestone.percent)
        rung = self.ladder_moment()
        while rung is not None and rung <= now and not self.paused:
            step = self.snapshot.ladder[s.escalation_level]
            s.escalation_level += 1
            yield ClockEvent(kind="escalation", due=rung, level=s.escalation_level, rung=step)
            rung = self.ladder_moment()

    # ------------------------------------------------------------------ changing

    def pause(self, now: datetime) -> None:
        if not self.paused:
            self.state.pauses.append((now, None))

    def resume(self, now: datetime) -> None:
        if self.paused:
            _close_last(self.state.pauses, now)

    def stop(self, now: datetime) -> None:
        """The work is done (resolved): nothing more falls due, the resolution clock stops."""
        if self.state.running:
            self.state.running = False
            self.state.resolved_periods.append((now, None))

    def restart(self, now: datetime) -> None:
        """Reopened: the resolution clock runs on from where it stopped."""
        if not self.state.running:
            self.state.running = True
            _close_last(self.state.resolved_periods, now)

    def respond(self, now: datetime) -> None:
        """First response: the response target is met."""
        if self.state.first_response_at is None:
            self.state.first_response_at = now

    def reprioritise(self, priority: Priority, now: datetime) -> None:
        """New targets, from the original open time; warnings not yet due under them
        fire again when they come."""
        self.state.priority = priority
        passed = {m.key for m in self._all_milestones() if m.at <= now}
        self.state.fired = [k for k in self.state.fired if k in passed]

    def escalate(self) -> EscalationLevel | None:
        """One rung up the ladder now (a client's escalation); the timed rungs go on from
        there. None when the ladder is already at its top."""
        s = self.state
        ladder = self.snapshot.ladder
        if s.escalation_level >= len(ladder):
            return None
        step = ladder[s.escalation_level]
        s.escalation_level += 1
        return step

    def set_target(self, target: ClockTarget, now: datetime) -> None:
        """Add ``target``, or replace the one of that name; its milestones already passed
        under the new definition stay fired, later ones fire when due."""
        s = self.state
        s.extra = [t for t in s.extra if t.name != target.name] + [target]
        passed = {m.key for m in self._all_milestones() if m.at <= now}
        s.fired = [k for k in s.fired if not k.startswith(f"{target.name}:") or k in passed]

    def meet(self, name: str, now: datetime) -> None:
        for target in self.state.extra:
            if target.name == name and target.met_at is None:
                target.met_at = now

    # ------------------------------------------------------------------ helpers

    def _all_milestones(self) -> list[Milestone]:
        s = self.state
        try:
            found = milestones(self.snapshot, s.priority, s.opened_at, s.first_response_at,
                               s.pauses, s.resolved_periods) if s.priority_targets else []
            for target in s.extra:
                found += self._extra_milestones(target)
        except HorizonExceeded:  # the workflow extends the calendar, then asks again
            return []
        return sorted(found, key=milestone_order) if s.extra else found

    def _extra_milestones(self, target: ClockTarget) -> list[Milestone]:
        s = self.state
        warnings = self.snapshot.warnings if target.warnings is None else target.warnings
        start = target.starts_at or s.opened_at
        if target.due_at is not None:
            span = target.due_at - start
            return [Milestone(clock=target.name, percent=p, at=start + span * p / 100)
                    for p in (*warnings, 100)]
        if target.length is None:
            return []
        stops = s.pauses if target.pausable else []
        return target_milestones(target.name, target.length, self.snapshot.timeline(), start,
                                 s.first_response_at, stops, warnings)


def _close_last(periods: list[Period], now: datetime) -> None:
    if periods and periods[-1][1] is None:
        periods[-1] = (periods[-1][0], now)
