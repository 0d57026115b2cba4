"""The rules every kind's status changes follow (domain/lifecycle.py), without a server:
which change is refused and why, what a requester's reply does, how the SLA clock moves."""

from __future__ import annotations

import pytest

from domain.lifecycle import (
    OFFBOARDING_ALLOWED,
    QUOTE_ALLOWED,
    clock_moves,
    reply_resumes,
    transition_refusal,
)
from domain.tickets import ALLOWED, PAUSES_MAX, Status


def refusal(status: Status, to: Status, allowed=ALLOWED, *, can_reopen: bool = True,
            preventable_given: bool = False, pauses: int = 0) -> str | None:
    refused = transition_refusal(status, to, allowed, can_reopen=can_reopen,
                                 preventable_given=preventable_given, pauses=pauses)
    return None if refused is None else refused[1]


def test_a_change_the_kind_allows_is_not_refused():
    assert refusal(Status.NEW, Status.ACKNOWLEDGED) is None
    assert refusal(Status.IN_PROGRESS, Status.RESOLVED, preventable_given=True) is None
    assert refusal(Status.RESOLVED, Status.IN_PROGRESS) is None


def test_a_change_the_kind_does_not_allow_names_what_it_allows():
    assert refusal(Status.RESOLVED, Status.IN_PROGRESS, QUOTE_ALLOWED) == (
        "cannot go from resolved to in_progress; allowed: closed")
    assert refusal(Status.CLOSED, Status.IN_PROGRESS, OFFBOARDING_ALLOWED) == (
        "cannot go from closed to in_progress; allowed: none")


def test_reopening_after_the_window_is_refused_but_other_changes_are_not():
    assert refusal(Status.RESOLVED, Status.IN_PROGRESS, can_reopen=False) == (
        "the reopen window has passed: raise a new ticket")
    assert refusal(Status.RESOLVED, Status.CLOSED, can_reopen=False) is None


def test_preventable_is_only_given_when_resolving():
    assert refusal(Status.IN_PROGRESS, Status.PENDING, preventable_given=True) == (
        "'preventable' is given when resolving")


def test_a_ticket_paused_too_often_is_not_paused_again():
    assert refusal(Status.IN_PROGRESS, Status.PENDING, pauses=PAUSES_MAX - 1) is None
    assert refusal(Status.IN_PROGRESS, Status.ON_HOLD, pauses=PAUSES_MAX) == (
        f"this ticket has been paused {PAUSES_MAX} times: resolve it and raise a new "
        "ticket for the remaining work")
    assert refusal(Status.IN_PROGRESS, Status.RESOLVED, pauses=PAUSES_MAX) is None


def test_a_disallowed_change_is_named_before_the_reopen_window():
    """The first rule broken is the one the agent reads."""
    assert refusal(Status.CLOSED, Status.IN_PROGRESS, QUOTE_ALLOWED, can_reopen=False) == (
        "cannot go from closed to in_progress; allowed: none")


def resumes(status: Status, body: str = "still broken", allowed=ALLOWED, *,
            can_reopen: bool = True, ends: bool = True, ends_pending: bool = True) -> bool:
    return reply_resumes(status, body, allowed, can_reopen=can_reopen,
                         ends_by_kind_rules=ends, reply_ends_pending=ends_pending)


def test_a_reply_reopens_a_done_ticket_within_the_window():
    assert resumes(Status.RESOLVED)
    assert resumes(Status.CLOSED)
    assert not resumes(Status.RESOLVED, can_reopen=False)


def test_thanks_alone_reopens_nothing_and_ends_no_wait():
    assert not resumes(Status.RESOLVED, "Thanks!")
    assert not resumes(Status.PENDING, "thank you")


@pytest.mark.parametrize(("status", "allowed"), [(Status.RESOLVED, QUOTE_ALLOWED),
                                                  (Status.CLOSED, OFFBOARDING_ALLOWED)])
def test_a_reply_reopens_only_where_the_kind_lets_it(status, allowed):
    assert not resumes(status, allowed=allowed)
    assert resumes(status, allowed=allowed, ends=False)  # runs from before the kinds' rules


def test_a_reply_ends_pending_by_the_kinds_rules_if_the_client_says_so():
    assert resumes(Status.PENDING)
    assert not resumes(Status.PENDING, ends_pending=False)
    assert not resumes(Status.PENDING, ends=False)
    assert not resumes(Status.ON_HOLD)
    assert not resumes(Status.IN_PROGRESS)


@pytest.mark.parametrize(("old", "new", "moves"), [
    (Status.NEW, Status.ACKNOWLEDGED, []),
    (Status.IN_PROGRESS, Status.PENDING, ["pause"]),
    (Status.PENDING, Status.ON_HOLD, ["pause"]),
    (Status.PENDING, Status.IN_PROGRESS, ["resume"]),
    (Status.PENDING, Status.RESOLVED, ["resume", "stop"]),
    (Status.IN_PROGRESS, Status.RESOLVED, ["stop"]),
    (Status.RESOLVED, Status.CLOSED, ["stop"]),
    (Status.RESOLVED, Status.IN_PROGRESS, ["restart"]),
    (Status.CLOSED, Status.PENDING, ["restart", "pause"]),
])
def test_the_clock_moves_with_the_status(old, new, moves):
    assert clock_moves(old, new) == moves
