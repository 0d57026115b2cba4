"""How the JSON routes answer what the desk did."""

from __future__ import annotations

from fastapi import Response

from domain.tickets import TicketView


def created(view: TicketView, headers: dict[str, str] | None = None) -> Response:
    """201 with the new ticket's view and where to find it (the view is already validated:
    serialised once, not re-validated by FastAPI)."""
    return Response(view.model_dump_json(), status_code=201, media_type="application/json",
                    headers={"Location": f"/v1/tickets/{view.ticket_id}", **(headers or {})})
