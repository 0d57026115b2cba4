"""Opening a ticket of each kind from a form, for every door: the permission (``may``),
the client the ticket is for (``intake_client``), the client's own people
(``own_people``), the uploads the form names (claimed before a number is taken, joined to
the ticket once it is open), then the workflow, started under its business key. Each
operation answers with the new ticket's view. (Quotes: desk/quotes.py.)

``joiner_start`` and ``exit_start`` are shared with SCIM, whose user workflow starts the
onboarding or the exit itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from desk.access import may
from desk.errors import DeskError
from desk.files import attach_uploads, claimed_uploads
from desk.intake import intake_client, open_incident, own_people, start_ticket
from desk.principal import Principal
from desk.state import Desk
from domain.incidents import Channel, IncidentReport
from domain.offboarding import (
    ExitForm,
    OffboardingStart,
    OffboardingView,
    check_last_day,
    check_manager,
    check_notice,
    effective_time,
)
from domain.onboarding import (
    JoinerForm,
    OnboardingStart,
    OnboardingView,
    induction_for,
    licences_and_groups,
    schedule,
    usage_location,
)
from domain.roles import Action, allowed
from domain.service_requests import RequestForm, RequestStart, RequestView
from domain.sla.deadlines import snapshot_for
from domain.tenants import ClientConfig
from domain.tickets import TicketView
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.service_request import ServiceRequestWorkflow


async def with_uploads(desk: Desk, principal: Principal, view: TicketView,
                       claims: list[dict[str, str]]) -> TicketView:
    """The new ticket's view, with the claimed uploads joined to it (if any)."""
    if not claims:
        return view
    ref = await desk.tickets.locate(view.ticket_id, principal)
    return await attach_uploads(desk, ref, claims)


async def raise_incident(desk: Desk, principal: Principal, report: IncidentReport,
                         idempotency_key: str | None) -> tuple[TicketView, bool]:
    """Raise an incident: its view, and whether an earlier request with the same
    idempotency key had raised it already. A phone call is logged by an agent."""
    may(principal, Action.RAISE_INCIDENT)
    if report.channel is Channel.PHONE and not allowed(principal.role, Action.LOG_PHONE_INCIDENT):
        raise DeskError(403, "Forbidden", "a phone incident is logged by an agent: use "
                        "channel 'portal' or 'api', or an agent's credential")
    client = intake_client(principal, report.client_id, desk)
    claims = await claimed_uploads(desk, client, report.uploads)
    _, view, replayed = await open_incident(desk, principal, client, report, idempotency_key)
    return await with_uploads(desk, principal, view, claims), replayed


async def raise_request(desk: Desk, principal: Principal, form: RequestForm) -> TicketView:
    """Raise a service request: basic (5 business days), enhanced (quoted) or advisory."""
    may(principal, Action.RAISE_REQUEST)
    client = intake_client(principal, form.client_id, desk)
    claims = await claimed_uploads(desk, client, form.uploads)
    now = datetime.now(UTC)
    ticket = await desk.numbers.next(client.ticket_prefix)
    start = RequestStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                         raised_by=principal.actor,
                         form=form.model_copy(update={"uploads": []}),  # files join below
                         sla=snapshot_for(client.sla, now), rules=client.incidents)
    at_intake = await start_ticket(
        desk, ServiceRequestWorkflow, start,
        f"{ticket} {form.type.value} request: {form.subject[:100]}")
    return await with_uploads(desk, principal, at_intake.view(), claims)


# ---------------------------------------------------------------- new users


def onboarding_start(form: JoinerForm, client: ClientConfig, raised_by: str,
                     now: datetime) -> OnboardingStart:
    """Everything decided at intake (the form and SCIM share it), with no ticket number
    yet: another client's people (422 naming the field) and too little notice are refused
    before a number is taken."""
    own_people(client, form.people())
    planned = schedule(form, client, now)
    if planned.short_notice and not form.expedite:
        error = planned.refusal(client.onboarding_notice, client.sla.calendar.timezone)
        raise DeskError(422, "Not enough notice", f"start_date: {error.message}", slug="notice",
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


async def joiner_start(state: Desk, client: ClientConfig, form: JoinerForm,
                       raised_by: str) -> tuple[OnboardingStart, str]:
    """An onboarding's workflow input, planned and numbered, and the Web UI's summary of it
    (SCIM hands both to the user's workflow, which starts the onboarding itself)."""
    planned = onboarding_start(form, client, raised_by, datetime.now(UTC))
    ticket = await state.numbers.next(client.ticket_prefix)
    start = planned.model_copy(update={"ticket_id": ticket})
    flag = " (EXPEDITED: awaiting approval)" if start.expedited else ""
    return start, f"{ticket} new user starting {start.starts_at:%Y-%m-%d %H:%M} UTC{flag}"


async def raise_new_user(desk: Desk, principal: Principal, form: JoinerForm) -> OnboardingView:
    """Raise a new user from HR's form: ready by the start if the contract's notice is
    given; otherwise 422 with the earliest start, unless the form asks to expedite."""
    may(principal, Action.ONBOARD)
    client = intake_client(principal, form.client_id, desk)
    start, summary = await joiner_start(desk, client, form, principal.actor)
    at_intake = await start_ticket(desk, OnboardingWorkflow, start, summary)
    return at_intake.view()


# ---------------------------------------------------------------- user exits


async def exit_start(state: Desk, client: ClientConfig, form: ExitForm,
                     raised_by: str) -> tuple[OffboardingStart, str]:
    """A user exit's workflow input, checked and numbered, and the Web UI's summary of it
    (SCIM hands both to the user's workflow, which starts the exit itself): only of the
    client's own people (422 naming the field otherwise), before a number is taken."""
    own_people(client, form.people())
    now = datetime.now(UTC)
    check_last_day(form, now)
    effective = effective_time(form, client.sla, now)
    check_notice(form, effective, now)
    ticket = await state.numbers.next(client.ticket_prefix)
    start = OffboardingStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                             raised_by=raised_by, form=form, effective_at=effective,
                             sla=snapshot_for(client.sla, now), rules=client.incidents)
    return start, f"{ticket} user exit, access ends {effective:%Y-%m-%d %H:%M} UTC"


async def raise_exit(desk: Desk, principal: Principal, form: ExitForm) -> OffboardingView:
    """Raise a user exit from HR's form: access revoked within 1 hour of the close of the
    last working day (or at once for an immediate exit)."""
    may(principal, Action.OFFBOARD)
    check_manager(form)
    client = intake_client(principal, form.client_id, desk)
    start, summary = await exit_start(desk, client, form, principal.actor)
    at_intake = await start_ticket(desk, OffboardingWorkflow, start, summary)
    return at_intake.view()


# ---------------------------------------------------------------- what every door offers

OpenTicket = Callable[[Desk, Principal, Any], Awaitable[TicketView]]


@dataclass(frozen=True)
class Opening:
    """One way to open a ticket from a form, as every door offers it (the JSON routes are
    made from it: api/intake_routes.py)."""

    name: str              # POST /v1/<name>
    operation: str         # the route's name (its OpenAPI operationId)
    form: type[BaseModel]  # what the caller sends
    view: type[TicketView]
    permission: Action
    open: OpenTicket
    summary: str


SERVICE_REQUEST = Opening(
    "service-requests", "raise_request", RequestForm, RequestView, Action.RAISE_REQUEST,
    raise_request, "Raise a service request: basic (5 business days), enhanced (quoted) or "
    "advisory (quick answer, mini-consult, scoping workshop)")
NEW_USER = Opening(
    "onboarding", "raise_new_user", JoinerForm, OnboardingView, Action.ONBOARD,
    raise_new_user, "Raise a new user: ready by the start if the contract's notice is given "
    "(3bd or 48h); otherwise 422 with the earliest start, or 'expedite'")
USER_EXIT = Opening(
    "offboarding", "raise_exit", ExitForm, OffboardingView, Action.OFFBOARD, raise_exit,
    "Raise a user exit: access revoked within 1 hour of the close of the last working day "
    "(or at once with 'immediate')")
