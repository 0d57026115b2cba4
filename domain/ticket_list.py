"""Listing tickets from Temporal visibility: the filter and one row per ticket, shared by
`GET /v1/tickets` and `tempodesk tickets list`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel, Field, computed_field
from temporalio.client import WorkflowExecution

from domain import search_attributes as sa
from domain.ids import parse_workflow_id


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
    notice_failing: bool = False
    quote_state: str | None = Field(None, description="quotes: sent, approved, declined, "
                                    "expired or superseded")
    quote_valid_until: datetime | None = None
    kind_due: datetime | None = Field(None, description="NextDue: a quote's, new user's or "
                                      "user exit's next instant (docs/lifecycle.md)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_due(self) -> datetime | None:
        """The next SLA instant: the response until it is given, then the resolution;
        for a kind without one now, its own next instant (NextDue)."""
        if self.status == "new" and self.response_due is not None:
            return self.response_due
        return self.resolution_due or self.kind_due

    @classmethod
    def of(cls, execution: WorkflowExecution) -> TicketSummary:
        attrs = execution.typed_search_attributes
        return cls(
            ticket_id=parse_workflow_id(execution.id)[1],
            kind=attrs.get(sa.TICKET_KIND), client_id=attrs.get(sa.CLIENT_ID),
            priority=attrs.get(sa.TICKET_PRIORITY), status=attrs.get(sa.TICKET_STATUS),
            response_due=attrs.get(sa.SLA_RESPONSE_DUE),
            resolution_due=attrs.get(sa.SLA_RESOLUTION_DUE),
            breached=attrs.get(sa.SLA_BREACHED), escalation_level=attrs.get(sa.ESCALATION_LEVEL),
            assignee=sa.keyword_text(attrs.get(sa.ASSIGNEE)), opened_at=execution.start_time,
            closed_at=execution.close_time,
            notice_failing=bool(attrs.get(sa.NOTICE_FAILING)),
            quote_state=attrs.get(sa.QUOTE_STATE),
            quote_valid_until=attrs.get(sa.QUOTE_VALID_UNTIL),
            kind_due=sa.next_due_instant(attrs.get(sa.NEXT_DUE)),
        )


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ticket_query(client_ids: list[str] | None = None, kind: str | None = None,
                 status: str | None = None, priority: str | None = None,
                 breached: bool | None = None, assignee: str | None = None,
                 open_only: bool = False, kinds: Collection[str] | None = None) -> str:
    """A Temporal list filter over the ticket search attributes. ``client_ids`` None means
    every client; it still matches tickets only (not, e.g., the ticket-number sequences).
    ``kinds`` are the kinds the reader may see (domain/visibility.py; None: every kind)."""
    # A ticket that continued as new has one closed run per continuation: list the
    # ticket once (its latest run).
    terms = [f"{sa.TICKET_KIND.name} IS NOT NULL", "ExecutionStatus != 'ContinuedAsNew'"]
    if client_ids is not None:
        terms.append(f"{sa.CLIENT_ID.name} IN ({', '.join(_quote(c) for c in client_ids)})")
    if kinds is not None:
        terms.append(f"{sa.TICKET_KIND.name} IN ({', '.join(_quote(k) for k in sorted(kinds))})")
    for key, value in ((sa.TICKET_KIND, kind), (sa.TICKET_STATUS, status),
                       (sa.TICKET_PRIORITY, priority),
                       (sa.ASSIGNEE, None if assignee is None else sa.keyword(assignee))):
        if value is not None:
            terms.append(f"{key.name} = {_quote(value)}")
    if breached is not None:
        terms.append(f"{sa.SLA_BREACHED.name} = {'true' if breached else 'false'}")
    if open_only:
        terms.append("ExecutionStatus = 'Running'")
        terms.append(f"{sa.TICKET_STATUS.name} != 'closed'")
    return " AND ".join(terms)
