"""Listing tickets from Temporal visibility: the filter and one row per ticket, shared by
`GET /v1/tickets` and `tempodesk tickets list`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio.client import WorkflowExecution

from domain import search_attributes as sa


class TicketSummary(BaseModel):
    ticket_id: str
    kind: str | None
    client_id: str | None
    priority: str | None
    status: str | None
    response_due: datetime | None
    resolution_due: datetime | None
    breached: bool | None
    escalation_level: int | None
    assignee: str | None
    opened_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, execution: WorkflowExecution) -> TicketSummary:
        attrs = execution.typed_search_attributes
        return cls(
            ticket_id=execution.id.split(":", 1)[-1],
            kind=attrs.get(sa.TICKET_KIND), client_id=attrs.get(sa.CLIENT_ID),
            priority=attrs.get(sa.TICKET_PRIORITY), status=attrs.get(sa.TICKET_STATUS),
            response_due=attrs.get(sa.SLA_RESPONSE_DUE),
            resolution_due=attrs.get(sa.SLA_RESOLUTION_DUE),
            breached=attrs.get(sa.SLA_BREACHED), escalation_level=attrs.get(sa.ESCALATION_LEVEL),
            assignee=attrs.get(sa.ASSIGNEE), opened_at=execution.start_time,
            closed_at=execution.close_time,
        )


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ticket_query(client_id: str | None = None, kind: str | None = None,
                 status: str | None = None, priority: str | None = None,
                 breached: bool | None = None, assignee: str | None = None) -> str:
    """A Temporal list filter over the ticket search attributes. Without a client or kind it
    still matches tickets only (not, e.g., the ticket-number sequences)."""
    terms = []
    if client_id is None and kind is None:
        terms.append(f"{sa.TICKET_KIND.name} IS NOT NULL")
    for key, value in ((sa.CLIENT_ID, client_id), (sa.TICKET_KIND, kind),
                       (sa.TICKET_STATUS, status), (sa.TICKET_PRIORITY, priority),
                       (sa.ASSIGNEE, assignee)):
        if value is not None:
            terms.append(f"{key.name} = {_quote(value)}")
    if breached is not None:
        terms.append(f"{sa.SLA_BREACHED.name} = {'true' if breached else 'false'}")
    return " AND ".join(terms)
