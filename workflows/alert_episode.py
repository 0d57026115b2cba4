"""One alert of one client (an Alertmanager fingerprint or an Events v2 dedup_key): the
episodes of that alert and the incidents they open.

The API sends every message about the alert here by update-with-start, so all of them -
repeats, HA duplicates, out-of-order resolves - meet in one workflow, and its handlers take
turns (a lock), so 20 concurrent posts are decided one after another:

* fire: a new episode opens an incident (a child workflow, started from the number the
  API prepared); the open episode again is a repeat; firing again within the flap window
  after a resolve reopens the same incident; a message about an episode already over
  (an older ``startsAt``) is stale and changes nothing.
* resolve: resolves the incident with the alert's note (the incident's own ``transition``
  update, sent by an activity, so its rules decide and a refusal comes back as an answer).
* acknowledge (Events v2): acknowledges the incident.

The workflow ends once its episode is over: the flap window after a resolve has passed (a
later firing starts a new run and a new incident), or the incident was resolved at the desk
and the alert has been silent for a day. It continues as new when its history grows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from domain.alerts import (
        EPISODE_TICKETS_KEPT,
        AlertEnding,
        AlertFiring,
        AlertSource,
        EpisodeAction,
        EpisodeAnswer,
        EpisodeStart,
        EpisodeState,
        EpisodeStatus,
        IncidentMove,
        IncidentRef,
        MoveOutcome,
    )
    from domain.ids import TicketKind, workflow_id
    from domain.refusals import Refusal
    from workflows.incident import IncidentWorkflow

IDLE_CHECK = timedelta(days=1)   # a firing alert that goes quiet: is its incident done?
HANDLED_MAX = 500                # messages per run (each carries a prepared incident)
MOVE_TIMEOUT = timedelta(seconds=30)
RETRY = Refusal.RETRY            # an ApplicationError type: the API answers 503, retry later
TICKET_TAKEN = Refusal.TICKET_TAKEN  # the same, and the prepared number must not be used again
_DONE = ("resolved", "closed")


@workflow.defn
class AlertEpisodeWorkflow:
    @workflow.init
    def __init__(self, start: EpisodeStart) -> None:
        self.state = start.state
        self._lock = asyncio.Lock()
        self._changed = False

    @workflow.run
    async def run(self, start: EpisodeStart) -> EpisodeState:
        s = self.state
        if s.last_message_at is None:
            s.last_message_at = workflow.now()
        while True:
            moments = [(self._end_of_life(), "end of episode"),
                       (self._check_due(), "is the incident still open?")]
            wake, why = min(((t, w) for t, w in moments if t is not None), key=lambda m: m[0])
            self._changed = False
            timeout = wake - workflow.now()
            if timeout > timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._changed or self._should_continue(), timeout=timeout,
                        timeout_summary=f"{why} due {wake:%Y-%m-%d %H:%M:%S} UTC")
            check = self._check_due()
            if check is not None and workflow.now() >= check:
                async with self._lock:
                    await self._check_incident()
            if self._over():
                # A message being handled may change the episode (a reopen): wait for it.
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._over():
                    return self.state
                continue
            if self._should_continue():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    EpisodeStart(state=self.state.model_copy(update={"handled": 0})))

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> EpisodeState:
        return self.state

    @workflow.update
    async def fire(self, firing: AlertFiring) -> EpisodeAnswer:
        return await self._once(lambda: self._fire(firing))

    @fire.validator
    def _validate_fire(self, firing: AlertFiring) -> None:
        self._check_sender(firing.client_id, firing.source)
        if firing.incident.client_id != self.state.client_id:
            raise ApplicationError("the prepared incident is for another client",
                                   type=Refusal.NOT_ALLOWED)

    @workflow.update
    async def resolve(self, ending: AlertEnding) -> EpisodeAnswer:
        return await self._once(lambda: self._resolve(ending))

    @resolve.validator
    def _validate_resolve(self, ending: AlertEnding) -> None:
        self._check_sender(ending.client_id, ending.source)

    @workflow.update
    async def acknowledge(self, ending: AlertEnding) -> EpisodeAnswer:
        return await self._once(lambda: self._acknowledge(ending))

    @acknowledge.validator
    def _validate_acknowledge(self, ending: AlertEnding) -> None:
        self._check_sender(ending.client_id, ending.source)

    async def _once(self, decide: Callable[[], Awaitable[EpisodeAnswer]]) -> EpisodeAnswer:
        """A message's answer, decided once per update id: the client sends an update that
        was in flight when a run continued as new to the next run with the same id, though
        the last run may have applied it (one firing counted twice); it is answered as it
        was the first time, and changes nothing."""
        update = workflow.current_update_info()
        assert update is not None  # called by the update handlers only
        async with self._lock:
            earlier = self.state.answer_for(update.id)
            if earlier is not None:
                return earlier
            answer = self._handled(await decide())
            self.state.remember(update.id, answer)
            return answer

    def _check_sender(self, client_id: str, source: AlertSource) -> None:
        if client_id != self.state.client_id or source is not self.state.source:
            raise ApplicationError(f"this episode is {self.state.source.value} of "
                                   f"{self.state.client_id}, not {source.value} of {client_id}",
                                   type=Refusal.NOT_ALLOWED)

    # ------------------------------------------------------------------ decisions

    async def _fire(self, firing: AlertFiring) -> EpisodeAnswer:
        s = self.state
        now = self._arrived(firing.flap_window_seconds)
        if self._stale(firing.starts_at, firing=True):
            return self._answer(EpisodeAction.STALE, "that episode is over already")
        if s.status is EpisodeStatus.FIRING:
            s.repeats += 1
            if firing.starts_at is not None and firing.starts_at != s.starts_at:
                s.note(now, "refired", f"startsAt {_iso(s.starts_at)} -> {_iso(firing.starts_at)}"
                       " while open (a resolve was missed)")
                s.starts_at = firing.starts_at
            return self._answer(EpisodeAction.REPEAT)
        if (s.status is EpisodeStatus.RESOLVED and s.ticket_id is not None
                and s.resolved_at is not None and now - s.resolved_at <= self._window()):
            quiet = int((now - s.resolved_at).total_seconds())
            outcome = await self._move(s.ticket_id, "in_progress", firing.by,
                                       f"the alert fired again {quiet} s after it resolved "
                                       f"(flap window {s.flap_window_seconds} s)")
            if outcome.applied:
                s.status, s.starts_at, s.resolved_at = (EpisodeStatus.FIRING,
                                                        firing.starts_at, None)
                s.flaps += 1
                s.note(now, "reopened", f"{s.ticket_id} after {quiet} s")
                return self._answer(EpisodeAction.REOPENED)
            s.note(now, "reopen_refused", f"{s.ticket_id}: {outcome.refused}")
        return await self._open(firing, now)

    async def _open(self, firing: AlertFiring, now: datetime) -> EpisodeAnswer:
        s = self.state
        start = firing.incident
        at_intake = IncidentWorkflow.initial_state(start)
        try:
            await workflow.start_child_workflow(
                IncidentWorkflow.run, start, id=workflow_id(TicketKind.INCIDENT, start.ticket_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    IncidentWorkflow.search_attributes(at_intake)),
                static_summary=firing.summary or None, static_details=firing.details or None)
        except WorkflowAlreadyStartedError as exc:
            raise ApplicationError(f"ticket number {start.ticket_id} is taken: retry",
                                   type=TICKET_TAKEN, non_retryable=True) from exc
        s.status, s.ticket_id, s.starts_at, s.resolved_at = (EpisodeStatus.FIRING,
                                                             start.ticket_id,
                                                             firing.starts_at, None)
        s.tickets.append(start.ticket_id)
        del s.tickets[:-EPISODE_TICKETS_KEPT]
        s.note(now, "opened", start.ticket_id)
        return self._answer(EpisodeAction.OPENED)

    async def _resolve(self, ending: AlertEnding) -> EpisodeAnswer:
        s = self.state
        now = self._arrived(ending.flap_window_seconds)
        if self._stale(ending.starts_at, firing=False):
            return self._answer(EpisodeAction.STALE, "that episode is over already")
        if s.status is EpisodeStatus.RESOLVED:
            return self._answer(EpisodeAction.REPEAT, "resolved already")
        if s.status is EpisodeStatus.QUIET:  # the resolve overtook its firing: remember it
            s.status, s.resolved_at, s.starts_at = EpisodeStatus.RESOLVED, now, ending.starts_at
            s.note(now, "resolved_unopened")
            return self._answer(EpisodeAction.NO_INCIDENT, "no incident is open for this alert")
        assert s.ticket_id is not None
        outcome = await self._move(s.ticket_id, "resolved", ending.by, ending.note)
        s.status, s.resolved_at = EpisodeStatus.RESOLVED, now
        s.starts_at = ending.starts_at or s.starts_at
        s.note(now, "resolved", outcome.refused or s.ticket_id)
        if outcome.applied:
            return self._answer(EpisodeAction.RESOLVED)
        return self._answer(EpisodeAction.NOTED, outcome.refused)

    async def _acknowledge(self, ending: AlertEnding) -> EpisodeAnswer:
        s = self.state
        self._arrived(ending.flap_window_seconds)
        if s.status is not EpisodeStatus.FIRING or s.ticket_id is None:
            return self._answer(EpisodeAction.NO_INCIDENT, "no incident is open for this alert")
        outcome = await self._move(s.ticket_id, "acknowledged", ending.by, ending.note)
        if outcome.applied:
            return self._answer(EpisodeAction.ACKNOWLEDGED)
        return self._answer(EpisodeAction.NOTED, outcome.refused)

    def _stale(self, starts_at: datetime | None, firing: bool) -> bool:
        """Alertmanager only: a message about an older episode, or a firing of the episode
        that has resolved already (an HA peer's late copy)."""
        s = self.state
        if starts_at is None or s.starts_at is None:
            return False
        if starts_at < s.starts_at:
            return True
        return firing and starts_at == s.starts_at and s.status is EpisodeStatus.RESOLVED

    # ------------------------------------------------------------------ the incident

    async def _move(self, ticket_id: str, to: str, by: str, reason: str) -> MoveOutcome:
        try:
            return await workflow.execute_activity_method(
                AlertActivities.move_incident,
                IncidentMove(ticket_id=ticket_id, to=to, reason=reason[:1000], by=by),
                start_to_close_timeout=MOVE_TIMEOUT, schedule_to_close_timeout=MOVE_TIMEOUT,
                summary=f"{to}: {ticket_id}")
        except ActivityError as exc:
            raise ApplicationError(f"{ticket_id} did not answer: retry", type=RETRY,
                                   non_retryable=True) from exc

    async def _check_incident(self) -> None:
        """A firing alert that has gone quiet for a day: if its incident was resolved at
        the desk (or has ended), the episode is over."""
        s = self.state
        if s.status is not EpisodeStatus.FIRING or s.ticket_id is None:
            return
        try:
            outcome = await workflow.execute_activity_method(
                AlertActivities.incident_status, IncidentRef(ticket_id=s.ticket_id),
                start_to_close_timeout=MOVE_TIMEOUT, schedule_to_close_timeout=MOVE_TIMEOUT,
                summary=f"status of {s.ticket_id}")
        except ActivityError:
            outcome = None
        now = workflow.now()
        s.checked_at = now
        if s.status is not EpisodeStatus.FIRING or outcome is None:
            return
        if outcome.status is None or outcome.status in _DONE:
            s.status, s.resolved_at = EpisodeStatus.RESOLVED, now
            s.note(now, "incident_done", f"{s.ticket_id} is {outcome.status or 'ended'} and "
                   "the alert has been quiet")

    # ------------------------------------------------------------------ helpers

    def _arrived(self, flap_window_seconds: int) -> datetime:
        now = workflow.now()
        self.state.last_message_at = now
        self.state.flap_window_seconds = flap_window_seconds  # the client's config now
        return now

    def _answer(self, action: EpisodeAction, detail: str = "") -> EpisodeAnswer:
        return EpisodeAnswer(ticket_id=self.state.ticket_id, action=action, detail=detail)

    def _handled(self, answer: EpisodeAnswer) -> EpisodeAnswer:
        self.state.handled += 1
        self._changed = True
        return answer

    def _window(self) -> timedelta:
        return timedelta(seconds=self.state.flap_window_seconds)

    def _end_of_life(self) -> datetime | None:
        s = self.state
        if s.status is EpisodeStatus.FIRING:
            return None
        since = s.resolved_at if s.status is EpisodeStatus.RESOLVED else s.last_message_at
        assert since is not None
        return since + self._window()

    def _over(self) -> bool:
        end = self._end_of_life()
        return end is not None and workflow.now() >= end

    def _check_due(self) -> datetime | None:
        s = self.state
        if s.status is not EpisodeStatus.FIRING:
            return None
        seen = [t for t in (s.last_message_at, s.checked_at) if t is not None]
        return max(seen) + IDLE_CHECK

    def _should_continue(self) -> bool:
        return (workflow.info().is_continue_as_new_suggested()
                or self.state.handled >= HANDLED_MAX)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"
