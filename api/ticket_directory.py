"""From a ticket id to its workflow, whatever its kind.

Ticket ids (``BEL-000123``) are numbered per client across kinds, and workflow ids are
``<kind>:<ticket>``, so a ticket's kind is found once (a describe of each registered kind,
concurrently) and remembered: a ticket never changes kind.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal
from api.problems import Problem
from domain.ids import TicketKind, parse_ticket_id, workflow_id
from domain.tenants import ClientConfig, TempodeskConfig
from domain.tickets import TicketView
from workflows.kinds import TICKET_WORKFLOWS, TicketWorkflow

_REMEMBERED = 10_000


@dataclass(frozen=True)
class TicketRef:
    ticket_id: str
    kind: TicketKind
    client: ClientConfig
    handle: WorkflowHandle[Any, Any]

    @property
    def workflow(self) -> type[TicketWorkflow]:
        return TICKET_WORKFLOWS[self.kind]

    @property
    def view_model(self) -> type[TicketView]:
        return self.workflow.view_model

    async def view(self) -> TicketView:
        """The kind's whole view (queried by name: a method reference would decode it as
        the base contract's type)."""
        return await self.handle.query(TicketWorkflow.view.__name__, result_type=self.view_model)

    def supports(self, handler: Any) -> bool:
        """Whether this kind's workflow has ``handler`` (e.g. ``IncidentWorkflow.merge_into``)."""
        return hasattr(self.workflow, handler.__name__)


def not_found(ticket_id: str) -> Problem:
    # The same answer whether the ticket exists for another client or not at all.
    return Problem(404, "Not found", f"no ticket {ticket_id}")


class TicketDirectory:
    def __init__(self, client: Client, config: TempodeskConfig) -> None:
        self.client = client
        self.config = config
        self._kinds: OrderedDict[str, TicketKind] = OrderedDict()

    async def locate(self, ticket_id: str, principal: Principal | None) -> TicketRef:
        """The ticket's workflow, if ``principal`` may see it (``None``: a signed link
        already proved it); 404 otherwise, never 403, so ids cannot be probed."""
        try:
            prefix, _ = parse_ticket_id(ticket_id)
        except ValueError as exc:
            raise not_found(ticket_id) from exc
        client = self.config.client_by_prefix(prefix)
        if client is None or (principal is not None and not principal.may_see(client.id)):
            raise not_found(ticket_id)
        kind = await self._kind(ticket_id)
        handle = self.client.get_workflow_handle(workflow_id(kind, ticket_id))
        return TicketRef(ticket_id, kind, client, handle)

    async def _kind(self, ticket_id: str) -> TicketKind:
        kind = self._kinds.get(ticket_id)
        if kind is not None:
            self._kinds.move_to_end(ticket_id)
            return kind
        kind = await find_kind(self.client, ticket_id)
        if kind is None:
            raise not_found(ticket_id)
        self._kinds[ticket_id] = kind
        if len(self._kinds) > _REMEMBERED:
            self._kinds.popitem(last=False)
        return kind


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
