"""Reading tickets of any kind: one by id (a workflow query), many by filter (Temporal
visibility). Client credentials see their own client's tickets, of the kinds their role
sees (domain/visibility.py); MSP staff see the clients they serve, in one queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from api.auth import require
from api.params import AnyTicketView, TicketPath
from api.state import AppState, app_state
from desk import ticket_reading
from desk.principal import Principal
from desk.ticket_reading import QUEUE_SCAN_MAX, Sort, TicketFilter, TicketPage
from domain.ids import TicketKind
from domain.roles import Action
from domain.sla.policy import Priority
from domain.tickets import Status

router = APIRouter(prefix="/v1", tags=["tickets"])


@router.get("/tickets", response_model=TicketPage,
            summary="List tickets: a client's own, or, for MSP staff, every client they serve")
async def list_tickets(
    principal: Principal = require(Action.VIEW_TICKETS),
    state: AppState = Depends(app_state),
    client: str | None = Query(None, max_length=32, description="staff: one client only"),
    kind: TicketKind | None = None,
    status: Status | None = None,
    priority: Priority | None = None,
    breached: bool | None = None,
    assignee: str | None = Query(None, max_length=200),
    sort: Sort = Query(Sort.OPENED, description="next_due: open tickets whose next SLA "
                       f"instant comes first (reads at most {QUEUE_SCAN_MAX}; no paging)"),
    limit: int = Query(50, ge=1, le=500),
    page_token: str | None = Query(None, max_length=4096),
) -> TicketPage:
    return await ticket_reading.list_tickets(state, principal, TicketFilter(
        client=client, kind=kind, status=status, priority=priority, breached=breached,
        assignee=assignee, sort=sort, limit=limit, page_token=page_token))


@router.get("/tickets/{ticket_id}", response_model=AnyTicketView,
            summary="Show one ticket, of any kind")
async def show_ticket(
    ticket_id: str = TicketPath,
    principal: Principal = require(Action.VIEW_TICKETS),
    state: AppState = Depends(app_state),
) -> Response:
    view = await ticket_reading.show_ticket(state, principal, ticket_id)
    return Response(view.model_dump_json(), media_type="application/json")
