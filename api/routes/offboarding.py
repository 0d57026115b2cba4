"""User exits (offboarding) from HR's form: access ends at the close of the last working
day in the client's zone (or now, for an immediate exit) and is revoked within 1 hour; the
chain-of-custody PDF of its hardware."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from email.utils import parseaddr

from fastapi import APIRouter, Depends, Response

from api.answers import created
from api.auth import require
from api.problems import Problem
from api.routes.tickets import TicketPath
from api.state import AppState, app_state
from desk.intake import intake_client, own_people, start_ticket
from desk.principal import Principal
from domain.documents.custody import as_of, custody_pdf
from domain.ids import TicketKind
from domain.offboarding import (
    ExitForm,
    OffboardingStart,
    OffboardingView,
    check_manager,
    check_notice,
    effective_time,
)
from domain.roles import Action
from domain.sla.deadlines import snapshot_for
from domain.tenants import ClientConfig
from workflows.offboarding import OffboardingWorkflow

router = APIRouter(prefix="/v1", tags=["people"])


async def open_exit(state: AppState, client: ClientConfig, form: ExitForm,
                    raised_by: str) -> OffboardingView:
    """A user exit for ``client`` (the form and SCIM share it): only of the client's own
    people (422 naming the field otherwise), before a ticket number is taken."""
    start, summary = await exit_start(state, client, form, raised_by)
    at_intake = await start_ticket(state, OffboardingWorkflow, start, summary)
    return at_intake.view()


async def exit_start(state: AppState, client: ClientConfig, form: ExitForm,
                     raised_by: str) -> tuple[OffboardingStart, str]:
    """A user exit's workflow input, checked and numbered, and the Web UI's summary of it
    (SCIM hands both to the user's workflow, which starts the exit itself)."""
    own_people(client, form.people())
    now = datetime.now(UTC)
    effective = effective_time(form, client.sla, now)
    check_notice(form, effective, now)
    ticket = await state.numbers.next(client.ticket_prefix)
    start = OffboardingStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                             raised_by=raised_by, form=form, effective_at=effective,
                             sla=snapshot_for(client.sla, now), rules=client.incidents)
    return start, f"{ticket} user exit, access ends {effective:%Y-%m-%d %H:%M} UTC"


@router.post("/offboarding", status_code=201, response_model=OffboardingView,
             summary="Raise a user exit: access revoked within 1 hour of the close of the "
                     "last working day (or at once with 'immediate')")
async def raise_exit(form: ExitForm, principal: Principal = require(Action.OFFBOARD),
                     state: AppState = Depends(app_state)) -> Response:
    check_manager(form)
    client = intake_client(principal, form.client_id, state)
    view = await open_exit(state, client, form, principal.actor)
    return created(view)


@router.get("/tickets/{ticket_id}/custody.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "the chain-of-custody PDF"}},
            summary="User exits: the chain-of-custody PDF of the leaver's hardware (the same "
                    "ticket gives the same bytes; its custody log's SHA-256 is printed on it)")
async def custody_document(ticket_id: str = TicketPath,
                           principal: Principal = require(Action.VIEW_TICKETS),
                           state: AppState = Depends(app_state)) -> Response:
    ref = await state.tickets.locate(ticket_id, principal)
    if ref.kind is not TicketKind.OFFBOARDING:
        raise Problem(409, "Not for this kind", f"{ticket_id} is a {ref.kind.value}: only a "
                      "user exit has a chain of custody", slug="conflict")
    view = await ref.view()
    assert isinstance(view, OffboardingView)
    # Dated by the newest instant it shows, not by the clock: every read gives the same
    # bytes (and ETag) until the custody record changes. No side effect: query, render.
    msp_name = parseaddr(state.settings.smtp_from)[0] or "Tempodesk"
    pdf = await asyncio.to_thread(custody_pdf, view, ref.client.name, as_of(view),
                                  zone=ref.client.sla.calendar.timezone, msp_name=msp_name)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{ticket_id}-chain-of-custody.pdf"',
        "ETag": f'"{hashlib.sha256(pdf).hexdigest()}"'})
