"""Reading tickets of any kind: one by id (a workflow query), many by filter (Temporal
visibility). Client credentials see their own client's tickets, of the kinds their role
sees (domain/visibility.py); MSP staff see the clients they serve, in one queue."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from api.auth import require
from api.params import AnyTicketView, TicketPath
from api.problems import field_problem
from api.state import AppState, app_state
from desk import ticket_reading
from desk.principal import Principal
from desk.tickets import viewer_of
from domain import tokens
from domain.ids import TicketKind
from domain.roles import Action
from domain.sla.policy import Priority
from domain.ticket_list import TicketSummary, ticket_query
from domain.tickets import Status
from domain.visibility import EVERY_KIND, visible_kinds

router = APIRouter(prefix="/v1", tags=["tickets"])

QUEUE_SCAN_MAX = 2000  # open tickets read to sort a queue by next due


class Sort(StrEnum):
    OPENED = "opened"      # newest first, paged (Temporal's order)
    NEXT_DUE = "next_due"  # open tickets, the next SLA instant first


class TicketPage(BaseModel):
    tickets: list[TicketSummary]
    next_page_token: str | None


def visible_clients(principal: Principal, state: AppState, client: str | None) -> list[str]:
    """The client ids a listing may cover: unrestricted staff see every client in this
    desk's configuration, not every ticket in the namespace (another desk may share it, and a
    client taken out of the configuration is no longer served)."""
    if client is not None:
        if state.config.client(client) is None or not principal.may_see(client):
            raise field_problem(404, "client", f"no client {client!r} among yours",
                                "omit 'client' to see every client you serve", "Not found")
        return [client]
    if principal.clients is None:
        return sorted(c.id for c in state.config.clients)
    return sorted(principal.clients)


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
    secret = state.settings.secret
    token = read_page_token(secret, page_token, principal.scope) if page_token else None
    clients = visible_clients(principal, state, client)
    kinds = visible_kinds(viewer_of(principal))
    # A kind the caller may not see lists nothing, as a kind with no tickets would.
    if not clients or (kind is not None and kind not in kinds):
        return TicketPage(tickets=[], next_page_token=None)
    query = ticket_query(clients, kind, status, priority, breached, assignee,
                         open_only=sort is Sort.NEXT_DUE,
                         kinds=None if kinds == EVERY_KIND else kinds)
    if sort is Sort.NEXT_DUE:
        rows = [TicketSummary.of(e) async for e in state.temporal.list_workflows(
            query, limit=QUEUE_SCAN_MAX, page_size=500)]
        far = datetime.max.replace(tzinfo=UTC)
        rows.sort(key=lambda row: row.next_due or far)
        return TicketPage(tickets=rows[:limit], next_page_token=None)
    iterator = state.temporal.list_workflows(query, page_size=limit, next_page_token=token)
    await iterator.fetch_next_page()
    tickets = [TicketSummary.of(execution) for execution in iterator.current_page or []]
    next_token = iterator.next_page_token
    return TicketPage(tickets=tickets, next_page_token=(
        make_page_token(secret, next_token, principal.scope) if next_token else None))


def make_page_token(secret: str, temporal_token: bytes, scope: str) -> str:
    """Temporal's cursor, signed and bound to the caller's scope: garbage never reaches
    Temporal (which answers it with an internal error), and one client's cursor is no use
    to another."""
    return tokens.sign(secret, "page", scope, datetime.now(UTC) + timedelta(days=1),
                       t=base64.urlsafe_b64encode(temporal_token).decode())


def read_page_token(secret: str, page_token: str, scope: str) -> bytes:
    try:
        payload = tokens.verify(secret, page_token, "page")
        if payload["s"] != scope:
            raise tokens.InvalidToken("the page token belongs to another caller")
        return base64.urlsafe_b64decode(payload["t"])
    except (tokens.InvalidToken, KeyError, ValueError, binascii.Error) as exc:
        raise field_problem(400, "page_token", "not a page token from this API (or expired)",
                            "pass next_page_token from the previous page unchanged",
                            "Bad request") from exc


@router.get("/tickets/{ticket_id}", response_model=AnyTicketView,
            summary="Show one ticket, of any kind")
async def show_ticket(
    ticket_id: str = TicketPath,
    principal: Principal = require(Action.VIEW_TICKETS),
    state: AppState = Depends(app_state),
) -> Response:
    view = await ticket_reading.show_ticket(state, principal, ticket_id)
    return Response(view.model_dump_json(), media_type="application/json")
