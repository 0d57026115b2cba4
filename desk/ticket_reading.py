"""Reading tickets, for every door. One by id: the permission, the tenancy and kind
visibility (``locate``: another client's ticket, or a kind the caller's role does not see,
is 404), then the view as the caller may read it (a workflow query). Many by filter
(Temporal visibility): a client's credential sees its own client's tickets, of the kinds
its role sees (domain/visibility.py); MSP staff see the clients they serve, in one
queue."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from desk.access import may
from desk.errors import DeskError, field_problem
from desk.principal import Principal
from desk.state import Desk
from desk.tickets import TicketRef, viewer_of
from domain import tokens
from domain.ids import TicketKind, a_kind
from domain.offboarding import OffboardingView
from domain.roles import Action
from domain.sla.policy import Priority
from domain.ticket_list import TicketSummary, ticket_query
from domain.tickets import Status, TicketView
from domain.visibility import EVERY_KIND, visible_kinds


async def show_ticket(desk: Desk, principal: Principal, ticket_id: str) -> TicketView:
    """One ticket of any kind, as ``principal`` may read it."""
    may(principal, Action.VIEW_TICKETS)
    ref = await desk.tickets.locate(ticket_id, principal)
    return ref.shown(await ref.view())


async def custody_record(desk: Desk, principal: Principal,
                         ticket_id: str) -> tuple[TicketRef, OffboardingView]:
    """A user exit's record, for its chain-of-custody document (409 for another kind):
    the ticket and its whole view."""
    may(principal, Action.VIEW_TICKETS)
    ref = await desk.tickets.locate(ticket_id, principal)
    if ref.kind is not TicketKind.OFFBOARDING:
        raise DeskError(409, "Not for this kind", f"{ticket_id} is {a_kind(ref.kind)}: only a "
                        "user exit has a chain of custody", slug="conflict")
    view = await ref.view()
    assert isinstance(view, OffboardingView)
    return ref, view


# ---------------------------------------------------------------- many tickets

QUEUE_SCAN_MAX = 2000  # open tickets read to sort a queue by next due


class Sort(StrEnum):
    OPENED = "opened"      # newest first, paged (Temporal's order)
    NEXT_DUE = "next_due"  # open tickets, the next SLA instant first


class TicketPage(BaseModel):
    tickets: list[TicketSummary]
    next_page_token: str | None


def visible_clients(principal: Principal, desk: Desk, client: str | None) -> list[str]:
    """The client ids a listing may cover: unrestricted staff see every client in this
    desk's configuration, not every ticket in the namespace (another desk may share it, and a
    client taken out of the configuration is no longer served)."""
    if client is not None:
        if desk.config.client(client) is None or not principal.may_see(client):
            raise field_problem(404, "client", f"no client {client!r} among yours",
                                "omit 'client' to see every client you serve", "Not found",
                                where="query")
        return [client]
    if principal.clients is None:
        return sorted(c.id for c in desk.config.clients)
    return sorted(principal.clients)


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets to list, and how (the query parameters of GET /v1/tickets)."""

    client: str | None = None  # staff: one client only
    kind: TicketKind | None = None
    status: Status | None = None
    priority: Priority | None = None
    breached: bool | None = None
    assignee: str | None = None
    sort: Sort = Sort.OPENED
    limit: int = 50
    page_token: str | None = None


async def list_tickets(desk: Desk, principal: Principal, want: TicketFilter) -> TicketPage:
    """A page of the tickets ``principal`` may see: its own client's (of the kinds its role
    sees), or, for MSP staff, every client they serve, in one queue."""
    may(principal, Action.VIEW_TICKETS)
    secret = desk.settings.secret
    token = (read_page_token(secret, want.page_token, principal.scope) if want.page_token
             else None)
    clients = visible_clients(principal, desk, want.client)
    kinds = visible_kinds(viewer_of(principal))
    # A kind the caller may not see lists nothing, as a kind with no tickets would.
    if not clients or (want.kind is not None and want.kind not in kinds):
        return TicketPage(tickets=[], next_page_token=None)
    query = ticket_query(clients, want.kind, want.status, want.priority, want.breached,
                         want.assignee, open_only=want.sort is Sort.NEXT_DUE,
                         kinds=None if kinds == EVERY_KIND else kinds)
    if want.sort is Sort.NEXT_DUE:
        rows = [TicketSummary.of(e) async for e in desk.temporal.list_workflows(
            query, limit=QUEUE_SCAN_MAX, page_size=500)]
        far = datetime.max.replace(tzinfo=UTC)
        rows.sort(key=lambda row: row.next_due or far)
        return TicketPage(tickets=rows[:want.limit], next_page_token=None)
    iterator = desk.temporal.list_workflows(query, page_size=want.limit, next_page_token=token)
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
                            "Bad request", where="query") from exc
