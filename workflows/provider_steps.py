"""Provider steps beside the clock, shared by the processes that drive outside systems
(user exits, new users): one activity per step, retried by Temporal for as long as the
provider is down; a refusal no retry can mend ends the step with a note for an agent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain.provider_steps import ProviderResult, StepState

STEP_TIMEOUT = timedelta(minutes=2)
# Providers may be down for long: keep retrying, at least once a minute, until they answer.
UNTIL_IT_WORKS = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2,
                             maximum_interval=timedelta(minutes=1),
                             non_retryable_error_types=["ProviderRefused",
                                                        "ProviderNotConfigured",
                                                        "LicencePoolExhausted"])


class ProviderSteps:
    """Mixed into a :class:`workflows.ticket.TicketWorkflow` kind."""

    _event: Callable[..., None]
    _notify: Callable[..., None]
    _assignee_mail: Callable[[], list[str]]
    _changed: bool

    def step_subject(self) -> str:
        """Who the steps are for, in summaries and notes (e.g. the employee)."""
        raise NotImplementedError

    async def run_step(self, step: StepState, activity: Any, call: Any,
                       cancellation: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
                       ) -> ProviderResult | None:
        """One provider step; None if the provider refused it (the step then needs an
        agent, who is told)."""
        if step.started_at is None:
            step.started_at = workflow.now()
        try:
            result = await workflow.execute_activity_method(
                activity, call, start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=UNTIL_IT_WORKS, cancellation_type=cancellation,
                summary=f"{step.name} {self.step_subject()}")
        except ActivityError as err:
            cause = err.cause
            step.last_error = str(getattr(cause, "message", None) or cause or err)[:500]
            step.needs_agent = True
            self._event(f"step_failed:{step.name}", f"{step.last_error} - an agent must do "
                        "this by hand, then resolve the ticket")
            self._notify("provider_step_failed", f"Do by hand: {step.name} for "
                         f"{self.step_subject()}", self._assignee_mail())
            self._changed = True
            return None
        step.done_at = workflow.now()
        self._event(f"done:{step.name}", result.detail)
        self._changed = True
        return result
