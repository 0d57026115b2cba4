"""The desk's ticket operations called directly, with no HTTP in between (a new door - the
HTML pages - calls them the same way): each checks the permission itself (403 DeskError
for a role that may not), the tenancy (another client's ticket is 404, as if missing),
and the client and people of a new ticket; the merge's rule is pure (domain/merging.py).
Against a real Temporal dev server, a real worker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from desk import opening, quotes, ticket_reading
from desk.errors import DeskError
from desk.principal import Principal
from desk.ticket_actions import ACTIONS, BY_NAME
from desk.ticket_reading import TicketFilter
from domain.incidents import IncidentReport, IncidentView
from domain.merging import merge_refusal
from domain.offboarding import ExitForm
from domain.onboarding import JoinerForm
from domain.quote_lines import QuoteDraft
from domain.request_bodies import DecisionBody, MergeRequestBody
from domain.roles import Role, allowed
from domain.service_requests import RequestForm
from domain.tickets import Status
from tests.web.helpers import incident_body

BELTON_DOMAIN = "harbourside.example"


def person(desk, demo: str, role: Role, email: str | None = None) -> Principal:
    return Principal.of_client(desk.client_id(demo), role, f"{demo}-{role.value}", "api_key",
                               email)


def report(**changes) -> IncidentReport:
    return IncidentReport.model_validate(incident_body(**changes))


def request_form(**changes) -> RequestForm:
    return RequestForm.model_validate({
        "subject": "Matter status page", "type": "enhanced",
        "requester": {"name": "Jo Tran", "email": f"jo.tran@{BELTON_DOMAIN}"}, **changes})


def joiner_form(**changes) -> JoinerForm:
    return JoinerForm.model_validate({
        "employee": {"name": "Sam Lee", "email": "sam.lee@personal.example"},
        "user_principal_name": f"joiner@{BELTON_DOMAIN}", "title": "Paralegal",
        "manager": {"name": "Mia Chen", "email": f"mia.chen@{BELTON_DOMAIN}"},
        "start_date": (date.today() + timedelta(days=21)).isoformat(), **changes})


def exit_form(**changes) -> ExitForm:
    return ExitForm.model_validate({
        "employee": {"name": "Sam Lee", "email": f"leaver@{BELTON_DOMAIN}"},
        "user_principal_name": f"leaver@{BELTON_DOMAIN}",
        "manager": {"name": "Mia Chen", "email": f"mia.chen@{BELTON_DOMAIN}"},
        "last_working_day": (date.today() + timedelta(days=14)).isoformat(),
        "immediate": False, "reason": "resigned", **changes})


def draft(**changes) -> QuoteDraft:
    return QuoteDraft.model_validate({
        "title": "Client portal", "lines": [
            {"description": "Development", "quantity": "8", "unit_price": "150"}], **changes})


async def incident(desk, demo: str = "belton") -> str:
    view, _ = await opening.raise_incident(desk.state, person(desk, demo, Role.REQUESTER),
                                           report(), None)
    return view.ticket_id


async def refusal(call) -> DeskError:
    with pytest.raises(DeskError) as caught:
        await call
    return caught.value


# ---------------------------------------------------------------- acting on a ticket


# Each action with a role that may not perform it (every role may comment).
FORBIDDEN = [(a.name, next(r for r in Role if not allowed(r, a.permission)))
             for a in ACTIONS if any(not allowed(r, a.permission) for r in Role)]


@pytest.mark.parametrize(("name", "role"), FORBIDDEN, ids=[n for n, _ in FORBIDDEN])
async def test_a_role_that_may_not_act_is_refused_by_the_desk(desk, name, role):
    action = BY_NAME[name]
    ticket = await incident(desk)
    body = action.body.model_construct() if action.body is not None else None
    refused = await refusal(action.perform(desk.state, person(desk, "belton", role), ticket,
                                           action, body))
    assert refused.status == 403
    assert f"may not {action.permission.value}" in refused.detail


@pytest.mark.parametrize("name", [a.name for a in ACTIONS])
async def test_another_clients_ticket_is_not_found(desk, name):
    action = BY_NAME[name]
    ticket = await incident(desk, "belton")
    # A role of the other client that may act: only the tenancy stands in the way.
    role = next(r for r in (Role.ADMIN, Role.HR, Role.DIRECTOR, Role.REQUESTER)
                if allowed(r, action.permission))
    body = action.body.model_construct() if action.body is not None else None
    refused = await refusal(action.perform(desk.state, person(desk, "plexacet", role), ticket,
                                           action, body))
    assert (refused.status, refused.detail) == (404, f"no ticket {ticket}")


async def test_an_action_fills_who_acted_from_the_principal(desk):
    ticket = await incident(desk)
    agent = person(desk, "belton", Role.AGENT)
    acknowledge = BY_NAME["acknowledge"]
    view = await acknowledge.perform(desk.state, agent, ticket, acknowledge, None)
    assert view.status is Status.ACKNOWLEDGED
    assert any(e.by == agent.actor for e in view.events)
    again = await refusal(acknowledge.perform(desk.state, agent, ticket, acknowledge, None))
    assert again.status == 409  # the workflow's refusal, as a DeskError
    comments = BY_NAME["comments"]
    body = comments.body.model_validate({"body": "It happened again"})
    assert await comments.perform(desk.state, agent, ticket, comments, body) is None


async def test_the_merge_refuses_another_clients_survivor_and_an_older_one(desk):
    older = await incident(desk)
    newer = await incident(desk)
    theirs = await incident(desk, "plexacet")
    agent = person(desk, "belton", Role.AGENT)
    merge = BY_NAME["merge"]
    foreign = await refusal(merge.perform(desk.state, agent, older, merge,
                                          MergeRequestBody(survivor=theirs)))
    assert foreign.status == 422 and foreign.errors[0]["field"] == "survivor"
    backwards = await refusal(merge.perform(desk.state, agent, newer, merge,
                                            MergeRequestBody(survivor=older)))
    assert backwards.status == 409 and "older" in backwards.detail
    merged = await merge.perform(desk.state, agent, older, merge,
                                 MergeRequestBody(survivor=newer))
    assert isinstance(merged, IncidentView) and merged.merged_into == newer


def test_the_merge_rule_wants_an_open_newer_incident():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    base = {"client_id": "belton", "subject": "Mail down", "technical_contact": "jo@x.example",
            "priority": "P2", "kind": "incident"}
    mine = IncidentView.model_construct(**base, ticket_id="BEL-000001", opened_at=at,
                                        status=Status.NEW, merged_into=None)
    newer = mine.model_copy(update={"ticket_id": "BEL-000002",
                                    "opened_at": at + timedelta(hours=1)})
    assert merge_refusal(mine, newer) is None
    assert merge_refusal(newer, mine).status == 409
    assert merge_refusal(mine, newer.model_copy(update={"status": Status.CLOSED})).status == 409
    assert merge_refusal(mine, newer.model_copy(update={"merged_into": "BEL-3"})).status == 409


# ---------------------------------------------------------------- opening tickets


async def test_opening_checks_the_role_the_client_and_the_people(desk):
    belton = desk.client_id("belton")
    machine = person(desk, "belton", Role.INTEGRATION)
    for call in (opening.raise_request(desk.state, machine, request_form()),
                 opening.raise_new_user(desk.state, machine, joiner_form()),
                 opening.raise_exit(desk.state, machine, exit_form()),
                 quotes.issue_quote(desk.state, person(desk, "belton", Role.REQUESTER),
                                    draft())):
        assert (await refusal(call)).status == 403
    phoned = await refusal(opening.raise_incident(
        desk.state, person(desk, "belton", Role.REQUESTER), report(channel="phone"), None))
    assert phoned.status == 403 and "agent" in phoned.detail
    # A client's credential raises for its own client only; its people only.
    other = await refusal(opening.raise_request(
        desk.state, person(desk, "plexacet", Role.REQUESTER), request_form(client_id=belton)))
    assert other.status == 422 and other.errors[0]["field"] == "client_id"
    strangers = await refusal(opening.raise_exit(
        desk.state, person(desk, "plexacet", Role.HR), exit_form()))
    assert strangers.status == 422 and strangers.errors[0]["field"] == "user_principal_name"


async def test_opening_answers_with_the_new_tickets_view(desk):
    requester = person(desk, "belton", Role.REQUESTER)
    view = await opening.raise_request(desk.state, requester, request_form())
    assert view.client_id == desk.client_id("belton") and view.kind == "service_request"
    assert (await desk.state.tickets.locate(view.ticket_id, requester)).ticket_id == \
        view.ticket_id
    joiner = await opening.raise_new_user(desk.state, person(desk, "belton", Role.HR),
                                          joiner_form())
    assert joiner.kind == "onboarding" and joiner.ticket_id.startswith(desk.prefix("belton"))


# ---------------------------------------------------------------- quotes


async def test_a_quote_is_decided_by_its_clients_director_once(desk):
    belton = desk.state.client_config(desk.client_id("belton"))
    director = belton.directors[0].email
    issued = await quotes.issue_quote(desk.state, person(desk, "belton", Role.AGENT), draft())
    body = DecisionBody(approve=True)
    elsewhere = await refusal(quotes.decide_quote(
        desk.state, person(desk, "plexacet", Role.DIRECTOR, director), issued.ticket_id,
        body, "127.0.0.1"))
    assert elsewhere.status == 404
    unnamed = await refusal(quotes.decide_quote(
        desk.state, person(desk, "belton", Role.DIRECTOR), issued.ticket_id, body, ""))
    assert unnamed.status == 403 and "director" in unnamed.detail
    decided = await quotes.decide_quote(
        desk.state, person(desk, "belton", Role.DIRECTOR, director), issued.ticket_id, body,
        "127.0.0.1")
    assert decided.decision is not None and decided.decision.approve
    ref = await quotes.find_quote(desk.state, issued.ticket_id, None)
    twice = await refusal(quotes.decide_by_link(ref, director, False, "no", ""))
    assert twice.status == 409
    not_a_quote = await refusal(quotes.find_quote(desk.state, await incident(desk), None))
    assert not_a_quote.status == 409


# ---------------------------------------------------------------- reading


async def test_reading_a_ticket_checks_the_tenancy_and_the_kind(desk):
    ticket = await incident(desk)
    shown = await ticket_reading.show_ticket(desk.state, person(desk, "belton", Role.HR), ticket)
    assert shown.ticket_id == ticket
    theirs = await refusal(ticket_reading.show_ticket(
        desk.state, person(desk, "plexacet", Role.AGENT), ticket))
    assert theirs.status == 404
    not_an_exit = await refusal(ticket_reading.custody_record(
        desk.state, person(desk, "belton", Role.AGENT), ticket))
    assert not_an_exit.status == 409


async def test_a_listing_covers_only_the_callers_clients(desk):
    belton = desk.client_id("belton")
    elsewhere = await refusal(ticket_reading.list_tickets(
        desk.state, person(desk, "plexacet", Role.AGENT), TicketFilter(client=belton)))
    assert elsewhere.status == 404 and elsewhere.errors[0]["field"] == "client"
    stolen = await refusal(ticket_reading.list_tickets(
        desk.state, person(desk, "plexacet", Role.AGENT), TicketFilter(page_token="x.y")))
    assert stolen.status == 400
