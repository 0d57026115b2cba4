"""User exits (offboarding) from HR's form: access ends at the close of the last working
day in the client's zone (or now, for an immediate exit) and is revoked within 1 hour."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from api.auth import Principal, require
from api.intake import intake_client, start_ticket
from api.state import AppState, app_state
from domain.offboarding import (
    ExitForm,
    OffboardingStart,
    OffboardingView,
    check_notice,
    effective_time,
)
from domain.roles import Action
from domain.sla.deadlines import snapshot_for
from workflows.offboarding import OffboardingWorkflow

router = APIRouter(prefix="/v1", tags=["people"])


@router.post("/offboarding", status_code=201, response_model=OffboardingView,
             summary="Raise a user exit: access revoked within 1 hour of the close of the "
                     "last working day (or at once with 'immediate')")
async def raise_exit(form: ExitForm, principal: Principal = require(Action.OFFBOARD),
                     state: AppState = Depends(app_state)) -> Response:
    client = intake_client(principal, form.client_id, state)
    now = datetime.now(UTC)
    effective = effective_time(form, client.sla, now)
    check_notice(form, effective, now)
    ticket = await state.numbers.next(client.ticket_prefix)
    start = OffboardingStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                             raised_by=principal.actor, form=form, effective_at=effective,
                             sla=snapshot_for(client.sla, now), rules=client.incidents)
    at_intake = OffboardingWorkflow.initial_state(start)
    await start_ticket(state, OffboardingWorkflow, start, at_intake,
                       f"{ticket} user exit, access ends {effective:%Y-%m-%d %H:%M} UTC")
    return Response(at_intake.view().model_dump_json(), status_code=201,
                    media_type="application/json", headers={"Location": f"/v1/tickets/{ticket}"})
