"""Service requests over HTTP on the dev server: raised by a requester, shown and worked
through the one ticket surface beside incidents, scheduled by an agent; bad forms are
422 naming the field and the fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.sla.deadlines import compiled_clock
from domain.sla.timeline import US, from_us, to_us
from domain.tenants import load_config
from tests.conftest import DEMO_CONFIG
from tests.web.helpers import assert_problem, eventually, incident_body


def request(**changes) -> dict:
    body = {"subject": "Add Sam to the Litigation shared drive", "type": "basic",
            "change": "add", "description": "Read and write, from Monday",
            "requester": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"}}
    body.update(changes)
    return body


async def test_a_basic_request_beside_incidents_with_5_business_days(desk):
    requester, agent = desk.as_("belton", "requester"), desk.as_("belton", "agent")
    made = await desk.http.post("/v1/service-requests", json=request(), headers=requester)
    assert made.status_code == 201, made.text
    view = made.json()
    ticket = view["ticket_id"]
    assert made.headers["location"] == f"/v1/tickets/{ticket}"
    assert view["kind"] == "service_request" and view["request_type"] == "basic"
    assert view["change"] == "add" and not view["billable"]
    opened = datetime.fromisoformat(view["opened_at"])
    due = datetime.fromisoformat(view["fulfilment_due"])
    belton = load_config(DEMO_CONFIG).client("belton").sla
    clock = compiled_clock(belton)
    five_bd = clock.cover(opened.year, opened.year + 1).deadline(
        to_us(opened), 5 * clock.business_day_seconds * US)
    assert due == from_us(five_bd)  # 5 business days on Belton's calendar
    assert view["resolution_due"] == view["fulfilment_due"]  # the queue sorts by it
    incident = await desk.http.post("/v1/incidents", json=incident_body(), headers=requester)

    async def listed():
        page = await desk.http.get("/v1/tickets", headers=agent)
        return {t["ticket_id"]: t["kind"] for t in page.json()["tickets"]}

    kinds = await eventually(listed, lambda found: len(found) == 2)
    assert kinds == {ticket: "service_request", incident.json()["ticket_id"]: "incident"}
    acked = await desk.http.post(f"/v1/tickets/{ticket}/acknowledge", headers=agent)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    resolved = await desk.http.post(f"/v1/tickets/{ticket}/transition", headers=agent,
                                    json={"to": "resolved", "reason": "access granted"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    no_schedule = await desk.http.post(f"/v1/tickets/{ticket}/schedule", headers=agent,
                                       json={"at": (datetime.now(UTC) + timedelta(days=3))
                                             .isoformat()})
    assert "resolved" in assert_problem(no_schedule, 409)["detail"]


async def test_enhanced_work_waits_for_the_agreed_schedule(desk):
    requester, agent = desk.as_("belton", "requester"), desk.as_("belton", "agent")
    made = await desk.http.post("/v1/service-requests", headers=requester, json=request(
        type="enhanced", change=None, subject="New feature on the client portal"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    assert made.json()["billable"] and made.json()["fulfilment_due"] is None
    when = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    by_requester = await desk.http.post(f"/v1/tickets/{ticket}/schedule", headers=requester,
                                        json={"at": when.isoformat()})
    assert_problem(by_requester, 403)
    past = await desk.http.post(f"/v1/tickets/{ticket}/schedule", headers=agent,
                                json={"at": "2020-01-01T00:00:00Z"})
    assert "future" in assert_problem(past, 422)["detail"]
    agreed = await desk.http.post(f"/v1/tickets/{ticket}/schedule", headers=agent,
                                  json={"at": when.isoformat(), "note": "per the quote"})
    assert agreed.status_code == 200, agreed.text
    assert datetime.fromisoformat(agreed.json()["fulfilment_due"]) == when
    assert agreed.json()["events"][-1]["by"] == "agent:belton-agent"


async def test_bad_forms_name_the_field_and_the_fix(desk):
    requester = desk.as_("belton", "requester")
    cases = [(request(change=None), "change", "add"),
             (request(type="advisory", change=None), "advisory_tier", "quick_answer"),
             (request(advisory_tier="quick_answer"), "advisory_tier", "remove"),
             (request(type="urgent"), "type", "")]
    for body, field, fix in cases:
        answer = await desk.http.post("/v1/service-requests", json=body, headers=requester)
        error = assert_problem(answer, 422)["errors"][0]
        assert error["field"] == field, error
        assert fix in error["fix"], error
