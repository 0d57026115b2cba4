"""From a ticket id to its workflow, whatever its kind, for a caller who may see it.

Ticket ids (``BEL-000123``) are numbered per client across kinds, and workflow ids are
``<kind>:<ticket>``, so a ticket's kind is found once (a describe of each registered kind,
concurrently) and remembered: a ticket never changes kind.

Every ticket route goes through :meth:`TicketDirectory.locate`, so the two trust checks
live here once: the caller's client (tenancy) and, inside it, the kinds the caller's role
may see (domain/visibility.py). Either refusal is the 404 of a missing ticket.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from desk.errors import DeskError
from desk.principal import Principal
from domain.ids import TicketKind, parse_ticket_id, workflow_id
from domain.recent import Recent
from domain.tenants import ClientConfig, TempodeskConfig
from domain.tickets import TicketView
from domain.visibility import Viewer, may_see, redacted
from workflows.kinds import TICKET_WORKFLOWS, TicketWorkflow

_REMEMBERED = 10_000
# Every registered kind's view: what a ticket's view may be (GET /v1/tickets/{id}).
TICKET_VIEWS: tuple[type[TicketView], ...] = tuple(w.view_model for w in TICKET_WORKFLOWS.values())


@dataclass(frozen=True)
class TicketRef:
    ticket_id: str
    kind: TicketKind
    client: ClientConfig
    handle: WorkflowHandle[Any, Any]
    viewer: Viewer | None = None  # None: a signed link, which already names its reader

    @property
    def workflow(self) -> type[TicketWorkflow]:
        return TICKET_WORKFLOWS[self.kind]

    @property
    def view_model(self) -> type[TicketView]:
        return self.workflow.view_model

    async def view(self) -> TicketView:
        return await kind_view(self.handle, self.kind)

    def shown(self, view: TicketView) -> TicketView:
        """``view`` as the caller may read it (personal data withheld from readers who do
        not need it): every view a route answers with passes through here."""
        return view if self.viewer is None else redacted(view, self.viewer)

    def supports(self, handler: Any) -> bool:
        """Whether this kind's workflow has ``handler`` (e.g. ``IncidentWorkflow.merge_into``)."""
        return hasattr(self.workflow, handler.__name__)


def viewer_of(principal: Principal) -> Viewer:
    return Viewer(principal.role, msp=principal.is_staff)


def not_found(ticket_id: str) -> DeskError:
    # The same answer whether the ticket exists for another client or not at all.
    return DeskError(404, "Not found", f"no ticket {ticket_id}")


class TicketDirectory:
    def __init__(self, client: Client, config: TempodeskConfig) -> None:
        self.client = client
        self.config = config
        self._kinds: Recent[str, TicketKind] = Recent(_REMEMBERED)  # a kind never changes

    async def locate(self, ticket_id: str, principal: Principal | None) -> TicketRef:
        """The ticket's workflow, if ``principal`` may see it: its client's, and a kind its
        role sees (``None``: a signed link already proved it). 404 otherwise, never 403, so
        ids cannot be probed and a hidden kind looks exactly like a missing ticket."""
        try:
            prefix, _ = parse_ticket_id(ticket_id)
        except ValueError as exc:
            raise not_found(ticket_id) from exc
        client = self.config.client_by_prefix(prefix)
        if client is None or (principal is not None and not principal.may_see(client.id)):
            raise not_found(ticket_id)
        kind = await self._kind(ticket_id)
        viewer = None if principal is None else viewer_of(principal)
        if viewer is not None and not may_see(viewer, kind):
            raise not_found(ticket_id)
        handle = self.client.get_workflow_handle(workflow_id(kind, ticket_id))
        return TicketRef(ticket_id, kind, client, handle, viewer)

    async def _kind(self, ticket_id: str) -> TicketKind:
        kind = self._kinds.get(ticket_id)
        if kind is not None:
            return kind
        kind = await find_kind(self.client, ticket_id)
        if kind is None:
            raise not_found(ticket_id)
        self.learn(ticket_id, kind)
        return kind

    def learn(self, ticket_id: str, kind: TicketKind) -> None:
        """Remember a ticket's kind (found, or known since this replica opened it: the
        file a requester sends with a new ticket does not wait for the describes)."""
        self._kinds.put(ticket_id, kind)


async def find_kind(client: Client, ticket_id: str) -> TicketKind | None:
    """The kind of ticket ``ticket_id``: a describe of each registered kind, concurrently
    (with one kind registered, that kind: the query that follows answers 404)."""
    kinds = list(TICKET_WORKFLOWS)
    if len(kinds) == 1:
        return kinds[0]

    async def exists(kind: TicketKind) -> bool:
        try:
            await client.get_workflow_handle(workflow_id(kind, ticket_id)).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    found = await asyncio.gather(*(exists(k) for k in kinds))
    return next((k for k, hit in zip(kinds, found, strict=True) if hit), None)


async def operator_view(client: Client, ticket_id: str) -> TicketView | None:
    """A ticket's whole view, for the MSP's operators on the Temporal connection (the
    CLI: no credential, nothing withheld); None if there is no such ticket."""
    kind = await find_kind(client, ticket_id)
    if kind is None:
        return None
    return await kind_view(client.get_workflow_handle(workflow_id(kind, ticket_id)), kind)


async def kind_view(handle: WorkflowHandle[Any, Any], kind: TicketKind) -> TicketView:
    """A ticket's whole view as its kind has it (queried by name: a method reference would
    decode it as the base contract's type)."""
    return await handle.query(TicketWorkflow.view.__name__,
                              result_type=TICKET_WORKFLOWS[kind].view_model)
