"""The lifecycle's pure rules (domain/lifecycle.py), without a server: when a user exit is
done, which instant each kind publishes next, and who may reopen what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import search_attributes as sa
from domain.lifecycle import (
    OFFBOARDING_ALLOWED,
    QUOTE_ALLOWED,
    offboarding_next_due,
    offboarding_work_done,
    onboarding_next_due,
    onboarding_resolution,
)
from domain.offboarding import OffboardingStart
from domain.onboarding import OnboardingStart
from domain.sla.deadlines import snapshot_for
from domain.tickets import ALLOWED, Status
from tests.workflows.support import belton_without_holidays
from tests.workflows.test_offboarding_timers import exit_form
from tests.workflows.test_onboarding_timers import joiner_form
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow

EFFECTIVE = datetime(2027, 3, 5, 6, 30, tzinfo=UTC)
CLOSE = EFFECTIVE + timedelta(days=5)


def an_exit(**form):
    start = OffboardingStart(ticket_id="BEL-000009", client_id="belton", opened_at=EFFECTIVE,
                             raised_by="hr:test", form=exit_form(**form),
                             effective_at=EFFECTIVE,
                             sla=snapshot_for(belton_without_holidays(), EFFECTIVE))
    return OffboardingWorkflow.initial_state(start)


def revoked(state):
    for step in state.steps:
        step.done_at = EFFECTIVE
    state.access_revoked_at = EFFECTIVE
    return state


def test_an_exit_is_done_when_access_is_revoked_and_each_device_is_back_or_wiped():
    state = revoked(an_exit())  # one laptop
    assert not offboarding_work_done(state)
    state.devices[0].wiped_at = state.return_by
    assert offboarding_work_done(state)
    state.steps[0].needs_agent = True  # a step an agent must finish is not done
    assert not offboarding_work_done(state)


def test_an_exit_publishes_the_earliest_instant_still_ahead():
    state = an_exit()
    assert offboarding_next_due(state, None) == EFFECTIVE
    revoked(state)
    assert offboarding_next_due(state, None) == state.return_by  # the laptop is out
    state.devices[0].returned_at = EFFECTIVE
    state.status = Status.RESOLVED
    assert offboarding_next_due(state, CLOSE) == CLOSE
    state.status = Status.CLOSED
    assert offboarding_next_due(state, None) == state.purge_at
    state.legal_hold = True
    assert offboarding_next_due(state, None) is None  # kept until the hold is released


def test_a_new_user_publishes_the_start_then_the_next_step():
    start = OnboardingStart(
        ticket_id="BEL-000010", client_id="belton", opened_at=EFFECTIVE, raised_by="hr:t",
        form=joiner_form(), starts_at=EFFECTIVE + timedelta(days=4), licences=[], groups=[],
        usage_location="AU", notice="3bd", induction_at=EFFECTIVE + timedelta(days=4, hours=2),
        sla=snapshot_for(belton_without_holidays(), EFFECTIVE))
    state = OnboardingWorkflow.initial_state(start)
    check = state.induction_at + timedelta(minutes=30)
    assert onboarding_next_due(state, None, None) == state.starts_at
    state.ready_at = EFFECTIVE + timedelta(days=1)
    assert onboarding_next_due(state, check, None) == check
    assert onboarding_resolution(state) is None  # ready, not yet inducted
    state.mfa_enrolled_at = check
    assert onboarding_resolution(state).endswith("MFA enrolled")
    state.status = Status.RESOLVED
    assert onboarding_next_due(state, None, CLOSE) == CLOSE


def test_reopen_tables():
    assert QUOTE_ALLOWED[Status.RESOLVED] == {Status.CLOSED}
    assert QUOTE_ALLOWED[Status.CLOSED] == frozenset()
    assert OFFBOARDING_ALLOWED[Status.RESOLVED] == ALLOWED[Status.RESOLVED]
    assert OFFBOARDING_ALLOWED[Status.CLOSED] == frozenset()


def test_next_due_text_sorts_as_time_and_reads_back():
    earlier = datetime(2027, 1, 9, 23, 59, 59, 900_000, tzinfo=UTC)
    later = datetime(2027, 1, 10, 0, 0, 1, tzinfo=UTC)
    assert sa.next_due_text(earlier) == "2027-01-09T23:59:59Z"
    assert sa.next_due_text(earlier) < sa.next_due_text(later)
    assert sa.next_due_instant(sa.next_due_text(later)) == later
    assert sa.next_due_instant("soon") is None and sa.next_due_instant(None) is None
