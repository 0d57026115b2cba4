"""Working tickets over HTTP on the dev server: updates answer synchronously, validators
refuse invalid transitions (409 with the reason), signals are fire-and-forget."""

from __future__ import annotations

from temporalio.service import RPCError

from domain import search_attributes as sa
from tests.web.helpers import assert_problem, eventually, incident_body
from workflows.post_mortem import PostMortemWorkflow


async def raise_ticket(desk, client="belton", **overrides) -> str:
    response = await desk.http.post("/v1/incidents", json=incident_body(**overrides),
                                    headers=desk.as_(client, "requester"))
    assert response.status_code == 201, response.text
    return response.json()["ticket_id"]


async def act(desk, ticket, action, body=None, role="agent", client="belton"):
    return await desk.http.post(f"/v1/tickets/{ticket}/{action}", json=body or {},
                                headers=desk.as_(client, role))


async def test_acknowledge_once_then_409(desk):
    ticket = await raise_ticket(desk)
    first = await act(desk, ticket, "acknowledge")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "acknowledged" and first.json()["first_response_at"]
    again = assert_problem(await act(desk, ticket, "acknowledge"), 409)
    assert again["detail"] == "already acknowledged (status acknowledged)"


async def test_invalid_transition_is_refused_with_the_allowed_ones(desk):
    ticket = await raise_ticket(desk)
    body = assert_problem(await act(desk, ticket, "transition", {"to": "closed"}), 409)
    assert body["detail"] == ("cannot go from new to closed; allowed: acknowledged, "
                              "in_progress, on_hold, pending, resolved")
    bad = assert_problem(await act(desk, ticket, "transition", {"to": "archived"}), 422)
    assert bad["errors"][0]["field"] == "to"


async def test_requester_may_not_work_tickets(desk):
    ticket = await raise_ticket(desk)
    body = assert_problem(await act(desk, ticket, "transition", {"to": "resolved"},
                                    role="requester"), 403)
    assert "agent" in body["detail"]
    assert_problem(await act(desk, ticket, "acknowledge", client="plexacet"), 404)


async def test_pending_stops_the_clock_and_unsets_the_due_attribute(desk):
    ticket = await raise_ticket(desk, impact="medium", urgency="medium")  # P3, business time
    await act(desk, ticket, "acknowledge")
    paused = (await act(desk, ticket, "transition", {"to": "pending",
                                                     "reason": "asked for a screenshot"})).json()
    assert paused["status"] == "pending" and paused["resolution_due"] is None
    handle = desk.client.get_workflow_handle(f"incident:{ticket}")
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(sa.TICKET_STATUS) == "pending"
    assert attrs.get(sa.SLA_RESOLUTION_DUE) is None
    resumed = (await act(desk, ticket, "transition", {"to": "in_progress"})).json()
    assert resumed["resolution_due"] is not None
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(sa.SLA_RESOLUTION_DUE).isoformat().replace("+00:00", "Z")[:19] == (
        resumed["resolution_due"][:19])


async def test_assign_is_filterable(desk):
    ticket = await raise_ticket(desk)
    await act(desk, ticket, "assign", {"assignee": "sam@msp.example"})

    async def mine():
        return (await desk.http.get("/v1/tickets?assignee=sam@msp.example",
                                    headers=desk.as_("belton", "agent"))).json()

    page = await eventually(mine, lambda p: [t["ticket_id"] for t in p["tickets"]] == [ticket])
    assert page["tickets"][0]["assignee"] == "sam@msp.example"


async def test_reprioritise_needs_a_reason_and_a_change(desk):
    ticket = await raise_ticket(desk, impact="low", urgency="low")  # P4
    missing = assert_problem(await act(desk, ticket, "reprioritise", {"priority": "P2"}), 422)
    assert missing["errors"][0]["field"] == "reason"
    same = assert_problem(await act(desk, ticket, "reprioritise",
                                    {"priority": "P4", "reason": "no change"}), 409)
    assert same["detail"] == "the ticket is already P4"
    done = (await act(desk, ticket, "reprioritise",
                      {"priority": "P2", "reason": "CFO cannot invoice"})).json()
    assert done["priority"] == "P2" and done["response_due"] < done["resolution_due"]


async def test_merge_duplicate_into_newest(desk):
    older = await raise_ticket(desk, subject="VPN down for Jo")
    newer = await raise_ticket(desk, subject="VPN down for the whole office")
    wrong_way = assert_problem(await act(desk, newer, "merge", {"survivor": older}), 409)
    assert wrong_way["errors"][0]["field"] == "survivor"
    other_client = await raise_ticket(desk, client="plexacet")
    assert_problem(await act(desk, older, "merge", {"survivor": other_client}), 422)

    merged = (await act(desk, older, "merge", {"survivor": newer})).json()
    assert merged["status"] == "closed" and merged["merged_into"] == newer

    async def survivor():
        return (await desk.http.get(f"/v1/tickets/{newer}",
                                    headers=desk.as_("belton", "agent"))).json()

    view = await eventually(survivor, lambda v: v["duplicates"] == [older])
    assert any(e["kind"] == "duplicate_merged" for e in view["events"])
    # The merged ticket's workflow has completed; its history is still readable.
    shown = (await desk.http.get(f"/v1/tickets/{older}",
                                 headers=desk.as_("belton", "agent"))).json()
    assert shown["merged_into"] == newer
    closed = assert_problem(await act(desk, older, "transition", {"to": "in_progress"}), 409)
    assert "completed" in closed["detail"]


async def test_requester_reply_reopens_but_thanks_does_not(desk):
    ticket = await raise_ticket(desk)
    await act(desk, ticket, "transition", {"to": "resolved", "reason": "relay fixed"})
    thanks = await desk.http.post(f"/v1/tickets/{ticket}/comments",
                                  json={"body": "Thank you so much!"},
                                  headers=desk.as_("belton", "requester"))
    assert thanks.status_code == 202
    reply = await desk.http.post(f"/v1/tickets/{ticket}/comments",
                                 json={"body": "Bounces again since 2pm"},
                                 headers=desk.as_("belton", "requester"))
    assert reply.status_code == 202

    async def show():
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("belton", "agent"))).json()

    view = await eventually(show, lambda v: len(v["comments"]) == 2)
    assert view["status"] == "in_progress" and view["reopen_count"] == 1
    assert [c["from_requester"] for c in view["comments"]] == [True, True]
    assert view["comments"][0]["by"] == "requester:belton-requester"


async def test_preventable_p1_opens_a_post_mortem_with_the_technical_contact(desk):
    ticket = await raise_ticket(desk)  # P1
    await act(desk, ticket, "transition", {"to": "resolved", "preventable": True,
                                           "reason": "expired TLS certificate"})
    closed = (await act(desk, ticket, "transition", {"to": "closed"})).json()
    assert closed["post_mortem"] == f"postmortem:{ticket}"
    handle = desk.client.get_workflow_handle_for(PostMortemWorkflow.run, f"postmortem:{ticket}")

    async def task():
        try:
            return await handle.query(PostMortemWorkflow.view)
        except RPCError:  # the child starts just after the update answers
            return None

    view = await eventually(task, lambda v: v is not None and v.status == "open")
    assert view.incident == ticket
    wrong = assert_problem(await act(desk, ticket, "transition", {"to": "in_progress",
                                                                  "preventable": True}), 422)
    assert wrong["detail"] == "'preventable' is given when resolving"


async def test_pages_carry_a_signed_cursor_bound_to_the_client(desk):
    made = {await raise_ticket(desk) for _ in range(3)}
    agent = desk.as_("belton", "agent")

    async def listed():
        return (await desk.http.get("/v1/tickets", headers=agent)).json()["tickets"]

    # Visibility is eventually consistent: page only once all three are listed.
    await eventually(listed, lambda t: len(t) == 3)
    page = (await desk.http.get("/v1/tickets?limit=2", headers=agent)).json()
    rest = (await desk.http.get("/v1/tickets", headers=agent,
                                params={"limit": 2, "page_token": page["next_page_token"]})).json()
    seen = [t["ticket_id"] for t in page["tickets"] + rest["tickets"]]
    assert set(seen) == made and len(seen) == 3
    stolen = await desk.http.get("/v1/tickets", headers=desk.as_("plexacet", "agent"),
                                 params={"page_token": page["next_page_token"]})
    assert assert_problem(stolen, 400)["errors"][0]["field"] == "page_token"
    forged = await desk.http.get("/v1/tickets", headers=agent,
                                 params={"page_token": "eyJ4IjoxfQ.AAAA"})
    assert_problem(forged, 400)
