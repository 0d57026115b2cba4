"""Working a ticket: every change is a workflow update, so an invalid transition is refused
synchronously (409 with the reason); comments are fire-and-forget signals (202)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowHandle

from api.auth import Principal, require
from api.problems import Problem, field_problem
from api.routes.tickets import owned_ticket
from api.state import AppState, app_state
from domain.ids import TICKET_ID, TicketKind, workflow_id
from domain.incidents import (
    Assignment,
    CommentIn,
    IncidentView,
    MergeRequest,
    Reprioritisation,
    Status,
    Transition,
)
from domain.roles import Action, Role
from workflows.incident import IncidentWorkflow

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
TicketPath = Path(pattern=TICKET_ID.pattern, examples=["BEL-000123"])
CLIENT_SIDE = frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR})


def who(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.subject}"


def incident(state: AppState, principal: Principal, ticket_id: str,
             ) -> WorkflowHandle[IncidentWorkflow, IncidentView]:
    owned_ticket(ticket_id, principal, state)
    return state.temporal.get_workflow_handle_for(
        IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, ticket_id))


@router.post("/{ticket_id}/acknowledge", response_model=IncidentView,
             summary="First response: the agent has picked the ticket up")
async def acknowledge(ticket_id: str = TicketPath,
                      principal: Principal = require(Action.WORK_TICKETS),
                      state: AppState = Depends(app_state)) -> IncidentView:
    return await incident(state, principal, ticket_id).execute_update(
        IncidentWorkflow.acknowledge, Transition(to=Status.ACKNOWLEDGED, by=who(principal)))


@router.post("/{ticket_id}/transition", response_model=IncidentView,
             summary="Move the ticket: in_progress, pending, on_hold, resolved, closed "
                     "(in_progress from resolved/closed reopens)")
async def transition(request: Transition, ticket_id: str = TicketPath,
                     principal: Principal = require(Action.WORK_TICKETS),
                     state: AppState = Depends(app_state)) -> IncidentView:
    return await incident(state, principal, ticket_id).execute_update(
        IncidentWorkflow.transition, request.model_copy(update={"by": who(principal)}))


@router.post("/{ticket_id}/assign", response_model=IncidentView, summary="Assign an agent")
async def assign(request: Assignment, ticket_id: str = TicketPath,
                 principal: Principal = require(Action.WORK_TICKETS),
                 state: AppState = Depends(app_state)) -> IncidentView:
    return await incident(state, principal, ticket_id).execute_update(
        IncidentWorkflow.assign, request.model_copy(update={"by": who(principal)}))


@router.post("/{ticket_id}/reprioritise", response_model=IncidentView,
             summary="Change the priority, with a reason; targets are recomputed from the "
                     "original open time")
async def reprioritise(request: Reprioritisation, ticket_id: str = TicketPath,
                       principal: Principal = require(Action.WORK_TICKETS),
                       state: AppState = Depends(app_state)) -> IncidentView:
    return await incident(state, principal, ticket_id).execute_update(
        IncidentWorkflow.reprioritise, request.model_copy(update={"by": who(principal)}))


@router.post("/{ticket_id}/merge", response_model=IncidentView,
             summary="Merge this duplicate into the newest report of the same issue")
async def merge(request: MergeRequest, ticket_id: str = TicketPath,
                principal: Principal = require(Action.WORK_TICKETS),
                state: AppState = Depends(app_state)) -> IncidentView:
    duplicate = incident(state, principal, ticket_id)
    try:
        survivor = await incident(state, principal, request.survivor).query(
            IncidentWorkflow.view)
    except Problem as exc:
        raise field_problem(422, "survivor", f"no ticket {request.survivor} of this client",
                            "name an open ticket of the same client", "Cannot merge") from exc
    mine = await duplicate.query(IncidentWorkflow.view)
    if survivor.status is Status.CLOSED or survivor.merged_into is not None:
        raise field_problem(409, "survivor", f"{request.survivor} is closed",
                            "merge into an open ticket", "Cannot merge")
    if survivor.opened_at < mine.opened_at:
        raise field_problem(409, "survivor", f"{request.survivor} is older than {ticket_id}",
                            f"merge the older ticket into the newest: merge "
                            f"{request.survivor} into {ticket_id}", "Cannot merge")
    return await duplicate.execute_update(
        IncidentWorkflow.merge_into, request.model_copy(update={"by": who(principal)}))


@router.post("/{ticket_id}/comments", status_code=202,
             summary="Add a comment (a requester's reply may reopen a resolved ticket; a "
                     "bare thank-you does not)")
async def comment(request: CommentIn, ticket_id: str = TicketPath,
                  principal: Principal = require(Action.VIEW_TICKETS),
                  state: AppState = Depends(app_state)) -> JSONResponse:
    handle = incident(state, principal, ticket_id)
    await handle.signal(IncidentWorkflow.comment, request.model_copy(update={
        "by": who(principal), "from_requester": principal.role in CLIENT_SIDE}))
    return JSONResponse({"ticket_id": ticket_id, "accepted": True}, status_code=202)
