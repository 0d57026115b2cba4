"""A decided quote's mail (the outside tester's findings): the resolution says what was
decided, by whom and when - never "Resolved - reply if it is not fixed" - and closing it
sends no "how did we do?" survey (a decision is final: docs/lifecycle.md); "Order by hand"
lists the quote's lines, what the agent orders. A real SMTP peer; no procurement hook (as
on a fresh `make run`), so an approval hands the order to an agent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.conftest import isolated, make_settings, running_desk
from tests.peers import Mailbox
from tests.web.helpers import eventually
from tests.web.test_quotes import DIRECTOR, draft

AGENT = "agent"


@pytest.fixture
async def mailed(dev_client, config, task_queue) -> AsyncIterator:
    with Mailbox() as mailbox:
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port)
        async with running_desk(dev_client, isolated(config), settings) as desk:
            yield desk, mailbox


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


async def settled(desk, quote_id: str, status: str) -> dict:
    """The quote's view once it reached ``status`` and every notice left."""
    async def view():
        return (await desk.http.get(f"/v1/tickets/{quote_id}",
                                    headers=desk.as_("belton", AGENT))).json()
    return await eventually(view, lambda v: v["status"] == status and v["outbox"] == [],
                            timeout=30)


async def test_a_declined_quote_says_what_was_decided_and_asks_for_no_survey(mailed):
    desk, mailbox = mailed
    quote_id = (await desk.http.post("/v1/quotes", headers=desk.as_("belton", AGENT),
                                     json=draft())).json()["ticket_id"]
    declined = await desk.http.post(f"/v1/quotes/{quote_id}/decision", json={
        "approve": False, "reason": "over budget this quarter"},
        headers=desk.as_("belton", "director"))
    assert declined.status_code == 200, declined.text
    await settled(desk, quote_id, "resolved")

    [decided] = [m for m in mailbox.about(quote_id)
                 if "Quote declined" in m["Subject"] and DIRECTOR in m["To"]]
    body = text(decided)
    assert "Decision: Declined" in body and f"Decided by: {DIRECTOR}" in body
    assert "Reason: over budget this quarter" in body and "Decided on: " in body
    assert re.search(r"Decided on: .* AE[DS]T", body)  # in the client's zone

    closed = await desk.http.post(f"/v1/tickets/{quote_id}/transition", json={
        "to": "closed"}, headers=desk.as_("belton", AGENT))
    assert closed.status_code == 200, closed.text
    view = await settled(desk, quote_id, "closed")
    assert view["survey_expires_at"] is None
    subjects = [m["Subject"] for m in mailbox.about(quote_id)]
    assert not [s for s in subjects if "reply if it is not fixed" in s], subjects
    assert not [s for s in subjects if "how did we do" in s], subjects


async def test_order_by_hand_lists_the_quotes_lines(mailed):
    desk, mailbox = mailed
    quote_id = (await desk.http.post("/v1/quotes", headers=desk.as_("belton", AGENT),
                                     json=draft())).json()["ticket_id"]
    approved = await desk.http.post(f"/v1/quotes/{quote_id}/decision", json={"approve": True},
                                    headers=desk.as_("belton", "director"))
    assert approved.status_code == 200, approved.text
    await settled(desk, quote_id, "resolved")

    [order] = [m for m in mailbox.about(quote_id) if "Order by hand" in m["Subject"]]
    body = text(order)
    assert "Order line 1: 80 x Development at AUD 150.00 each (AUD 12,000.00" in body
    assert "Order line 2: 6 x Project management at AUD 180.00 each" in body
    [decided] = [m for m in mailbox.about(quote_id)
                 if "Quote approved" in m["Subject"] and DIRECTOR in m["To"]]
    assert "Decision: Approved" in text(decided) and "By way of: the API" in text(decided)
    assert not [m for m in mailbox.about(quote_id)
                if "reply if it is not fixed" in m["Subject"]]
