"""Raising incidents: portal, taskbar agent, API, and phone calls logged by agents."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Response

from api.answers import created
from api.auth import require
from api.problems import Problem
from api.state import AppState, app_state
from desk.files import attach_uploads, claimed_uploads
from desk.intake import intake_client, open_incident
from desk.principal import Principal
from domain.incidents import (
    Channel,
    IncidentReport,
    IncidentView,
)
from domain.roles import Action, allowed

router = APIRouter(prefix="/v1", tags=["incidents"])


@router.post("/incidents", status_code=201, response_model=IncidentView,
             summary="Raise an incident",
             responses={409: {"description": "conflict"}, 422: {"description": "invalid"}})
async def raise_incident(
    report: IncidentReport,
    principal: Principal = require(Action.RAISE_INCIDENT),
    state: AppState = Depends(app_state),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1,
                                         max_length=255),
) -> Response:
    if report.channel is Channel.PHONE and not allowed(principal.role, Action.LOG_PHONE_INCIDENT):
        raise Problem(403, "Forbidden", "a phone incident is logged by an agent: use "
                      "channel 'portal' or 'api', or an agent's credential")
    client = intake_client(principal, report.client_id, state)
    uploads = await claimed_uploads(state, client, report.uploads)
    ticket, view, replayed = await open_incident(state, principal, client, report,
                                                 idempotency_key)
    if uploads:
        ref = await state.tickets.locate(ticket, principal)
        view = await attach_uploads(state, ref, uploads)
    return created(view, {"Idempotent-Replayed": "true"} if replayed else None)
