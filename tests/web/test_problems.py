"""Every error is RFC 9457 problem+json naming the field and the fix; nothing is a 500."""

from __future__ import annotations

import pytest

from tests.web.helpers import assert_problem, incident_body


async def post_incident(desk, body=None, content=None, role="requester"):
    headers = {**desk.as_("belton", role), "content-type": "application/json"}
    return await desk.http.post("/v1/incidents", json=body, content=content, headers=headers)


async def test_malformed_json_is_400(desk):
    body = assert_problem(await post_incident(desk, content=b'{"subject": "x",'), 400)
    assert body["errors"][0]["field"] == "(body)"
    assert "JSON" in body["errors"][0]["fix"]


async def test_missing_fields_are_each_named_with_a_fix(desk):
    body = assert_problem(await post_incident(desk, {"subject": "Printer on fire"}), 422)
    named = {e["field"]: e["fix"] for e in body["errors"]}
    assert named == {"doing": "add 'doing'", "expected": "add 'expected'",
                     "actual": "add 'actual'", "tried": "add 'tried'",
                     "technical_contact": "add 'technical_contact'"}


@pytest.mark.parametrize(("overrides", "field", "fix"), [
    ({"urgency": None}, "urgency", "add 'urgency': high, medium or low"),
    ({"impact": None}, "impact", "add 'impact': high, medium or low"),
    ({"impact": None, "urgency": None}, "impact", "add 'impact' and 'urgency'"),
    ({"severity": {"work_stoppage": "full"}}, "severity", "remove 'severity'"),
    ({"impact": "huge"}, "impact", "use one of: 'high', 'medium' or 'low'"),
    ({"technical_contact": {"name": "Jo", "email": "jo-at-example"}},
     "technical_contact.email", "not an e-mail address"),
    ({"severity": {"users_affected_pct": 140}, "impact": None, "urgency": None},
     "severity.users_affected_pct", "use a value of at most 100"),
])
async def test_missing_or_contradictory_priority_inputs(desk, overrides, field, fix):
    body = assert_problem(await post_incident(desk, incident_body(**overrides)), 422)
    assert [e["field"] for e in body["errors"]] == [field]
    assert fix in body["errors"][0]["fix"] or fix in body["errors"][0]["message"]


async def test_unknown_route_and_wrong_method(desk):
    assert_problem(await desk.http.get("/v1/nope", headers=desk.as_("belton", "agent")), 404)
    body = assert_problem(await desk.http.delete("/v1/incidents",
                                                 headers=desk.as_("belton", "agent")), 405)
    assert body["title"] == "Method not allowed"


async def test_bad_path_and_query_parameters(desk):
    body = assert_problem(await desk.http.get("/v1/tickets/not-a-ticket",
                                              headers=desk.as_("belton", "agent")), 422)
    assert body["errors"][0]["field"] == "ticket_id" and body["errors"][0]["in"] == "path"
    body = assert_problem(await desk.http.get("/v1/tickets?priority=P9&limit=0",
                                              headers=desk.as_("belton", "agent")), 422)
    assert {e["field"] for e in body["errors"]} == {"priority", "limit"}
    body = assert_problem(await desk.http.get("/v1/tickets?page_token=%%%",
                                              headers=desk.as_("belton", "agent")), 400)
    assert body["errors"][0]["field"] == "page_token"


async def test_sla_preview_errors(desk):
    headers = desk.as_("belton", "agent")
    naive = {"policy": "belton", "priority": "P1", "opened_at": "2026-11-20T16:30:00"}
    body = assert_problem(await desk.http.post("/v1/sla/preview", json=naive, headers=headers),
                          422)
    assert body["errors"][0]["field"] == "opened_at"
    assert "offset" in body["errors"][0]["fix"]
    backwards = {"policy": "belton", "priority": "P1", "opened_at": "2026-11-20T16:30:00Z",
                 "pauses": [["2026-11-20T18:00:00Z", "2026-11-20T17:00:00Z"]]}
    body = assert_problem(await desk.http.post("/v1/sla/preview", json=backwards,
                                               headers=headers), 422)
    assert body["errors"][0]["field"] == "pauses[0]"


async def test_healthz_needs_no_credential(desk):
    response = await desk.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "temporal": "ok"}
