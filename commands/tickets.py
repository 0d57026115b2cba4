"""`tempodesk tickets list|show`: tickets read from Temporal by operators."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from commands.common import Output, table, with_temporal
from console import err
from domain.ids import TicketKind
from domain.sla.policy import Priority
from domain.ticket_list import TicketSummary, ticket_query
from domain.tickets import Status

app = typer.Typer(help="Read tickets (operators).", no_args_is_help=True)


def minutes(iso: str | None) -> str | None:
    """An instant to the minute in UTC, for narrow tables: converted, never an offset cut
    off ('2026-12-22T00:00:00+11:00' -> '2026-12-21 13:00Z'). A time without an offset
    (none of ours) is printed as it is, without a 'Z' it could not vouch for."""
    if iso is None:
        return None
    at = datetime.fromisoformat(iso)
    if at.tzinfo is None:
        return f"{at:%Y-%m-%d %H:%M}"
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}Z"


def field_rows(data: dict, prefix: str = "") -> list[dict]:
    """One row per field of a ticket's view; a nested object's fields as dotted names
    (``request.doing``), so each answer wraps in a row of its own. Times are printed as
    the view gives them, with their offset."""
    rows: list[dict] = []
    for name, value in data.items():
        if isinstance(value, dict) and value:
            rows += field_rows(value, f"{prefix}{name}.")
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            text = json.dumps(value, ensure_ascii=False)  # comments, steps: as written
            rows.append({"field": f"{prefix}{name}", "value": text})
        elif isinstance(value, list):
            rows.append({"field": f"{prefix}{name}", "value": ", ".join(map(str, value))})
        else:
            rows.append({"field": f"{prefix}{name}", "value": value})
    return rows


@app.command("list")
def tickets_list(
    client: Annotated[str | None, typer.Option(help="client id")] = None,
    status: Annotated[Status | None, typer.Option()] = None,
    priority: Annotated[Priority | None, typer.Option()] = None,
    breached: Annotated[bool | None, typer.Option("--breached/--not-breached")] = None,
    kind: Annotated[TicketKind | None, typer.Option(help="incident, service_request, quote, "
                                                    "onboarding, offboarding")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """List tickets from Temporal visibility (all clients unless --client); the JSON rows
    are those of GET /v1/tickets."""

    query = ticket_query(client_ids=[client] if client else None, status=status,
                         priority=priority, breached=breached,
                         kind=kind.value if kind else None)

    async def fetch(temporal) -> list[TicketSummary]:
        return [TicketSummary.of(e) async for e in temporal.list_workflows(query, limit=limit)]

    rows = [row.model_dump(mode="json") for row in with_temporal(fetch)]
    if output is Output.JSON:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        row["resolution_due"] = minutes(row["resolution_due"])
        if row["quote_state"]:
            row["quote"] = f"{row['quote_state']} until {minutes(row['quote_valid_until'])}"
    table(rows, {"ticket_id": "ticket", "kind": "kind", "client_id": "client",
                 "priority": "prio", "status": "status", "resolution_due": "resolve by (UTC)",
                 "breached": "breached", "escalation_level": "esc", "assignee": "assignee",
                 "quote": "quote"},
          wrap=frozenset({"resolution_due", "assignee", "quote"}))


@app.command("show")
def tickets_show(
    ticket: str,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """Show one ticket of any kind (a workflow query)."""
    from desk.tickets import operator_view
    from domain.ids import TICKET_ID, TICKET_ID_HINT

    if not TICKET_ID.match(ticket):
        err.print(f"{ticket[:40]!r}: {TICKET_ID_HINT}", markup=False)
        raise typer.Exit(2)

    view = with_temporal(lambda temporal: operator_view(temporal, ticket))
    if view is None:
        err.print(f"no ticket {ticket}", markup=False)
        raise typer.Exit(1)
    data = view.model_dump(mode="json")
    if output is Output.JSON:
        print(json.dumps(data, indent=2))
        return
    events = data.pop("events")
    # What an agent reads first: the ticket, where it stands, and the request as it was made.
    first = ("kind", "ticket_id", "client_id", "subject", "status", "priority",
             "description", "request")
    ordered = {k: data[k] for k in first if k in data} | data
    table(field_rows(ordered), {"field": "field", "value": "value"},
          wrap=frozenset({"value"}))
    table(events, {"at": "at", "kind": "event", "by": "by", "detail": "detail"},
          wrap=frozenset({"detail"}))
