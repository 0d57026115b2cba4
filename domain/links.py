"""Links to a ticket in what people read: one function, one path to change.

Today a ticket's page is the API's own ``GET /v1/tickets/{id}`` (the whole ticket, for the
caller's credential; a client's key sees only its own tickets, anyone else gets 401/404).
When the client portal has a ticket page, change :data:`TICKET_PATH` and every e-mail
links there. The base is the desk's public URL (``TEMPODESK_PUBLIC_URL``).

A ticket link grants nothing by itself: it is safe in every copy of a mail. Signed links
(approval, survey, NPS) are another thing: they act, so they go only to the person they
name (docs/security.md, "Signed links").
"""

from __future__ import annotations

from urllib.parse import quote

TICKET_PATH = "/v1/tickets/{ticket_id}"


def ticket_link(public_url: str, ticket_id: str) -> str:
    """The address of ``ticket_id``'s page under the desk's public base URL."""
    return public_url.rstrip("/") + TICKET_PATH.format(ticket_id=quote(ticket_id, safe=""))
