"""A requester's reply ends "pending" (docs/lifecycle.md), on the dev server: the ticket
waits on the requester with its SLA clock paused; their answer - by e-mail through the
MSP's mail gateway, or by the API - moves it back to in_progress, the clock resumes (the
resolution is due again, also in visibility) and an event says why. A client whose
``incidents.reply_ends_pending`` is false keeps the ticket pending for an agent to move."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain import search_attributes as sa
from domain.tenants import TempodeskConfig
from tests.conftest import isolated, make_settings, running_desk
from tests.web.helpers import eventually, incident_body
from tests.web.test_email_inbound import JO, mail, post

AGENT = "agent"


async def view_of(desk, ticket_id: str, client: str = "belton") -> dict:
    answer = await desk.http.get(f"/v1/tickets/{ticket_id}", headers=desk.as_(client, AGENT))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def make_pending(desk, ticket_id: str, client: str = "belton") -> dict:
    for action, body in (("acknowledge", {}),
                         ("transition", {"to": "pending", "reason": "asked for the error"})):
        answer = await desk.http.post(f"/v1/tickets/{ticket_id}/{action}", json=body,
                                      headers=desk.as_(client, AGENT))
        assert answer.status_code == 200, answer.text
    paused = answer.json()
    assert paused["status"] == "pending" and paused["resolution_due"] is None
    return paused


def resumed_by_reply(view: dict) -> list[dict]:
    return [e for e in view["events"]
            if e["kind"] == "status:in_progress" and e["detail"] == "the requester replied"]


async def test_a_mailed_reply_ends_pending_and_the_clock_resumes(desk):
    opened = await post(desk, mail(JO, "Cannot send mail to the court registry",
                                   "Every message bounces."))
    ticket_id = opened["ticket_id"]
    await make_pending(desk, ticket_id)

    replied = await post(desk, mail(JO, f"Re: [{ticket_id}] We need something from you",
                                    "The bounce says 550 5.7.1 relay denied.\n\n"
                                    "> We need something from you"))
    assert replied["action"] == "replied" and replied["ticket_id"] == ticket_id
    view = await eventually(lambda: view_of(desk, ticket_id),
                            lambda v: v["status"] == "in_progress")
    [why] = resumed_by_reply(view)
    assert why["by"] == f"email:{JO}"
    assert view["pauses"][-1][1] is not None  # the pause (start, end) ended with the reply
    assert view["resolution_due"] is not None  # the clock runs again

    handle = desk.client.get_workflow_handle(f"incident:{ticket_id}")

    async def published():
        return (await handle.describe()).typed_search_attributes

    attrs = await eventually(published, lambda a: a.get(sa.TICKET_STATUS) == "in_progress")
    assert attrs.get(sa.SLA_RESOLUTION_DUE) is not None  # queues sort it again


async def test_an_unauthenticated_reply_is_a_note_and_does_not_end_pending(desk):
    """A sender header proves nothing by itself: mail that failed authentication is kept
    as a note, and the ticket still waits on its requester."""
    opened = await post(desk, mail(JO, "Scanner on level 2 is offline", "No lights."))
    ticket_id = opened["ticket_id"]
    await make_pending(desk, ticket_id)
    forged = await post(desk, mail(JO, f"Re: [{ticket_id}] We need something from you",
                                   "Fixed itself, close it.", authenticated=False))
    assert forged["action"] == "noted" and "end its pending" in forged["detail"]
    view = await eventually(lambda: view_of(desk, ticket_id),
                            lambda v: v["comments_total"] == 1)
    assert view["status"] == "pending" and not resumed_by_reply(view)


async def test_a_bare_thank_you_does_not_end_pending(desk):
    raised = await desk.http.post("/v1/incidents", json=incident_body(),
                                  headers=desk.as_("belton", "requester"))
    ticket_id = raised.json()["ticket_id"]
    await make_pending(desk, ticket_id)
    thanks = await desk.http.post(f"/v1/tickets/{ticket_id}/comments",
                                  json={"body": "Thanks!"},
                                  headers=desk.as_("belton", "requester"))
    assert thanks.status_code == 202
    view = await eventually(lambda: view_of(desk, ticket_id),
                            lambda v: v["comments_total"] == 1)
    assert view["status"] == "pending" and not resumed_by_reply(view)


def reply_leaves_pending(config: TempodeskConfig, client_prefix: str) -> TempodeskConfig:
    """``config`` with ``incidents.reply_ends_pending: false`` for one client."""
    return config.model_copy(update={"clients": [
        c.model_copy(update={"incidents": c.incidents.model_copy(
            update={"reply_ends_pending": False})})
        if c.id.startswith(client_prefix + "-") else c for c in config.clients]})


@pytest.fixture
async def desk_by_hand(dev_client, config, task_queue) -> AsyncIterator:
    """Belton's agents move pending tickets by hand; Plexacet keeps the default."""
    async with running_desk(dev_client, reply_leaves_pending(isolated(config), "belton"),
                            make_settings(task_queue=task_queue)) as desk:
        yield desk


async def test_per_client_a_reply_by_api_ends_pending_or_waits_for_an_agent(desk_by_hand):
    desk = desk_by_hand
    tickets = {}
    for client in ("belton", "plexacet"):
        raised = await desk.http.post("/v1/incidents", json=incident_body(),
                                      headers=desk.as_(client, "requester"))
        assert raised.status_code == 201, raised.text
        tickets[client] = raised.json()["ticket_id"]
        await make_pending(desk, tickets[client], client)
        reply = await desk.http.post(f"/v1/tickets/{tickets[client]}/comments",
                                     json={"body": "Here is the screenshot you asked for."},
                                     headers=desk.as_(client, "requester"))
        assert reply.status_code == 202, reply.text

    default = await eventually(lambda: view_of(desk, tickets["plexacet"], "plexacet"),
                               lambda v: v["status"] == "in_progress")
    assert resumed_by_reply(default)
    by_hand = await eventually(lambda: view_of(desk, tickets["belton"]),
                               lambda v: v["comments_total"] == 1)
    assert by_hand["status"] == "pending" and not resumed_by_reply(by_hand)
    assert by_hand["resolution_due"] is None  # still paused: an agent moves it
