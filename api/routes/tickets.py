"""Reading tickets: one by id (a workflow query), many by filter (Temporal visibility)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api.auth import Principal, require
from api.problems import Problem, field_problem
from api.state import AppState, app_state
from domain import tokens
from domain.ids import TICKET_ID, TicketKind, parse_ticket_id, workflow_id
from domain.incidents import IncidentView, Status
from domain.roles import Action
from domain.sla.policy import Priority
from domain.ticket_list import TicketSummary, ticket_query
from workflows.incident import IncidentWorkflow

router = APIRouter(prefix="/v1", tags=["tickets"])


class TicketPage(BaseModel):
    tickets: list[TicketSummary]
    next_page_token: str | None


@router.get("/tickets", response_model=TicketPage, summary="List the client's tickets")
async def list_tickets(
    principal: Principal = require(Action.VIEW_TICKETS),
    state: AppState = Depends(app_state),
    kind: TicketKind | None = None,
    status: Status | None = None,
    priority: Priority | None = None,
    breached: bool | None = None,
    assignee: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=500),
    page_token: str | None = Query(None, max_length=4096),
) -> TicketPage:
    secret = state.settings.signing_secret.get_secret_value()
    token = read_page_token(secret, page_token, principal.client_id) if page_token else None
    # The client always comes from the credential.
    query = ticket_query(principal.client_id, kind, status, priority, breached, assignee)
    iterator = state.temporal.list_workflows(query, page_size=limit, next_page_token=token)
    await iterator.fetch_next_page()
    tickets = [TicketSummary.of(execution) for execution in iterator.current_page or []]
    next_token = iterator.next_page_token
    return TicketPage(tickets=tickets, next_page_token=(
        make_page_token(secret, next_token, principal.client_id) if next_token else None))


def make_page_token(secret: str, temporal_token: bytes, client_id: str) -> str:
    """Temporal's cursor, signed and bound to the client: garbage never reaches Temporal
    (which answers it with an internal error), and one client's cursor is no use to another."""
    return tokens.sign(secret, "page", client_id, datetime.now(UTC) + timedelta(days=1),
                       t=base64.urlsafe_b64encode(temporal_token).decode())


def read_page_token(secret: str, page_token: str, client_id: str) -> bytes:
    try:
        payload = tokens.verify(secret, page_token, "page")
        if payload["s"] != client_id:
            raise tokens.InvalidToken("the page token belongs to another client")
        return base64.urlsafe_b64decode(payload["t"])
    except (tokens.InvalidToken, KeyError, ValueError, binascii.Error) as exc:
        raise field_problem(400, "page_token", "not a page token from this API (or expired)",
                            "pass next_page_token from the previous page unchanged",
                            "Bad request") from exc


def owned_ticket(ticket_id: str, principal: Principal, state: AppState) -> str:
    """The ticket id if it belongs to the caller's client; 404 otherwise (never 403, so
    another client's ticket ids cannot be probed)."""
    prefix, _ = parse_ticket_id(ticket_id)
    client = state.config.client_by_prefix(prefix)
    if client is None or client.id != principal.client_id:
        raise Problem(404, "Not found", f"no ticket {ticket_id}")
    return ticket_id


@router.get("/tickets/{ticket_id}", response_model=IncidentView, summary="Show one ticket")
async def show_ticket(
    ticket_id: str = Path(pattern=TICKET_ID.pattern, examples=["BEL-000123"]),
    principal: Principal = require(Action.VIEW_TICKETS),
    state: AppState = Depends(app_state),
) -> IncidentView:
    owned_ticket(ticket_id, principal, state)
    handle = state.temporal.get_workflow_handle_for(
        IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, ticket_id))
    return await handle.query(IncidentWorkflow.view)
