"""Provider steps beside the clock, shared by the processes that drive outside systems
(user exits, new users).

Each step has a business key (domain.ids.step_key: ticket, step, pass of the saga, item),
built here from the ticket's data and passed in the activity's input: what a provider sees
as the step's idempotency key is the same on every retry and in every run of the ticket.

Each attempt is one activity; the workflow owns the retries (patch
"provider-steps-retried-by-the-workflow"), so every failed attempt is written on the step
(attempts, last error, when it is tried next: the ticket view shows it) and a provider
that keeps failing sets ``ProviderFailing``. The backoff is a durable timer of the step's
own, beside the ticket's loop, so SLA timers keep firing while a step retries; the next
attempt time is kept in the step's state, so a new run waits out what is left of it. A
refusal no retry can mend ends the step with a note for an agent (once). Runs from before
the patch keep one activity per step, retried by Temporal.

Since patch "provider-steps-handed-over-once": a step handed to an agent is never tried
again until an agent acts (a kind that starts a new pass over its steps gets None at once,
no activity, no notice); steps refused together (a client whose provider is not set up
refuses them all) are one notice; and a provider that keeps failing is told to the desk
once per episode (after FAILING_NOTICE_AFTER) and once when it answers again, never per
attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributePair
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.ids import SagaPass, TicketKind, step_key
    from domain.provider_steps import (
        ERROR_CHARS,
        ProviderResult,
        StepFailure,
        StepState,
        any_failing,
        failing_notice_due,
        joins_handoff,
        record_done,
        record_failure,
        recovery_notice_due,
        waiting_for_an_agent,
    )

STEP_TIMEOUT = timedelta(minutes=2)
WAITING = "waiting_steps"  # the "Do by hand" notice's steps and reasons (domain.mail_words)
# Runs from before the patch: Temporal retries inside one activity, at least once a minute,
# until the provider answers.
UNTIL_IT_WORKS = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2,
                             maximum_interval=timedelta(minutes=1),
                             non_retryable_error_types=["ProviderRefused",
                                                        "ProviderNotConfigured",
                                                        "LicencePoolExhausted"])
# The workflow retries, recording each attempt (domain.provider_steps.retry_delay).
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
# Each attempt is an activity of its own and each failure is written on the step (before,
# Temporal retried inside one activity and the ticket showed nothing while a provider was
# down); the ticket publishes ProviderFailing. Decided in the run's first task.
STEP_RETRIES = "provider-steps-retried-by-the-workflow"
# A step handed to an agent stays with the agent: before, a kind's next pass over its steps
# tried it again at once, and every refusal was a new hand-off and a new notice (a new user
# whose client had no Graph looped ~30 times a second). Refusals made together are one
# notice; a failing provider is told once an episode, and once when it recovers.
HANDED_OVER_ONCE = "provider-steps-handed-over-once"
HANDED_OVER_SHOWN = 5  # steps handed to an agent listed in the Web UI's details
# A step withdrawn while its attempt ran (an onboarding cancelled mid-attempt): the attempt
# may still fail as the provider's error, not as a cancellation (the activity never heard
# of it). Before, the step took that for an ordinary failure and retried for ever, so the
# withdrawal (the onboarding's ``cancel`` update) never answered; an attempt that
# succeeded went on to the steps after it. Now the step ends with the withdrawal.
WITHDRAWN_MID_ATTEMPT = "provider-steps-withdrawn-mid-attempt"


class ProviderSteps:
    """Mixed into a :class:`workflows.ticket.TicketWorkflow` kind (before it), whose state
    has ``steps`` and ``other_steps``; its ``@workflow.init`` calls :meth:`setup_steps`."""

    kind: ClassVar[TicketKind]
    kind_keys: tuple[SearchAttributeKey, ...]
    state: Any
    record_event: Callable[..., None]
    queue_notice: Callable[..., None]
    assignee_mail: Callable[[], list[str]]
    loop_answering: Callable[[], bool]
    mark_changed: Callable[..., None]

    def setup_steps(self) -> None:
        self._retried_here = workflow.patched(STEP_RETRIES)
        self._handed_over_once = self._retried_here and workflow.patched(HANDED_OVER_ONCE)
        if self._retried_here:  # a run from before never published it (replay)
            self.kind_keys = (*type(self).kind_keys, sa.PROVIDER_FAILING)

    @staticmethod
    def kind_attributes(state: Any) -> list[SearchAttributePair]:
        if any_failing(_all_steps(state)):
            return [SearchAttributePair(sa.PROVIDER_FAILING, True)]
        return []

    def step_subject(self) -> str:
        """Who the steps are for, in summaries and notes (e.g. the employee)."""
        raise NotImplementedError

    def details(self) -> str:
        """The Web UI's details, with the step a provider keeps failing, if any, and each
        step handed to an agent with the provider's reason."""
        text: str = super().details()  # type: ignore[misc]
        failing = next((st for st in _all_steps(self.state) if st.failing), None)
        if failing is not None:
            text += (f"\n\n**Provider failing:** {failing.name}, {failing.attempts_failed} "
                     f"attempt(s) failed: {failing.last_error}")
        handed = [st for st in _all_steps(self.state) if st.needs_agent]
        for step in handed[:HANDED_OVER_SHOWN]:
            text += f"\n\n**Needs an agent:** {step.name}: {step.last_error}"
        if len(handed) > HANDED_OVER_SHOWN:
            text += f"\n\n(and {len(handed) - HANDED_OVER_SHOWN} more step(s): see the ticket)"
        return text

    def step_key(self, step: str, saga: SagaPass, target: str | None = None) -> str:
        """The business key of ``step`` of this ticket (see domain.ids.step_key)."""
        return step_key(self.kind, self.state.ticket_id, saga, step, target)

    def other_step(self, name: str) -> StepState:
        """The step called ``name`` beside the main ones (an undo, a wipe, a check): found
        in the state, or added to it, so its attempts show on the ticket in every run."""
        found = next((st for st in self.state.other_steps if st.name == name), None)
        if found is None:
            found = StepState(name=name)
            self.state.other_steps.append(found)
        return found

    async def run_step(self, step: StepState, activity: Any, call: Any,
                       cancellation: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
                       ) -> ProviderResult | None:
        """One provider step; None if the provider refused it (the step then needs an
        agent, who is told)."""
        if step.started_at is None:
            step.started_at = workflow.now()
        step.key = call.step_key
        if not self._retried_here:
            return await self._in_one_activity(step, activity, call, cancellation)
        if self._handed_over_once and step.needs_agent:
            return None  # with an agent: nothing runs until they act (and clear it)
        while True:
            # The loop answers a change first (its timer commands come before ours,
            # however the server groups a task's events; see workflows/ticket.py).
            await workflow.wait_condition(lambda: not self.loop_answering())
            due = step.next_attempt_at
            if due is not None and due > workflow.now():
                await workflow.sleep(due - workflow.now(), summary=(
                    f"retry {step.name} {self.step_subject()} (failed "
                    f"{step.attempts_failed} time(s))"))
                continue
            try:
                result = await self._attempt(step, activity, call, cancellation, ONE_ATTEMPT)
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):  # the work was withdrawn
                    raise asyncio.CancelledError() from err
                if _withdrawn() and workflow.patched(WITHDRAWN_MID_ATTEMPT):
                    raise asyncio.CancelledError() from err
                failing = self._failing()
                record_failure(step, _failure(err), workflow.now())
                if step.needs_agent:
                    self._to_an_agent(step)
                    self._episode_over(told=False)
                    return None
                if failing != self._failing():
                    self.mark_changed(publish=False)  # the loop publishes ProviderFailing
                self._tell_failing(step)
                continue
            done = self._done(step, result)
            self._episode_over(told=True)
            if _withdrawn() and workflow.patched(WITHDRAWN_MID_ATTEMPT):
                raise asyncio.CancelledError()  # done (so undone), and nothing after it
            return done

    async def _attempt(self, step: StepState, activity: Any, call: Any,
                       cancellation: ActivityCancellationType,
                       retry_policy: RetryPolicy) -> ProviderResult:
        return await workflow.execute_activity_method(
            activity, call, start_to_close_timeout=STEP_TIMEOUT, retry_policy=retry_policy,
            cancellation_type=cancellation, summary=f"{step.name} {self.step_subject()}")

    def _failing(self) -> bool:
        return any_failing(_all_steps(self.state))

    def _done(self, step: StepState, result: ProviderResult) -> ProviderResult:
        record_done(step, workflow.now())
        detail = result.detail
        if step.attempts_failed:
            detail += f" (after {step.attempts_failed} failed attempt(s))"
        self.record_event(f"done:{step.name}", detail)
        self.mark_changed(publish=False)
        return result

    def _to_an_agent(self, step: StepState) -> None:
        joined = self._handed_over_once and joins_handoff(_all_steps(self.state), step,
                                                          workflow.now())
        self.record_event(f"step_failed:{step.name}", f"{step.last_error} - an agent must do "
                          "this by hand, then resolve the ticket"
                          + (" (with the steps handed over just before)" if joined else ""))
        waiting = {WAITING: waiting_for_an_agent(_all_steps(self.state))}
        if not joined:
            self.queue_notice("provider_step_failed", f"Do by hand: {step.name} for "
                              f"{self.step_subject()}", self.assignee_mail(), facts=waiting)
        else:
            self._name_in_handoff(waiting)
        self.mark_changed(publish=False)

    def _name_in_handoff(self, waiting: dict[str, str]) -> None:
        """A step joining a hand-off is named in its notice too, while the notice is still
        to be delivered (an attempt already under way mails the steps it had)."""
        for entry in reversed(self.state.outbox):
            if entry.notice.event == "provider_step_failed":
                entry.notice.context.update(waiting)
                return

    def _tell_failing(self, step: StepState) -> None:
        """The desk hears once that a provider keeps failing (not at each attempt)."""
        now = workflow.now()
        if not self._handed_over_once or not failing_notice_due(_all_steps(self.state), now):
            return
        step.failing_noticed_at = now
        self.record_event("provider_failing", f"{step.name}: {step.attempts_failed} attempt(s) "
                          f"failed, retrying: {step.last_error}")
        self.queue_notice("provider_failing", f"Provider failing: {step.name} for "
                          f"{self.step_subject()} (retrying)", self.assignee_mail())

    def _episode_over(self, told: bool) -> None:
        """Once no step fails any more: the desk, told of the episode, hears it is over
        (``told``; a hand-off ending it says enough), and the episode is forgotten."""
        steps = _all_steps(self.state)
        if not self._handed_over_once or not recovery_notice_due(steps):
            return
        noticed = [st for st in steps if st.failing_noticed_at is not None]
        for st in noticed:
            st.failing_noticed_at = None
        if told:
            names = ", ".join(st.name for st in noticed)
            self.record_event("provider_recovered", f"{names}: the provider answers again")
            self.queue_notice("provider_recovered", f"Provider answering again: {names} for "
                              f"{self.step_subject()}", self.assignee_mail())

    async def _in_one_activity(self, step: StepState, activity: Any, call: Any,
                               cancellation: ActivityCancellationType,
                               ) -> ProviderResult | None:
        """Runs from before the patch: one activity, retried by Temporal (its step has
        no failed attempts, so it is done as a retried one is)."""
        try:
            result = await self._attempt(step, activity, call, cancellation, UNTIL_IT_WORKS)
        except ActivityError as err:
            step.last_error = _failure(err).error[:ERROR_CHARS]
            step.needs_agent = True
            self._to_an_agent(step)
            return None
        return self._done(step, result)


def _withdrawn() -> bool:
    """Whether the task running this step was cancelled (its work withdrawn) while the step
    awaited something that finished anyway, e.g. an activity that failed regardless."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _all_steps(state: Any) -> list[StepState]:
    return [*state.steps, *state.other_steps]


def _failure(err: ActivityError) -> StepFailure:
    """What a failed attempt says (its cause: the provider's error, or a timeout)."""
    cause = err.cause
    message = str(getattr(cause, "message", None) or cause or err)
    if isinstance(cause, ApplicationError):
        return StepFailure(error=message, error_type=cause.type,
                           non_retryable=cause.non_retryable,
                           asked_delay=cause.next_retry_delay)
    return StepFailure(error=message or type(cause).__name__)
