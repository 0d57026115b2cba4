"""Acting on a ticket of any kind, for every door: each action is a workflow update, so an
invalid one is refused synchronously (the workflow's typed refusal, desk/errors.py);
a comment is a fire-and-forget signal.

:data:`ACTIONS` describes every action once - its name, the body a caller sends, the
workflow handler, the permission, the view it answers with - and the JSON routes are made
from it (api/routes/ticket_actions.py). Each operation checks the permission (``may``),
then the tenancy (``locate``), fills who acted from the principal, and answers with the
view as the caller may read it (``TicketRef.shown``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import WorkflowUpdateFailedError

from desk.access import may
from desk.errors import DeskError, field_problem, refused
from desk.files import follow_merge
from desk.principal import Principal
from desk.state import Desk
from desk.tickets import TicketRef
from domain.assignees import assignee_refusal
from domain.ids import a_kind
from domain.incidents import IncidentView
from domain.merging import merge_refusal
from domain.offboarding import OffboardingView
from domain.onboarding import OnboardingView
from domain.request_bodies import (
    AssignmentBody,
    CallerBody,
    CancellationBody,
    ClientEscalationBody,
    CommentInBody,
    ExpediteDecisionBody,
    HardwareReturnBody,
    LegalHoldBody,
    MergeRequestBody,
    MfaEnrolledBody,
    RecipientConfirmationBody,
    ReprioritisationBody,
    RetryStepsBody,
    ScheduleAgreedBody,
    TransitionBody,
)
from domain.roles import Action, Role
from domain.service_requests import RequestView
from domain.tickets import Status, TicketView
from workflows.incident import IncidentWorkflow
from workflows.kinds import TicketWorkflow
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.service_request import ServiceRequestWorkflow

# Who speaks for the client: their comment is the requester's (it may reopen a ticket).
CLIENT_SIDE = frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR})

# An action's operation: (desk, principal, ticket id, the action, its body) -> the view,
# or None for a signal (accepted, not yet applied).
Perform = Callable[[Desk, Principal, str, "TicketAction", Any], Awaitable[TicketView | None]]


def check_kind(ref: TicketRef, handler: Any) -> None:
    """409 if the ticket's kind has no such action (asked before anything else about it)."""
    if not ref.supports(handler):
        raise DeskError(409, "Not for this kind", f"{ref.ticket_id} is {a_kind(ref.kind)}: "
                        f"'{handler.__name__}' is not one of its actions", slug="conflict")


async def update(ref: TicketRef, handler: Any, message: Any) -> TicketView:
    """Run update ``handler`` on the ticket with ``message``: the kind's whole view (not
    yet redacted). 409 if the kind has no such action; the workflow's refusal as its
    DeskError."""
    check_kind(ref, handler)
    try:
        return await ref.handle.execute_update(handler, message, result_type=ref.view_model)
    except WorkflowUpdateFailedError as exc:
        raise refused(exc) from exc


async def allowed_on(desk: Desk, principal: Principal, ticket_id: str,
                     action: TicketAction) -> TicketRef:
    """The ticket, if the caller's role may take ``action`` (403) and the caller may see
    it (404, as if missing): the two checks every action makes first."""
    may(principal, action.permission)
    return await desk.tickets.locate(ticket_id, principal)


async def act(desk: Desk, principal: Principal, ticket_id: str, action: TicketAction,
              body: CallerBody | None) -> TicketView:
    """Run ``action`` on a ticket the caller may see, as the caller: the workflow message
    is the body plus who acted (and what else the action fills)."""
    ref = await allowed_on(desk, principal, ticket_id, action)
    sent = body if body is not None else action.fixed_body
    assert sent is not None, f"{action.name} takes a body"
    message = sent.message(by=principal.actor, **action.filled)
    return ref.shown(await update(ref, action.handler, message))


async def assign(desk: Desk, principal: Principal, ticket_id: str, action: TicketAction,
                 body: AssignmentBody) -> TicketView:
    """Assign MSP staff: an address outside the MSP's domains (where the ticket's notices
    would go unconfirmed) or a shape that names nobody is refused (domain/assignees.py)."""
    ref = await allowed_on(desk, principal, ticket_id, action)  # another client's: 404 first
    refusal = assignee_refusal(body.assignee, desk.config.msp_domains)
    if refusal is not None:
        raise field_problem(422, refusal.field, refusal.message, refusal.fix,
                            "Not a staff member", where="body")
    return ref.shown(await update(ref, action.handler, body.message(by=principal.actor)))


async def merge(desk: Desk, principal: Principal, ticket_id: str, action: TicketAction,
                body: MergeRequestBody) -> TicketView:
    """Merge a duplicate incident into the newest open incident of the same client; the
    duplicate's files follow it there."""
    duplicate = await allowed_on(desk, principal, ticket_id, action)
    check_kind(duplicate, action.handler)
    try:
        target = await desk.tickets.locate(body.survivor, principal)
        if target.client.id != duplicate.client.id:
            raise DeskError(404, "Not found", "another client's ticket")
        survivor = await target.view()
    except DeskError as exc:
        raise field_problem(422, "survivor", f"no incident {body.survivor} of this client",
                            "name an open incident of the same client", "Cannot merge",
                            where="body") from exc
    mine = await duplicate.view()
    refusal = merge_refusal(mine, survivor)
    if refusal is not None:
        raise field_problem(refusal.status, "survivor", refusal.message, refusal.fix,
                            "Cannot merge", where="body")
    merged = await follow_merge(desk, mine.attachments, target, survivor.attachments,
                                update(duplicate, action.handler,
                                       body.message(by=principal.actor)))
    return duplicate.shown(merged)


async def comment(desk: Desk, principal: Principal, ticket_id: str, action: TicketAction,
                  body: CommentInBody) -> None:
    """Add a comment (signalled: accepted now, applied by the workflow); a requester's reply
    may reopen a resolved ticket."""
    ref = await allowed_on(desk, principal, ticket_id, action)
    await ref.handle.signal(action.handler, body.message(
        by=principal.actor, from_requester=principal.role in CLIENT_SIDE))


@dataclass(frozen=True)
class TicketAction:
    """One action on a ticket, as every door offers it."""

    name: str                     # POST /v1/tickets/{ticket_id}/<name>
    operation: str                # the route's name (its OpenAPI operationId)
    handler: Any                  # the workflow's update (a signal for a comment)
    permission: Action
    body: type[CallerBody] | None  # what the caller sends (None: nothing)
    view: type[TicketView] | None  # the view answered (None: the ticket's own kind's)
    summary: str
    perform: Perform = act
    fixed_body: CallerBody | None = None  # the message of an action without a body
    filled: dict[str, Any] = field(default_factory=dict)  # what else the desk fills
    accepted: bool = False  # a signal: answered 202, not with a view


ACTIONS: tuple[TicketAction, ...] = (
    TicketAction("acknowledge", "acknowledge", TicketWorkflow.acknowledge,
                 Action.WORK_TICKETS, None, None,
                 "First response: the agent has picked the ticket up",
                 fixed_body=TransitionBody(to=Status.ACKNOWLEDGED)),
    TicketAction("transition", "transition", TicketWorkflow.transition, Action.WORK_TICKETS,
                 TransitionBody, None,
                 "Move the ticket: in_progress, pending, on_hold, resolved, closed "
                 "(in_progress from resolved/closed reopens)"),
    TicketAction("assign", "assign", TicketWorkflow.assign, Action.WORK_TICKETS,
                 AssignmentBody, None, "Assign an agent", perform=assign),
    TicketAction("recipients", "confirm_recipient", TicketWorkflow.confirm_recipient,
                 Action.WORK_TICKETS, RecipientConfirmationBody, None,
                 "Confirm an address outside the client's known domains: the ticket's "
                 "notices may then go to it (until then they are held)"),
    TicketAction("reprioritise", "reprioritise", IncidentWorkflow.reprioritise,
                 Action.WORK_TICKETS, ReprioritisationBody, IncidentView,
                 "Incidents: change the priority, with a reason; targets are recomputed "
                 "from the original open time"),
    TicketAction("merge", "merge", IncidentWorkflow.merge_into, Action.WORK_TICKETS,
                 MergeRequestBody, IncidentView,
                 "Incidents: merge this duplicate into the newest report of the same issue",
                 perform=merge),
    TicketAction("hardware-returns", "hardware_returned", OffboardingWorkflow.hardware_returned,
                 Action.WORK_OFFBOARDING, HardwareReturnBody, OffboardingView,
                 "User exits: record a device handed back (chain of custody)"),
    TicketAction("legal-hold", "legal_hold", OffboardingWorkflow.set_legal_hold,
                 Action.OFFBOARD, LegalHoldBody, OffboardingView,
                 "User exits: keep (or release) the archived mailbox and data"),
    TicketAction("cancel", "cancel_new_user", OnboardingWorkflow.cancel, Action.ONBOARD,
                 CancellationBody, OnboardingView,
                 "New users: HR withdraws the new user; what was done is undone, newest "
                 "first (answers once it is)"),
    TicketAction("expedite-decision", "expedite_decision", OnboardingWorkflow.decide_expedite,
                 Action.WORK_TICKETS, ExpediteDecisionBody, OnboardingView,
                 "New users with short notice: an agent approves (or declines) the expedite"),
    TicketAction("retry-steps", "retry_steps", OnboardingWorkflow.retry_steps,
                 Action.WORK_TICKETS, RetryStepsBody, OnboardingView,
                 "New users: run the steps that waited for an agent again (e.g. after "
                 "buying licences)"),
    TicketAction("mfa-enrolled", "mfa_enrolled", OnboardingWorkflow.mfa_enrolled,
                 Action.WORK_TICKETS, MfaEnrolledBody, OnboardingView,
                 "New users: an agent saw the user set up multi-factor sign-in"),
    TicketAction("schedule", "agree_schedule", ServiceRequestWorkflow.agree_schedule,
                 Action.WORK_TICKETS, ScheduleAgreedBody, RequestView,
                 "Service requests: the date agreed with the client (enhanced work, a "
                 "mini-consult or a workshop); the request is due then"),
    TicketAction("escalate", "escalate", TicketWorkflow.escalate, Action.ESCALATE,
                 ClientEscalationBody, None,
                 "The client escalates a ticket not handled properly: the service "
                 "delivery team is told and the ladder climbs one rung now",
                 filled={"channel": "api"}),
    TicketAction("comments", "comment", TicketWorkflow.comment, Action.VIEW_TICKETS,
                 CommentInBody, None,
                 "Add a comment (a requester's reply may reopen a resolved ticket; a "
                 "bare thank-you does not)", perform=comment, accepted=True),
)
BY_NAME = {action.name: action for action in ACTIONS}
