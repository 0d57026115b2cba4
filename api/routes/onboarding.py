"""New users from HR's New User form: the contract's notice is checked at the door (too
little -> 422 naming the earliest allowed start, unless 'expedite' asks an agent to
approve it), then the account, licences, groups and devices are made ready by the start."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from api.answers import created
from api.auth import require
from api.problems import Problem
from api.state import AppState, app_state
from desk.intake import intake_client, own_people, start_ticket
from desk.principal import Principal
from domain.onboarding import (
    JoinerForm,
    OnboardingStart,
    OnboardingView,
    induction_for,
    licences_and_groups,
    schedule,
    usage_location,
)
from domain.roles import Action
from domain.sla.deadlines import snapshot_for
from domain.tenants import ClientConfig
from workflows.onboarding import OnboardingWorkflow

router = APIRouter(prefix="/v1", tags=["people"])


def onboarding_start(form: JoinerForm, client: ClientConfig, raised_by: str,
                     now: datetime) -> OnboardingStart:
    """Everything decided at intake (the form and SCIM share it), with no ticket number
    yet: another client's people (422 naming the field) and too little notice are refused
    before a number is taken."""
    own_people(client, form.people())
    planned = schedule(form, client, now)
    if planned.short_notice and not form.expedite:
        error = planned.refusal(client.onboarding_notice, client.sla.calendar.timezone)
        raise Problem(422, "Not enough notice", f"start_date: {error.message}", slug="notice",
                      errors=[{"field": "start_date", "in": "body", "message": error.message,
                               "fix": error.fix}],
                      extensions={"earliest_start": planned.earliest_start.isoformat(),
                                  "notice": client.onboarding_notice})
    licences, groups = licences_and_groups(form, client)
    return OnboardingStart(
        ticket_id="", client_id=client.id, opened_at=now, raised_by=raised_by, form=form,
        starts_at=planned.starts_at, licences=licences, groups=groups,
        usage_location=usage_location(form, client), expedited=planned.short_notice,
        notice=client.onboarding_notice,
        induction_at=induction_for(client.sla, planned.starts_at),
        sla=snapshot_for(client.sla, now), rules=client.incidents)


async def open_onboarding(state: AppState, client: ClientConfig, form: JoinerForm,
                          raised_by: str) -> OnboardingView:
    start, summary = await joiner_start(state, client, form, raised_by)
    at_intake = await start_ticket(state, OnboardingWorkflow, start, summary)
    return at_intake.view()


async def joiner_start(state: AppState, client: ClientConfig, form: JoinerForm,
                       raised_by: str) -> tuple[OnboardingStart, str]:
    """An onboarding's workflow input, planned and numbered, and the Web UI's summary of it
    (SCIM hands both to the user's workflow, which starts the onboarding itself)."""
    planned = onboarding_start(form, client, raised_by, datetime.now(UTC))
    ticket = await state.numbers.next(client.ticket_prefix)
    start = planned.model_copy(update={"ticket_id": ticket})
    flag = " (EXPEDITED: awaiting approval)" if start.expedited else ""
    return start, f"{ticket} new user starting {start.starts_at:%Y-%m-%d %H:%M} UTC{flag}"


@router.post("/onboarding", status_code=201, response_model=OnboardingView,
             summary="Raise a new user: ready by the start if the contract's notice is given "
                     "(3bd or 48h); otherwise 422 with the earliest start, or 'expedite'")
async def raise_new_user(form: JoinerForm, principal: Principal = require(Action.ONBOARD),
                         state: AppState = Depends(app_state)) -> Response:
    client = intake_client(principal, form.client_id, state)
    view = await open_onboarding(state, client, form, principal.actor)
    return created(view)
