"""Service requests: basic (add / change / remove, 5 business days), enhanced (quoted,
then by the agreed schedule) and advisory (quick answer, mini-consult, scoping workshop)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from api.answers import created
from api.auth import require
from api.state import AppState, app_state
from desk.files import attach_uploads, claimed_uploads
from desk.intake import intake_client, start_ticket
from desk.principal import Principal
from domain.roles import Action
from domain.service_requests import RequestForm, RequestStart, RequestView
from domain.sla.deadlines import snapshot_for
from workflows.service_request import ServiceRequestWorkflow

router = APIRouter(prefix="/v1", tags=["service requests"])


@router.post("/service-requests", status_code=201, response_model=RequestView,
             summary="Raise a service request: basic (5 business days), enhanced (quoted) "
                     "or advisory (quick answer, mini-consult, scoping workshop)")
async def raise_request(form: RequestForm, principal: Principal = require(Action.RAISE_REQUEST),
                        state: AppState = Depends(app_state)) -> Response:
    client = intake_client(principal, form.client_id, state)
    uploads = await claimed_uploads(state, client, form.uploads)
    now = datetime.now(UTC)
    ticket = await state.numbers.next(client.ticket_prefix)
    start = RequestStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                         raised_by=principal.actor,
                         form=form.model_copy(update={"uploads": []}),  # files join below
                         sla=snapshot_for(client.sla, now), rules=client.incidents)
    at_intake = await start_ticket(
        state, ServiceRequestWorkflow, start,
        f"{ticket} {form.type.value} request: {form.subject[:100]}")
    if uploads:
        ref = await state.tickets.locate(ticket, principal)
        return created(await attach_uploads(state, ref, uploads))
    return created(at_intake.view())
