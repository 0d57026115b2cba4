"""Many people act on one ticket at once (issue 18's review found it): escalations,
comments, assignments and reads together. An update the server aborts because
the ticket's workflow task failed under it (a signal arriving as the task completed) was
never applied, and is sent again (temporal_client.RetryAbortedUpdates): no caller sees a
5xx for it."""

from __future__ import annotations

import asyncio

import pytest

from tests.web.helpers import incident_body

pytestmark = pytest.mark.devserver


async def test_concurrent_actions_on_one_ticket_never_answer_5xx(desk):
    made = await desk.http.post("/v1/incidents", json=incident_body(),
                                headers=desk.as_("belton", "requester"))
    ticket = made.json()["ticket_id"]
    requester, agent = desk.as_("belton", "requester"), desk.as_("belton", "agent")
    escalation = {"reason": "nobody has called us back yet"}
    for round_ in range(12):
        answers = await asyncio.gather(
            desk.http.post(f"/v1/tickets/{ticket}/escalate", json=escalation, headers=requester),
            desk.http.post(f"/v1/tickets/{ticket}/escalate", json=escalation, headers=requester),
            desk.http.post(f"/v1/tickets/{ticket}/comments", json={"body": f"{round_}: still down"},
                           headers=requester),
            desk.http.post(f"/v1/tickets/{ticket}/comments", json={"body": f"{round_}: on it"},
                           headers=agent),
            desk.http.post(f"/v1/tickets/{ticket}/assign", json={"assignee": f"sam{round_}"},
                           headers=agent),
            desk.http.get(f"/v1/tickets/{ticket}", headers=agent))
        failed = [(a.request.url.path, a.status_code, a.text[:200]) for a in answers
                  if a.status_code >= 500]
        assert failed == [], (round_, failed)
    view = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
    assert view["assignee"].startswith("sam")
    assert view["comments_total"] == 24
