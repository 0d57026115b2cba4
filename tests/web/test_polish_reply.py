"""Only the ticket's own people end "pending" by mail (the outside tester's finding): a
reply from another of the client's people, authenticated, is a comment naming its sender
and the ticket keeps waiting on its requester; over the API a client credential's reply
still ends pending, and the event names the credential, not "the requester"."""

from __future__ import annotations

from tests.web.helpers import eventually, incident_body
from tests.web.test_email_inbound import JO, mail, post
from tests.web.test_lifecycle_reply import make_pending, resumed_by_reply, view_of

EVE = "eve.intern@harbourside.example"  # same client, DMARC pass, not the ticket's person


async def test_a_colleagues_mail_is_a_comment_and_the_ticket_stays_pending(desk):
    opened = await post(desk, mail(JO, "Cannot print to the level 3 copier", "Jams."))
    ticket_id = opened["ticket_id"]
    await make_pending(desk, ticket_id)

    colleague = await post(desk, mail(EVE, f"Re: [{ticket_id}] We need something from you",
                                      "It jams for me too, since Monday."))
    assert colleague["action"] == "commented" and colleague["ticket_id"] == ticket_id
    view = await eventually(lambda: view_of(desk, ticket_id),
                            lambda v: v["comments_total"] == 1)
    [comment] = view["comments"]
    assert comment["by"] == f"email:{EVE}" and not comment["from_requester"]
    assert view["status"] == "pending" and view["resolution_due"] is None

    own = await post(desk, mail(JO, f"Re: [{ticket_id}] We need something from you",
                                "The tray 2 door does not close."))
    assert own["action"] == "replied"
    view = await eventually(lambda: view_of(desk, ticket_id),
                            lambda v: v["status"] == "in_progress")
    [why] = resumed_by_reply(view)
    assert why["by"] == f"email:{JO}"


async def test_a_directors_reply_by_api_ends_pending_and_the_event_names_them(desk):
    raised = await desk.http.post("/v1/incidents", json=incident_body(),
                                  headers=desk.as_("belton", "requester"))
    assert raised.status_code == 201, raised.text
    ticket_id = raised.json()["ticket_id"]
    await make_pending(desk, ticket_id)
    reply = await desk.http.post(f"/v1/tickets/{ticket_id}/comments",
                                 json={"body": "The screenshot is attached now."},
                                 headers=desk.as_("belton", "director"))
    assert reply.status_code == 202, reply.text
    view = await eventually(lambda: view_of(desk, ticket_id),
                            lambda v: v["status"] == "in_progress")
    [event] = [e for e in view["events"] if e["kind"] == "status:in_progress"]
    assert event["by"].startswith("director:")
    assert event["detail"] == f"{event['by']} replied" and not resumed_by_reply(view)
