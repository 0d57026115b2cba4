"""Working a ticket of any kind: every change is a workflow update, so an invalid one is
refused synchronously (409 with the reason); comments are fire-and-forget signals (202).
Kind-specific actions (reprioritise, merge) answer 409 on kinds that do not have them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from api.auth import require
from api.problems import Problem, field_problem
from api.routes.tickets import AnyTicketView, TicketPath
from api.state import AppState, app_state
from desk.errors import DeskError
from desk.files import follow_merge
from desk.principal import Principal
from desk.tickets import TicketRef
from domain.incidents import IncidentView
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
from domain.tickets import Status
from workflows.incident import IncidentWorkflow
from workflows.kinds import TicketWorkflow
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.service_request import ServiceRequestWorkflow

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
CLIENT_SIDE = frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR})


async def act(state: AppState, principal: Principal, ticket_id: str, handler: Any,
              request: Any, **filled: Any) -> Response:
    """Run update ``handler`` on a ticket the caller may see, as the caller: its message is
    the body (domain/request_bodies.py) plus who acted and what else the route fills. (A
    message passed as it is gets them too; a body must not offer them: test_dead_ends.)"""
    ref = await state.tickets.locate(ticket_id, principal)
    message = (request.message(by=principal.actor, **filled) if isinstance(request, CallerBody)
               else request.model_copy(update={"by": principal.actor, **filled}))
    return await update(ref, handler, message)


async def update(ref: TicketRef, handler: Any, request: Any) -> Response:
    """Run update ``handler`` on the ticket; answer with the kind's whole view."""
    if not ref.supports(handler):
        raise Problem(409, "Not for this kind", f"{ref.ticket_id} is a {ref.kind.value}: "
                      f"'{handler.__name__}' is not one of its actions", slug="conflict")
    view = await ref.handle.execute_update(handler, request, result_type=ref.view_model)
    return Response(ref.shown(view).model_dump_json(), media_type="application/json")


@router.post("/{ticket_id}/acknowledge", response_model=AnyTicketView,
             summary="First response: the agent has picked the ticket up")
async def acknowledge(ticket_id: str = TicketPath,
                      principal: Principal = require(Action.WORK_TICKETS),
                      state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, TicketWorkflow.acknowledge,
                     TransitionBody(to=Status.ACKNOWLEDGED))


@router.post("/{ticket_id}/transition", response_model=AnyTicketView,
             summary="Move the ticket: in_progress, pending, on_hold, resolved, closed "
                     "(in_progress from resolved/closed reopens)")
async def transition(request: TransitionBody, ticket_id: str = TicketPath,
                     principal: Principal = require(Action.WORK_TICKETS),
                     state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, TicketWorkflow.transition, request)


@router.post("/{ticket_id}/assign", response_model=AnyTicketView, summary="Assign an agent")
async def assign(request: AssignmentBody, ticket_id: str = TicketPath,
                 principal: Principal = require(Action.WORK_TICKETS),
                 state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, TicketWorkflow.assign, request)


@router.post("/{ticket_id}/recipients", response_model=AnyTicketView,
             summary="Confirm an address outside the client's known domains: the ticket's "
                     "notices may then go to it (until then they are held)")
async def confirm_recipient(request: RecipientConfirmationBody, ticket_id: str = TicketPath,
                            principal: Principal = require(Action.WORK_TICKETS),
                            state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, TicketWorkflow.confirm_recipient, request)


@router.post("/{ticket_id}/reprioritise", response_model=IncidentView,
             summary="Incidents: change the priority, with a reason; targets are recomputed "
                     "from the original open time")
async def reprioritise(request: ReprioritisationBody, ticket_id: str = TicketPath,
                       principal: Principal = require(Action.WORK_TICKETS),
                       state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, IncidentWorkflow.reprioritise, request)


@router.post("/{ticket_id}/merge", response_model=IncidentView,
             summary="Incidents: merge this duplicate into the newest report of the same issue")
async def merge(request: MergeRequestBody, ticket_id: str = TicketPath,
                principal: Principal = require(Action.WORK_TICKETS),
                state: AppState = Depends(app_state)) -> Response:
    duplicate = await state.tickets.locate(ticket_id, principal)
    try:
        target = await state.tickets.locate(request.survivor, principal)
        if target.client.id != duplicate.client.id:
            raise Problem(404, "Not found", "another client's ticket")
        survivor = await target.view()
    except DeskError as exc:
        raise field_problem(422, "survivor", f"no incident {request.survivor} of this client",
                            "name an open incident of the same client", "Cannot merge") from exc
    mine = await duplicate.view()
    if not isinstance(survivor, IncidentView):
        raise field_problem(422, "survivor", f"{request.survivor} is a {target.kind.value}",
                            "merge into an incident", "Cannot merge")
    if survivor.status is Status.CLOSED or survivor.merged_into is not None:
        raise field_problem(409, "survivor", f"{request.survivor} is closed",
                            "merge into an open ticket", "Cannot merge")
    if survivor.opened_at < mine.opened_at:
        raise field_problem(409, "survivor", f"{request.survivor} is older than {ticket_id}",
                            f"merge the older ticket into the newest: merge "
                            f"{request.survivor} into {ticket_id}", "Cannot merge")
    return await follow_merge(state, mine.attachments, target, survivor.attachments,
                              update(duplicate, IncidentWorkflow.merge_into,
                                     request.message(by=principal.actor)))


@router.post("/{ticket_id}/hardware-returns", response_model=OffboardingView,
             summary="User exits: record a device handed back (chain of custody)")
async def hardware_returned(request: HardwareReturnBody, ticket_id: str = TicketPath,
                            principal: Principal = require(Action.WORK_OFFBOARDING),
                            state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, OffboardingWorkflow.hardware_returned, request)


@router.post("/{ticket_id}/legal-hold", response_model=OffboardingView,
             summary="User exits: keep (or release) the archived mailbox and data")
async def legal_hold(request: LegalHoldBody, ticket_id: str = TicketPath,
                     principal: Principal = require(Action.OFFBOARD),
                     state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, OffboardingWorkflow.set_legal_hold, request)


@router.post("/{ticket_id}/cancel", response_model=OnboardingView,
             summary="New users: HR withdraws the new user; what was done is undone, newest "
                     "first (answers once it is)")
async def cancel_new_user(request: CancellationBody, ticket_id: str = TicketPath,
                          principal: Principal = require(Action.ONBOARD),
                          state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, OnboardingWorkflow.cancel, request)


@router.post("/{ticket_id}/expedite-decision", response_model=OnboardingView,
             summary="New users with short notice: an agent approves (or declines) the expedite")
async def expedite_decision(request: ExpediteDecisionBody, ticket_id: str = TicketPath,
                            principal: Principal = require(Action.WORK_TICKETS),
                            state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, OnboardingWorkflow.decide_expedite, request)


@router.post("/{ticket_id}/retry-steps", response_model=OnboardingView,
             summary="New users: run the steps that waited for an agent again (e.g. after "
                     "buying licences)")
async def retry_steps(request: RetryStepsBody, ticket_id: str = TicketPath,
                      principal: Principal = require(Action.WORK_TICKETS),
                      state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, OnboardingWorkflow.retry_steps, request)


@router.post("/{ticket_id}/mfa-enrolled", response_model=OnboardingView,
             summary="New users: an agent saw the user set up multi-factor sign-in")
async def mfa_enrolled(request: MfaEnrolledBody, ticket_id: str = TicketPath,
                       principal: Principal = require(Action.WORK_TICKETS),
                       state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, OnboardingWorkflow.mfa_enrolled, request)


@router.post("/{ticket_id}/schedule", response_model=RequestView,
             summary="Service requests: the date agreed with the client (enhanced work, a "
                     "mini-consult or a workshop); the request is due then")
async def agree_schedule(request: ScheduleAgreedBody, ticket_id: str = TicketPath,
                         principal: Principal = require(Action.WORK_TICKETS),
                         state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, ServiceRequestWorkflow.agree_schedule,
                     request)


@router.post("/{ticket_id}/escalate", response_model=AnyTicketView,
             summary="The client escalates a ticket not handled properly: the service "
                     "delivery team is told and the ladder climbs one rung now")
async def escalate(request: ClientEscalationBody, ticket_id: str = TicketPath,
                   principal: Principal = require(Action.ESCALATE),
                   state: AppState = Depends(app_state)) -> Response:
    return await act(state, principal, ticket_id, TicketWorkflow.escalate, request,
                     channel="api")


@router.post("/{ticket_id}/comments", status_code=202,
             summary="Add a comment (a requester's reply may reopen a resolved ticket; a "
                     "bare thank-you does not)")
async def comment(request: CommentInBody, ticket_id: str = TicketPath,
                  principal: Principal = require(Action.VIEW_TICKETS),
                  state: AppState = Depends(app_state)) -> JSONResponse:
    ref = await state.tickets.locate(ticket_id, principal)
    await ref.handle.signal(TicketWorkflow.comment, request.message(
        by=principal.actor, from_requester=principal.role in CLIENT_SIDE))
    return JSONResponse({"ticket_id": ticket_id, "accepted": True}, status_code=202)
