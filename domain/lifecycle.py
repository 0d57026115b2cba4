"""How each kind of ticket ends (docs/lifecycle.md): which status changes a kind allows
once it is done, which change is refused and why, what a requester's reply does, how
the SLA clock moves with a status, and the instant a kind without an SLA target of its
own publishes as ``NextDue`` so queues sort it. Pure functions of a ticket's state and
the instants the workflow worked out (the auto-close, the next MFA check), so they are
tested without a server."""

from __future__ import annotations

from datetime import datetime

from domain.offboarding import OffboardingState
from domain.onboarding import OnboardingState
from domain.quotes import QuoteRecordState, QuoteState
from domain.refusals import Refusal
from domain.tickets import ALLOWED, DONE, PAUSED, PAUSES_MAX, Status, is_thanks_only

# A decided quote is final: it closes after resolution and never reopens (a changed offer
# is a revised quote, a new ticket the director decides again).
QUOTE_ALLOWED: dict[Status, frozenset[Status]] = {
    **ALLOWED,
    Status.RESOLVED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# A user exit may reopen while it is resolved (an agent, or the manager's reply within the
# reopen window: a device turned up, access left somewhere); once closed it stays closed -
# access was revoked and the custody record is final, so later work on the leaver is a
# new ticket, and nothing brings a closed exit (and its restarted clock) back.
OFFBOARDING_ALLOWED: dict[Status, frozenset[Status]] = {
    **ALLOWED,
    Status.CLOSED: frozenset(),
}


def earliest(*instants: datetime | None) -> datetime | None:
    """The earliest of the instants given (``None`` ones ignored), if any."""
    known = [at for at in instants if at is not None]
    return min(known) if known else None


def quote_next_due(state: QuoteRecordState, auto_close_at: datetime | None,
                   ) -> datetime | None:
    """Waiting for a decision: the expiry. Resolved: the auto-close. Otherwise none (an
    approved quote whose order is being placed, a closed one)."""
    if state.status is Status.CLOSED:
        return None
    if state.quote_state is QuoteState.SENT:
        return state.valid_until
    return auto_close_at


def onboarding_next_due(state: OnboardingState, mfa_check_at: datetime | None,
                        auto_close_at: datetime | None) -> datetime | None:
    """Not ready yet: the start (the ready target's due). Ready: the next step - the
    induction's MFA check, then each reminder. Resolved: the auto-close."""
    if state.status is Status.CLOSED:
        return None
    if state.status is Status.RESOLVED:
        return auto_close_at
    if state.cancelled_at is not None:
        return None
    if state.ready_at is None:
        return state.starts_at
    return mfa_check_at


def onboarding_resolution(state: OnboardingState) -> str | None:
    """Why a new user's ticket is done, if it is: ready and inducted - the account,
    licences, groups and devices are ready and the induction's MFA walk-through took
    (enrolment seen), or no induction was booked (tickets from before inductions)."""
    if state.ready_at is None or state.cancelled_at is not None:
        return None
    if state.mfa_enrolled_at is not None:
        return "account, licences, groups and devices ready; MFA enrolled"
    if state.induction_at is None:
        return "account, licences, groups and devices ready; no induction booked"
    return None


def offboarding_work_done(state: OffboardingState) -> bool:
    """A user exit is done when access is revoked (every step done, none left for an
    agent) and each device is back or wiped. The archive's purge at 30 days (or a legal
    hold) follows on the resolved, then closed, ticket: it is not work for the queue."""
    steps = all(st.done_at is not None and not st.needs_agent for st in state.steps)
    devices = all(d.returned_at is not None or d.wiped_at is not None for d in state.devices)
    return steps and devices


def offboarding_next_due(state: OffboardingState, auto_close_at: datetime | None,
                         ) -> datetime | None:
    """The earliest of what is still ahead: the effective time (access not yet revoked),
    the hardware return window (a device out), the auto-close (resolved) and the purge
    (the archive kept, no legal hold)."""
    revoke = state.effective_at if state.access_revoked_at is None else None
    devices_out = any(d.returned_at is None and d.wiped_at is None for d in state.devices)
    purge = None if state.purged_at is not None or state.legal_hold else state.purge_at
    close = auto_close_at if state.status is Status.RESOLVED else None
    return earliest(revoke, state.return_by if devices_out else None, close, purge)


# ------------------------------------------------------------------ every kind's changes


def transition_refusal(status: Status, to: Status, allowed: dict[Status, frozenset[Status]],
                       *, can_reopen: bool, preventable_given: bool, pauses: int,
                       ) -> tuple[Refusal, str] | None:
    """The refusal's type and why, if a ticket in ``status`` may not go to ``to`` under the
    kind's ``allowed`` map (the core's transition validator raises it): ``can_reopen``:
    whether the reopen window is still open; ``pauses``: the pending/on-hold periods so far."""
    permitted = allowed[status]
    if to not in permitted:
        names = ", ".join(sorted(x.value for x in permitted)) or "none"
        return (Refusal.INVALID_TRANSITION,
                f"cannot go from {status.value} to {to.value}; allowed: {names}")
    if status in DONE and to is Status.IN_PROGRESS and not can_reopen:
        return Refusal.INVALID_TRANSITION, "the reopen window has passed: raise a new ticket"
    if preventable_given and to is not Status.RESOLVED:
        return Refusal.INVALID, "'preventable' is given when resolving"
    if to in PAUSED and pauses >= PAUSES_MAX:
        return (Refusal.LIMIT_REACHED, f"this ticket has been paused {PAUSES_MAX} times: "
                "resolve it and raise a new ticket for the remaining work")
    return None


def reply_resumes(status: Status, body: str, allowed: dict[Status, frozenset[Status]], *,
                  can_reopen: bool, ends_by_kind_rules: bool, reply_ends_pending: bool,
                  ) -> bool:
    """Whether the requester's reply ``body`` puts the ticket back in progress: a done
    ticket reopens (within the reopen window, where the kind lets it: a decided quote or a
    closed exit never does), and - by the kinds' rules - a pending one stops waiting on
    the requester, if the client's rules say so. A "thanks" alone does neither."""
    if is_thanks_only(body):
        return False
    if status in DONE:
        kind_reopens = not ends_by_kind_rules or Status.IN_PROGRESS in allowed[status]
        return can_reopen and kind_reopens
    return (ends_by_kind_rules and status is Status.PENDING and reply_ends_pending
            and Status.IN_PROGRESS in allowed[status])


def reply_reason(by: str) -> str:
    """The event's words when a reply moves a ticket back to in progress, naming who:
    the requester (their credential, or the ticket's own contact by mail), else the
    credential that replied (HR, a director: ``hr:key-id replied``)."""
    role = by.partition(":")[0]
    return "the requester replied" if role in ("requester", "email") else f"{by} replied"


def clock_moves(old: Status, new: Status) -> list[str]:
    """How the SLA clock moves when a ticket goes from ``old`` to ``new``, in order:
    "resume" (a pause ends), "restart" (a done ticket reopens), "pause", "stop"."""
    moves = []
    if old in PAUSED and new not in PAUSED:
        moves.append("resume")
    if old in DONE and new not in DONE:
        moves.append("restart")
    if new in PAUSED:
        moves.append("pause")
    if new in DONE:
        moves.append("stop")
    return moves
