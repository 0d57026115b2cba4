"""What every provider-driven process (user exits, new users) records per step: done,
failing (each failed attempt, the last error, when it tries again), waiting for the world,
or handed to an agent; and what a provider activity answers.

The workflow runs one attempt per activity and decides here what a failure means: a
refusal no retry can mend goes to an agent once; anything else is tried again after a
backoff (:func:`retry_delay`), recorded on the step so the ticket shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

# A provider said no, or is not set up: an agent mends it (retrying changes nothing).
REFUSALS = frozenset({"ProviderRefused", "ProviderNotConfigured", "LicencePoolExhausted"})
# Not a failure of the provider: the world has not caught up yet (a technician enrolls the
# device, the EDR agent checks in, the wiped device reports back). Retried at a slower
# pace, shown on the step, but the provider is not "failing".
WAITS = frozenset({"DeviceNotEnrolled", "EdrNotReporting", "WipePending"})

FIRST_RETRY = timedelta(seconds=5)
FAILING_RETRY_MAX = timedelta(minutes=1)   # a provider that is down: back within a minute
# After an hour of failing, every 5 minutes: each attempt adds ~11 history events, and an
# undo retried inside HR's cancellation cannot continue as new (a day of outage: ~3,200
# events, not ~16,000; Temporal ends a run at 51,200).
LONG_FAILING_AFTER = timedelta(hours=1)
LONG_FAILING_RETRY_MAX = timedelta(minutes=5)
# A device not enrolled yet: looked at every 15 minutes at most (each look is an activity,
# a timer and two workflow tasks: a device awaited for days costs ~100 looks a day).
WAITING_RETRY_MAX = timedelta(minutes=15)
# A failing episode is told to the desk once it has lasted this long (a provider that
# stumbles for a few seconds, or throttles, tells nobody), and once more when it answers.
FAILING_NOTICE_AFTER = timedelta(minutes=5)
# Steps handed to an agent within this span of each other are one hand-off (one notice):
# a client whose provider is not set up refuses every step of an exit at once.
HANDOFF_JOINS_WITHIN = timedelta(minutes=10)
ASKED_RETRY_MIN = timedelta(seconds=1)
ASKED_RETRY_MAX = timedelta(hours=1)       # a provider's Retry-After, bounded
ERROR_CHARS = 500


class StepState(BaseModel):
    """One step a provider carries out (disable account, assign licences, ...)."""

    name: str
    key: str | None = Field(None, description="the step's business key (domain.ids."
                            "step_key): the webhook-id the client's webhook receives, the "
                            "same on every retry and in every run of the ticket")
    done_at: datetime | None = None
    attempts_failed: int = Field(0, description="attempts that failed (all of them, also "
                                 "those before the step succeeded)")
    last_error: str | None = None
    last_failed_at: datetime | None = None
    failing_since: datetime | None = Field(None, description="the first failure of the "
                                           "provider's current failing episode; cleared "
                                           "once it answers (ProviderFailing while set)")
    next_attempt_at: datetime | None = Field(None, description="when the step is tried "
                                             "again (the backoff), kept across runs")
    needs_agent: bool = False
    started_at: datetime | None = Field(None, description="when it was first tried (a "
                                        "cancelled onboarding undoes what was started)")
    undone_at: datetime | None = Field(None, description="compensated after a cancellation")
    failing_noticed_at: datetime | None = Field(None, description="when the desk was told "
                                                "this step's provider keeps failing (once an "
                                                "episode; cleared when it ends)")

    @property
    def failing(self) -> bool:
        """The provider keeps failing this step and the workflow is retrying it."""
        return self.failing_since is not None and self.done_at is None


class ProviderResult(BaseModel):
    detail: str = ""
    resource_id: str | None = Field(None, description="what the provider created (an "
                                    "account's object id, a device uid), for later steps")


class StepFailure(BaseModel):
    """One failed attempt, as the workflow saw it."""

    error: str
    error_type: str | None = Field(None, description="the ApplicationError type, if any")
    non_retryable: bool = False
    asked_delay: timedelta | None = Field(None, description="the provider's own Retry-After")

    @property
    def final(self) -> bool:
        """No retry can mend it: an agent must."""
        return self.non_retryable or self.error_type in REFUSALS

    @property
    def waiting(self) -> bool:
        return self.error_type in WAITS


def refused_status(status: int) -> bool:
    """An HTTP answer no retry can mend: any 4xx but 408 (timeout) and 429 (throttled)."""
    return 400 <= status < 500 and status not in (408, 429)


def retry_delay(attempts_failed: int, failure: StepFailure,
                failing_for: timedelta = timedelta(0)) -> timedelta:
    """The wait before the next attempt: 5 s, doubling, at most a minute (5 minutes once
    the provider has been failing for an hour, 15 minutes while waiting for the world); a
    provider's Retry-After instead, if it gave one."""
    if failure.asked_delay is not None:
        return min(max(failure.asked_delay, ASKED_RETRY_MIN), ASKED_RETRY_MAX)
    if failure.waiting:
        cap = WAITING_RETRY_MAX
    elif failing_for >= LONG_FAILING_AFTER:
        cap = LONG_FAILING_RETRY_MAX
    else:
        cap = FAILING_RETRY_MAX
    doublings = min(max(attempts_failed - 1, 0), 16)
    return min(FIRST_RETRY * 2 ** doublings, cap)


def record_failure(step: StepState, failure: StepFailure, now: datetime) -> None:
    """Write a failed attempt on the step: counted, its error kept, and (unless no retry
    can mend it) when the next attempt is due."""
    step.attempts_failed += 1
    step.last_error = failure.error[:ERROR_CHARS]
    step.last_failed_at = now
    if failure.final:
        step.needs_agent = True
        step.failing_since = None
        step.next_attempt_at = None
        return
    if failure.waiting:
        step.failing_since = None
    elif step.failing_since is None:
        step.failing_since = now
    failing_for = now - step.failing_since if step.failing_since else timedelta(0)
    step.next_attempt_at = now + retry_delay(step.attempts_failed, failure, failing_for)


def record_done(step: StepState, now: datetime) -> None:
    step.done_at = now
    step.failing_since = None
    step.next_attempt_at = None


def any_failing(steps: Iterable[StepState]) -> bool:
    """Whether a provider keeps failing one of these steps (the ``ProviderFailing``
    search attribute)."""
    return any(step.failing for step in steps)


def failing_notice_due(steps: Iterable[StepState], now: datetime) -> bool:
    """Whether the desk is to be told now that a provider keeps failing: the ticket's
    failing episode has lasted :data:`FAILING_NOTICE_AFTER` and was not told yet."""
    steps = list(steps)
    if any(step.failing_noticed_at is not None for step in steps):
        return False
    started = [step.failing_since for step in steps if step.failing and step.failing_since]
    return bool(started) and now - min(started) >= FAILING_NOTICE_AFTER


def recovery_notice_due(steps: Iterable[StepState]) -> bool:
    """Whether the ticket's failing episode has just ended after the desk was told of it
    (no step fails any more): it is told once more, then the episode is forgotten."""
    steps = list(steps)
    return (not any_failing(steps)
            and any(step.failing_noticed_at is not None for step in steps))


def waiting_for_an_agent(steps: Iterable[StepState]) -> str:
    """The steps handed to an agent and not done, one a line, each with the provider's
    reason: what the "Do by hand" notice names (its ``waiting_steps``)."""
    return "\n".join(f"{st.name} (the provider said: {st.last_error or 'no reason'})"
                     for st in steps if st.needs_agent and st.done_at is None)


def joins_handoff(steps: Iterable[StepState], step: StepState, now: datetime) -> bool:
    """Whether ``step``, just handed to an agent, joins a hand-off made moments ago (its
    notice covers this one too)."""
    return any(other is not step and other.needs_agent and other.last_failed_at is not None
               and now - other.last_failed_at <= HANDOFF_JOINS_WITHIN for other in steps)
