"""A decided quote on the dev server, as on a fresh `make run` (no procurement hook): the
director's approval resolves it with the order handed to an agent, the open queue sorts
it by its NextDue (the auto-close), visibility filters on NextDue as text, and a decided
quote cannot be reopened (docs/lifecycle.md)."""

from __future__ import annotations

from datetime import timedelta

from domain import search_attributes as sa
from tests.web.helpers import assert_problem, eventually
from tests.web.test_quotes import draft, raise_request


async def test_an_approved_quote_without_procurement_resolves_and_sorts_by_next_due(desk):
    agent = desk.as_("belton", "agent")
    request = await raise_request(desk)
    issued = await desk.http.post("/v1/quotes", headers=agent, json=draft(request_id=request))
    assert issued.status_code == 201, issued.text
    quote_id = issued.json()["ticket_id"]
    approved = await desk.http.post(f"/v1/quotes/{quote_id}/decision", json={"approve": True},
                                    headers=desk.as_("belton", "director"))
    assert approved.status_code == 200, approved.text

    async def view():
        return (await desk.http.get(f"/v1/tickets/{quote_id}", headers=agent)).json()

    resolved = await eventually(view, lambda v: v["status"] == "resolved")
    assert resolved["quote_state"] == "approved" and resolved["order_failed"]
    [why] = [e for e in resolved["events"] if e["kind"] == "status:resolved"]
    assert why["detail"].startswith("approved; the order is handed to an agent")
    assert len([e for e in resolved["events"] if e["kind"] == "order_failed"]) == 1
    assert resolved["kind_due"] is not None  # the auto-close, 3 business days on
    assert resolved["resolution_due"] is None  # no SLA instant any more

    async def queue():
        listed = await desk.http.get("/v1/tickets", headers=agent,
                                     params={"sort": "next_due", "kind": "quote"})
        assert listed.status_code == 200, listed.text
        return [t for t in listed.json()["tickets"] if t["ticket_id"] == quote_id]

    [row] = await eventually(queue, lambda rows: rows and rows[0]["status"] == "resolved")
    assert row["kind_due"] == row["next_due"] == resolved["kind_due"][:19] + "Z"

    # Operators filter on it in the Web UI: text order is time order. A run that continued
    # as new keeps its attributes, so the filter names the current run (as the docs do).
    later = sa.next_due_text(sa.next_due_instant(row["kind_due"]) + timedelta(seconds=1))
    found = [e.id async for e in desk.client.list_workflows(
        f"{sa.NEXT_DUE.name} < '{later}' AND {sa.CLIENT_ID.name} = "
        f"'{desk.client_id('belton')}' AND ExecutionStatus = 'Running'")]
    assert found == [f"quote:{quote_id}"]

    reopen = await desk.http.post(f"/v1/tickets/{quote_id}/transition",
                                  json={"to": "in_progress"}, headers=agent)
    assert assert_problem(reopen, 409)["detail"] == (
        "cannot go from resolved to in_progress; allowed: closed")
