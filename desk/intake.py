"""What every intake route shares: which client a new ticket is for, and idempotency keys
scoped to the credential that sent them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from desk.errors import field_problem
from desk.principal import Principal
from desk.state import Desk
from domain.errors import FieldError
from domain.idempotency import FINGERPRINT_HEX, KEY_HEX
from domain.ids import TicketKind, workflow_id
from domain.incidents import IncidentReport, IncidentStart, decide_priority
from domain.people import check_people
from domain.sla.deadlines import snapshot_for
from domain.sla.priority import PriorityDecision
from domain.tenants import ClientConfig
from domain.ticket_details import incident_details
from domain.tickets import TicketStart, TicketState, TicketView
from workflows.incident import IncidentWorkflow
from workflows.kinds import TicketWorkflow


def scoped_key(principal: Principal, idempotency_key: str) -> str:
    """Keys belong to the credential that sent them (another credential's identical key is
    another request), hashed so every remembered key has the same small size."""
    raw = f"{principal.scope}\x00{principal.subject}\x00{idempotency_key}"
    return hashlib.sha256(raw.encode()).hexdigest()[:KEY_HEX]


def intake_client(principal: Principal, requested: str | None, state: Desk,
                  where: str = "body") -> ClientConfig:
    """The client a new ticket is for: always the credential's own; MSP staff name one of
    the clients they serve (``where``: the request part carrying ``client_id``)."""
    if principal.client_id is not None:
        if requested not in (None, principal.client_id):
            raise field_problem(422, "client_id", "a client's credential raises tickets for "
                                "its own client only", "remove 'client_id'", "Wrong client",
                                where)
        return state.client_config(principal.client_id)
    client = state.config.client(requested) if requested else None
    if client is None or not principal.may_see(client.id):
        served = sorted(principal.clients or (c.id for c in state.config.clients))
        raise field_problem(422, "client_id", "MSP staff name the client the ticket is for",
                            f"add 'client_id', one of: {', '.join(served)}", "Which client?",
                            where)
    return client


def own_people(client: ClientConfig, people: Iterable[tuple[str, str]]) -> None:
    """Refuse (422 naming the field and the fix) an address in the body that is not one of
    ``client``'s people: a credential acts only on its own client's people, and MSP staff
    on those of the client they named."""
    try:
        check_people(client, people)
    except FieldError as refusal:
        raise field_problem(422, refusal.field, refusal.message, refusal.fix,
                            "Not the client's person", "body") from None


async def start_ticket(state: Desk, workflow: type[TicketWorkflow], start: TicketStart,
                       summary: str, details: str | None = None) -> TicketState:
    """Start a ticket's workflow under its business key, with the search attributes of its
    state at intake and the Web UI's summary and details; returns that state (what the
    caller answers with). Raises ``WorkflowAlreadyStartedError`` for a ticket id already
    used."""
    at_intake = workflow.initial_state(start)
    await state.temporal.start_workflow(
        workflow.run, start, id=workflow_id(workflow.kind, start.ticket_id),
        task_queue=state.settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(workflow.search_attributes(at_intake)),
        static_summary=summary, static_details=details)
    state.tickets.learn(start.ticket_id, workflow.kind)
    return at_intake


def incident_start(client: ClientConfig, ticket: str, report: IncidentReport,
                   decision: PriorityDecision, raised_by: str) -> IncidentStart:
    """An incident's workflow input, decided now (the form, e-mail and alerts share it)."""
    opened_at = datetime.now(UTC)
    return IncidentStart(ticket_id=ticket, client_id=client.id, opened_at=opened_at,
                         report=report, priority=decision, raised_by=raised_by,
                         sla=snapshot_for(client.sla, opened_at), rules=client.incidents)


def incident_summary(start: IncidentStart) -> str:
    """The Web UI's one-line summary of an incident."""
    return f"{start.ticket_id} {start.priority.priority} {start.report.subject[:100]}"


def fingerprint(report: IncidentReport) -> str:
    return hashlib.sha256(report.model_dump_json().encode()).hexdigest()[:FINGERPRINT_HEX]


async def open_incident(state: Desk, principal: Principal, client: ClientConfig,
                        report: IncidentReport, idempotency_key: str | None,
                        contact_unconfirmed: bool = False) -> tuple[str, TicketView, bool]:
    """Open an incident (the form and e-mail share it): its id, its view, and whether an
    earlier request with the same idempotency key had opened it already.
    ``contact_unconfirmed``: mail whose sender failed authentication (no one is mailed
    until an agent confirms the contact)."""
    if idempotency_key is None:
        ticket = await state.numbers.next(client.ticket_prefix)
    else:
        ticket, lease = await state.numbers.for_key(
            client.ticket_prefix, scoped_key(principal, idempotency_key), fingerprint(report))
        if lease.replayed and not lease.fingerprint_matches:
            raise field_problem(422, "Idempotency-Key", "this key was used with a different body",
                                "send the original body, or use a new key", "Idempotency conflict",
                                where="header")
    # The uploads' references stay out of the workflow: their files join the ticket.
    kept = report.model_copy(update={"uploads": []})
    start = incident_start(client, ticket, kept, decide_priority(report,
                                                                 client.priority_matrix),
                           principal.actor)
    start.contact_unconfirmed = contact_unconfirmed
    try:
        state_at_intake = await start_ticket(state, IncidentWorkflow, start,
                                             incident_summary(start),
                                             incident_details(start, client))
    except WorkflowAlreadyStartedError:
        if idempotency_key is None:
            raise
        handle = state.temporal.get_workflow_handle_for(
            IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, ticket))
        return ticket, await handle.query(IncidentWorkflow.view), True
    return ticket, state_at_intake.view(), False
