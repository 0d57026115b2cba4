"""A reason at its limit (1000 characters, what the routes and the pages take) ends a
ticket like any other: the workflow puts "cancelled: " or "declined: " in front and cuts
the whole to the limit. Before, that made a transition over its own limit and failed the
workflow on every attempt: a cancelled new user could never be read again (502), and a
declined quote answered 502 after a long wait."""

from __future__ import annotations

from datetime import date, timedelta

from tests.web.helpers import assert_problem, eventually
from tests.web.test_onboarding import new_user
from tests.web.test_quotes import draft, raise_request

AT_THE_LIMIT = "x" * 1000


async def view_of(desk, ticket: str) -> dict:
    answer = await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_("belton", "agent"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def resolved_because(view: dict, prefix: str) -> str:
    [why] = [e["detail"] for e in view["events"] if e["kind"] == "status:resolved"]
    assert why.startswith(prefix)
    return why


async def test_a_new_user_cancelled_with_the_longest_reason(desk):
    hr = desk.as_("belton", "hr")
    start = (date.today() + timedelta(days=14)).isoformat()
    made = await desk.http.post("/v1/onboarding", json=new_user(start), headers=hr)
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    cancelled = await desk.http.post(f"/v1/tickets/{ticket}/cancel",
                                     json={"reason": AT_THE_LIMIT}, headers=hr)
    assert cancelled.status_code == 200, cancelled.text
    view = await view_of(desk, ticket)
    assert view["status"] == "resolved"
    resolved_because(view, "cancelled: xxx")


async def test_an_expedite_declined_with_the_longest_reason(desk):
    made = await desk.http.post("/v1/onboarding", json=new_user(
        date.today().isoformat(), expedite=True), headers=desk.as_("belton", "hr"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    declined = await desk.http.post(f"/v1/tickets/{ticket}/expedite-decision",
                                    json={"approve": False, "reason": AT_THE_LIMIT},
                                    headers=desk.as_("belton", "agent"))
    assert declined.status_code == 200, declined.text
    view = await view_of(desk, ticket)
    resolved_because(view, "expedite declined: xxx")


async def issued_quote(desk) -> str:
    request = await raise_request(desk)
    issued = await desk.http.post("/v1/quotes", headers=desk.as_("belton", "agent"),
                                  json=draft(request_id=request))
    assert issued.status_code == 201, issued.text
    return issued.json()["ticket_id"]


async def test_a_quote_declined_with_the_longest_reason(desk):
    quote_id = await issued_quote(desk)
    declined = await desk.http.post(f"/v1/quotes/{quote_id}/decision",
                                    json={"approve": False, "reason": AT_THE_LIMIT},
                                    headers=desk.as_("belton", "director"))
    assert declined.status_code == 200, declined.text
    view = await eventually(lambda: view_of(desk, quote_id),
                            lambda v: v["status"] == "resolved")
    resolved_because(view, "declined: xxx")


async def test_a_decline_whose_reason_is_only_spaces_is_refused(desk):
    """A reason says why: spaces say nothing (outside review: a quote was declined so)."""
    quote_id = await issued_quote(desk)
    declined = await desk.http.post(f"/v1/quotes/{quote_id}/decision",
                                    json={"approve": False, "reason": "   "},
                                    headers=desk.as_("belton", "director"))
    assert "say why" in assert_problem(declined, 422)["detail"]
