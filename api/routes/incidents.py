"""Raising incidents: portal, taskbar agent, API, and phone calls logged by agents."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Header, Response
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.auth import Principal, require
from api.intake import intake_client, scoped_key, start_ticket
from api.problems import Problem, field_problem
from api.state import AppState, app_state
from domain.idempotency import FINGERPRINT_HEX
from domain.ids import TicketKind, workflow_id
from domain.incidents import (
    Channel,
    IncidentReport,
    IncidentStart,
    IncidentView,
    decide_priority,
)
from domain.roles import Action, allowed
from domain.sla.deadlines import snapshot_for
from domain.tenants import ClientConfig
from domain.ticket_details import incident_details
from workflows.incident import IncidentWorkflow

router = APIRouter(prefix="/v1", tags=["incidents"])


def fingerprint(report: IncidentReport) -> str:
    return hashlib.sha256(report.model_dump_json().encode()).hexdigest()[:FINGERPRINT_HEX]


async def open_incident(state: AppState, principal: Principal, client: ClientConfig,
                        report: IncidentReport, idempotency_key: str | None,
                        ) -> tuple[str, str, bool]:
    """Open an incident (the form and e-mail share it): its id, its view as JSON, and
    whether an earlier request with the same idempotency key had opened it already."""
    if idempotency_key is None:
        ticket = await state.numbers.next(client.ticket_prefix)
    else:
        ticket, lease = await state.numbers.for_key(
            client.ticket_prefix, scoped_key(principal, idempotency_key), fingerprint(report))
        if lease.replayed and not lease.fingerprint_matches:
            raise field_problem(422, "Idempotency-Key", "this key was used with a different body",
                                "send the original body, or use a new key", "Idempotency conflict")
    opened_at = datetime.now(UTC)
    decision = decide_priority(report, client.priority_matrix)
    start = IncidentStart(
        ticket_id=ticket, client_id=client.id, opened_at=opened_at, report=report,
        priority=decision, raised_by=principal.actor,
        sla=snapshot_for(client.sla, opened_at), rules=client.incidents,
    )
    state_at_intake = IncidentWorkflow.initial_state(start)
    try:
        await start_ticket(state, IncidentWorkflow, start, state_at_intake,
                           f"{ticket} {decision.priority} {report.subject[:100]}",
                           incident_details(start, client))
    except WorkflowAlreadyStartedError:
        if idempotency_key is None:
            raise
        handle = state.temporal.get_workflow_handle_for(
            IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, ticket))
        return ticket, (await handle.query(IncidentWorkflow.view)).model_dump_json(), True
    return ticket, state_at_intake.view().model_dump_json(), False


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
    ticket, body, replayed = await open_incident(state, principal, client, report,
                                                 idempotency_key)
    headers = {"Location": f"/v1/tickets/{ticket}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    # Already a validated model: serialize once rather than have FastAPI re-validate it.
    return Response(body, status_code=201, media_type="application/json", headers=headers)
