"""A workflow's refusal answers the status its type maps to (desk/errors.py REFUSAL_STATUS),
through HTTP on the dev server: one status class each. Before typed refusals every one of
these was a 409 "Transition refused"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import tokens
from tests.conftest import isolated, make_settings, running_desk
from tests.web.helpers import assert_problem, eventually, incident_body


@pytest.fixture
async def short_surveys(dev_client, config, task_queue):
    """The demo desk with CSAT links valid for one second (the workflow's own expiry)."""
    demo = isolated(config)
    demo = demo.model_copy(update={"clients": [
        c.model_copy(update={"incidents": c.incidents.model_copy(
            update={"survey_valid_for": "1s"})}) for c in demo.clients]})
    async with running_desk(dev_client, demo, make_settings(task_queue=task_queue)) as desk:
        yield desk


async def _incident(desk) -> str:
    made = await desk.http.post("/v1/incidents", json=incident_body(impact="low"),
                                headers=desk.as_("belton", "requester"))
    assert made.status_code == 201, made.text
    return made.json()["ticket_id"]


async def _act(desk, ticket: str, action: str, body: dict | None = None):
    return await desk.http.post(f"/v1/tickets/{ticket}/{action}", json=body or {},
                                headers=desk.as_("belton", "agent"))


async def test_an_expired_survey_is_410_though_its_link_is_still_signed(short_surveys):
    desk = short_surveys
    ticket = await _incident(desk)
    assert (await _act(desk, ticket, "transition", {"to": "resolved"})).status_code == 200
    closed = await _act(desk, ticket, "transition", {"to": "closed"})
    assert closed.status_code == 200, closed.text
    expires = datetime.fromisoformat(closed.json()["survey_expires_at"])
    await eventually(lambda: datetime.now(UTC), lambda now: now > expires)
    # A link whose signature has not expired: the ticket's own survey window refuses it.
    link = tokens.sign(desk.settings.secret, "csat", ticket,
                       datetime.now(UTC) + timedelta(days=1))
    late = assert_problem(await desk.http.post(f"/v1/surveys/{link}", json={"score": 5}), 410)
    assert late["detail"] == "the survey link has expired"
    assert late["type"] == "urn:tempodesk:problem:gone"


async def test_a_request_that_contradicts_itself_is_422_and_a_state_conflict_stays_409(desk):
    ticket = await _incident(desk)
    itself = assert_problem(await _act(desk, ticket, "transition",
                                       {"to": "in_progress", "preventable": False}), 422)
    assert itself["detail"] == "'preventable' is given when resolving"
    assert itself["title"] == "Request is not valid"
    assert (await _act(desk, ticket, "acknowledge")).status_code == 200
    again = assert_problem(await _act(desk, ticket, "acknowledge"), 409)
    # A conflict's body is the one it always was.
    assert (again["title"], again["type"]) == ("Transition refused",
                                               "urn:tempodesk:problem:conflict")
    assert again["detail"].startswith("already acknowledged")


async def test_a_quote_link_naming_no_director_is_403_from_the_quote(desk):
    made = await desk.http.post("/v1/quotes", headers=desk.as_("belton", "agent"), json={
        "title": "Client portal: matter status page",
        "lines": [{"description": "Development", "quantity": "8", "unit_price": "150"}]})
    assert made.status_code == 201, made.text
    quote_id = made.json()["ticket_id"]
    # Signed by the desk, but for someone the quote's directors do not include (e.g. a
    # director removed from the client's config after the link was sent).
    link = tokens.sign(desk.settings.secret, "quote", quote_id,
                       datetime.now(UTC) + timedelta(days=1), director="former@harbourside.example")
    refused = await desk.http.post(f"/v1/quotes/{quote_id}/review",
                                   data={"token": link, "decision": "approve"})
    assert refused.status_code == 403, refused.text
    assert "only a director" in refused.text
    view = (await desk.http.get(f"/v1/tickets/{quote_id}",
                                headers=desk.as_("belton", "agent"))).json()
    assert view["decision"] is None
