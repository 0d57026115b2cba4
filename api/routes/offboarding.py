"""User exits (offboarding) from HR's form: access ends at the close of the last working
day in the client's zone (or now, for an immediate exit) and is revoked within 1 hour; the
chain-of-custody PDF of its hardware."""

from __future__ import annotations

import asyncio
import hashlib
from email.utils import parseaddr

from fastapi import APIRouter, Depends, Response

from api.auth import require
from api.intake_routes import add_intake_route
from api.params import TicketPath
from api.state import AppState, app_state
from desk import opening
from desk.principal import Principal
from desk.ticket_reading import custody_record
from domain.documents.custody import as_of, custody_pdf
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["people"])


add_intake_route(router, opening.USER_EXIT)


@router.get("/tickets/{ticket_id}/custody.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "the chain-of-custody PDF"}},
            summary="User exits: the chain-of-custody PDF of the leaver's hardware (the same "
                    "ticket gives the same bytes; its custody log's SHA-256 is printed on it)")
async def custody_document(ticket_id: str = TicketPath,
                           principal: Principal = require(Action.VIEW_TICKETS),
                           state: AppState = Depends(app_state)) -> Response:
    ref, view = await custody_record(state, principal, ticket_id)
    # Dated by the newest instant it shows, not by the clock: every read gives the same
    # bytes (and ETag) until the custody record changes. No side effect: query, render.
    msp_name = parseaddr(state.settings.smtp_from)[0] or "Tempodesk"
    pdf = await asyncio.to_thread(custody_pdf, view, ref.client.name, as_of(view),
                                  zone=ref.client.sla.calendar.timezone, msp_name=msp_name)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{ticket_id}-chain-of-custody.pdf"',
        "ETag": f'"{hashlib.sha256(pdf).hexdigest()}"'})
