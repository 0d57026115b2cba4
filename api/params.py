"""HTTP parameters and answers that several route modules share (a route module never
imports another): the ticket id in a path, and the view any ticket kind may answer with."""

from __future__ import annotations

from typing import Union

from fastapi import Path

from desk.tickets import TICKET_VIEWS
from domain.ids import TICKET_ID_PATTERN

# Every registered kind's view: what GET /v1/tickets/{id} may answer.
AnyTicketView = Union[TICKET_VIEWS]  # noqa: UP007
TicketPath = Path(pattern=TICKET_ID_PATTERN, max_length=18, examples=["BEL-000123"],
                  description="the ticket id: the client's prefix, '-', 6 to 9 digits")
