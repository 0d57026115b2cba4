"""Findings of an outside review of the ticket actions, over real HTTP: an assignee is MSP
staff (never an address the client's notices would leak to), acknowledge refuses a body
with fields, a kind-specific action answers for the kind first, messages read right,
problem types are URNs and every field problem says where the field was."""

from __future__ import annotations

import re

from tests.web.helpers import assert_problem, incident_body

URN = re.compile(r"^urn:tempodesk:problem:[a-z0-9-]+$")


async def raise_incident(desk) -> str:
    response = await desk.http.post("/v1/incidents", json=incident_body(),
                                    headers=desk.as_("belton", "requester"))
    assert response.status_code == 201, response.text
    return response.json()["ticket_id"]


async def act(desk, ticket, action, headers=None, **kwargs):
    return await desk.http.post(f"/v1/tickets/{ticket}/{action}",
                                headers={**desk.as_("belton", "agent"), **(headers or {})},
                                **kwargs)


def clean(problem: dict) -> dict:
    assert URN.match(problem["type"]), problem["type"]
    assert all("in" in error for error in problem.get("errors", [])), problem["errors"]
    return problem


async def test_an_assignee_is_msp_staff_never_an_outside_address(desk):
    """S2: an outside address would receive the ticket's SLA notices unconfirmed."""
    ticket = await raise_incident(desk)
    for assignee in ("leak@evil.example", "not an email", "sam@@msp.example"):
        problem = clean(assert_problem(await act(desk, ticket, "assign",
                                                 json={"assignee": assignee}), 422))
        [error] = problem["errors"]
        assert (error["field"], error["in"]) == ("assignee", "body"), assignee
        assert "msp.example" in error["fix"] and "sign-in name" in error["fix"]
    view = (await desk.http.get(f"/v1/tickets/{ticket}",
                                headers=desk.as_("belton", "agent"))).json()
    assert view["assignee"] is None and not any(e["kind"] == "assigned" for e in view["events"])
    for assignee in ("Sam.Lee@MSP.example", "sam.lee", "CORP\\sam"):
        assigned = await act(desk, ticket, "assign", json={"assignee": assignee})
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["assignee"] == assignee


async def test_acknowledge_refuses_a_body_with_fields(desk):
    """W4: acknowledge takes nothing (or {}); a field is refused by name, as elsewhere."""
    ticket = await raise_incident(desk)
    by = assert_problem(await act(desk, ticket, "acknowledge", json={"by": "x"}), 422)
    assert by["errors"][0]["field"] == "by" and by["errors"][0]["in"] == "body"
    assert "credential" in by["errors"][0]["fix"]
    other = assert_problem(await act(desk, ticket, "acknowledge", json={"note": "hi"}), 422)
    assert other["errors"][0]["field"] == "note"
    assert_problem(await act(desk, ticket, "acknowledge", content="{not json",
                             headers={"Content-Type": "application/json"}), 400)
    view = (await desk.http.get(f"/v1/tickets/{ticket}",
                                headers=desk.as_("belton", "agent"))).json()
    assert view["status"] == "new"  # nothing refused was applied
    empty = await act(desk, ticket, "acknowledge", json={})
    assert empty.status_code == 200 and empty.json()["status"] == "acknowledged", empty.text
    second = await raise_incident(desk)
    assert (await act(desk, second, "acknowledge")).status_code == 200  # no body at all


async def test_a_kind_specific_action_answers_for_the_kind_first(desk):
    """W8 and W9: merge on a service request is 409 'not one of its actions' before its
    survivor is looked at; the message's article fits the kind."""
    request = await desk.http.post("/v1/service-requests", headers=desk.as_("belton", "agent"),
                                   json={"subject": "New starter laptop", "type": "basic",
                                         "change": "add", "requester": {"name": "Jo Tran",
                                                       "email": "jo.tran@harbourside.example"}})
    assert request.status_code == 201, request.text
    ticket = request.json()["ticket_id"]
    merged = clean(assert_problem(await act(desk, ticket, "merge",
                                            json={"survivor": "BEL-999999"}), 409))
    assert merged["detail"] == (f"{ticket} is a service_request: 'merge_into' is not one of "
                                "its actions")
    incident = await raise_incident(desk)
    returned = assert_problem(await act(desk, incident, "hardware-returns",
                                        json={"serial": "PF3X9K2L"}), 409)
    assert returned["detail"].startswith(f"{incident} is an incident: ")


async def test_problem_types_are_urns_and_field_problems_say_where(desk):
    """W6 and W5: a slug made from a title keeps only [a-z0-9-]; refusals made in the desk
    name the part of the request the field was in."""
    staff = {"Authorization": "Bearer td_msp_agent_demo"}
    which = clean(assert_problem(await desk.http.post("/v1/incidents", json=incident_body(),
                                                      headers=staff), 422))
    assert which["type"] == "urn:tempodesk:problem:which-client"
    assert which["errors"][0] == {**which["errors"][0], "field": "client_id", "in": "body"}
    wrong = clean(assert_problem(await desk.http.post(
        "/v1/incidents", json=incident_body(client_id="plexacet"),
        headers=desk.as_("belton", "requester")), 422))
    assert wrong["type"] == "urn:tempodesk:problem:wrong-client"
    outsider = clean(assert_problem(await desk.http.post("/v1/offboarding", json={
        "employee": {"name": "Eve Roe", "email": "eve@evil.example"},
        "user_principal_name": "eve@evil.example", "last_working_day": "2027-02-01"},
        headers=desk.as_("belton", "hr")), 422))
    assert outsider["type"] == "urn:tempodesk:problem:not-the-clients-person"
    ticket = await raise_incident(desk)
    merge = clean(assert_problem(await act(desk, ticket, "merge",
                                           json={"survivor": "BEL-999999"}), 422))
    assert merge["type"] == "urn:tempodesk:problem:cannot-merge"
    assert merge["errors"][0]["in"] == "body"
    page = clean(assert_problem(await desk.http.get(
        "/v1/tickets", params={"page_token": "forged"},
        headers=desk.as_("belton", "agent")), 400))
    assert page["errors"][0]["in"] == "query"


async def test_an_unusable_upload_says_where_it_was_named(files_desk):
    """W5: the refusal of an upload token names it in the body."""
    upload = clean(assert_problem(await files_desk.http.post(
        "/v1/incidents", json=incident_body(uploads=["not-a-token"]),
        headers=files_desk.as_("belton", "requester")), 422))
    assert upload["type"] == "urn:tempodesk:problem:upload-not-usable"
    assert (upload["errors"][0]["field"], upload["errors"][0]["in"]) == ("uploads[0]", "body")


def test_the_assignee_rule_without_a_server():
    """The pure rule: staff addresses at msp_domains (any case), sign-in names; nothing
    else, and with no msp_domains configured no address at all."""
    from domain.assignees import assignee_refusal

    staff = ["msp.example"]
    for fine in ("sam@msp.example", "SAM@MSP.EXAMPLE.", "sam", "o'brien", "CORP\\sam", "x" * 64):
        assert assignee_refusal(fine, staff) is None, fine
    for wrong in ("leak@evil.example", "sam@msp.example.evil", "not an email", "a@b",
                  "sam<x>", "x" * 65, "sam@msp.example"):
        refusal = assignee_refusal(wrong, staff if wrong != "sam@msp.example" else [])
        assert refusal is not None and refusal.field == "assignee", wrong
